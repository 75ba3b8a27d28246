#!/usr/bin/env bash
# bench/startup.sh - how long the start-up checks take on big tables.
#
# Run by hand (not part of the tests; `make` first):
#	bench/startup.sh [EVENTS] [ROUNDS]	(default 10000000 events, 3 rounds)
#
# One throwaway cluster (production durability, the server's default of two
# parallel workers per query) holding a source and a caught-up destination
# of EVENTS small events each (written with INSERT ... SELECT, triggers off:
# the checks read ids, not JSON), vacuumed as autovacuum would leave them.
# Then, ROUNDS times, with a warm cache, the wall seconds of
#   count     psql "SELECT count(*), min(id), max(id) FROM events" on the
#             source: the query behind the hole check, the baseline
#   extract   slate-extract --check SRC
#   load      slate-extract --check SRC | slate-load --check DST
#   dry-run   pipeline.sh --dry-run (the source's and destination's checks
#             at once, as every start of the replicator runs them)
# and the median of each.
set -euo pipefail

N=${1:-10000000}
ROUNDS=${2:-3}
source "$(dirname "$0")/lib.bash"

CLUSTER_SETTINGS="$BENCH_SETTINGS
max_parallel_workers_per_gather = 2" cluster_start bench
db_create bench src source >/dev/null
db_create bench dst destination >/dev/null
SRC=$(cluster_conninfo bench src)
DST=$(cluster_conninfo bench dst)

machine
t=$(now)
fill() {
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo bench "$1")" >/dev/null <<-EOF
		BEGIN;
		SET LOCAL session_replication_role = replica;
		INSERT INTO events (id, ts, event)
		SELECT i, timestamptz '2026-01-01 00:00:00+00' + (i / 15) * interval '1 ms',
			jsonb_build_object('entityName', 'bulk', 'entityId', i::text, 'operation', 'imported')
		FROM generate_series(1, $N) AS i;
		COMMIT;
		VACUUM (FREEZE, ANALYZE) events;
	EOF
}
fill src &
fill dst
wait $!
psql_c bench src "UPDATE id SET id = $N + 1" >/dev/null
psql_c bench src "CHECKPOINT" >/dev/null
echo "tables:  $N events each, table and indexes: source $(psql_c bench src "SELECT pg_size_pretty(pg_total_relation_size('events'))")," \
	"destination $(psql_c bench dst "SELECT pg_size_pretty(pg_total_relation_size('events'))");" \
	"filled in $(printf %.0f "$(elapsed "$t")") s"
# warm both once
psql_c bench src "SELECT count(*) FROM events" >/dev/null
psql_c bench dst "SELECT count(*) FROM events" >/dev/null
echo

# timed VAR CMD...: run CMD (output discarded), set VAR to its wall seconds
timed() {
	local var=$1 t0
	shift
	t0=$(now)
	"$@" >/dev/null 2>"$TMP/err" || { echo "bench: failed: $*" >&2; cat "$TMP/err" >&2; exit 1; }
	printf -v "$var" '%.2f' "$(elapsed "$t0")"
}
load_check() { slate-extract --check "$SRC" | slate-load --check "$DST"; }

printf '%-6s %8s %8s %8s %8s  %s\n' round count extract load dry-run load
cols=()
for ((r = 1; r <= ROUNDS; r++)); do
	timed c psql -X -At -d "$SRC" -c "SELECT count(*), min(id), max(id) FROM events"
	timed e slate-extract --check "$SRC"
	timed l load_check
	timed d "$TMP/pipeline.sh" --dry-run --source "$SRC" --destination "$DST"
	printf '%-6s %8s %8s %8s %8s  %s\n' "$r" "$c" "$e" "$l" "$d" "$(loadavg)"
	cols+=("$c $e $l $d")
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-6s' median
for k in 1 2 3 4; do
	printf ' %8s' "$(printf '%s\n' "${cols[@]}" | cut -d' ' -f"$k" | median)"
done
echo
