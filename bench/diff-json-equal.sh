#!/bin/bash
# diff-json-equal.sh - time slate-diff --json-equal against reading both tables (run by hand)
#
# Usage: [HUGE_PAGES=on] bench/diff-json-equal.sh [ROUNDS [SIZE...]]
#        (default 3 rounds, 300000 and 1000000)
#
# For each SIZE, one cluster holds two databases: "a", SIZE loadgen-shaped
# events (~600 bytes of JSON, with a price such as 12.50), and "b", the same
# events as the original Node replicator wrote them (ts cut to the
# millisecond, the price re-serialised as 12.5).  Alternating rounds time:
#   - both tables read at once: psql COPY (SELECT id, ts, event ...) TO STDOUT
#     (FORMAT binary) of a and of b, in parallel, to /dev/null
#   - slate-diff --json-equal a b (which must say "equal")
# and print the median and the worst round of each, in events of one table per
# second.  The original eventsDiff managed 42,000 events/s on this kind of
# machine; the target is 10 times that.
set -euo pipefail

rounds=${1:-3}
shift || true
sizes=("$@")
((${#sizes[@]})) || sizes=(300000 1000000)
# shellcheck source=lib.bash
source "$(dirname "$0")/lib.bash"

# HUGE_PAGES=on: the server's shared memory in 2 MB pages (PostgreSQL's advice
# for a large shared_buffers).  Needs vm.nr_hugepages of at least 150 here:
#   sysctl -w vm.nr_hugepages=150
# A fresh backend's first touch of each 4 kB page of shared buffers is a
# page fault, some 10-50 us on a virtual machine; the tables of the 300k
# size sit in shared_buffers, so each side pays ~0.3 s before it hashes.
huge=${HUGE_PAGES:-off}
if [[ $huge == on ]] && (($(cat /proc/sys/vm/nr_hugepages) < 150)); then
	echo "HUGE_PAGES=on needs vm.nr_hugepages >= 150 (sysctl -w vm.nr_hugepages=150)" >&2
	exit 2
fi

# one server for both databases, as bench/diff.sh: the two backends share the CPUs
CLUSTER_SETTINGS="shared_buffers = 256MB
huge_pages = $huge
max_parallel_workers_per_gather = 0
fsync = off
synchronous_commit = off" cluster_start pg
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$(cluster_conninfo pg "$1")" "${@:2}"; }

# fill DB N ORIGINAL: N events in groups of 1..4 (one ts per group); ORIGINAL=1
# writes them as the original replicator did
fill() {
	psql_q postgres -c "CREATE DATABASE $1"
	psql_q "$1" -f "$ROOT/sql/events.sql"
	psql_q "$1" -v groups=$((($2 + 9) / 10 * 4)) -v events="$2" -v orig="$3" <<-'SQL'
		INSERT INTO events (id, ts, event)
		SELECT id, CASE WHEN :orig = 1 THEN date_trunc('milliseconds', ts) ELSE ts END, event
		FROM (
			SELECT row_number() OVER (ORDER BY g, n) AS id,
				timestamptz '2024-01-01 00:00:00.000017+00' + g * interval '1.5 ms' AS ts,
				jsonb_build_object(
					'testingStats', jsonb_build_object(
						'programId', 'loadgen-1', 'dbOperationId', 'loadgen-1-' || g,
						'dbOperationNum', g, 'dbOperationEventNum', n,
						'dbOperationEventCount', 1 + g % 4),
					'entityName', CASE WHEN g % 3 = 0 THEN 'filler' ELSE 'person' END,
					'entityId', to_hex(3000000000 + g::bigint * 7919),
					'operation', (ARRAY['created', 'updated', 'deleted'])[n % 3 + 1],
					'price', CASE WHEN :orig = 1 THEN to_jsonb(((g % 1000) / 100.0)::numeric(10, 2)::float8)
						ELSE to_jsonb(((g % 1000) / 100.0)::numeric(10, 2)) END,
					'value', jsonb_build_object('first', 'Name' || g, 'last', 'Surname' || n),
					'pad', repeat(md5(g::text || '/' || n), 8)) AS event
			FROM generate_series(1, :groups) AS g, generate_series(1, 1 + g % 4) AS n) AS e
		WHERE id <= :events;
		VACUUM (FREEZE, ANALYZE) events;
	SQL
}

copy_both() {
	local db pids=()
	for db in a b; do
		psql -X -q -d "$(cluster_conninfo pg $db)" \
			-c "COPY (SELECT id, ts, event FROM events) TO STDOUT (FORMAT binary)" >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
}

json_equal() {
	local out
	out=$(slate-diff --json-equal --log-format=json "$(cluster_conninfo pg a)" "$(cluster_conninfo pg b)")
	[[ ${out##*$'\n'} == "equal (as the original eventsDiff compares)" ]] ||
		{ echo "slate-diff --json-equal did not say equal: ${out##*$'\n'}" >&2; exit 1; }
}

# stats TIMES...: "median worst" of the given seconds
stats() {
	printf '%s\n' "$@" | sort -g | awk '{ t[NR] = $1 } END {
		m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2; printf "%.3f %.3f\n", m, t[NR] }'
}

machine
echo "huge_pages: $huge (vm.nr_hugepages $(cat /proc/sys/vm/nr_hugepages))"
echo "rounds:  $rounds, alternating; times are wall seconds, rates events of one table per second"
for n in "${sizes[@]}"; do
	psql_q postgres -c "DROP DATABASE IF EXISTS a" -c "DROP DATABASE IF EXISTS b"
	echo "filling 2 x $n events..." >&2
	fill a "$n" 0
	fill b "$n" 1
	echo "size:    $n events per table, $(psql_q a -c "SELECT pg_size_pretty(pg_table_size('events'))
		|| ', ' || round(avg(length(event::text))) || ' bytes of JSON per event' FROM events")"
	copy_both # warm the caches
	json_equal
	copies=() diffs=()
	for ((r = 1; r <= rounds; r++)); do
		t=$(now); copy_both; copies+=("$(printf "%.3f" "$(elapsed "$t")")")
		t=$(now); json_equal; diffs+=("$(printf "%.3f" "$(elapsed "$t")")")
	done
	read -r cm cw < <(stats "${copies[@]}")
	read -r dm dw < <(stats "${diffs[@]}")
	printf '%-36s median %7.3f s (%9.0f events/s), worst %7.3f s   rounds: %s\n' \
		"COPY binary of a and b at once" "$cm" "$(calc "$n / $cm")" "$cw" "${copies[*]}"
	printf '%-36s median %7.3f s (%9.0f events/s), worst %7.3f s   rounds: %s\n' \
		"slate-diff --json-equal a b" "$dm" "$(calc "$n / $dm")" "$dw" "${diffs[*]}"
	echo "ratio:   reading both tables takes $(calc "$cm / $dm" | cut -c1-5)x as long as --json-equal;" \
		"--json-equal is $(calc "$n / $dm / 42000" | cut -c1-5)x the original eventsDiff's 42,000 events/s"
	echo "load:    $(loadavg)"
done
