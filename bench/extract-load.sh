#!/usr/bin/env bash
# bench/extract-load.sh - slate-extract | slate-load against the raw binary COPY pipe.
#
# Run by hand (not part of the tests; `make` first):
#	bench/extract-load.sh [EVENTS] [ROUNDS]	(default 1000000 events, 5 rounds)
#
# Starts a throwaway cluster with production durability (fsync, synchronous
# commit, full-page writes on; shared_buffers 256MB), fills a source with
# EVENTS realistic events through insert_events() (~480 bytes of JSON, 15 per
# transaction, or EVENTS_PER_TXN from the environment), then alternates,
# ROUNDS times, each into a fresh destination with the slate indexes
# (sql/destination.sql), after a CHECKPOINT:
#   raw       psql COPY (SELECT ... ORDER BY id) TO STDOUT (FORMAT binary)
#             | psql COPY events FROM STDIN (FORMAT binary)   (one transaction)
#   slate-off slate-extract | slate-load                       (the default)
#   slate-on  slate-extract | slate-load --synchronous-commit=on
# Each copy is checked with slate-diff against the source.  Prints wall
# seconds, events/s, the ratio to the raw pipe of the same round, CPU seconds
# (user+sys) and peak RSS of each program of the pipe, the CPU seconds the
# server spent (all its processes: both backends, WAL writer, checkpointer),
# and the load average; then the median of each column over the rounds.
set -euo pipefail

N=${1:-1000000}
ROUNDS=${2:-5}
source "$(dirname "$0")/lib.bash"

CLUSTER_SETTINGS=$BENCH_SETTINGS cluster_start bench
db_create bench src source
SRC=$(cluster_conninfo bench src)

machine
echo "settings: $(tr '\n' ';' <<<"$BENCH_SETTINGS")"
t=$(now)
fill_source bench src "$N"
echo "filled:  from $FILLED_FROM"
echo "source:  $N events in $(psql_c bench src "SELECT count(DISTINCT ts) FROM events") transactions," \
	"$(psql_c bench src "SELECT round(avg(length(event::text))) FROM events") bytes of JSON per event," \
	"table $(psql_c bench src "SELECT pg_size_pretty(pg_table_size('events'))")," \
	"filled in $(printf %.0f "$(elapsed "$t")") s ($(calc "$N / $(elapsed "$t")" | cut -d. -f1) events/s)"
# warm the source's cache once, so the first round is not the only cold one
psql -X -q -d "$SRC" -c "COPY (SELECT id, ts, event FROM events ORDER BY id) TO STDOUT (FORMAT binary)" >/dev/null
echo

# row CASE ROUND SECONDS RAW_SECONDS LEFT RIGHT SERVER_CPU: one line of the
# table; LEFT and RIGHT are /usr/bin/time outputs ("user sys maxrss_kB") of
# the two programs
row() {
	local lu ls lm ru rs rm
	read -r lu ls lm <"$5"
	read -r ru rs rm <"$6"
	printf '%-10s %5s %8.2f %10.0f %6.3f %8.2f %8.1f %8.2f %8.1f %8.2f   %s\n' "$1" "$2" "$3" \
		"$(calc "$N / $3")" "$(calc "$4 / $3")" "$(calc "$lu + $ls")" "$(calc "$lm / 1024")" \
		"$(calc "$ru + $rs")" "$(calc "$rm / 1024")" "$7" "$(loadavg)" | tee -a "$TMP/rows"
}

TIME=(/usr/bin/time -f '%U %S %M')
printf '%-10s %5s %8s %10s %6s %8s %8s %8s %8s %8s   %s\n' case round seconds events/s ratio \
	"out_cpu" "out_MB" "in_cpu" "in_MB" "srv_cpu" "load average (after)"
printf '%s\n' "(out = psql COPY TO or slate-extract, in = psql COPY FROM or slate-load; cpu in s, MB = peak RSS)"
for r in $(seq "$ROUNDS"); do
	db_create bench "raw$r" destination
	DST=$(cluster_conninfo bench "raw$r")
	psql_c bench "raw$r" CHECKPOINT
	cpu=$(cluster_cpu bench)
	t=$(now)
	"${TIME[@]}" -o "$TMP/out.time" psql -X -q -d "$SRC" \
		-c "COPY (SELECT id, ts, event FROM events ORDER BY id) TO STDOUT (FORMAT binary)" |
		"${TIME[@]}" -o "$TMP/in.time" psql -X -q -v ON_ERROR_STOP=1 -d "$DST" \
			-c "COPY events FROM STDIN (FORMAT binary)"
	raw_s=$(elapsed "$t")
	sleep 0.2	# let the postmaster reap the backends
	cpu=$(calc "$(cluster_cpu bench) - $cpu")
	same_events "$SRC" "$DST"
	psql_c bench postgres "DROP DATABASE raw$r"
	row raw "$r" "$raw_s" "$raw_s" "$TMP/out.time" "$TMP/in.time" "$cpu"

	for mode in off on; do
		db_create bench "sl$mode$r" destination
		DST=$(cluster_conninfo bench "sl$mode$r")
		psql_c bench "sl$mode$r" CHECKPOINT
		cpu=$(cluster_cpu bench)
		t=$(now)
		"${TIME[@]}" -o "$TMP/out.time" slate-extract --log-format=json "$SRC" 2>"$TMP/extract.log" |
			"${TIME[@]}" -o "$TMP/in.time" slate-load --log-format=json \
				--synchronous-commit="$mode" "$DST" 2>"$TMP/load.log" || {
			cat "$TMP/extract.log" "$TMP/load.log" >&2
			exit 1
		}
		s=$(elapsed "$t")
		sleep 0.2
		cpu=$(calc "$(cluster_cpu bench) - $cpu")
		same_events "$SRC" "$DST"
		psql_c bench postgres "DROP DATABASE sl$mode$r"
		row "slate-$mode" "$r" "$s" "$raw_s" "$TMP/out.time" "$TMP/in.time" "$cpu"
	done
done

# medians over the rounds, per case
median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for c in raw slate-off slate-on; do
	m=()
	for col in 3 4 5 6 7 8 9 10; do
		m+=("$(awk -v c="$c" -v k="$col" '$1 == c { print $k }' "$TMP/rows" | median)")
	done
	printf '%-10s %5s %8.2f %10.0f %6.3f %8.2f %8.1f %8.2f %8.1f %8.2f\n' "$c" median "${m[@]}"
done
