#!/usr/bin/env bash
# bench/broker.sh - catch-up through NATS JetStream against the direct chains.
#
# Run by hand (not part of the tests; `make` first):
#	bench/broker.sh [EVENTS] [ROUNDS]	(default 1000000 events, 3 rounds)
#
# Starts throwaway clusters "src" and "dst" with production durability (see
# lib.bash) and a throwaway nats-server -js (file store under /tmp), fills the
# source with EVENTS realistic events, then alternates, ROUNDS times, each into
# fresh destinations with the slate indexes:
#   direct1  slate-extract | slate-load                    (one destination)
#   broker1  slate-extract | slate-publish into a new JetStream stream, and at
#            once slate-consume --follow | slate-load, until the destination
#            holds every event (the catch-up a new --publish/--via set-up does)
#   direct8  8 x slate-extract | slate-load at once
#   broker8  one slate-extract | slate-publish, 8 x slate-consume | slate-load
#   stream1  slate-consume | slate-load from a stream that already holds every
#            event (published once, untimed by the rounds: a destination
#            joining a running broker set-up); stream8 the same, 8 at once
# BROKER=0 leaves out broker1 and broker8.
# Each first destination is checked with slate-diff, the others by count.
# Prints wall seconds, events/s, the ratio broker/direct of the same round, the
# source's connections during the copy (most seen), the peak RSS of
# slate-publish and of one slate-consume, the CPU seconds the whole machine
# spent (servers included), and the medians over the rounds.
set -euo pipefail

N=${1:-1000000}
ROUNDS=${2:-3}
source "$(dirname "$0")/lib.bash"
# shellcheck source=../test/nats.bash
source "$ROOT/test/nats.bash"
for p in slate-publish slate-consume; do
	[[ -x $ROOT/bin/$p ]] || { echo "bench: build $ROOT/bin/$p first (make)" >&2; exit 2; }
	cp "$ROOT/bin/$p" "$BIN/"
done
trap 'nats_stop; clusters_stop_all; rm -rf "$TMP"' EXIT

start_src_dst
db_create src src source
SRC=$(cluster_conninfo src src)
nats_start

machine
echo "nats:    $(nats-server --version 2>/dev/null || /usr/sbin/nats-server --version), file store in $NATS_DIR"
t=$(now)
fill_source src src "$N"
echo "source:  $N events, filled from $FILLED_FROM in $(printf %.0f "$(elapsed "$t")") s"
psql -X -q -d "$SRC" -c "COPY (SELECT id, ts, event FROM events ORDER BY id) TO STDOUT (FORMAT binary)" >/dev/null
echo

# fresh K: create databases d1..dK on dst (dropping old ones); sets DSTS
fresh() {
	local i
	DSTS=()
	for ((i = 1; i <= $1; i++)); do
		psql_c dst postgres "DROP DATABASE IF EXISTS d$i" >/dev/null 2>&1
		db_create dst "d$i" destination >/dev/null
		DSTS+=("$(cluster_conninfo dst "d$i")")
	done
	psql_c src src "CHECKPOINT" >/dev/null
	psql_c dst postgres "CHECKPOINT" >/dev/null
}

# conns_watch: in the background, record the most client connections to the
# source database seen, into $TMP/conns; stop with conns_stop
conns_watch() {
	echo 0 >"$TMP/conns"
	(
		most=0
		while [[ -f $TMP/watching ]]; do
			c=$(psql_c src postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'src'
				AND pid <> pg_backend_pid()" 2>/dev/null || echo 0)
			((c > most)) && most=$c && echo "$most" >"$TMP/conns"
			sleep 0.2
		done
	) &
	WATCH=$!
}
conns_start() { touch "$TMP/watching"; conns_watch; }
conns_stop() { rm -f "$TMP/watching"; wait "$WATCH"; cat "$TMP/conns"; }

# check: the first destination equals the source, the others hold N events
check() {
	local i
	same_events "$SRC" "${DSTS[0]}"
	for ((i = 1; i < ${#DSTS[@]}; i++)); do
		[[ $(psql -X -At -d "${DSTS[i]}" -c "SELECT count(*) FROM events") == "$N" ]] ||
			{ echo "bench: destination $((i + 1)) is incomplete" >&2; return 1; }
	done
}

# cpu_busy: CPU seconds the whole machine has spent busy so far (every
# process, the servers included; /proc/stat counts in 1/100 s)
cpu_busy() {
	awk '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / 100 }' /proc/stat
}

# case_start K: K fresh destinations, watch the source's connections, start the clocks
case_start() {
	fresh "$1"
	conns_start
	CPU0=$(cpu_busy)
	T0=$(now)
}

# case_end: SECONDS_, CPU_ and CONNS of the case since case_start
case_end() {
	SECONDS_=$(elapsed "$T0")
	CPU_=$(calc "$(cpu_busy) - $CPU0")
	CONNS=$(conns_stop)
}

# consumers K STREAM [OPTION]...: K slate-consume | slate-load chains into
# the destinations, the first one's peak RSS into $TMP/con.rss; sets PIDS
consumers() {
	local i k=$1 stream=$2 timer
	shift 2
	PIDS=()
	for ((i = 0; i < k; i++)); do
		timer=()
		((i == 0)) && timer=(/usr/bin/time -f '%M' -o "$TMP/con.rss")
		"${timer[@]}" slate-consume --log-format=json "$@" --stream "$stream" "$NATS_URL" 2>>"$TMP/log" |
			slate-load --log-format=json "${DSTS[i]}" 2>>"$TMP/log" &
		PIDS+=($!)
	done
}

# direct K: K extract | load chains at once; sets SECONDS_, CPU_ and CONNS
direct() {
	local i pids=()
	case_start "$1"
	for ((i = 0; i < $1; i++)); do
		(slate-extract --log-format=json "$SRC" | slate-load --log-format=json "${DSTS[i]}") 2>>"$TMP/log" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	case_end
	check
}

# broker K STREAM: publish into a new stream while K consume --follow | load
# chains copy from it, until every destination holds N events; prints seconds
broker() {
	local i pub stream=$2 done
	case_start "$1"
	(slate-extract --log-format=json "$SRC" |
		/usr/bin/time -f '%M' -o "$TMP/pub.rss" slate-publish --log-format=json --stream "$stream" "$NATS_URL") 2>>"$TMP/log" &
	pub=$!
	until [[ $(slate-publish --stream "$stream" --position "$NATS_URL" 2>/dev/null || echo 0) -gt 0 ]]; do sleep 0.01; done
	consumers "$1" "$stream" --follow
	# caught up: every destination holds N events
	while :; do
		done=1
		for ((i = 0; i < $1; i++)); do
			[[ $(psql -X -At -d "${DSTS[i]}" -c "SELECT count(*) FROM events") == "$N" ]] || { done=0; break; }
		done
		((done)) && break
		sleep 0.05
	done
	case_end
	wait "$pub"
	# --follow runs on: stop this round's consumers (by their stream)
	pkill -TERM -f "^slate-consume --log-format=json --follow --stream $stream " 2>/dev/null || true
	for p in "${PIDS[@]}"; do wait "$p" || true; done
	# the last line: /usr/bin/time puts "Command terminated by signal" before it
	PUB_MB=$(calc "$(tail -1 "$TMP/pub.rss") / 1024")
	CON_MB=$(calc "$(tail -1 "$TMP/con.rss") / 1024")
	check
	nats_api "\$JS.API.STREAM.DELETE.$stream" >/dev/null
}

# from_stream K: K slate-consume | slate-load chains at once from the stream
# "full" that already holds every event (a destination joining a running
# broker set-up); sets SECONDS_, CPU_, CONNS and CON_MB
from_stream() {
	case_start "$1"
	consumers "$1" full
	for p in "${PIDS[@]}"; do wait "$p"; done
	case_end
	CON_MB=$(calc "$(tail -1 "$TMP/con.rss") / 1024")
	check
}

# the stream "full" for from_stream, published once; publishing alone is timed too
t=$(now)
c=$(cpu_busy)
slate-extract --log-format=json "$SRC" 2>>"$TMP/log" |
	/usr/bin/time -f '%M' -o "$TMP/pub.rss" slate-publish --log-format=json --stream full "$NATS_URL" 2>>"$TMP/log"
echo "publish: $N events into the stream \"full\" alone (slate-extract | slate-publish) in $(printf %.2f "$(elapsed "$t")") s," \
	"$(printf %.1f "$(calc "$(cpu_busy) - $c")") CPU s, publisher RSS $(printf %.1f "$(calc "$(tail -1 "$TMP/pub.rss") / 1024")") MB"
echo

printf '%-8s %5s %8s %10s %6s %6s %7s %7s %7s   %s\n' case round seconds events/s ratio src_cn pub_MB con_MB cpu_s "load average (after)"
: >"$TMP/rows"
for r in $(seq "$ROUNDS"); do
	for k in 1 8; do
		direct "$k"
		d=$SECONDS_
		printf '%-8s %5s %8.2f %10.0f %6s %6s %7s %7s %7.1f   %s\n' "direct$k" "$r" "$d" "$(calc "$N / $d")" - "$CONNS" - - "$CPU_" "$(loadavg)" | tee -a "$TMP/rows"
		if [[ ${BROKER:-1} != 0 ]]; then
			broker "$k" "b${r}k$k"
			b=$SECONDS_
			printf '%-8s %5s %8.2f %10.0f %6.3f %6s %7.1f %7.1f %7.1f   %s\n' "broker$k" "$r" "$b" "$(calc "$N / $b")" "$(calc "$d / $b")" "$CONNS" "$PUB_MB" "$CON_MB" "$CPU_" "$(loadavg)" | tee -a "$TMP/rows"
		fi
		from_stream "$k"
		b=$SECONDS_
		printf '%-8s %5s %8.2f %10.0f %6.3f %6s %7s %7.1f %7.1f   %s\n' "stream$k" "$r" "$b" "$(calc "$N / $b")" "$(calc "$d / $b")" "$CONNS" - "$CON_MB" "$CPU_" "$(loadavg)" | tee -a "$TMP/rows"
	done
done
echo
echo "medians over $ROUNDS rounds (worst round in brackets); ratio = direct seconds / broker seconds (> 1: broker faster)"
# median and worst of column COL for case C
stat() {
	local vals
	vals=$(awk -v c="$1" -v col="$2" '$1 == c && $col != "-" { print $col }' "$TMP/rows" | sort -g)
	[[ -n $vals ]] || { echo "- -"; return; }
	echo "$(sed -n "$(((($(wc -l <<<"$vals") + 1) / 2)))p" <<<"$vals") $(tail -1 <<<"$vals")"
}
for c in direct1 broker1 stream1 direct8 broker8 stream8; do
	grep -q "^$c " "$TMP/rows" || continue
	read -r med worst < <(stat "$c" 3)
	read -r rmed rworst < <(stat "$c" 5)
	read -r pmed _ < <(stat "$c" 7)
	read -r cmed _ < <(stat "$c" 8)
	read -r umed _ < <(stat "$c" 9)
	printf '%-8s %8.2f s [worst %6.2f]  %8.0f events/s  ratio %s [lowest %s]  publish %s MB, consume %s MB  CPU %s s\n' \
		"$c" "$med" "$worst" "$(calc "$N / $med")" "$rmed" "$(awk -v c="$c" '$1 == c && $5 != "-" { print $5 }' "$TMP/rows" | sort -g | head -1)" "$pmed" "$cmed" "$umed"
done
