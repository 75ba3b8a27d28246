#!/usr/bin/env bats
# A clean stop is clean: whichever stage of listen | extract --follow | load
# gets SIGTERM first, and wherever slate-extract is when it gets it, the
# stream ends properly, nothing logs an error, every stage exits 0 and the
# destination is a prefix of the source ending on a transaction boundary.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 3000
	SRC=$(cluster_conninfo pg src)
	export SRC
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

# start_chain DB: slate-listen | slate-extract --follow | slate-load into a
# fresh destination DB, each stage a background job of this shell logging to
# its own file; sets LISTEN, EXTRACT and LOAD to their pids
start_chain() {
	local dst
	dst=$(fresh_dest pg "$1")
	mkfifo "$BATS_TEST_TMPDIR/wake" "$BATS_TEST_TMPDIR/events"
	slate-listen --poll-interval 1 --log-format=text "$SRC" \
		>"$BATS_TEST_TMPDIR/wake" 2>"$BATS_TEST_TMPDIR/listen.log" 3>&- &
	LISTEN=$!
	slate-extract --follow --log-format=text "$SRC" <"$BATS_TEST_TMPDIR/wake" \
		>"$BATS_TEST_TMPDIR/events" 2>"$BATS_TEST_TMPDIR/extract.log" 3>&- &
	EXTRACT=$!
	slate-load --log-format=text "$dst" <"$BATS_TEST_TMPDIR/events" \
		2>"$BATS_TEST_TMPDIR/load.log" 3>&- &
	LOAD=$!
	bg_track "$LISTEN"
	bg_track "$EXTRACT"
	bg_track "$LOAD"
}

# stop_in_order STAGE...: SIGTERM each stage in turn, waiting for it to
# exit (5 s at most) before the next; each must exit 0.  A stage may have
# ended already, at the end of its input, when the one before it stopped.
stop_in_order() {
	local var
	for var in "$@"; do
		kill -TERM "${!var}" 2>/dev/null || true
		wait_exit "${!var}" 5 || fail "$var did not stop"
		[[ $STATUS == 0 ]] || fail "$var exited $STATUS: $(cat "$BATS_TEST_TMPDIR"/*.log)"
	done
}

# assert_no_errors: no stage logged an error or a warning
assert_no_errors() {
	local log
	for log in "$BATS_TEST_TMPDIR"/{listen,extract,load}.log; do
		if grep -E 'ERROR|WARN' "$log"; then
			fail "$(basename "$log") has an error: $(cat "$log")"
		fi
	done
}

# caught_up DB: wait (10 s at most) until destination DB holds as many
# events as the source
caught_up() {
	local db=$1 n
	n=$(events_count pg src)
	wait_until 10 eval '[[ $(events_count pg "$db") == "$n" ]]' ||
		fail "$db did not reach $n events: $(tail -n 5 "$BATS_TEST_TMPDIR"/*.log)"
}

# inserting N: insert N events into the source in transactions of 15
inserting() {
	insert_events pg src "$1" >/dev/null
}

@test "a stop with slate-extract first, then slate-load, then slate-listen logs no error" {
	start_chain xfirst
	caught_up xfirst
	inserting 450
	stop_in_order EXTRACT LOAD LISTEN
	assert_no_errors
	grep -q "stopped by signal at id [0-9]*, on a source-transaction boundary" \
		"$BATS_TEST_TMPDIR/extract.log"
	grep -q "loaded" "$BATS_TEST_TMPDIR/load.log"
	assert_boundary_prefix pg src pg xfirst
}

@test "a stop with slate-load first, then slate-extract, then slate-listen logs no error" {
	start_chain lfirst
	caught_up lfirst
	inserting 450
	stop_in_order LOAD EXTRACT LISTEN
	assert_no_errors
	assert_boundary_prefix pg src pg lfirst
}

@test "a stop with slate-listen first ends the stream after a last extract" {
	start_chain nfirst
	caught_up nfirst
	stop_in_order LISTEN
	wait_exit "$EXTRACT" 5 || fail "slate-extract did not end at its input's end"
	assert_equal "$STATUS" 0
	wait_exit "$LOAD" 5 || fail "slate-load did not end at its input's end"
	assert_equal "$STATUS" 0
	assert_no_errors
	assert_boundary_prefix pg src pg nfirst
}

@test "SIGTERM during a COPY: the stream ends at the next transaction boundary, with an end marker" {
	# a reader of 16 kB every 20 ms keeps slate-extract inside its COPY
	(
		slate-extract --log-format=text "$SRC" 2>"$BATS_TEST_TMPDIR/extract.log" | {
			# dd succeeds at EOF too: stop when it read nothing
			while n=$(dd bs=16k count=1 status=none | tee -a "$BATS_TEST_TMPDIR/part.mp" | wc -c) &&
				((n > 0)); do
				sleep 0.02
			done
		}
	) 3>&- &
	local reader=$! i pid=
	bg_track "$reader"
	for ((i = 0; i < 100; i++)); do
		pid=$(pgrep -f "^slate-extract --log-format=text $SRC\$") && break
		sleep 0.05
	done
	[[ -n $pid ]] || fail "slate-extract did not start"
	# the reader has taken some of the stream, but not all of it
	for ((i = 0; i < 100; i++)); do
		(($(stat -c %s "$BATS_TEST_TMPDIR/part.mp") > 200000)) && break
		sleep 0.05
	done
	kill -TERM "$pid"
	wait_until 5 eval '! kill -0 "$pid" 2>/dev/null' || fail "slate-extract still runs"
	wait_exit "$reader" 5 || fail "the reader did not end"
	run cat "$BATS_TEST_TMPDIR/extract.log"
	assert_output --regexp "stopped by signal at id [0-9]+, on a source-transaction boundary"
	refute_output --partial ERROR
	# a whole stream: slate-load takes it without a word of complaint
	run --separate-stderr slate-load --log-format=text "$(fresh_dest pg copystop)" \
		<"$BATS_TEST_TMPDIR/part.mp"
	assert_success
	[[ $stderr != *ERROR* ]] || fail "$stderr"
	n=$(events_count pg copystop)
	((n > 0 && n < 3000)) || fail "$n events: the stop did not land inside the COPY"
	assert_boundary_prefix pg src pg copystop
}
