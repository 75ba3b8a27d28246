#!/usr/bin/env bats
# pipeline.sh's start-up checks one by one: each refusal exits 2 with a line
# naming what is wrong and where, and nothing is copied to any destination,
# not even to a good one beside the refused.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 90
	SRC=$(cluster_conninfo pg src)
	export SRC
}

teardown_file() {
	clusters_stop_all
}

# replicator ARG...: pipeline.sh with text logs, run by bats's run
replicator() {
	"$SLATE_ROOT/pipeline.sh" --log-format=text --connect-timeout=5 "$@"
}

# dest DB: create destination DB on cluster pg, print its conninfo
dest() {
	fresh_dest pg "$1"
}

# copy_until DB ID: copy the source's events through ID into destination DB
copy_until() {
	slate-extract --until "$2" "$SRC" 2>/dev/null | slate-load "$(cluster_conninfo pg "$1")" 2>/dev/null
}

# refused_for_destination N DB: the last run refused destination N (DB) at
# start-up: exit 2, the replicator's line naming it, no parameters printed
refused_for_destination() {
	assert_failure 2
	assert_output ""
	assert_regex "$stderr" "ERROR slate-replicator: start-up check failed for destination $1 \\(host=[^ ]* port=$pg_PORT dbname=$2 user=postgres\\)"
	[[ $stderr != *"failed for the source"* ]] || fail "the source was blamed: $stderr"
	[[ $stderr != *"replicating"* ]] || fail "it started replicating: $stderr"
}

# refused_for_source: the last run refused the source at start-up
refused_for_source() {
	assert_failure 2
	assert_output ""
	assert_regex "$stderr" "ERROR slate-replicator: start-up check failed for the source"
	[[ $stderr != *"failed for destination"* ]] || fail "a destination was blamed: $stderr"
	[[ $stderr != *"replicating"* ]] || fail "it started replicating: $stderr"
}

@test "a source without an events table: exit 2 naming it, nothing copied" {
	local good
	good=$(dest good1)
	psql_c pg postgres "CREATE DATABASE noevents"
	run --separate-stderr replicator --source "$(cluster_conninfo pg noevents)" --destination "$good"
	refused_for_source
	assert_regex "$stderr" "ERROR slate-extract: source \\(host=[^ ]* port=$pg_PORT dbname=noevents user=postgres\\) has no events table"
	assert_equal "$(events_count pg good1)" 0
}

@test "a source without the notify trigger: exit 2, nothing would wake the replicator" {
	local good
	good=$(dest good2)
	dest notrigger >/dev/null
	copy_until notrigger 90
	run --separate-stderr replicator --source "$(cluster_conninfo pg notrigger)" --destination "$good"
	refused_for_source
	assert_regex "$stderr" "ERROR slate-extract: source \\(.*dbname=notrigger .*\\) has no notify_insert trigger on events: nothing would wake the replicator"
	assert_equal "$(events_count pg good2)" 0
}

@test "a hole in the source's ids: exit 2 with the count and range, nothing copied" {
	local good
	good=$(dest good3)
	db_create pg srchole source >/dev/null
	insert_events pg srchole 45 >/dev/null
	psql_c pg srchole "ALTER TABLE events DISABLE TRIGGER check_sql_command;
		DELETE FROM events WHERE id IN (20, 21)"
	run --separate-stderr replicator --source "$(cluster_conninfo pg srchole)" --destination "$good"
	refused_for_source
	assert_regex "$stderr" "ERROR slate-extract: source \\(.*dbname=srchole .*\\): ids have holes: 43 events with ids 1\\.\\.45"
	assert_equal "$(events_count pg good3)" 0
}

@test "a destination without an events table, or with other columns: exit 2 naming the columns" {
	local good
	good=$(dest good4)
	psql_c pg postgres "CREATE DATABASE bare"
	run --separate-stderr replicator --source "$SRC" --destination "$good" \
		--destination "$(cluster_conninfo pg bare)"
	refused_for_destination 2 bare
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=bare .*\\) has no events table"
	assert_equal "$(events_count pg good4)" 0

	dest extracol >/dev/null
	psql_c pg extracol "ALTER TABLE events ADD COLUMN note text"
	run --separate-stderr replicator --source "$SRC" --destination "$(cluster_conninfo pg extracol)" \
		--destination "$good"
	refused_for_destination 1 extracol
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=extracol .*\\): events has columns \\(id bigint, ts timestamp with time zone, event jsonb, note text\\), expected \\(id bigint, ts timestamp with time zone, event jsonb\\)"
	assert_equal "$(events_count pg good4)" 0

	# the same names with another type are other columns too
	dest jsoncol >/dev/null
	psql_c pg jsoncol "ALTER TABLE events ALTER COLUMN event TYPE json"
	run --separate-stderr replicator --source "$SRC" --destination "$(cluster_conninfo pg jsoncol)"
	refused_for_destination 1 jsoncol
	assert_regex "$stderr" "events has columns \\(id bigint, ts timestamp with time zone, event json\\), expected"
}

@test "a hole in a destination's ids: exit 2 with the count and range, untouched" {
	local good md5
	good=$(dest good5)
	dest dsthole >/dev/null
	copy_until dsthole 60
	psql_c pg dsthole "DELETE FROM events WHERE id = 31"
	md5=$(events_md5 pg dsthole)
	run --separate-stderr replicator --source "$SRC" --destination "$good" \
		--destination "$(cluster_conninfo pg dsthole)"
	refused_for_destination 2 dsthole
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=dsthole .*\\): ids have holes: 59 events with ids 1\\.\\.60"
	assert_equal "$(events_md5 pg dsthole)" "$md5"
	assert_equal "$(events_count pg good5)" 0
}

@test "a destination that is itself a source (notify trigger, or an id table): exit 2" {
	local good
	good=$(dest good6)
	db_create pg isrc source >/dev/null
	run --separate-stderr replicator --source "$SRC" --destination "$good" \
		--destination "$(cluster_conninfo pg isrc)"
	refused_for_destination 2 isrc
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=isrc .*\\) is itself an event source \\(it has the notify_insert trigger\\); refusing to write to it"

	# an id table alone, the sign of the original's slate-init-db, is enough
	dest idtable >/dev/null
	psql_c pg idtable "CREATE TABLE id (id bigint PRIMARY KEY)"
	run --separate-stderr replicator --source "$SRC" --destination "$(cluster_conninfo pg idtable)"
	refused_for_destination 1 idtable
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=idtable .*\\) is itself an event source \\(it has an id table\\); refusing to write to it"
	assert_equal "$(events_count pg good6)" 0
	assert_equal "$(events_count pg isrc)" 0
	assert_equal "$(events_count pg idtable)" 0
}

@test "a destination of another source, or ahead of this one: exit 2, untouched" {
	local md5
	dest another >/dev/null
	psql_c pg another "INSERT INTO events VALUES (1, now(), '{\"another\": \"source\"}')"
	run --separate-stderr replicator --source "$SRC" --destination "$(cluster_conninfo pg another)"
	refused_for_destination 1 another
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=another .*\\) holds events of another source, or altered ones: its first event \\(id 1\\) is not the source's, even as the original replicator would have written it: ts and event differ \\(.*; source host=[^ ]* port=$pg_PORT dbname=src user=postgres\\)"
	assert_equal "$(events_count pg another)" 1

	dest ahead >/dev/null
	copy_until ahead 90
	psql_c pg ahead "INSERT INTO events VALUES (91, now(), '{}')"
	md5=$(events_md5 pg ahead)
	run --separate-stderr replicator --source "$SRC" --destination "$(cluster_conninfo pg ahead)"
	refused_for_destination 1 ahead
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=ahead .*\\) is ahead of the source: its max id 91 exceeds the source's 90"
	assert_equal "$(events_md5 pg ahead)" "$md5"
}

@test "duplicate destinations and the source as a destination: exit 2 before connecting" {
	local good
	good=$(dest good7)
	run --separate-stderr replicator --source "$SRC" --destination "$good" --destination "$good"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "slate-replicator: destination 2 repeats destination 1
Try \"slate-replicator --help\" for more information."

	# letter case makes no other destination
	run --separate-stderr replicator --source "$SRC" --destination "$good" \
		--destination "$(cluster_conninfo pg other)" --destination "${good^^}"
	assert_failure 2
	assert_output ""
	[[ $stderr == "slate-replicator: destination 3 repeats destination 1"* ]] || fail "$stderr"

	run --separate-stderr replicator --source "$SRC" --destination "$good" --destination "$SRC"
	assert_failure 2
	[[ $stderr == "slate-replicator: destination 2 is the source"$'\n'"Try \"slate-replicator --help\""* ]] ||
		fail "$stderr"

	# in a configuration file: its position, through slate-config
	cat >"$BATS_TEST_TMPDIR/config.json" <<-EOF
		{"eventSource": {"host": "$pg_HOST:$pg_PORT", "databaseName": "src", "user": "postgres"},
		 "replicationDestinations": [
		  {"host": "$pg_HOST:$pg_PORT", "databaseName": "good7", "user": "postgres"},
		  {"host": "$pg_HOST:$pg_PORT", "databaseName": "good7", "user": "postgres"}]}
	EOF
	run --separate-stderr replicator -c "$BATS_TEST_TMPDIR/config.json"
	assert_failure 2
	assert_output ""
	assert_regex "$stderr" "config.json:4:3: 'replicationDestinations\\[1\\]' duplicates 'replicationDestinations\\[0\\]' \\(at 3:3\\): same host, port and databaseName"
	[[ $stderr != *slate-extract* && $stderr != *slate-load* ]] || fail "a check connected: $stderr"

	cat >"$BATS_TEST_TMPDIR/config.json" <<-EOF
		{"eventSource": {"host": "$pg_HOST:$pg_PORT", "databaseName": "src", "user": "postgres"},
		 "replicationDestinations": [
		  {"host": "$pg_HOST:$pg_PORT", "databaseName": "src", "user": "postgres"}]}
	EOF
	run --separate-stderr replicator -c "$BATS_TEST_TMPDIR/config.json"
	assert_failure 2
	assert_regex "$stderr" "config.json:3:3: 'replicationDestinations\\[0\\]' is the event source \\(eventSource at 1:17\\)"
	assert_equal "$(events_count pg good7)" 0
}
