#!/usr/bin/env bats
# Restoring a lost source from a replica: slate-load --restore into a fresh
# sql/ source and into an original-style one, resumed after kill -9, refused
# targets left untouched; and the faster way, sql/promote.sql in place.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	# the lost source: events over 8000 bytes need its id-only notification
	db_create pg lost source
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo pg lost)" -f "$SLATE_ROOT/sql/notify-id-only.sql"
	insert_events pg lost 3000
	psql_c pg lost "SELECT insert_events(format('(\$1[1], \$2, %L), (\$1[2], \$2, %L)',
		json_build_object('big', repeat('x', 25000)), '{\"q\": \"it''s \\\"quoted\\\"\"}'))" >/dev/null
	insert_events pg lost 1500
	# its replica, which survived
	db_create pg replica destination
	slate-extract "$(cluster_conninfo pg lost)" 2>/dev/null | slate-load "$(cluster_conninfo pg replica)" 2>/dev/null
	REPLICA=$(cluster_conninfo pg replica)
	export REPLICA
	slate-extract "$REPLICA" >"$BATS_FILE_TMPDIR/replica.mp" 2>/dev/null
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

next_id() {
	psql_c pg "$1" "SELECT id FROM id"
}

# assert_restored DB: DB holds the replica's events exactly, its id table says max + 1
assert_restored() {
	assert_equal "$(events_md5 pg "$1")" "$(events_md5 pg replica)"
	assert_equal "$(next_id "$1")" "$(($(events_maxid pg replica) + 1))"
}

# insert_one DB: one event through the database's own insert_events(); prints its id
insert_one() {
	psql_c pg "$1" "SELECT insert_events('(\$1[1], \$2, ''{\"after\": \"restore\"}'')')" >/dev/null
	psql_c pg "$1" "SELECT id FROM events WHERE event->>'after' = 'restore'"
}

@test "--restore into a fresh sql/ source: every event, the id table, then insert_events() and the replicator go on" {
	db_create pg fresh source
	local fresh max
	fresh=$(cluster_conninfo pg fresh)
	run --separate-stderr slate-load --restore --log-format=text "$fresh" <"$BATS_FILE_TMPDIR/replica.mp"
	assert_success
	# the 25 kB event went in although the full-event notify trigger is there
	assert_restored fresh
	max=$(events_maxid pg fresh)
	assert_equal "$(insert_one fresh)" "$((max + 1))"
	assert_equal "$(next_id fresh)" "$((max + 2))"

	# the replicator copies from the restored source, the new event included
	db_create pg after destination
	setsid "$SLATE_ROOT/pipeline.sh" --source "$fresh" --destination "$(cluster_conninfo pg after)" \
		--poll-interval 1 >/dev/null 2>"$BATS_TEST_TMPDIR/replicator.log" 3>&- &
	echo "group $!" >>"$(bg_file)"
	local i
	for ((i = 0; i < 200; i++)); do
		(($(events_maxid pg after) == max + 1)) && break
		sleep 0.1
	done
	assert_equal "$(events_md5 pg after)" "$(events_md5 pg fresh)"
}

@test "--restore into an original-style source, then its own insert_events() continues" {
	# a source as the original slate-init-db makes it (test/fixtures/)
	db_create pg orig original-source >/dev/null
	run --separate-stderr slate-load --restore "$(cluster_conninfo pg orig)" <"$BATS_FILE_TMPDIR/replica.mp"
	assert_success
	assert_restored orig
	assert_equal "$(insert_one orig)" "$(($(events_maxid pg replica) + 1))"
}

@test "a restore killed with kill -9 halfway resumes by running the same command again" {
	local half target pid i
	db_create pg killed source
	target=$(cluster_conninfo pg killed)
	half=$(($(stat -c %s "$BATS_FILE_TMPDIR/replica.mp") / 2))
	# half the stream, then nothing until the test is over: the load waits, batches committed
	{
		head -c "$half" "$BATS_FILE_TMPDIR/replica.mp"
		while [[ ! -e $BATS_TEST_TMPDIR/done ]]; do sleep 0.05; done
	} | slate-load --restore --max-events-per-write 100 "$target" 2>"$BATS_TEST_TMPDIR/load.log" 3>&- &
	pid=$!
	bg_track $pid
	# wait until at least 1000 events are in, then kill the loader with no warning
	for ((i = 0; i < 200; i++)); do
		(($(events_maxid pg killed) >= 1000)) && break
		sleep 0.1
	done
	(($(events_maxid pg killed) >= 1000))
	kill -KILL "$pid"
	for ((i = 0; i < 100; i++)); do
		[[ $(psql_c pg killed "SELECT count(*) FROM pg_stat_activity WHERE datname = 'killed' AND application_name = 'slate-load'") == 0 ]] && break
		sleep 0.1
	done
	touch "$BATS_TEST_TMPDIR/done"
	# what it left: a prefix of the replica, ending on a transaction boundary, with its id table
	local n
	n=$(events_maxid pg killed)
	((n < $(events_maxid pg replica)))
	assert_equal "$(next_id killed)" "$((n + 1))"
	assert_equal "$(psql_c pg killed "SELECT count(*) FROM events")" "$n"
	assert_equal "$(psql_c pg replica "SELECT count(*) FROM events a JOIN events b ON b.id = a.id + 1
		WHERE a.id = $n AND a.ts = b.ts")" 0
	# the same command again finishes it
	run --separate-stderr slate-load --restore --max-events-per-write 100 "$target" <"$BATS_FILE_TMPDIR/replica.mp"
	assert_success
	assert_restored killed
	assert_equal "$(insert_one killed)" "$(($(events_maxid pg replica) + 1))"
}

# assert_refused DB REGEX [CONNINFO]: slate-load --restore into DB (as
# CONNINFO) exits 4 with one line matching REGEX, and DB's events and id
# table are as they were
assert_refused() {
	local before_md5 before_id
	before_md5=$(events_md5 pg "$1")
	before_id=$(psql_c pg "$1" "SELECT coalesce((SELECT string_agg(id::text, ',') FROM id), 'none')" 2>/dev/null || echo none)
	run --separate-stderr slate-load --restore --log-format=text "${3:-$(cluster_conninfo pg "$1")}" <"$BATS_FILE_TMPDIR/replica.mp"
	assert_failure 4
	[[ $stderr =~ $2 ]] || fail "expected /$2/ in: $stderr"
	assert_equal "$(grep -c . <<<"$stderr")" 1
	assert_equal "$(events_md5 pg "$1")" "$before_md5"
	assert_equal "$(psql_c pg "$1" "SELECT coalesce((SELECT string_agg(id::text, ',') FROM id), 'none')" 2>/dev/null || echo none)" "$before_id"
}

@test "refused, nothing written: not a source, another source's events, not a prefix, id table off, no privilege" {
	db_create pg plain destination
	assert_refused plain "has no notify_insert trigger"

	db_create pg other source
	insert_events pg other 30 200
	assert_refused other "holds events of another source"

	# the first 300 events of the stream, then one of its own: the same first event, another last one
	db_create pg forked source
	slate-extract --until 300 "$REPLICA" 2>/dev/null | slate-load --restore "$(cluster_conninfo pg forked)" 2>/dev/null
	insert_one forked >/dev/null
	# (slate-load's general check of the last event says it its own way)
	assert_refused forked "its events are not a prefix of the stream|its last event \(id [0-9]+\) is not the source's"

	db_create pg offset source
	psql_c pg offset "UPDATE id SET id = 50"
	assert_refused offset "its id table says the next id is 50 but its events end at 0"

	# without permission to set session_replication_role
	db_create pg unpriv source
	psql_c pg unpriv "CREATE ROLE restorer LOGIN; GRANT SELECT, INSERT ON events TO restorer;
		GRANT SELECT, UPDATE ON id TO restorer"
	assert_refused unpriv "needs permission to set session_replication_role" \
		"$(cluster_conninfo pg unpriv | sed 's/user=postgres/user=restorer/')"
	# which the grant the message names gives
	psql_c pg unpriv "GRANT SET ON PARAMETER session_replication_role TO restorer"
	run --separate-stderr slate-load --restore "$(cluster_conninfo pg unpriv | sed 's/user=postgres/user=restorer/')" \
		<"$BATS_FILE_TMPDIR/replica.mp"
	assert_success
	assert_restored unpriv
}

@test "promotion in place: sql/promote.sql makes a replica the source, insert_events() at max + 1" {
	local promoted max
	db_create pg promoted destination
	promoted=$(cluster_conninfo pg promoted)
	slate-load "$promoted" <"$BATS_FILE_TMPDIR/replica.mp" 2>/dev/null
	max=$(events_maxid pg promoted)
	run psql -X -q -1 -v ON_ERROR_STOP=1 -d "$promoted" -f "$SLATE_ROOT/sql/promote.sql"
	assert_success
	assert_equal "$(next_id promoted)" "$((max + 1))"
	assert_equal "$(insert_one promoted)" "$((max + 1))"
	# it is a source now: a replicator refuses to write into it, and replicates from it
	run --separate-stderr slate-load "$promoted" <"$BATS_FILE_TMPDIR/replica.mp"
	assert_failure 4
	[[ $stderr == *"is itself an event source"* ]]
	db_create pg fromprom destination
	slate-extract "$promoted" 2>/dev/null | slate-load "$(cluster_conninfo pg fromprom)" 2>/dev/null
	assert_equal "$(events_md5 pg fromprom)" "$(events_md5 pg promoted)"
	# and its history is immutable like any source's
	run psql_c pg promoted "DELETE FROM events"
	assert_failure
	assert_output --partial "events are immutable"
}

@test "--restore --help names the option" {
	run slate-load --help
	assert_success
	assert_output --partial "--restore"
}

@test "a long restore (a catch-up) reports its progress on stderr: percentage and time left" {
	local third i target started
	db_create pg progress source
	target=$(cluster_conninfo pg progress)
	third=$(($(stat -c %s "$BATS_FILE_TMPDIR/replica.mp") / 3))
	# a third of the stream, then the rest once a second has passed: progress
	# is logged at a commit at least a second after the last line
	started=$SECONDS
	{
		head -c "$third" "$BATS_FILE_TMPDIR/replica.mp"
		while [[ ! -e $BATS_TEST_TMPDIR/go ]]; do sleep 0.05; done
		tail -c +$((third + 1)) "$BATS_FILE_TMPDIR/replica.mp"
	} | slate-load --restore --max-events-per-write 100 --log-format=json "$target" \
		2>"$BATS_TEST_TMPDIR/load.log" 3>&- &
	bg_track $!
	for ((i = 0; i < 200; i++)); do
		(($(events_maxid pg progress) > 0 && SECONDS - started >= 2)) && break
		sleep 0.1
	done
	touch "$BATS_TEST_TMPDIR/go"
	wait_exit $! 60
	assert_equal "$STATUS" 0
	assert_restored progress
	# JSON lines through a JSON parser: at least one progress report, each sensible
	run jq -r 'select(.catchup_percent != null) | "\(.catchup_percent) \(.eta_s) \(.msg)"' "$BATS_TEST_TMPDIR/load.log"
	assert_success
	[[ -n $output ]] || fail "no progress line in: $(cat "$BATS_TEST_TMPDIR/load.log")"
	while read -r pct eta msg; do
		awk -v p="$pct" -v e="$eta" 'BEGIN { exit !(p > 0 && p < 100 && e >= 0) }' || fail "bad progress: $pct % $eta s"
		[[ $msg == *"% of the catch-up, about "*" s left" ]] || fail "bad message: $msg"
	done <<<"$output"
	# the last line, caught up, has none
	run jq -r 'select(.msg | startswith("loaded")) | .catchup_percent' "$BATS_TEST_TMPDIR/load.log"
	assert_output null
}
