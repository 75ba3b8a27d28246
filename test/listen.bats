#!/usr/bin/env bats
# listen.bats: slate-listen writes wake messages at start, after notifications and per interval

bats_require_minimum_version 1.5.0
load test_helper

# one wake message: the msgpack map {"type": "wake"}
WAKE_HEX=81a474797065a477616b65
WAKE_LEN=11

setup_file() {
	cluster_start src
	db_create src app source
	# the later trigger, whose payload carries the id only
	db_create src idonly source
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo src idonly)" \
		-f "$SLATE_ROOT/sql/notify-id-only.sql"
}

teardown_file() {
	clusters_stop_all
}

setup() {
	OUT=$BATS_TEST_TMPDIR/wakes
	ERR=$BATS_TEST_TMPDIR/stderr
	# a name per test, so a test finds its own listener in pg_stat_activity
	APP=listen_test_$BATS_TEST_NUMBER
	CONNINFO="$(cluster_conninfo src app) application_name=$APP"
	LISTEN_PID=
	STOPPED_PID=
}

teardown() {
	if [[ -n $STOPPED_PID ]]; then
		kill -CONT "$STOPPED_PID" 2>/dev/null || true
	fi
	kill_background
}

# start_listen ARGS...: run slate-listen in the background, stdout to $OUT, stderr to $ERR
start_listen() {
	slate-listen --log-format=text "$@" >"$OUT" 2>"$ERR" 3>&- &
	LISTEN_PID=$!
	bg_track "$LISTEN_PID"
}

# wakes FILE: print how many wake messages FILE holds; fail if it holds anything else
wakes() {
	local size n expected='' actual i
	size=$(stat -c %s "$1")
	n=$((size / WAKE_LEN))
	for ((i = 0; i < n; i++)); do
		expected+=$WAKE_HEX
	done
	actual=$(od -An -tx1 -v "$1" | tr -d ' \n')
	if [[ $actual != "$expected"* ]]; then
		echo "wakes: $1 holds more than wake messages: $actual" >&2
		return 1
	fi
	echo "$n"
}

# wait_for_wakes N: wait up to 10 s until $OUT holds at least N wakes
wait_for_wakes() {
	local want=$1 n tries=0
	while ((tries++ < 200)); do
		n=$(wakes "$OUT") || return 1
		((n >= want)) && return 0
		sleep 0.05
	done
	echo "wanted $want wakes, got $n; stderr:" >&2
	cat "$ERR" >&2
	return 1
}

# stopped_within SECONDS: slate-listen ($LISTEN_PID) exits within SECONDS;
# sets STATUS; shows its log when it does not
stopped_within() {
	wait_exit "$LISTEN_PID" "$1" || { cat "$ERR" >&2; return 1; }
}

@test "--help and --version exit 0 and print to stdout" {
	run --separate-stderr slate-listen --help
	assert_success
	assert_output --partial "Usage:"
	assert_output --partial "--poll-interval"
	run --separate-stderr slate-listen --version
	assert_success
	assert_output --regexp '^slate-listen \(slate\) [0-9]'
}

@test "usage errors exit 2 and point to --help" {
	local args
	for args in "--bogus" "--poll-interval=0" "--poll-interval=abc" "--poll-interval=-1" \
		"--poll-interval=1.2345" "--poll-interval=1." "--poll-interval=86401" \
		"--channel=" "--connect-timeout=0" "--log-format=xml" "a b"; do
		# shellcheck disable=SC2086 # "a b" is two arguments on purpose
		run --separate-stderr slate-listen $args
		assert_equal "$status $args" "2 $args"
		[[ -z $output ]]
		[[ $stderr == *'Try "slate-listen --help" for more information.'* ]]
	done
	run --separate-stderr slate-listen --channel "$(printf 'c%.0s' {1..64})"
	assert_equal "$status" 2
	[[ $stderr == *"--channel"* ]]
}

@test "an unreachable server: exit 1, a clear message, no password" {
	local port
	port=$(free_port)
	run --separate-stderr slate-listen --log-format=text --connect-timeout=5 \
		"host=127.0.0.1 port=$port dbname=app user=someone password=secret"
	assert_equal "$status" 1
	[[ -z $output ]]
	[[ $stderr == *"could not connect to source"*"port=$port"* ]]
	[[ $stderr != *secret* ]]
}

@test "one wake at start, then nothing while nothing happens" {
	start_listen --poll-interval=3600 "$CONNINFO password=secret"
	wait_for_wakes 1
	grep -q "listening on channel eventsinsert at host=$src_HOST port=$src_PORT dbname=app" "$ERR"
	run ! grep -q secret "$ERR"
	# a check that nothing else came is a plain look, not a wait
	sleep 0.3
	assert_equal "$(wakes "$OUT")" 1
}

@test "a wake soon after an insert_events call" {
	start_listen --poll-interval=3600 -v "$CONNINFO"
	wait_for_wakes 1
	insert_events src app 1
	wait_for_wakes 2
	insert_events src app 40
	wait_for_wakes 3
	grep -q "wake (1 notification)" "$ERR"
}

@test "the id-only notification of notify-id-only.sql wakes too" {
	start_listen --poll-interval=3600 "$(cluster_conninfo src idonly)"
	wait_for_wakes 1
	insert_events src idonly 3
	wait_for_wakes 2
}

@test "wakes every --poll-interval without notifications" {
	start_listen --poll-interval=0.2 -v "$CONNINFO"
	wait_for_wakes 4
	grep -q "wake (interval)" "$ERR"
	run ! grep -q "notification" "$ERR"
}

@test "odd payloads wake it like any other" {
	start_listen --poll-interval=3600 "$CONNINFO"
	wait_for_wakes 1
	psql_c src app "SELECT pg_notify('eventsinsert', 'not json')"
	wait_for_wakes 2
	psql_c src app "SELECT pg_notify('eventsinsert', '')"
	wait_for_wakes 3
	psql_c src app "SELECT pg_notify('eventsinsert', repeat('x', 7999))"
	wait_for_wakes 4
	psql_c src app "NOTIFY eventsinsert"
	wait_for_wakes 5
	kill -0 "$LISTEN_PID"
	run ! grep -q ERROR "$ERR"
}

@test "--channel takes any name, quoted as an identifier" {
	local channel='Odd "chan"; DROP TABLE events; --'
	start_listen --poll-interval=3600 --channel="$channel" "$CONNINFO"
	wait_for_wakes 1
	psql_c src app "SELECT pg_notify('Odd \"chan\"; DROP TABLE events; --', 'x')"
	wait_for_wakes 2
	psql_c src app "SELECT count(*) FROM events" >/dev/null
}

@test "a URI over TCP and a bare database name with the environment work" {
	start_listen --poll-interval=3600 "postgresql://postgres@127.0.0.1:$src_PORT/app?application_name=$APP"
	wait_for_wakes 1
	insert_events src app 1
	wait_for_wakes 2
	kill -TERM "$LISTEN_PID"
	stopped_within 5
	assert_equal "$STATUS" 0

	PGHOST=$src_HOST PGPORT=$src_PORT PGUSER=postgres start_listen --poll-interval=3600 app
	wait_for_wakes 1
	insert_events src app 1
	wait_for_wakes 2
}

@test "SIGTERM and SIGINT stop it at once with status 0" {
	start_listen "$CONNINFO"
	wait_for_wakes 1
	kill -TERM "$LISTEN_PID"
	stopped_within 2
	assert_equal "$STATUS" 0
	grep -q "stopped by signal" "$ERR"

	start_listen "$CONNINFO"
	wait_for_wakes 1
	kill -INT "$LISTEN_PID"
	stopped_within 2
	assert_equal "$STATUS" 0
}

@test "a reader that goes away ends it quietly with status 0" {
	run --separate-stderr bash -c 'timeout 20 slate-listen --log-format=text --poll-interval=3600 "$1" 3>&- |
		head -c 11 >/dev/null; echo "${PIPESTATUS[0]}"' _ "$CONNINFO"
	assert_success
	assert_output 0
	[[ $stderr != *ERROR* ]]
}

@test "a terminated backend: exit 1 with one error, without --reconnect" {
	start_listen --poll-interval=3600 "$CONNINFO"
	wait_for_wakes 1
	psql_c src app "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$APP'"
	stopped_within 5
	assert_equal "$STATUS" 1
	assert_equal "$(grep -c ERROR "$ERR")" 1
	grep -q "ERROR slate-listen: lost the connection to source.*terminating connection due to administrator command (SQLSTATE 57P01)" "$ERR"
}

@test "a terminated backend with --reconnect: back at once, and later inserts still wake it" {
	start_listen --poll-interval=3600 --reconnect "$CONNINFO"
	wait_for_wakes 1
	psql_c src app "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$APP'"
	wait_for_wakes 2
	grep -q "WARN slate-listen: lost the connection to source.*; reconnecting" "$ERR"
	grep -q "reconnected; listening on channel eventsinsert" "$ERR"
	insert_events src app 1
	wait_for_wakes 3
	kill -0 "$LISTEN_PID"
}

@test "--reconnect waits out a server restart and can be stopped while waiting" {
	local bindir
	bindir=$(pg_bindir)
	start_listen --poll-interval=3600 --reconnect "$CONNINFO"
	wait_for_wakes 1
	as_server_user "$bindir/pg_ctl" -D "$src_DIR/data" -m fast -w stop >/dev/null
	# stay down long enough for a few attempts
	sleep 1
	as_server_user "$bindir/pg_ctl" -D "$src_DIR/data" -l "$src_LOG" -w start >/dev/null
	wait_for_wakes 2
	insert_events src app 1
	wait_for_wakes 3

	# down again: SIGTERM ends the backoff at once
	as_server_user "$bindir/pg_ctl" -D "$src_DIR/data" -m fast -w stop >/dev/null
	sleep 0.5
	kill -TERM "$LISTEN_PID"
	stopped_within 2
	assert_equal "$STATUS" 0
	as_server_user "$bindir/pg_ctl" -D "$src_DIR/data" -l "$src_LOG" -w start >/dev/null
}

@test "a server that stops answering counts as a lost connection" {
	start_listen --poll-interval=0.2 --reconnect "$CONNINFO"
	wait_for_wakes 1
	STOPPED_PID=$(backend_pid src app "$APP")
	[[ -n $STOPPED_PID ]]
	kill -STOP "$STOPPED_PID"
	# the check sent after the next quiet interval goes unanswered for 10 s
	local tries=0
	until grep -q "no answer to a check within 10 s; reconnecting" "$ERR"; do
		((tries++ < 300))
		sleep 0.05
	done
	until grep -q "reconnected; listening" "$ERR"; do
		((tries++ < 400))
		sleep 0.05
	done
	kill -CONT "$STOPPED_PID"
	kill -0 "$LISTEN_PID"
}
