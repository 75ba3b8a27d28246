#!/usr/bin/env bash
# bench/loadgen.sh - how fast slate-loadgen fills a source.
#
# Run by hand (not part of the tests; `make` first):
#	bench/loadgen.sh [PEOPLE] [FILLER]	(default 20000 people, 100000 filler events)
#
# One throwaway cluster with production durability (fsync, synchronous
# commit, full-page writes on).  Prints events/s, the loadgen's CPU seconds
# and peak RSS for: one slate-loadgen into an empty source; three at once
# into another (their events/s together); one writing a stream file (no
# server).  The events are checked with slate-diff --validate.
set -euo pipefail

PEOPLE=${1:-20000}
FILLER=${2:-100000}
source "$(dirname "$0")/lib.bash"

CLUSTER_SETTINGS=$BENCH_SETTINGS cluster_start bench
db_create bench one source >/dev/null
db_create bench three source >/dev/null
machine
lg=(slate-loadgen --log-format=json --count-person "$PEOPLE" --count-filler "$FILLER")

# run NAME N CONNINFO|-: N loadgens at once; prints one line
run() {
	local name=$1 n=$2 target=$3 t0 s i events=0 cpu=0 rss=0 u sy m
	local to=("$target")
	[[ $target != - ]] || to=(--output "$TMP/out.mp")
	t0=$(now)
	for ((i = 1; i <= n; i++)); do
		/usr/bin/time -f '%U %S %M' -o "$TMP/time.$i" "${lg[@]}" --seed "$i" "${to[@]}" \
			2>"$TMP/log.$i" &
	done
	wait
	s=$(elapsed "$t0")
	for ((i = 1; i <= n; i++)); do
		read -r u sy m <"$TMP/time.$i"
		cpu=$(calc "$cpu + $u + $sy")
		((m > rss)) && rss=$m
		# the count each loadgen reports at the end
		events=$((events + $(grep -o '"events":[0-9]*' "$TMP/log.$i" | tail -1 | cut -d: -f2)))
	done
	if [[ $target != - ]]; then
		[[ $(psql -X -At -d "$target" -c "SELECT count(*) FROM events") == "$events" ]] ||
			{ echo "bench: $name: the source does not hold the $events events reported" >&2; exit 1; }
		slate-diff --validate --log-format=json "$target" "$target" >/dev/null 2>"$TMP/v.err" ||
			{ echo "bench: $name: not valid:" >&2; cat "$TMP/v.err" >&2; exit 1; }
	fi
	printf '%-24s %8d events %7.2f s %8.0f events/s   loadgen CPU %5.2f s   peak RSS %4.1f MB\n' \
		"$name" "$events" "$s" "$(calc "$events / $s")" "$cpu" "$(calc "$rss / 1024")"
}

run "one loadgen" 1 "$(cluster_conninfo bench one)"
run "three loadgens at once" 3 "$(cluster_conninfo bench three)"
run "one loadgen to a file" 1 -
