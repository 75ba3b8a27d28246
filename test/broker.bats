#!/usr/bin/env bats
# slate-publish and slate-consume through a throwaway nats-server -js:
# byte-exact fan-out, kills, a second publisher, another source, --after.

bats_require_minimum_version 1.5.0
load test_helper
load nats

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 3000
	db_create pg other source
	insert_events pg other 20
	nats_start
	SRC=$(cluster_conninfo pg src)
	OTHER=$(cluster_conninfo pg other)
	export SRC OTHER
}

teardown_file() {
	nats_stop
	clusters_stop_all
}

setup() {
	# each test has a stream of its own
	STREAM=t$BATS_TEST_NUMBER
}

teardown() {
	kill_background
}

# publish [ARGS...]: extract src after the stream's position and publish it
publish() {
	local pos
	pos=$(slate-publish --stream "$STREAM" --position "$NATS_URL") || return 1
	slate-extract --after "$pos" "$SRC" 2>/dev/null |
		slate-publish --stream "$STREAM" "$@" "$NATS_URL"
}

# assert_stream_is_source: the stream holds src's max(id) messages at
# sequences 1..max, none missing and none twice, and reads back byte-exact
assert_stream_is_source() {
	local max dst
	max=$(events_maxid pg src)
	assert_equal "$(nats_stream_state "$STREAM")" "$max 1 $max"
	run -0 slate-publish --stream "$STREAM" --position "$NATS_URL"
	assert_output "$max"
	dst=$(fresh_dest pg "check$BATS_TEST_NUMBER")
	run -0 bash -c 'slate-consume --stream "$1" "$2" | slate-load "$3"' _ "$STREAM" "$NATS_URL" "$dst"
	assert_equal "$(events_md5 pg "check$BATS_TEST_NUMBER")" "$(events_md5 pg src)"
}

@test "--help, --version, bad options, credentials refused in the URL" {
	for prog in slate-publish slate-consume; do
		run -0 "$prog" --help
		assert_output --partial "Usage:"
		assert_output --partial "NATS_PASSWORD"
		run -0 "$prog" --version
		assert_output --regexp "^$prog \(slate\) [0-9]+\.[0-9]+"
		run --separate-stderr "$prog" --no-such-option
		assert_failure 2
		assert_equal "${stderr_lines[-1]}" "Try \"$prog --help\" for more information."
		run --separate-stderr "$prog" "nats://app:s3cret@127.0.0.1:$NATS_PORT"
		assert_failure 2
		assert_equal "${stderr_lines[0]}" "$prog: credentials in the NATS URL are refused (every user can read argv); use NATS_USER and NATS_PASSWORD, NATS_TOKEN or --creds"
		refute_output --partial s3cret
		run --separate-stderr "$prog" --stream "a.b" "$NATS_URL"
		assert_failure 2
		assert_output ""
		assert_equal "${stderr_lines[0]}" "$prog: invalid --stream \"a.b\": a JetStream stream name has no spaces, '.', '*', '>' or slashes"
	done
	run --separate-stderr slate-publish --window 0
	assert_failure 2
	run --separate-stderr slate-consume --after -1
	assert_failure 2
}

@test "no server: one clear error, exit 1" {
	port=$(free_port)
	run --separate-stderr slate-publish --position --log-format=text "nats://127.0.0.1:$port"
	assert_failure 1
	assert_output ""
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "could not connect to nats://127.0.0.1:$port"
}

@test "publish once, consume into 8 destinations: each byte-identical to the source" {
	run -0 slate-publish --stream "$STREAM" --position "$NATS_URL"
	assert_output 0
	run --separate-stderr publish --log-format=text
	assert_success
	assert_regex "$stderr" "created nats://127.0.0.1:$NATS_PORT stream $STREAM \(subject $STREAM.events, 1 replica, file storage\)"
	assert_regex "$stderr" "published 3000 events"
	assert_stream_is_source
	for i in 1 2 3 4 5 6 7 8; do
		dst=$(fresh_dest pg "fan$i")
		slate-consume --stream "$STREAM" "$NATS_URL" 2>/dev/null | slate-load "$dst" 2>/dev/null &
		bg_track $!
	done
	for i in 1 2 3 4 5 6 7 8; do
		wait -n || fail "a consume | load chain failed"
	done
	for i in 1 2 3 4 5 6 7 8; do
		assert_equal "$(events_md5 pg "fan$i")" "$(events_md5 pg src)"
	done
}

@test "publishing again is harmless: events already in the stream are skipped" {
	run -0 publish
	# the whole source again, from id 1
	slate-extract "$SRC" 2>/dev/null >"$BATS_TEST_TMPDIR/all.mp"
	run --separate-stderr slate-publish --stream "$STREAM" --log-format=text "$NATS_URL" <"$BATS_TEST_TMPDIR/all.mp"
	assert_success
	assert_regex "$stderr" "published 0 events"
	assert_stream_is_source
}

@test "the message layout: body is the event's stream message, headers carry id, expected sequence and boundary" {
	run -0 publish
	# sequence 15 is the last event of insert_events' first transaction of 15
	reply=$(nats_api "\$JS.API.STREAM.MSG.GET.$STREAM" '{"seq":15}')
	hdrs=$(grep -o '"hdrs":"[^"]*"' <<<"$reply" | cut -d'"' -f4 | base64 -d)
	assert_regex "$hdrs" $'Nats-Msg-Id: 15\r'
	assert_regex "$hdrs" $'Nats-Expected-Last-Sequence: 14\r'
	assert_regex "$hdrs" $'Slate-Boundary: true\r'
	reply=$(nats_api "\$JS.API.STREAM.MSG.GET.$STREAM" '{"seq":14}')
	hdrs=$(grep -o '"hdrs":"[^"]*"' <<<"$reply" | cut -d'"' -f4 | base64 -d)
	assert_regex "$hdrs" $'Nats-Msg-Id: 14\r'
	refute_regex "$hdrs" "Slate-Boundary"
	# the body is exactly what slate-extract writes for that event
	body=$(grep -o '"data":"[^"]*"' <<<"$reply" | cut -d'"' -f4 | base64 -d | od -An -tx1 | tr -d ' \n')
	slate-extract --after 13 --until 14 "$SRC" 2>/dev/null >"$BATS_TEST_TMPDIR/one.mp"
	whole=$(od -An -tx1 <"$BATS_TEST_TMPDIR/one.mp" | tr -d ' \n')
	assert_regex "$whole" "$body"
	[[ ${#body} -gt 500 ]] || fail "body too short: $body"
}

@test "kill -9 of slate-publish mid-stream, then again: no gap, no duplicate" {
	slate-extract "$SRC" 2>/dev/null >"$BATS_TEST_TMPDIR/all.mp"
	mkfifo "$BATS_TEST_TMPDIR/in"
	slate-publish --stream "$STREAM" --window 64 "$NATS_URL" <"$BATS_TEST_TMPDIR/in" 2>"$BATS_TEST_TMPDIR/pub.log" &
	pub=$!
	bg_track $pub
	exec {w}>"$BATS_TEST_TMPDIR/in"
	# two thirds of the stream, cut inside a message; the writer stays open
	head -c $(($(stat -c %s "$BATS_TEST_TMPDIR/all.mp") * 2 / 3)) "$BATS_TEST_TMPDIR/all.mp" >&$w
	for ((i = 0; i < 300; i++)); do
		pos=$(slate-publish --stream "$STREAM" --position "$NATS_URL")
		((pos > 0)) && break
		sleep 0.05
	done
	kill -KILL "$pub"
	exec {w}>&-
	wait "$pub" || true
	pos=$(slate-publish --stream "$STREAM" --position "$NATS_URL")
	((pos > 0 && pos < 3000)) || fail "position $pos after the kill"
	read -r n first last < <(nats_stream_state "$STREAM")
	assert_equal "$n $first" "$pos 1"
	assert_equal "$last" "$pos"
	run -0 publish
	assert_stream_is_source
}

@test "kill -9 of slate-consume during a load: the destination stays a boundary prefix, then catches up" {
	run -0 publish
	dst=$(fresh_dest pg killc)
	mkfifo "$BATS_TEST_TMPDIR/pipe"
	slate-load --max-events-per-write 10000 "$dst" <"$BATS_TEST_TMPDIR/pipe" 2>/dev/null &
	load=$!
	bg_track $load
	slate-consume --stream "$STREAM" --follow "$NATS_URL" >"$BATS_TEST_TMPDIR/pipe" 2>/dev/null &
	cons=$!
	bg_track $cons
	for ((i = 0; i < 300; i++)); do
		(($(events_count pg killc) > 0)) && break
		sleep 0.05
	done
	kill -KILL "$cons"
	wait "$cons" || true
	wait "$load" || true
	assert_boundary_prefix pg src pg killc
	run -0 bash -c 'slate-consume --stream "$1" --after "$(psql -XAtqd "$3" -c "SELECT coalesce(max(id),0) FROM events")" "$2" | slate-load "$3"' \
		_ "$STREAM" "$NATS_URL" "$dst"
	assert_equal "$(events_md5 pg killc)" "$(events_md5 pg src)"
}

@test "kill -9 of nats-server, then its consumer deleted, under consume --follow | load: it reads on, byte-exact" {
	# a source of its own: this test adds events
	db_create pg srckn source
	insert_events pg srckn 300
	SRC=$(cluster_conninfo pg srckn)
	run -0 publish
	dst=$(fresh_dest pg killn)
	mkfifo "$BATS_TEST_TMPDIR/pipe"
	slate-load "$dst" <"$BATS_TEST_TMPDIR/pipe" 2>"$BATS_TEST_TMPDIR/load.log" &
	load=$!
	bg_track $load
	slate-consume --stream "$STREAM" --follow --log-format=text "$NATS_URL" \
		>"$BATS_TEST_TMPDIR/pipe" 2>"$BATS_TEST_TMPDIR/cons.log" &
	cons=$!
	bg_track $cons
	wait_until 30 same_count killn srckn ||
		fail "no catch-up: $(cat "$BATS_TEST_TMPDIR/cons.log")"
	nats_kill
	nats_restart
	insert_events pg srckn 45
	run -0 publish
	wait_until 60 same_count killn srckn ||
		fail "not caught up after the restart: $(cat "$BATS_TEST_TMPDIR/cons.log")"
	assert_equal "$(events_md5 pg killn)" "$(events_md5 pg srckn)"
	running "$cons" || fail "the consumer ended: $(cat "$BATS_TEST_TMPDIR/cons.log")"
	# its JetStream consumer deleted under it: it notices, and reads on after its last id
	names=$(nats_api "\$JS.API.CONSUMER.NAMES.$STREAM")
	name=$(grep -o '"consumers":\["[^"]*' <<<"$names" | cut -d'"' -f4)
	[[ -n $name ]] || fail "no consumer: $names"
	nats_api "\$JS.API.CONSUMER.DELETE.$STREAM.$name" >/dev/null
	insert_events pg srckn 30
	run -0 publish
	wait_until 60 same_count killn srckn ||
		fail "not caught up after the deletion: $(cat "$BATS_TEST_TMPDIR/cons.log")"
	assert_equal "$(events_md5 pg killn)" "$(events_md5 pg srckn)"
	[[ $(cat "$BATS_TEST_TMPDIR/cons.log") == *"our consumer is gone"*"reading again after id"* ]] ||
		fail "no word of the lost consumer: $(cat "$BATS_TEST_TMPDIR/cons.log")"
	kill -TERM "$cons"
	wait "$cons" || fail "slate-consume exited $? on SIGTERM"
	wait "$load" || true
}

# same_count DB SRC: the destination DB holds as many events as the source SRC
same_count() {
	[[ $(events_count pg "$1") == $(events_count pg "$2") ]]
}

# start_fed_publisher NAME: slate-publish reading the fifo NAME, which the
# test holds open for writing on fd FEED_NAME; sets PUB_NAME to its pid
start_fed_publisher() {
	local fd
	mkfifo "$BATS_TEST_TMPDIR/$1.in"
	slate-publish --stream "$STREAM" --window 64 --log-format=text "$NATS_URL" \
		<"$BATS_TEST_TMPDIR/$1.in" 2>"$BATS_TEST_TMPDIR/$1.log" &
	printf -v "PUB_$1" '%s' $!
	bg_track $!
	exec {fd}>"$BATS_TEST_TMPDIR/$1.in"
	printf -v "FEED_$1" '%s' "$fd"
}

# feed FD FROM TO: write bytes FROM..TO-1 of all.mp to FD
feed() {
	tail -c +$(($2 + 1)) "$BATS_TEST_TMPDIR/all.mp" | head -c $(($3 - $2)) >&"$1"
}

# wait_position N: wait until the stream's last event is at least N
wait_position() {
	local pos i
	for ((i = 0; i < 600; i++)); do
		pos=$(slate-publish --stream "$STREAM" --position "$NATS_URL" 2>/dev/null) && ((pos >= $1)) && return 0
		sleep 0.05
	done
	fail "the stream's position stays at ${pos:-?}, below $1"
}

@test "kill -9 of nats-server during a publish, restarted on its store: no gap, no duplicate" {
	slate-extract "$SRC" 2>/dev/null >"$BATS_TEST_TMPDIR/all.mp"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/all.mp")
	start_fed_publisher p
	feed "$FEED_p" 0 $((size / 2))
	wait_position 1
	# more in flight as the server dies
	feed "$FEED_p" $((size / 2)) $((size * 3 / 4))
	nats_kill
	running "$PUB_p" || fail "slate-publish ended before the server was killed: $(cat "$BATS_TEST_TMPDIR/p.log")"
	nats_restart
	# the publisher may have stopped already (exit 1): then the rest finds no reader
	feed "$FEED_p" $((size * 3 / 4)) "$size" || true
	exec {FEED_p}>&-
	# it rides out the restart, or stops with one clear error; either way, publish again
	wait_exit "$PUB_p" 60
	[[ $STATUS == 0 || $STATUS == 1 ]] || fail "slate-publish exited $STATUS: $(cat "$BATS_TEST_TMPDIR/p.log")"
	echo "# slate-publish exited $STATUS" >&3
	run -0 publish
	assert_stream_is_source
}

@test "a second publisher at the same time is harmless" {
	slate-extract "$SRC" 2>/dev/null >"$BATS_TEST_TMPDIR/all.mp"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/all.mp")
	start_fed_publisher a
	start_fed_publisher b
	feed "$FEED_a" 0 $((size / 2))
	wait_position 1
	# b starts behind a, and both go on at once
	feed "$FEED_b" 0 $((size / 2))
	feed "$FEED_a" $((size / 2)) "$size" &
	feeder=$!
	feed "$FEED_b" $((size / 2)) "$size"
	wait "$feeder"
	exec {FEED_a}>&- {FEED_b}>&-
	for p in a b; do
		pid=PUB_$p
		wait_exit "${!pid}" 60
		echo "# publisher $p exited $STATUS" >&3
		# each either finished or was refused (4), naming the other publisher
		case $STATUS in
		0) ;;
		4) assert_regex "$(cat "$BATS_TEST_TMPDIR/$p.log")" "another publisher wrote event [0-9]+ first; stopped" ;;
		*) fail "publisher $p exited $STATUS: $(cat "$BATS_TEST_TMPDIR/$p.log")" ;;
		esac
	done
	run -0 publish
	assert_stream_is_source
}

@test "a stream holding another source's events is refused, and left as it was" {
	run -0 publish
	before=$(nats_stream_state "$STREAM")
	run --separate-stderr bash -c 'slate-extract "$1" 2>/dev/null | slate-publish --stream "$2" --log-format=text "$3"' \
		_ "$OTHER" "$STREAM" "$NATS_URL"
	assert_failure 4
	assert_regex "$stderr" "stream $STREAM holds events of another source: its first event \(id 1\) differs from the source's \(id 1, source .*dbname=other"
	assert_equal "$(nats_stream_state "$STREAM")" "$before"
	# an empty stream must start with the source's first event
	run --separate-stderr bash -c 'slate-extract --after 5 "$1" 2>/dev/null | slate-publish --stream "$2x" --log-format=text "$3"' \
		_ "$SRC" "$STREAM" "$NATS_URL"
	assert_failure 4
	assert_regex "$stderr" "is empty, so it must begin with the source's first event \(id 1\), but stdin's first new event is id 6"
	# and a destination of another source refuses what the consumer sends
	dst=$(fresh_dest pg otherdst)
	slate-extract "$OTHER" 2>/dev/null | slate-load "$dst" 2>/dev/null
	run --separate-stderr bash -c 'slate-consume --stream "$1" --after 20 "$2" | slate-load "$3"' _ "$STREAM" "$NATS_URL" "$dst"
	assert_failure 4
	assert_regex "$stderr" "holds events of another source"
	assert_equal "$(events_count pg otherdst)" 20
}

@test "a filtered extract is refused by slate-publish, the stream left as it was" {
	run -0 publish
	before=$(nats_stream_state "$STREAM")
	run --separate-stderr bash -c 'slate-extract --operation nonesuch "$1" 2>/dev/null |
		slate-publish --stream "$2" --log-format=text "$3"' _ "$SRC" "$STREAM" "$NATS_URL"
	assert_failure 4
	assert_regex "$stderr" "ERROR slate-publish: stdin: the stream is a filtered extract \\(.*nonesuch.*\\) of .*: it cannot be published"
	assert_equal "$(nats_stream_state "$STREAM")" "$before"
}

@test "consume --after: from the middle, byte-exact; an id the stream no longer holds is refused" {
	run -0 publish
	dst=$(fresh_dest pg after)
	slate-extract --until 1000 "$SRC" 2>/dev/null | slate-load "$dst" 2>/dev/null
	run --separate-stderr bash -c 'slate-consume --stream "$1" --after 1000 "$2" | slate-load "$3"' _ "$STREAM" "$NATS_URL" "$dst"
	assert_success
	assert_equal "$(events_md5 pg after)" "$(events_md5 pg src)"
	# slate-consume's stream after 2985 (a transaction's end) continues a
	# destination holding the first 2985 events exactly
	dst=$(fresh_dest pg tail)
	slate-extract --until 2985 "$SRC" 2>/dev/null | slate-load "$dst" 2>/dev/null
	slate-consume --stream "$STREAM" --after 2985 "$NATS_URL" 2>/dev/null >"$BATS_TEST_TMPDIR/tail.mp"
	run -0 --separate-stderr slate-load --log-format=text "$dst" <"$BATS_TEST_TMPDIR/tail.mp"
	assert_regex "$stderr" "loaded 15 events"
	assert_equal "$(events_md5 pg tail)" "$(events_md5 pg src)"
	# after the last id: a header and an end marker, nothing to load
	slate-consume --stream "$STREAM" --after 3000 "$NATS_URL" 2>/dev/null >"$BATS_TEST_TMPDIR/none.mp"
	run -0 --separate-stderr slate-load --log-format=text "$dst" <"$BATS_TEST_TMPDIR/none.mp"
	assert_regex "$stderr" "loaded 0 events"
	# delete one message: asking for it, or reading across it, is refused
	run -0 nats_api "\$JS.API.STREAM.MSG.DELETE.$STREAM" '{"seq":2000}'
	assert_output --partial '"success":true'
	run --separate-stderr slate-consume --stream "$STREAM" --after 1999 --log-format=text "$NATS_URL"
	assert_failure 4
	assert_regex "$stderr" "stream $STREAM no longer holds event 2000 \(sequence 2000\), the one after --after 1999"
	dst=$(fresh_dest pg gap)
	run --separate-stderr bash -c 'slate-consume --stream "$1" --log-format=text "$2" >"$3"' _ "$STREAM" "$NATS_URL" "$BATS_TEST_TMPDIR/cut.mp"
	assert_failure 4
	assert_regex "$stderr" "stream $STREAM is missing event 2000 \(sequence 2000\): the next message holds id 2001; stopped after id 1999"
	# what it wrote has no end marker: slate-load keeps the whole transactions only
	run --separate-stderr slate-load "$dst" <"$BATS_TEST_TMPDIR/cut.mp"
	assert_failure 3
	assert_boundary_prefix pg src pg gap
	assert_equal "$(events_count pg gap)" 1995
	# purge the start away: the source's first event is gone, so nothing vouches for the source
	run -0 nats_api "\$JS.API.STREAM.PURGE.$STREAM" '{"keep":100}'
	run --separate-stderr slate-consume --stream "$STREAM" --after 2950 --log-format=text "$NATS_URL"
	assert_failure 4
	assert_regex "$stderr" "no longer holds its first message \(it starts at sequence 2901\)"
}

@test "consume without --follow ends at the last whole transaction when a cut publisher left a torn one" {
	local big dst pos
	db_create pg cut source
	insert_events pg cut 15 100		# transaction 1: ids 1..15, small
	insert_events pg cut 15 5000	# transaction 2: ids 16..30, 98% of the bytes
	big=$(cluster_conninfo pg cut)
	slate-extract "$big" 2>/dev/null >"$BATS_TEST_TMPDIR/all.mp"
	# the input cut two thirds in, inside transaction 2: its first events go out without their end
	head -c $(($(stat -c %s "$BATS_TEST_TMPDIR/all.mp") * 2 / 3)) "$BATS_TEST_TMPDIR/all.mp" |
		slate-publish --stream "$STREAM" "$NATS_URL" 2>/dev/null || true
	pos=$(slate-publish --stream "$STREAM" --position "$NATS_URL")
	((pos > 15 && pos < 30)) || fail "the publisher stopped at $pos, not inside transaction 2"
	# nothing more will come: it stops at 15 instead of waiting for the end of 16..30
	run --separate-stderr timeout 20 slate-consume --log-format=text --stream "$STREAM" "$NATS_URL"
	assert_success
	[[ $stderr == *"ends inside a source transaction"*"stopping after id 15"* ]] || fail "$stderr"
	dst=$(fresh_dest pg cutdst)
	run -0 bash -c 'timeout 20 slate-consume --stream "$1" "$2" | slate-load "$3"' _ "$STREAM" "$NATS_URL" "$dst"
	assert_equal "$(events_maxid pg cutdst)" 15
	assert_boundary_prefix pg cut pg cutdst
	# --after beyond the last whole transaction: nothing to send, an end marker
	run -0 bash -c 'timeout 20 slate-consume --stream "$1" --after 15 "$2" | slate-cat --info' _ "$STREAM" "$NATS_URL"
	assert_output --partial "complete"
}

@test "consume --follow: events published later arrive, whole transactions; SIGTERM ends it cleanly" {
	slate-extract --until 1500 "$SRC" 2>/dev/null | slate-publish --stream "$STREAM" "$NATS_URL" 2>/dev/null
	dst=$(fresh_dest pg follow)
	mkfifo "$BATS_TEST_TMPDIR/pipe"
	slate-load "$dst" <"$BATS_TEST_TMPDIR/pipe" 2>/dev/null &
	load=$!
	bg_track $load
	slate-consume --stream "$STREAM" --follow "$NATS_URL" >"$BATS_TEST_TMPDIR/pipe" 2>"$BATS_TEST_TMPDIR/cons.log" &
	cons=$!
	bg_track $cons
	for ((i = 0; i < 300; i++)); do
		[[ $(events_maxid pg follow) == 1500 ]] && break
		sleep 0.05
	done
	assert_equal "$(events_maxid pg follow)" 1500
	# the rest arrives while the consumer waits
	run -0 publish
	for ((i = 0; i < 300; i++)); do
		[[ $(events_maxid pg follow) == 3000 ]] && break
		sleep 0.05
	done
	assert_equal "$(events_md5 pg follow)" "$(events_md5 pg src)"
	kill -TERM "$cons"
	wait_exit "$cons" 5
	assert_equal "$STATUS" 0
	wait_exit "$load" 5
	assert_equal "$(events_md5 pg follow)" "$(events_md5 pg src)"
}

# start_pipeline NAME ARG...: pipeline.sh ARG... in the background, the
# leader of a process group of its own (as a shell job); logs to NAME.log.
# Sets PID.
start_pipeline() {
	local name=$1
	shift
	# SIGINT as a terminal gives it: a suite started in the background
	# (make test &) passes SIGINT on ignored, and a shell cannot trap a
	# signal ignored when it started, so the Ctrl-C tests would test nothing
	bg_start PID env --default-signal=INT,QUIT "$SLATE_ROOT/pipeline.sh" --log-format=text "$@" \
		>"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.log"
}

# caught_up DB: destination DB holds source live's max(id)
caught_up() {
	[[ $(psql_c pg "$1" "SELECT coalesce(max(id), 0) FROM events") == \
		"$(psql_c pg live "SELECT max(id) FROM events")" ]]
}

@test "pipeline.sh --publish once and --via for 2 destinations: live, byte-exact, 2 source connections; Ctrl-C stops both" {
	db_create pg live source
	insert_events pg live 600
	live=$(cluster_conninfo pg live)
	d1=$(fresh_dest pg via1)
	d2=$(fresh_dest pg via2)
	# a destination that starts part-way: it is read from its own max(id)
	slate-extract --until 300 "$live" 2>/dev/null | slate-load "$d2" 2>/dev/null
	run -0 "$SLATE_ROOT/pipeline.sh" --source "$live" --publish "$NATS_URL" --stream "$STREAM" --dry-run
	assert_line "publish to: $NATS_URL stream $STREAM"
	start_pipeline pub --source "$live" --publish "$NATS_URL" --stream "$STREAM" --poll-interval 1
	pub=$PID
	wait_position 600
	start_pipeline via --via "$NATS_URL" --stream "$STREAM" --destination "$d1" --destination "$d2" --poll-interval 1
	via=$PID
	insert_events pg live 450
	for db in via1 via2; do
		for ((i = 0; i < 300; i++)); do
			caught_up "$db" && break
			sleep 0.1
		done
		assert_equal "$(events_md5 pg "$db")" "$(events_md5 pg live)"
	done
	# the source serves the publisher's listen and extract, nothing per destination
	assert_equal "$(psql_c pg postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'live'")" 2
	kill -INT "$via"
	wait_exit "$via" 10 || { cat "$BATS_TEST_TMPDIR/via.log" >&2; false; }
	assert_equal "$STATUS" 0
	kill -INT "$pub"
	wait_exit "$pub" 10 || { cat "$BATS_TEST_TMPDIR/pub.log" >&2; false; }
	assert_equal "$STATUS" 0
	assert_regex "$(cat "$BATS_TEST_TMPDIR/via.log")" "replicating NATS stream $STREAM at $NATS_URL to 2 destination\(s\)"
	assert_regex "$(cat "$BATS_TEST_TMPDIR/pub.log")" "publishing .*dbname=live.* to $NATS_URL stream $STREAM after id 0"
}

@test "pipeline.sh --via: start-up checks against the stream; bad options" {
	d=$(fresh_dest pg viacheck)
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --log-format=text --via "$NATS_URL" --stream nosuch --destination "$d"
	assert_failure 2
	assert_regex "$stderr" "stream nosuch does not exist"
	assert_regex "$stderr" "start-up check failed for the NATS stream nosuch at $NATS_URL"
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --via "nats://u:secret@127.0.0.1:$NATS_PORT" --destination "$d"
	assert_failure 2
	refute_output --partial secret
	assert_regex "$stderr" "credentials in a NATS URL are refused"
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --via "$NATS_URL"
	assert_failure 2
	assert_regex "$stderr" "no destination: use --destination CONNINFO"
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --publish "$NATS_URL"
	assert_failure 2
	# a destination of another source, against a stream of src
	run -0 publish
	slate-extract "$OTHER" 2>/dev/null | slate-load "$d" 2>/dev/null
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --log-format=text --via "$NATS_URL" --stream "$STREAM" --destination "$d" --dry-run
	assert_failure 2
	assert_regex "$stderr" "holds events of another source"
}
