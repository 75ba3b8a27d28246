#!/usr/bin/env bash
# bench/latency.sh - commit-to-visible latency of the replicator, next to
# PostgreSQL's logical replication, idle and under a concurrent inserter.
#
# Run by hand (not part of the tests; `make` first, needs cc and libpq-dev):
#	bench/latency.sh [SINGLE] [FIFTEEN]	(default 1000 and 300 transactions)
# Environment: RATE (concurrent inserter, 15-event transactions per second,
# default 100, i.e. 1500 events/s), POLL_US (pause between the driver's polls
# of the destination, default 50), PHASES (which of "slate slate-on broker
# logical" to run, default "slate slate-on logical"), HOPS=1 (the programs write SLATE_TRACE marks
# and each line is followed by the median time of each hop; the marks cost
# a write(2) each, so leave it off for the figures themselves), TCP=1 (the
# replicator reaches both servers over TCP on 127.0.0.1, as the subscription
# does, instead of Unix sockets), NOTIFY=id (the source's notify trigger
# sends {table, id} instead of the whole event: sql/notify-id-only.sql).
#
# Two throwaway clusters with production durability (fsync, synchronous
# commit, full-page writes on): "src" (wal_level = logical) holding the
# source, "dst" holding two destinations, "slate" and "lr".  bench/latency.c
# inserts one transaction at a time through insert_events() on the source,
# notes when its COMMIT returned, polls the destination with a prepared
# statement until the transaction's last id is visible, and notes that; 2 ms
# pause between transactions.  Phases, one replicator running at a time:
#   slate     pipeline.sh --source src --destination slate (the replicator)
#   slate-on  the same chain with slate-load --synchronous-commit=on
#   broker    through NATS JetStream: pipeline.sh --publish into a throwaway
#             nats-server -js, and pipeline.sh --via from it to "brk"
#   logical   CREATE PUBLICATION on src / CREATE SUBSCRIPTION on lr
# Each phase: SINGLE one-event and FIFTEEN 15-event transactions idle, then
# the same again while the concurrent inserter runs.
set -euo pipefail

SINGLE=${1:-1000}
FIFTEEN=${2:-300}
RATE=${RATE:-100}
POLL_US=${POLL_US:-50}
PHASES=${PHASES:-slate slate-on logical}
source "$(dirname "$0")/lib.bash"

if [[ ${HOPS:-0} == 1 ]]; then
	export SLATE_TRACE=$TMP/trace
fi
cc -O2 -o "$TMP/latency" "$ROOT/bench/latency.c" -I"$(pg_config --includedir)" -lpq

start_src_dst
db_create src src source
db_create dst slate destination
db_create dst lr destination
if [[ " $PHASES " == *" broker "* ]]; then
	# shellcheck source=../test/nats.bash
	source "$ROOT/test/nats.bash"
	for p in slate-publish slate-consume; do
		[[ -x $ROOT/bin/$p ]] || { echo "bench: build $ROOT/bin/$p first (make)" >&2; exit 2; }
		cp "$ROOT/bin/$p" "$BIN/"
	done
	db_create dst brk destination
	BRK=$(cluster_conninfo dst brk)
	nats_start
fi
SRC=$(cluster_conninfo src src)
SLATE=$(cluster_conninfo dst slate)
LR=$(cluster_conninfo dst lr)
# what the replicator connects with (the driver always uses the sockets)
REPL_SRC=$SRC REPL_DST=$SLATE
if [[ ${TCP:-0} == 1 ]]; then
	REPL_SRC="host=127.0.0.1 port=$src_PORT dbname=src user=postgres"
	REPL_DST="host=127.0.0.1 port=$dst_PORT dbname=slate user=postgres"
fi
if [[ ${NOTIFY:-event} == id ]]; then
	psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" -f "$ROOT/sql/notify-id-only.sql" >/dev/null
fi
psql_c src src "CREATE PUBLICATION bench_pub FOR TABLE events" >/dev/null
psql_c dst lr "CREATE SUBSCRIPTION bench_sub CONNECTION 'host=127.0.0.1 port=$src_PORT dbname=src user=postgres'
	PUBLICATION bench_pub WITH (enabled = false)" >/dev/null

machine
echo "settings: $(tr '\n' ';' <<<"$BENCH_SETTINGS") wal_level = logical on src"
echo "replicator: $([[ ${TCP:-0} == 1 ]] && echo TCP on 127.0.0.1 || echo Unix sockets); notify payload: ${NOTIFY:-event}"
echo "driver:  poll every ${POLL_US} us + round trip; concurrent inserter: $RATE transactions/s of 15 events"
echo

pids=()
stop_pids() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop_pids; [[ -n ${NATS_DIR:-} ]] && nats_stop; clusters_stop_all; rm -rf "$TMP"' EXIT

# phase NAME DST: the four measurements against destination DST
phase() {
	local name=$1 dst=$2 ins
	# warm up: connections, caches, the replicator's first round
	"$TMP/latency" measure "$SRC" "$dst" 50 15 warmup "$POLL_US" >/dev/null
	"$TMP/latency" measure "$SRC" "$dst" "$SINGLE" 1 "$name idle" "$POLL_US"
	"$TMP/latency" measure "$SRC" "$dst" "$FIFTEEN" 15 "$name idle" "$POLL_US"
	"$TMP/latency" insert "$SRC" "$RATE" 15 &
	ins=$!
	sleep 1
	"$TMP/latency" measure "$SRC" "$dst" "$SINGLE" 1 "$name +inserter" "$POLL_US"
	"$TMP/latency" measure "$SRC" "$dst" "$FIFTEEN" 15 "$name +inserter" "$POLL_US"
	kill -TERM "$ins"
	wait "$ins" || true
	echo "  load average: $(loadavg)"
	catch_up "$dst"
}

# catch_up DST: wait until DST holds every source event, then compare them
catch_up() {
	local want
	want=$(psql_c src src "SELECT max(id) FROM events")
	until [[ $(psql -X -At -d "$1" -c "SELECT coalesce(max(id), 0) FROM events") -ge $want ]]; do
		sleep 0.1
	done
	same_events "$SRC" "$1"
}

printf '%-36s %5s %2s %8s %8s %8s %8s %8s %9s %7s\n' "case (latency in ms)" txns ev \
	p50 p90 p99 max mean commit_p50 poll_rtt

# the replicator as users run it
if [[ " $PHASES " == *" slate "* ]]; then
"$TMP/pipeline.sh" --source "$REPL_SRC" --destination "$REPL_DST" --log-format json 2>"$TMP/pipeline.log" &
pids=($!)
phase "slate (pipeline.sh)" "$SLATE"
stop_pids
fi

# the same chain (as pipeline.sh builds it), slate-load with synchronous_commit on
if [[ " $PHASES " == *" slate-on "* ]]; then
mkfifo "$TMP/wake" "$TMP/events"
slate-listen --reconnect --poll-interval 5 --log-format json "$REPL_SRC" >"$TMP/wake" 2>>"$TMP/pipeline.log" &
pids=($!)
slate-extract --follow --log-format json "$REPL_SRC" <"$TMP/wake" >"$TMP/events" 2>>"$TMP/pipeline.log" &
pids+=($!)
slate-load --synchronous-commit=on --log-format json "$REPL_DST" <"$TMP/events" 2>>"$TMP/pipeline.log" &
pids+=($!)
phase "slate, load sync commit on" "$SLATE"
stop_pids
fi

# through the broker: the source published once, the destination fed from the stream
if [[ " $PHASES " == *" broker "* ]]; then
"$TMP/pipeline.sh" --source "$REPL_SRC" --publish "$NATS_URL" --stream lat --log-format json 2>>"$TMP/pipeline.log" &
pids=($!)
# --via checks the stream at start-up: it must exist, with the first event
until [[ $(slate-publish --stream lat --position "$NATS_URL" 2>/dev/null || echo 0) -gt 0 ]]; do sleep 0.05; done
"$TMP/pipeline.sh" --via "$NATS_URL" --stream lat --destination "$(sed "s/dbname=slate/dbname=brk/" <<<"$REPL_DST")" \
	--log-format json 2>>"$TMP/pipeline.log" &
pids+=($!)
catch_up "$BRK"
phase "slate through NATS JetStream" "$BRK"
stop_pids
fi

# PostgreSQL's logical replication (copies what is there first, then streams)
if [[ " $PHASES " == *" logical "* ]]; then
psql_c dst lr "ALTER SUBSCRIPTION bench_sub ENABLE" >/dev/null
catch_up "$LR"
phase "logical replication" "$LR"
psql_c dst lr "ALTER SUBSCRIPTION bench_sub DISABLE" >/dev/null
fi
