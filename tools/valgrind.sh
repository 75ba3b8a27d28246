#!/usr/bin/env bash
# valgrind.sh: memcheck slate-extract and slate-load on a throwaway cluster:
# a 100k-event extract | load, then a short --follow run with wakes.
#
# Usage: tools/valgrind.sh [EVENTS]     (default 100000; run by "make valgrind")
#
# Exit 0 when every run is clean (no memory error, no definite or indirect
# leak) and the destination equals the source; 1 otherwise.  The valgrind
# logs are kept in a directory printed at the end.
set -u -o pipefail

events=${1:-100000}
[[ $events =~ ^[1-9][0-9]*$ ]] || { echo "usage: tools/valgrind.sh [EVENTS]" >&2; exit 2; }
command -v valgrind >/dev/null || {
	echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
}
source "$(dirname "${BASH_SOURCE[0]}")/../test/cluster.bash"

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/slate-valgrind.XXXXXX") || exit 1
VG=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
	--errors-for-leak-kinds=definite,indirect --error-exitcode=1 --track-origins=yes
	--num-callers=30)
status=0

# vg NAME PROGRAM ARGS...: run PROGRAM under memcheck, its log in
# $LOGS/NAME.log and its own stderr in $LOGS/NAME.stderr
vg() {
	local name=$1
	shift
	"${VG[@]}" --log-file="$LOGS/$name.log" "$SLATE_ROOT/bin/$@" 2>"$LOGS/$name.stderr"
}

# summary NAME: one line per run: errors and leaks from its valgrind log
summary() {
	local log=$LOGS/$1.log errors definite indirect
	errors=$(grep -o 'ERROR SUMMARY: [0-9,]* errors' "$log" | grep -o '[0-9,]* errors')
	definite=$(grep -o 'definitely lost: [0-9,]* bytes' "$log" | grep -o '[0-9,]* bytes' || echo "0 bytes")
	indirect=$(grep -o 'indirectly lost: [0-9,]* bytes' "$log" | grep -o '[0-9,]* bytes' || echo "0 bytes")
	printf '%-16s %s, definitely lost %s, indirectly lost %s\n' "$1" "$errors" "$definite" "$indirect"
}

cluster_start vg || exit 1
db_create vg src source && db_create vg dst destination || exit 1
SRC=$(cluster_conninfo vg src)
DST=$(cluster_conninfo vg dst)
start=$SECONDS
insert_events vg src "$events" 300 || exit 1
echo "valgrind.sh: $events events generated in $((SECONDS - start)) s"

start=$SECONDS
vg extract slate-extract --log-format=json "$SRC" |
	vg load slate-load --log-format=json "$DST"
rcs=("${PIPESTATUS[@]}")
echo "valgrind.sh: extract | load of $events events under memcheck took $((SECONDS - start)) s" \
	"(exit statuses ${rcs[*]})"
((rcs[0] == 0 && rcs[1] == 0)) || status=1

# the live path: --follow extracts again after each wake
wake=$'\x81\xa4type\xa4wake'
start=$SECONDS
{
	printf '%s' "$wake"
	sleep 1
	insert_events vg src 45 >/dev/null
	printf '%s%s' "$wake" "$wake"
	sleep 1
} | vg follow-extract slate-extract --follow --after "$events" --log-format=json "$SRC" |
	vg follow-load slate-load --log-format=json "$DST"
rcs=("${PIPESTATUS[@]}")
echo "valgrind.sh: --follow run took $((SECONDS - start)) s (exit statuses ${rcs[*]:1})"
((rcs[1] == 0 && rcs[2] == 0)) || status=1

if [[ $(events_md5 vg dst) != "$(events_md5 vg src)" ]]; then
	echo "valgrind.sh: the destination differs from the source" >&2
	status=1
fi
for run in extract load follow-extract follow-load; do
	summary "$run"
	((status == 0)) || grep -h '"level":[56]0' "$LOGS/$run.stderr" >&2
done
cluster_stop vg
echo "valgrind.sh: logs in $LOGS"
((status == 0)) && echo "valgrind.sh: clean" || echo "valgrind.sh: FAILED" >&2
exit $status
