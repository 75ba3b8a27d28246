#!/usr/bin/env bats
# "Each destination replicates through its own listen | extract | load chain,
# so a slow destination never holds back the others": one destination is
# stopped dead by a lock on its events table (SHARE mode: writers wait,
# readers pass) while the source grows by more than any pipe holds; the
# other keeps up, then the slow one catches up.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start src
	cluster_start dst
	db_create src app source
	insert_events src app 90
	db_create dst fast destination
	db_create dst slow destination
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
	return 0
}

# holds CLUSTER DB N: DB's events table holds exactly N events
holds() {
	[[ $(events_count "$1" "$2") == "$3" ]]
}

# sql_is CLUSTER DB SQL VALUE: SQL's result in DB is VALUE
sql_is() {
	[[ $(psql_c "$1" "$2" "$3") == "$4" ]]
}

# same_as_source DB: destination DB holds exactly the source's events
same_as_source() {
	assert_equal "$(events_md5 dst "$1")" "$(events_md5 src app)"
}

@test "a destination blocked by a lock holds back neither the other nor the replicator" {
	local n
	bg_start PID "$SLATE_ROOT/pipeline.sh" --log-format=text --poll-interval 1 \
		--source "$(cluster_conninfo src app)" --destination "$(cluster_conninfo dst slow)" \
		--destination "$(cluster_conninfo dst fast)" >/dev/null 2>"$BATS_TEST_TMPDIR/p.log"
	assert wait_until 30 holds dst fast 90
	assert wait_until 30 holds dst slow 90

	# a session holds a lock on slow's events that stops writers (readers
	# pass: the test reads it) until it is cancelled
	PGAPPNAME=slowlock psql -X -q -d "$(cluster_conninfo dst slow)" \
		-c "BEGIN; LOCK TABLE events IN SHARE MODE; SELECT pg_sleep(3600)" \
		>/dev/null 2>&1 3>&- &
	bg_track $!
	assert wait_until 30 sql_is dst slow "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE a.application_name = 'slowlock' AND l.mode = 'ShareLock' AND l.granted" 1

	# about 1.5 MB: more than the slow chain's pipes hold, so its extract
	# blocks too; the fast destination gets all of it
	insert_events src app 3000 >/dev/null
	n=$(events_count src app)
	assert_equal "$n" 3090
	assert wait_until 30 holds dst fast "$n"
	same_as_source fast
	# the slow one waits on the lock, nothing of it written
	assert wait_until 30 sql_is dst slow "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'slate-load' AND datname = 'slow' AND wait_event_type = 'Lock'" 1
	assert holds dst slow 90
	# and the fast one keeps up with what comes next, live
	insert_events src app 45 >/dev/null
	assert wait_until 30 holds dst fast 3135
	same_as_source fast
	assert running "$PID"
	[[ $(grep -c "stopped with exit status" "$BATS_TEST_TMPDIR/p.log") == 0 ]] ||
		fail "a stage stopped: $(cat "$BATS_TEST_TMPDIR/p.log")"

	# the lock goes: the slow one catches up, the replicator ran on all along
	psql_c dst slow "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'slowlock'" >/dev/null
	assert wait_until 30 holds dst slow 3135
	same_as_source slow
	same_as_source fast
	kill -TERM "$PID"
	wait_exit "$PID" 10
	assert_equal "$STATUS" 0
	run grep -c "ERROR" "$BATS_TEST_TMPDIR/p.log"
	assert_output 0
}
