#!/usr/bin/env bash
# bench/catchup.sh - catch-up of the whole replicator (pipeline.sh) on a
# backlog, against the raw binary COPY pipe and logical replication's
# initial table sync.
#
# Run by hand (not part of the tests; `make` first):
#	bench/catchup.sh [EVENTS] [ROUNDS]	(default 1000000 events, 2 rounds)
#
# Two throwaway clusters with production durability (fsync, synchronous
# commit, full-page writes on; shared_buffers 256MB): "src" (wal_level =
# logical) filled with EVENTS realistic events through insert_events()
# (~480 bytes of JSON, 15 per transaction, or EVENTS_PER_TXN from the
# environment), and "dst".  Then alternates,
# ROUNDS times, each into a fresh destination database on dst with the slate
# indexes, after a CHECKPOINT of both:
#   raw        psql COPY ... TO STDOUT (FORMAT binary) | psql COPY ... FROM STDIN
#   pipeline   pipeline.sh --source src --destination dst, started on the
#              backlog; timed until the destination's max(id) is the source's
#              (polled every 0.1 s), then stopped
#   logical    CREATE SUBSCRIPTION (copy_data) to a publication of events;
#              timed until the table is synchronised (pg_subscription_rel
#              state r or s) and holds every row
# Each copy is checked with slate-diff.  Prints seconds, events/s, the ratio
# to the raw pipe of the same round, the peak RSS of the pipeline's stages,
# and the load average.
set -euo pipefail

N=${1:-1000000}
ROUNDS=${2:-2}
source "$(dirname "$0")/lib.bash"

start_src_dst
db_create src src source
SRC=$(cluster_conninfo src src)
psql_c src src "CREATE PUBLICATION bench_pub FOR TABLE events" >/dev/null

machine
echo "settings: $(tr '\n' ';' <<<"$BENCH_SETTINGS") wal_level = logical on src"
t=$(now)
fill_source src src "$N"
echo "filled:  from $FILLED_FROM"
echo "source:  $N events, $(psql_c src src "SELECT round(avg(length(event::text))) FROM events") bytes" \
	"of JSON per event, ${EVENTS_PER_TXN:-15} per transaction, filled in $(printf %.0f "$(elapsed "$t")") s"
psql -X -q -d "$SRC" -c "COPY (SELECT id, ts, event FROM events ORDER BY id) TO STDOUT (FORMAT binary)" >/dev/null
echo

fresh() {
	db_create dst "$1" destination
	psql_c dst "$1" CHECKPOINT
	psql_c src src CHECKPOINT
}
maxid() { psql -X -At -d "$1" -c "SELECT coalesce(max(id), 0) FROM events"; }

printf '%-10s %5s %8s %10s %6s   %-40s %s\n' case round seconds events/s ratio "peak RSS MB" "load average (after)"
for r in $(seq "$ROUNDS"); do
	fresh "raw$r"
	DST=$(cluster_conninfo dst "raw$r")
	t=$(now)
	psql -X -q -d "$SRC" -c "COPY (SELECT id, ts, event FROM events ORDER BY id) TO STDOUT (FORMAT binary)" |
		psql -X -q -v ON_ERROR_STOP=1 -d "$DST" -c "COPY events FROM STDIN (FORMAT binary)"
	raw_s=$(elapsed "$t")
	same_events "$SRC" "$DST"
	psql_c dst postgres "DROP DATABASE raw$r"
	printf '%-10s %5s %8.2f %10.0f %6.3f   %-40s %s\n' raw "$r" "$raw_s" "$(calc "$N / $raw_s")" 1 - "$(loadavg)"

	fresh "pipe$r"
	DST=$(cluster_conninfo dst "pipe$r")
	t=$(now)
	"$TMP/pipeline.sh" --source "$SRC" --destination "$DST" --log-format json 2>"$TMP/pipeline.log" &
	pipe=$!
	while (($(maxid "$DST") < N)); do
		kill -0 "$pipe" 2>/dev/null || { cat "$TMP/pipeline.log" >&2; exit 1; }
		sleep 0.1
	done
	s=$(elapsed "$t")
	rss=''
	for p in $(pgrep -P "$pipe"); do
		rss+="$(ps -o comm= -p "$p" | sed 's/slate-//') $(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$p/status") "
	done
	kill -TERM "$pipe"
	wait "$pipe" || true
	same_events "$SRC" "$DST"
	psql_c dst postgres "DROP DATABASE pipe$r"
	printf '%-10s %5s %8.2f %10.0f %6.3f   %-40s %s\n' pipeline "$r" "$s" "$(calc "$N / $s")" \
		"$(calc "$raw_s / $s")" "$rss" "$(loadavg)"

	fresh "lr$r"
	DST=$(cluster_conninfo dst "lr$r")
	t=$(now)
	psql_c dst "lr$r" "CREATE SUBSCRIPTION sub$r CONNECTION 'host=127.0.0.1 port=$src_PORT dbname=src user=postgres'
		PUBLICATION bench_pub" >/dev/null 2>&1
	until [[ $(psql_c dst "lr$r" "SELECT bool_and(srsubstate IN ('r', 's')) FROM pg_subscription_rel") == t ]] &&
		(($(maxid "$DST") >= N)); do
		sleep 0.1
	done
	s=$(elapsed "$t")
	same_events "$SRC" "$DST"
	psql_c dst "lr$r" "DROP SUBSCRIPTION sub$r" >/dev/null 2>&1
	psql_c dst postgres "DROP DATABASE lr$r"
	printf '%-10s %5s %8.2f %10.0f %6.3f   %-40s %s\n' logical "$r" "$s" "$(calc "$N / $s")" \
		"$(calc "$raw_s / $s")" - "$(loadavg)"
done
