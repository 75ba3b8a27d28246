#!/usr/bin/env bash
# bench/status.sh - how long slate-status takes on big tables.
#
# Run by hand (not part of the tests; `make` first):
#	bench/status.sh [SIZES] [ROUNDS] [RUNS]
#	(default "1000000 10000000" events, 3 rounds of 15 runs)
#
# One throwaway cluster (production durability) holding, for each size N, a
# source of N small events and two destinations: one caught up (N events) and
# one 1000 events behind (the seconds-behind lookup is made), written with
# INSERT ... SELECT, triggers off, vacuumed as autovacuum would leave them.
# Then ROUNDS rounds, the sizes alternating within each, each of RUNS runs of
#   status   slate-status --source SRC --destination CAUGHT_UP --destination
#            LAGGING: the whole process, three connections and every query,
#            what a monitor waits for
#   psql     psql -c "SELECT 1" on the source: one process and one
#            connection, the floor under the figure above
#   queries  slate-status's queries alone, on open connections (psql's
#            \timing, summed): what grows with the tables, if anything
#   interval one report of slate-status --interval 0.1 after the first (its
#            connections open): probes, lag, judgement and output, as its
#            debug log times it; what a monitor running it pays per report
# printing each round's medians in milliseconds (and the slowest status run),
# and at the end the median of the rounds' medians and the worst round's.
set -euo pipefail

SIZES=${1:-1000000 10000000}
ROUNDS=${2:-3}
RUNS=${3:-15}
source "$(dirname "$0")/lib.bash"
[[ -x $ROOT/bin/slate-status ]] || { echo "bench: build $ROOT/bin/slate-status first (make)" >&2; exit 2; }
cp "$ROOT/bin/slate-status" "$BIN/"

CLUSTER_SETTINGS=$BENCH_SETTINGS cluster_start bench
machine

# fill DB N: N small events, ids 1..N, 15 to a transaction's ts
fill() {
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo bench "$1")" >/dev/null <<-EOF
		BEGIN;
		SET LOCAL session_replication_role = replica;
		INSERT INTO events (id, ts, event)
		SELECT i, now() - interval '1 hour' + (i / 15) * interval '1 us',
			jsonb_build_object('entityName', 'bulk', 'entityId', i::text, 'operation', 'imported')
		FROM generate_series(1, $2) AS i;
		COMMIT;
		VACUUM (FREEZE, ANALYZE) events;
	EOF
}
t=$(now)
for n in $SIZES; do
	db_create bench "src$n" source >/dev/null
	db_create bench "up$n" destination >/dev/null
	db_create bench "lag$n" destination >/dev/null
	fill "src$n" "$n" &
	fill "up$n" "$n" &
	fill "lag$n" $((n - 1000))
	wait
	psql_c bench "src$n" "UPDATE id SET id = $n + 1" >/dev/null
done
psql_c bench postgres "CHECKPOINT" >/dev/null
echo "tables:  sizes $SIZES; filled in $(printf %.0f "$(elapsed "$t")") s"
echo "command: slate-status --source SRC --destination CAUGHT_UP --destination LAGGING (1000 behind)"
echo

# median_max: the median and the largest of the numbers on stdin
median_max() {
	sort -n | awk '{ v[NR] = $1 } END { printf "%.1f %.1f\n", v[int((NR + 1) / 2)], v[NR] }'
}

# status_runs N: RUNS runs of slate-status on size N; prints "median max" in ms
status_runs() {
	local i t0 args=(--source "$(cluster_conninfo bench "src$1")"
		--destination "$(cluster_conninfo bench "up$1")" --destination "$(cluster_conninfo bench "lag$1")")
	for ((i = 0; i < RUNS; i++)); do
		t0=$(now)
		slate-status "${args[@]}" >"$TMP/out" 2>&1 || { echo "bench: slate-status failed" >&2; cat "$TMP/out" >&2; exit 1; }
		calc "($(now) - $t0) * 1000"
		echo
	done | median_max
}

# psql_runs N: RUNS runs of psql -c "SELECT 1" on size N's source; "median max" in ms
psql_runs() {
	local i t0 src
	src=$(cluster_conninfo bench "src$1")
	for ((i = 0; i < RUNS; i++)); do
		t0=$(now)
		psql -X -At -d "$src" -c "SELECT 1" >/dev/null
		calc "($(now) - $t0) * 1000"
		echo
	done | median_max
}

# query_runs N: RUNS times slate-status's queries on open connections, summed
# from psql's \timing; "median max" in ms
query_runs() {
	local n=$1 i
	{
		for ((i = 0; i < RUNS; i++)); do
			echo "SELECT max(id) FROM events;"
			echo "SELECT extract(epoch FROM clock_timestamp() - ts)::float8 FROM events WHERE id = $((n - 999));"
		done | psql -X -At -d "$(cluster_conninfo bench "src$n")" -c '\timing on' -f - | grep '^Time:' >"$TMP/src.t"
		for ((i = 0; i < RUNS; i++)); do
			echo "SELECT max(id) FROM events;"
			echo "SELECT EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND k.objsubid = 1 AND ((k.classid::bigint << 32) | k.objid::bigint) = 7236828674521412981);"
		done | psql -X -At -d "$(cluster_conninfo bench "lag$n")" -c '\timing on' -f - | grep '^Time:' >"$TMP/dst.t"
	}
	# per run: the source's two queries and twice the destination's two
	paste -d' ' <(awk '{ print $2 }' "$TMP/src.t" | paste -d' ' - -) <(awk '{ print $2 }' "$TMP/dst.t" | paste -d' ' - -) |
		awk '{ print $1 + $2 + 2 * ($3 + $4) }' | median_max
}
# interval_runs N: slate-status --interval 0.1 for RUNS + 1 reports on size N,
# the first (which connects) dropped; "median max" of the others' times, in
# ms, as its debug log gives them (a report: probes, lag, judgement, output)
interval_runs() {
	local args=(--source "$(cluster_conninfo bench "src$1")"
		--destination "$(cluster_conninfo bench "up$1")" --destination "$(cluster_conninfo bench "lag$1")")
	slate-status --interval 0.1 -v --log-format=json "${args[@]}" >/dev/null 2>"$TMP/interval.log" &
	local pid=$! i
	for ((i = 0; i < 600; i++)); do
		(($(grep -c '"report made in' "$TMP/interval.log") > RUNS)) && break
		sleep 0.05
	done
	kill -TERM "$pid"
	wait "$pid" || { echo "bench: slate-status --interval failed" >&2; cat "$TMP/interval.log" >&2; exit 1; }
	grep -o '"report made in [0-9.]* ms' "$TMP/interval.log" | awk '{ print $4 }' | sed -n "2,$((RUNS + 1))p" |
		median_max
}
# warm every table once
for n in $SIZES; do status_runs "$n" >/dev/null; done

echo "milliseconds, medians of $RUNS runs (status: and the slowest run)"
printf '%-6s %10s %16s %8s %8s %16s  %s\n' round events status psql queries "interval" load
declare -A st ps qu iv
for ((r = 1; r <= ROUNDS; r++)); do
	for n in $SIZES; do
		read -r smed smax < <(status_runs "$n")
		read -r pmed _ < <(psql_runs "$n")
		read -r qmed _ < <(query_runs "$n")
		read -r imed imax < <(interval_runs "$n")
		st[$n]+="$smed " ps[$n]+="$pmed " qu[$n]+="$qmed " iv[$n]+="$imed "
		printf '%-6s %10s %16s %8s %8s %16s  %s\n' "$r" "$n" "$smed ($smax)" "$pmed" "$qmed" "$imed ($imax)" "$(loadavg)"
	done
done
# median_worst: the median of the rounds' medians, and the worst of them
median_worst() {
	tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f (worst %.1f)", v[int((NR + 1) / 2)], v[NR] }'
}
for n in $SIZES; do
	printf '%-6s %10s  status %s  psql %s  queries %s  --interval report %s\n' median "$n" \
		"$(median_worst <<<"${st[$n]}")" "$(median_worst <<<"${ps[$n]}")" "$(median_worst <<<"${qu[$n]}")" \
		"$(median_worst <<<"${iv[$n]}")"
done
