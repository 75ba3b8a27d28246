#!/usr/bin/env bash
# bench/perfdata.sh - what the original's loadPerfTestData series is for: the
# time to read one user's events among many filler events by
# event #>> '{data,entityId}', without and with an expression index on it.
#
# Run by hand (not part of the tests; `make` first):
#	bench/perfdata.sh [N]...	(default: 10000 100000, i.e. about 110k and 1.1M events)
#
# For each N: slate-loadgen --filler-events-between N writes the series (3
# users x 4 events, N filler events between consecutive ones: 11 N + 12
# events) to a stream file, slate-load puts it into a table made as the
# original slate-init-db makes it (test/fixtures/, its five indexes, none on
# data.entityId).  Then 3 rounds, each: drop the index, read one user's 4
# events (a different user each round), create the index (timed), read them
# again.  Each read is timed on a warm session (the query's third run in
# it).  Prints the median and the worst round of each, with production
# durability settings and the table in the OS cache after the first round.
set -euo pipefail

source "$(dirname "$0")/lib.bash"
SIZES=("$@")
((${#SIZES[@]})) || SIZES=(10000 100000)
ROUNDS=3

CLUSTER_SETTINGS=$BENCH_SETTINGS cluster_start bench
machine
echo "cpu:     $(lscpu | grep 'Model name' | sed 's/Model name: *//')"

# timed_query DB SQL [warm]: run SQL in a psql session of its own; sets MS
# (the server round trip psql's \timing measures) and ROWS (rows returned).
# With "warm" it runs SQL twice and times the second: an application reads
# on a connection that has planned such a query before, and a first query
# in a new session pays for loading the catalog caches, which would hide
# the index's worth
timed_query() {
	local out args=(-c '\timing on' -c "$2")
	[[ ${3:-} == warm ]] && args+=(-c '\timing off' -c "$2" -c '\timing on' -c "$2")
	out=$(psql -X -At -v ON_ERROR_STOP=1 -d "$(cluster_conninfo bench "$1")" "${args[@]}")
	MS=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | tail -1)
	ROWS=$(grep -c '^[0-9][0-9]*|' <<<"$out" || true)
	[[ ${3:-} == warm ]] && ROWS=$((ROWS / 3))
	return 0
}

# median and worst of the numbers given
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
worst() { printf '%s\n' "$@" | sort -g | tail -1; }

INDEX="CREATE INDEX events_event_data_entityid ON events ((event #>> '{data,entityId}'))"
printf '%-10s %9s  %-26s %-26s %-14s %s\n' "N" "events" "no index: median (worst)" \
	"index: median (worst)" "index build" "speed-up"
for n in "${SIZES[@]}"; do
	db=perf$n
	db_create bench "$db" original-destination >/dev/null
	slate-loadgen --log-format=json --seed "$n" --filler-events-between "$n" \
		--output "$TMP/perf.mp" 2>/dev/null
	slate-load --log-format=json "$(cluster_conninfo bench "$db")" <"$TMP/perf.mp" 2>/dev/null
	rm -f "$TMP/perf.mp"
	psql_c bench "$db" "VACUUM (FREEZE, ANALYZE) events" >/dev/null
	events=$(psql_c bench "$db" "SELECT count(*) FROM events")
	mapfile -t users < <(psql_c bench "$db" "SELECT event #>> '{data,entityId}' FROM events
		WHERE event ->> 'name' = 'User Created' ORDER BY id")
	without=() with=() builds=()
	for ((r = 0; r < ROUNDS; r++)); do
		q="SELECT id, ts, event FROM events WHERE event #>> '{data,entityId}' = '${users[r % 3]}' ORDER BY id"
		psql_c bench "$db" "DROP INDEX IF EXISTS events_event_data_entityid" >/dev/null 2>&1
		timed_query "$db" "$q" warm
		((ROWS == 4)) || { echo "bench: user ${users[r % 3]}: $ROWS events, not 4" >&2; exit 1; }
		without+=("$MS")
		timed_query "$db" "$INDEX"
		builds+=("$MS")
		psql_c bench "$db" "ANALYZE events" >/dev/null
		timed_query "$db" "$q" warm
		((ROWS == 4)) || { echo "bench: user ${users[r % 3]}: $ROWS events with the index" >&2; exit 1; }
		with+=("$MS")
	done
	printf '%-10s %9d  %-26s %-26s %-14s %.0fx\n' "$n" "$events" \
		"$(median "${without[@]}") ms ($(worst "${without[@]}"))" \
		"$(median "${with[@]}") ms ($(worst "${with[@]}"))" \
		"$(median "${builds[@]}") ms" \
		"$(calc "$(median "${without[@]}") / $(median "${with[@]}")")"
	echo "           rounds without: ${without[*]} ms; with: ${with[*]} ms; builds: ${builds[*]} ms"
	psql_c bench postgres "DROP DATABASE $db" >/dev/null
done
echo "load:    $(loadavg)"
