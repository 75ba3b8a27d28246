#!/usr/bin/env bash
# tools/demo.sh - `make demo`: throwaway source and destination clusters, the
# replicator running live while two writers insert realistic events, progress
# and lag on the screen, then proof that the tables are equal.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/test/cluster.bash"
PATH=$ROOT/bin:$ROOT/test/bin:$PATH
WORK=$(mktemp -d)
chmod 755 "$WORK"
replicator=''
finish() {
	local rc=$?
	set +e
	if [[ -n $replicator ]]; then
		kill -TERM "$replicator" 2>/dev/null
		wait "$replicator"
	fi
	[[ -z ${tailer:-} ]] || kill "$tailer" 2>/dev/null
	clusters_stop_all
	rm -rf "$WORK"
	exit "$rc"
}
trap finish EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
maxid() { psql_c "$1" "$2" "SELECT coalesce(max(id), 0) FROM events"; }

say "starting two throwaway PostgreSQL clusters: a source and a destination host"
cluster_start source
cluster_start replicas
db_create source app source
db_create replicas replica1 destination
db_create replicas replica2 destination
SRC=$(cluster_conninfo source app)
echo "source:        $SRC"
echo "destination 1: $(cluster_conninfo replicas replica1)"
echo "destination 2: $(cluster_conninfo replicas replica2)"

say "a few events exist before the replicator starts (a backlog to catch up)"
slate-loadgen --log-format=text --seed 1 --count-person 300 --count-filler 2000 "$SRC" 2>&1 | tail -n 1

cat >"$WORK/config.js" <<EOF
// the original replicator's configuration format, read as it is
var config = {
    maxEventsPerWrite: 10000,
    connectTimeout: 15000,
    eventSource: { host: '${source_HOST}:${source_PORT}', databaseName: 'app', user: 'postgres' },
    replicationDestinations: [
        { host: '${replicas_HOST}:${replicas_PORT}', databaseName: 'replica1', user: 'postgres' },
        { host: '${replicas_HOST}:${replicas_PORT}', databaseName: 'replica2', user: 'postgres' },
    ],
};
module.exports = config;
EOF
say "pipeline.sh -c config.js --dry-run"
"$ROOT/pipeline.sh" -c "$WORK/config.js" --dry-run --log-format=text 2>/dev/null

say "starting the replicator: pipeline.sh -c config.js (its log: progress and lag per destination)"
"$ROOT/pipeline.sh" -c "$WORK/config.js" --poll-interval 1 --log-format=text 2>"$WORK/replicator.log" &
replicator=$!
# tail is the background job itself, so that killing it ends grep too (and
# --pid ends it with this script whatever happens): a stray one would hold
# the terminal, or the pipe of `make demo | tee`, open after the demo
tail -n +1 -f --pid=$$ "$WORK/replicator.log" 2>/dev/null > >(grep --line-buffered -E 'replicating|copied|ERROR') &
tailer=$!

say "two writers insert realistic events through insert_events() while it runs"
slate-loadgen --log-format=text --count-person 1500 --count-filler 12000 "$SRC" >"$WORK/w1.log" 2>&1 &
w1=$!
slate-loadgen --log-format=text --count-person 1500 --count-filler 12000 "$SRC" >"$WORK/w2.log" 2>&1 &
w2=$!
while kill -0 "$w1" 2>/dev/null || kill -0 "$w2" 2>/dev/null; do
	sleep 1
	# the replicas first: each query takes a moment while the writers go on,
	# and read in this order no replica can look ahead of the source
	r1=$(maxid replicas replica1)
	r2=$(maxid replicas replica2)
	printf '   source max id %7s | replica1 %7s | replica2 %7s\n' "$(maxid source app)" "$r1" "$r2"
done
wait "$w1" "$w2"
tail -qn 1 "$WORK/w1.log" "$WORK/w2.log"

say "waiting for both destinations to catch up"
target=$(maxid source app)
for _ in $(seq 100); do
	[[ $(maxid replicas replica1) == "$target" && $(maxid replicas replica2) == "$target" ]] && break
	sleep 0.1
done
kill "$tailer" 2>/dev/null || true

say "proof: the tables are equal, byte for byte (md5 over id|ts|event in id order)"
printf '   %-9s %8s events  md5 %s\n' source "$(maxid source app)" "$(events_md5 source app)"
printf '   %-9s %8s events  md5 %s\n' replica1 "$(maxid replicas replica1)" "$(events_md5 replicas replica1)"
printf '   %-9s %8s events  md5 %s\n' replica2 "$(maxid replicas replica2)" "$(events_md5 replicas replica2)"
if [[ $(events_md5 source app) == "$(events_md5 replicas replica1)" &&
	$(events_md5 source app) == "$(events_md5 replicas replica2)" ]]; then
	say "equal: the demo worked. Stopping the replicator and the clusters."
else
	say "NOT equal: something is wrong"
	exit 1
fi
