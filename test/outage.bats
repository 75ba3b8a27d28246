#!/usr/bin/env bats
# --restart through a source outage: the replicator waits with a growing
# backoff while the source is down, and once it is back replicates from
# where each destination is and converges.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start src
	cluster_start dst
	db_create src app source
	insert_events src app 90
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
	# a test that failed with the source stopped leaves it to the next
	[[ -f $src_DIR/data/postmaster.pid ]] || source_up
	return 0
}

# source_down / source_up: stop the source's server (fast: sessions are
# ended) / start it again on the same port
source_down() {
	as_server_user "$(pg_bindir)/pg_ctl" -D "$src_DIR/data" -m fast -w -t 30 stop >/dev/null
}

source_up() {
	as_server_user "$(pg_bindir)/pg_ctl" -D "$src_DIR/data" -l "$src_LOG" -w -t 60 start >/dev/null
}

# holds CLUSTER DB N: DB's events table holds exactly N events
holds() {
	[[ $(events_count "$1" "$2") == "$3" ]]
}

# converged DB: destination DB holds the source's events, byte for byte
converged() {
	[[ $(events_md5 dst "$1") == "$(events_md5 src app)" ]]
}

@test "--restart while the source is down at start: retries 1 s, 2 s, 4 s apart, then replicates" {
	local dst
	dst=$(fresh_dest dst down)
	source_down

	# without --restart an unreachable source fails the start-up check
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --log-format=text --connect-timeout 2 \
		--source "$(cluster_conninfo src app)" --destination "$dst"
	assert_failure 2
	assert_regex "$stderr" "ERROR slate-replicator: start-up check failed for the source"

	bg_start PID "$SLATE_ROOT/pipeline.sh" --log-format=text --restart --connect-timeout 2 \
		--poll-interval 1 --source "$(cluster_conninfo src app)" --destination "$dst" \
		>/dev/null 2>"$BATS_TEST_TMPDIR/p.log"
	assert wait_until 60 grep -q "restarting in 4s" "$BATS_TEST_TMPDIR/p.log"
	assert running "$PID"
	run grep -o "WARN slate-replicator: restarting in [0-9]*s" "$BATS_TEST_TMPDIR/p.log"
	assert_output "WARN slate-replicator: restarting in 1s
WARN slate-replicator: restarting in 2s
WARN slate-replicator: restarting in 4s"
	# each try said why: the source cannot be reached
	run grep -c "ERROR slate-extract: could not connect to source (.*dbname=app .*)" "$BATS_TEST_TMPDIR/p.log"
	assert_output 3
	run grep -c "ERROR slate-replicator: start-up check failed for the source" "$BATS_TEST_TMPDIR/p.log"
	assert_output 3
	assert_equal "$(events_count dst down)" 0

	source_up
	assert wait_until 60 holds dst down 90
	insert_events src app 45 >/dev/null
	assert wait_until 30 converged down
	assert running "$PID"
	kill -TERM "$PID"
	wait_exit "$PID" 10
	assert_equal "$STATUS" 0
}

@test "--restart through a source outage while replicating: resumes where it was and converges" {
	local dst n
	dst=$(fresh_dest dst mid)
	bg_start PID "$SLATE_ROOT/pipeline.sh" --log-format=text --restart --connect-timeout 2 \
		--poll-interval 1 --source "$(cluster_conninfo src app)" --destination "$dst" \
		>/dev/null 2>"$BATS_TEST_TMPDIR/p.log"
	assert wait_until 30 converged mid
	n=$(events_count dst mid)

	source_down
	# slate-listen notices and tries to reconnect; nothing is lost on the destination
	assert wait_until 30 grep -q "WARN slate-listen: lost the connection to source" "$BATS_TEST_TMPDIR/p.log"
	assert running "$PID"
	assert_equal "$(events_count dst mid)" "$n"

	source_up
	insert_events src app 45 >/dev/null
	assert wait_until 60 converged mid
	assert_boundary_prefix src app dst mid
	# the stage that held a dead connection failed and every stage was
	# restarted; the replicator itself went on
	grep -q "ERROR slate-replicator: slate-extract for destination 1 (.*dbname=mid .*) stopped with exit status 1; replication stopped" \
		"$BATS_TEST_TMPDIR/p.log" || fail "$(cat "$BATS_TEST_TMPDIR/p.log")"
	grep -q "WARN slate-replicator: restarting in 1s" "$BATS_TEST_TMPDIR/p.log" ||
		fail "$(cat "$BATS_TEST_TMPDIR/p.log")"
	assert running "$PID"
	# and it goes on replicating after the restart
	insert_events src app 15 >/dev/null
	assert wait_until 30 converged mid
	kill -TERM "$PID"
	wait_exit "$PID" 10
	assert_equal "$STATUS" 0
}
