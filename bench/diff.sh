#!/bin/bash
# diff.sh - time slate-diff against reading both tables once with COPY (run by hand)
#
# Usage: bench/diff.sh [EVENTS]   (default 1000000; run `make bin/slate-diff` first)
#
# Starts a throwaway PostgreSQL cluster holding two databases with the same
# EVENTS loadgen-shaped events (~600 bytes each), then reports wall time,
# events/s (events of one table per second) and peak RSS of:
#   - psql COPY (SELECT id, ts, event ...) TO STDOUT (FORMAT binary) of A, then of B
#   - slate-diff A B
set -euo pipefail

events=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
diff_bin=$root/bin/slate-diff
[[ -x $diff_bin ]] || { echo "diff.sh: build $diff_bin first (make bin/slate-diff)" >&2; exit 2; }
[[ -x $bindir/initdb ]] || { echo "diff.sh: no initdb in '$bindir'; set PG_BINDIR" >&2; exit 2; }

dir=$(mktemp -d /tmp/slate-bench.XXXXXX)
chmod 755 "$dir"
as_server() {
	if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
	as_server "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
((EUID == 0)) && chown postgres: "$dir"
as_server "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync >/dev/null
as_server tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = 5432
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
max_parallel_workers_per_gather = 0
timezone = 'UTC'
CONF
as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

conn="host=$dir port=5432 user=postgres"
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$conn dbname=$1" "${@:2}"; }

echo "filling $events events..." >&2
psql_q postgres -c "CREATE DATABASE a"
psql_q a -f "$root/sql/events.sql"
# insert groups of 1..4 events, as slate-loadgen writes them; 10 events per 4 groups
psql_q a -v groups=$(( (events + 9) / 10 * 4 )) -v events="$events" <<'SQL'
INSERT INTO events (id, ts, event)
SELECT id, ts, event FROM (
	SELECT row_number() OVER (ORDER BY g, n) AS id,
		timestamptz '2024-01-01 00:00:00+00' + g * interval '1.5 ms' AS ts,
		jsonb_build_object(
			'testingStats', jsonb_build_object(
				'programId', 'loadgen-1', 'dbOperationId', 'loadgen-1-' || g,
				'dbOperationNum', g, 'dbOperationEventNum', n,
				'dbOperationEventCount', 1 + g % 4,
				'dbOperationTS', to_char(timestamptz '2024-01-01 00:00:00+00' + g * interval '1.5 ms',
					'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
			'entityName', CASE WHEN g % 3 = 0 THEN 'filler' ELSE 'person' END,
			'entityId', to_hex(3000000000 + g::bigint * 7919),
			'operation', (ARRAY['created', 'updated', 'deleted'])[n % 3 + 1],
			'value', jsonb_build_object('first', 'Name' || g, 'last', 'Surname' || n),
			'pad', repeat(md5(g::text || '/' || n), 8)) AS event
	FROM generate_series(1, :groups) AS g, generate_series(1, 1 + g % 4) AS n) AS e
WHERE id <= :events;
VACUUM (FREEZE, ANALYZE) events;
SQL
psql_q postgres -c "CREATE DATABASE b TEMPLATE a"
size=$(psql_q a -c "SELECT pg_size_pretty(pg_table_size('events')) || ', ' || round(avg(length(event::text))) || ' bytes of JSON per event' FROM events")

copy_both() {
	for db in a b; do
		psql -X -d "$conn dbname=$db" -c "COPY (SELECT id, ts, event FROM events) TO STDOUT (FORMAT binary)" >/dev/null
	done
}
export -f copy_both
export conn

# run CMD...: print "wall_s peak_rss_kB" (the largest of the processes /usr/bin/time saw)
measure() {
	local out=$dir/time.out
	if [[ -x /usr/bin/time ]]; then
		/usr/bin/time -v -o "$out" "$@" >/dev/null
		awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
				for (i = 1; i <= n; i++) s = s * 60 + p[i]; w = s }
			/Maximum resident set size/ { r = $2 } END { printf "%.2f %d\n", w, r }' "$out"
	else
		local start end pid rss=0 r
		start=$(date +%s.%N)
		"$@" >/dev/null & pid=$!
		while kill -0 $pid 2>/dev/null; do
			r=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status 2>/dev/null || echo 0)
			((${r:-0} > rss)) && rss=$r
			sleep 0.05
		done
		wait $pid
		end=$(date +%s.%N)
		echo "$(echo "$end - $start" | bc) $rss"
	fi
}

report() {
	local name=$1 wall rss
	read -r wall rss
	printf '%-28s %7.2f s  %8.0f events/s  peak RSS %6d kB\n' "$name" "$wall" \
		"$(echo "$events / $wall" | bc -l)" "$rss"
}

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PostgreSQL: $("$bindir/postgres" --version), tables: $events events each, $size"
copy_both  # warm the caches
measure bash -c copy_both | report "COPY binary A then B"
measure "$diff_bin" "$conn dbname=a" "$conn dbname=b" | report "slate-diff A B (equal)"
"$diff_bin" "$conn dbname=a" "$conn dbname=b" | tail -1
