#!/usr/bin/env bats
# One writer per destination: a second slate-load or replicator is refused,
# naming the holder; a loader restarted right after kill -9 gets the lock.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 6000
	SRC=$(cluster_conninfo pg src)
	export SRC
	slate-extract "$SRC" >"$BATS_FILE_TMPDIR/all.mp" 2>/dev/null
	# slate-load's advisory lock key as a running slate-load takes it, and
	# its high and low 32 bits as int4 values (what pg_advisory_lock(int4,
	# int4) takes, and pg_locks shows as classid and objid)
	LOCK_KEY=$(slate_load_lock_key pg "$BATS_FILE_TMPDIR/all.mp")
	LOCK_HI=$(((LOCK_KEY >> 32) & 0xffffffff))
	LOCK_LO=$((LOCK_KEY & 0xffffffff))
	((LOCK_HI < 1 << 31)) || LOCK_HI=$((LOCK_HI - (1 << 32)))
	((LOCK_LO < 1 << 31)) || LOCK_LO=$((LOCK_LO - (1 << 32)))
	export LOCK_KEY LOCK_HI LOCK_LO
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

# slow_feed FILE FIFO: in the background, copy FILE into FIFO at about
# 320 kB/s, so a loader reading the FIFO runs for several seconds
# (dd succeeds at EOF too, hence the count)
slow_feed() {
	local chunks=$((($(stat -c %s "$1") + 32767) / 32768))
	( for ((i = 0; i < chunks; i++)); do dd bs=32k count=1 status=none && sleep 0.1 || break
	done <"$1" >"$2" ) 3>&- &
	bg_track $!
}

# advisory_locks DB: "APPLICATION|OBJSUBID|GRANTED|KEY" for each advisory
# lock on DB, KEY the bigint of classid and objid
advisory_locks() {
	psql_c pg postgres "SELECT a.application_name, l.objsubid, l.granted,
			(l.classid::bigint << 32) | l.objid::bigint
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory'
			AND l.database = (SELECT oid FROM pg_database WHERE datname = '$1')"
}

@test "slate-load holds one bigint advisory lock on the destination while it writes, none after" {
	dst=$(fresh_dest pg held)
	mkfifo "$BATS_TEST_TMPDIR/in"
	slow_feed "$BATS_FILE_TMPDIR/all.mp" "$BATS_TEST_TMPDIR/in"
	slate-load --max-events-per-write 200 "$dst" <"$BATS_TEST_TMPDIR/in" \
		2>"$BATS_TEST_TMPDIR/load.log" 3>&- &
	load=$!
	bg_track "$load"
	wait_until 10 eval '[ "$(events_count pg held)" -gt 0 ]' ||
		fail "slate-load wrote nothing: $(cat "$BATS_TEST_TMPDIR/load.log")"
	# one lock, slate-load's own, in its bigint form (objsubid 1), the same
	# key as on the probe database: one key for every destination
	assert_equal "$(advisory_locks held)" "slate-load|1|t|$LOCK_KEY"
	[ "$(events_count pg held)" -lt 6000 ] || fail "slate-load finished before the check"
	wait_exit "$load" 60 || fail "slate-load did not finish: $(cat "$BATS_TEST_TMPDIR/load.log")"
	assert_equal "$STATUS" 0
	assert_equal "$(events_md5 pg held)" "$(events_md5 pg src)"
	# the session is gone and its lock with it
	assert_equal "$(advisory_locks held)" ""
}

@test "a second slate-load is refused within --lock-wait, naming the holder; the first goes on" {
	dst=$(fresh_dest pg twice)
	mkfifo "$BATS_TEST_TMPDIR/in"
	slow_feed "$BATS_FILE_TMPDIR/all.mp" "$BATS_TEST_TMPDIR/in"
	slate-load --max-events-per-write 200 "$dst" <"$BATS_TEST_TMPDIR/in" \
		2>"$BATS_TEST_TMPDIR/first.log" 3>&- &
	first=$!
	bg_track "$first"
	for _ in $(seq 100); do
		[ "$(events_count pg twice)" -gt 0 ] && break
		sleep 0.05
	done
	holder=$(backend_pid pg twice slate-load)
	[[ $holder =~ ^[0-9]+$ ]]

	t0=$(now_us)
	run --separate-stderr slate-load --lock-wait 1 --log-format=text "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	ms=$(elapsed_ms "$t0")
	assert_failure 4
	# --lock-wait 1, and the time to start and to look up the holder
	((ms <= 4000)) || fail "refused only after $ms ms"
	echo "$stderr"
	[[ $stderr == *"already being written by pid $holder (slate-load as postgres from local, since "*"only one writer per destination"* ]]

	# the first loader is untouched and still copying
	n=$(events_count pg twice)
	[ "$n" -lt 6000 ]
	for _ in $(seq 40); do
		[ "$(events_count pg twice)" -gt "$n" ] && break
		sleep 0.1
	done
	[ "$(events_count pg twice)" -gt "$n" ]
	wait "$first"
	assert_equal "$(events_md5 pg twice)" "$(events_md5 pg src)"
}

@test "the holder is found by its bigint key, not by a two-int4 lock with the same bits" {
	dst=$(fresh_dest pg decoy)
	# a decoy: pg_advisory_lock(int4, int4) shows the same classid/objid, objsubid 2
	( psql -X -q -d "$dst application_name=decoy" -c "SELECT pg_advisory_lock($LOCK_HI, $LOCK_LO)" \
		-c "SELECT pg_sleep(8)" >/dev/null ) 3>&- &
	bg_track $!
	( psql -X -q -d "$dst application_name=holder" -c "SELECT pg_advisory_lock($LOCK_KEY)" \
		-c "SELECT pg_sleep(8)" >/dev/null ) 3>&- &
	bg_track $!
	for _ in $(seq 50); do
		[ "$(psql_c pg decoy "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
			AND database = (SELECT oid FROM pg_database WHERE datname = 'decoy')")" = 2 ] && break
		sleep 0.1
	done
	run --separate-stderr slate-load --lock-wait 1 --log-format=text "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 4
	echo "$stderr"
	[[ $stderr == *"already being written by pid $(backend_pid pg decoy holder) (holder as postgres from local"* ]]
	assert_equal "$(events_count pg decoy)" 0
}

@test "a lock held a little longer than a killed loader's is waited for, within --lock-wait" {
	dst=$(fresh_dest pg waits)
	# the holder: a psql session that takes the lock and lets it go on command
	mkfifo "$BATS_TEST_TMPDIR/holder"
	psql -X -q -d "$dst application_name=lingering" <"$BATS_TEST_TMPDIR/holder" >/dev/null 3>&- &
	bg_track $!
	exec 5>"$BATS_TEST_TMPDIR/holder"
	echo "SELECT pg_advisory_lock($LOCK_KEY);" >&5
	wait_until 10 eval '[[ $(psql_c pg waits "SELECT count(*) FROM pg_locks
		WHERE locktype = '\''advisory'\'' AND granted") == 1 ]]'
	# --lock-wait 1 gives up, naming the holder ...
	run --separate-stderr slate-load --lock-wait 1 --log-format=text "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 4
	[[ $stderr == *"already being written by pid"*"(lingering as postgres from local"* ]]
	# ... the default waits: once it has found the lock taken, the holder lets go
	slate-load --log-format=text "$dst" <"$BATS_FILE_TMPDIR/all.mp" \
		2>"$BATS_TEST_TMPDIR/second.log" 3>&- 5>&- &
	second=$!
	bg_track "$second"
	wait_until 10 eval '[[ $(psql_c pg waits "SELECT count(*) FROM pg_stat_activity
		WHERE datname = '\''waits'\'' AND query LIKE '\''SELECT pg_try_advisory_lock%'\''") == 1 ]]'
	assert_equal "$(events_count pg waits)" 0
	exec 5>&-
	wait_exit "$second" 15 || fail "slate-load did not take the lock once it was free"
	assert_equal "$STATUS" 0
	assert_equal "$(events_md5 pg waits)" "$(events_md5 pg src)"
}

@test "a loader restarted right after kill -9 of the first one proceeds" {
	dst=$(fresh_dest pg killed)
	mkfifo "$BATS_TEST_TMPDIR/in"
	slow_feed "$BATS_FILE_TMPDIR/all.mp" "$BATS_TEST_TMPDIR/in"
	slate-load --max-events-per-write 200 "$dst" <"$BATS_TEST_TMPDIR/in" 2>/dev/null 3>&- &
	first=$!
	bg_track "$first"
	for _ in $(seq 100); do
		[ "$(events_count pg killed)" -ge 400 ] && break
		sleep 0.05
	done
	kill -KILL "$first"
	wait "$first" || true
	[ "$(events_count pg killed)" -lt 6000 ]
	run --separate-stderr slate-load --log-format=text "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	echo "$stderr"
	assert_success
	assert_equal "$(events_md5 pg killed)" "$(events_md5 pg src)"
}

@test "a second replicator on a destination being written is refused, the first goes on" {
	db_create pg psrc source
	insert_events pg psrc 3000
	src=$(cluster_conninfo pg psrc)
	dst=$(fresh_dest pg live)
	first_log=$BATS_TEST_TMPDIR/first.log
	bg_start REPLICATOR "$SLATE_ROOT/pipeline.sh" --source "$src" --destination "$dst" \
		--poll-interval 1 --log-format=text 2>"$first_log"
	wait_until 10 eval '[ "$(events_count pg live)" = 3000 ]' ||
		fail "the first replicator did not copy the 3000 events: $(cat "$first_log")"
	holder=$(backend_pid pg live slate-load)

	# the replicator passes no --lock-wait: slate-load's default (10 s) applies
	t0=$(now_us)
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --source "$src" --destination "$dst" \
		--poll-interval 1 --log-format=text 3>&-
	ms=$(elapsed_ms "$t0")
	assert_failure 1
	((ms <= 15000)) || fail "the second replicator gave up after $ms ms, not within 15 s"
	[[ $stderr == *"already being written by pid $holder (slate-load as postgres from local"* ]] ||
		fail "the second replicator's log does not name the holder: $stderr"
	[[ $stderr == *"slate-load for destination 1 ($dst) stopped with exit status 4; replication stopped"* ]] ||
		fail "the second replicator's log does not say why it stopped: $stderr"

	# the first is untouched and still replicating
	running "$REPLICATOR" || fail "the first replicator stopped: $(cat "$first_log")"
	insert_events pg psrc 45
	wait_until 10 eval '[ "$(events_count pg live)" = 3045 ]' ||
		fail "the first replicator did not copy 45 more events: $(cat "$first_log")"
	assert_equal "$(events_md5 pg live)" "$(events_md5 pg psrc)"
	kill -TERM "$REPLICATOR"
	wait_exit "$REPLICATOR" 5 || fail "SIGTERM did not stop the first replicator: $(cat "$first_log")"
	[[ $STATUS == 0 ]] || fail "the first replicator exited $STATUS: $(cat "$first_log")"
	if grep -q ERROR "$first_log"; then
		fail "the first replicator logged an error: $(cat "$first_log")"
	fi
}
