#!/usr/bin/env bats
# Exit statuses of README's table that no other file reaches: 5 for stdin and
# stdout errors, 0 when stdout's reader goes away, 4 from a failed --check,
# 2 from a dry run whose check fails.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	# about 1.5 MB of stream: more than any pipe holds, so a reader that goes
	# away is noticed before the end
	insert_events pg src 3000
	SRC=$(cluster_conninfo pg src)
	export SRC
}

teardown_file() {
	clusters_stop_all
}

# --- exit 5: stdout or stdin cannot be used --------------------------------

@test "exit 5: slate-extract, slate-listen and slate-config on a full stdout (/dev/full)" {
	run --separate-stderr bash -c 'slate-extract --log-format=text "$1" >/dev/full' _ "$SRC"
	assert_failure 5
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" 'ERROR slate-extract: could not write to stdout: No space left on device$'

	run --separate-stderr bash -c 'slate-extract --follow --log-format=text "$1" </dev/null >/dev/full' _ "$SRC"
	assert_failure 5
	assert_regex "$stderr" 'ERROR slate-extract: could not write to stdout: No space left on device'

	run --separate-stderr bash -c 'slate-listen --log-format=text "$1" >/dev/full' _ "$SRC"
	assert_failure 5
	assert_regex "$stderr" 'ERROR slate-listen: could not write to stdout: No space left on device'

	cat >"$BATS_TEST_TMPDIR/config.json" <<-EOF
		{"eventSource": {"host": "h1", "databaseName": "a"},
		 "replicationDestinations": [{"host": "h2", "databaseName": "b"}]}
	EOF
	run --separate-stderr bash -c 'slate-config "$1" >/dev/full' _ "$BATS_TEST_TMPDIR/config.json"
	assert_failure 5
	assert_equal "$stderr" "slate-config: could not write to standard output: No space left on device"
}

@test "slate-diff on a full stdout: its own table's 2, said in one line" {
	run --separate-stderr bash -c 'slate-diff --log-format=text "$1" "$2" >/dev/full' _ \
		"$SRC" "$(fresh_dest pg diffdst)"
	assert_failure 2
	assert_regex "$stderr" 'ERROR slate-diff: could not write the report to stdout$'
}

@test "exit 5: a directory as stdin, for slate-load and slate-extract --follow; nothing written" {
	run --separate-stderr bash -c 'slate-load --log-format=text "$1" </' _ "$(fresh_dest pg dirin)"
	assert_failure 5
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" 'ERROR slate-load: stdin: byte offset 0: read error: Is a directory; last good id 0$'
	assert_equal "$(events_count pg dirin)" 0

	# the first extract is written, then reading the first wake fails
	run --separate-stderr bash -c 'slate-extract --follow --log-format=text "$1" </ >"$2"' _ \
		"$SRC" "$BATS_TEST_TMPDIR/follow.mp"
	assert_failure 5
	assert_regex "$stderr" 'ERROR slate-extract: stdin: byte offset 0: read error: Is a directory$'
}

# --- exit 0: the reader of stdout went away --------------------------------

@test "exit 0: slate-extract whose reader goes away stops quietly, early" {
	run --separate-stderr bash -c 'slate-extract --log-format=text "$1" | head -c 100 >/dev/null
		echo "${PIPESTATUS[0]}"' _ "$SRC"
	assert_success
	assert_output 0
	[[ $stderr != *ERROR* ]] || fail "an error was logged: $stderr"
	# it stopped when the reader went away, not after writing all 3000 events
	[[ $stderr =~ extracted\ ([0-9]+)\ events ]] || fail "no summary line: $stderr"
	((BASH_REMATCH[1] < 3000)) || fail "it extracted everything: $stderr"

	# the same for --follow, as in the replicator: slate-listen, whose reader
	# has gone then, ends too
	run --separate-stderr bash -c 'slate-listen --log-format=text "$1" |
		slate-extract --follow --log-format=text "$1" | head -c 100 >/dev/null
		echo "${PIPESTATUS[*]}"' _ "$SRC"
	assert_success
	assert_output "0 0 0"
	[[ $stderr != *ERROR* ]] || fail "an error was logged: $stderr"
}

# --- exit 4: a failed --check ----------------------------------------------

@test "exit 4: slate-extract --check of a source with a hole or without the notify trigger" {
	db_create pg holed source >/dev/null
	insert_events pg holed 30 >/dev/null
	psql_c pg holed "ALTER TABLE events DISABLE TRIGGER check_sql_command;
		DELETE FROM events WHERE id = 10"
	run --separate-stderr slate-extract --check --log-format=text "$(cluster_conninfo pg holed)"
	assert_failure 4
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "ERROR slate-extract: source \\(host=[^ ]* port=$pg_PORT dbname=holed user=postgres\\): ids have holes: 29 events with ids 1\\.\\.30$"
	assert_output ""

	# a destination is no source: nothing would wake the replicator
	db_create pg plain destination >/dev/null
	run --separate-stderr slate-extract --check --log-format=text "$(cluster_conninfo pg plain)"
	assert_failure 4
	assert_regex "$stderr" "ERROR slate-extract: source \\(.*dbname=plain .*\\) has no notify_insert trigger on events: nothing would wake the replicator$"

	# and the good source passes, writing a header and an end marker
	run --separate-stderr slate-extract --check --log-format=text "$SRC"
	assert_success
	assert_regex "$stderr" "INFO slate-extract: source \\(.*dbname=src .*\\) is valid$"
}

@test "exit 4: slate-load --check of a destination with a hole, ahead, or of another source; nothing written" {
	local dst md5
	slate-extract --check "$SRC" >"$BATS_TEST_TMPDIR/header.mp" 2>/dev/null

	run --separate-stderr slate-load --check --log-format=text "$(fresh_dest pg ok)" <"$BATS_TEST_TMPDIR/header.mp"
	assert_success
	assert_regex "$stderr" "INFO slate-load: destination \\(.*dbname=ok .*\\) is valid for source "

	dst=$(fresh_dest pg dhole)
	slate-extract --until 90 "$SRC" 2>/dev/null | slate-load "$dst" 2>/dev/null
	psql_c pg dhole "DELETE FROM events WHERE id = 50"
	md5=$(events_md5 pg dhole)
	run --separate-stderr slate-load --check --log-format=text "$dst" <"$BATS_TEST_TMPDIR/header.mp"
	assert_failure 4
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=dhole .*\\): ids have holes: 89 events with ids 1\\.\\.90$"
	assert_equal "$(events_md5 pg dhole)" "$md5"

	dst=$(fresh_dest pg ahead)
	slate-extract "$SRC" 2>/dev/null | slate-load "$dst" 2>/dev/null
	psql_c pg ahead "INSERT INTO events VALUES (3001, now(), '{}')"
	md5=$(events_md5 pg ahead)
	run --separate-stderr slate-load --check --log-format=text "$dst" <"$BATS_TEST_TMPDIR/header.mp"
	assert_failure 4
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=ahead .*\\) is ahead of the source: its max id 3001 exceeds the source's 3000 "
	assert_equal "$(events_md5 pg ahead)" "$md5"

	fresh_dest pg other >/dev/null
	psql_c pg other "INSERT INTO events VALUES (1, now(), '{\"another\": \"source\"}')"
	run --separate-stderr slate-load --check --log-format=text "$(cluster_conninfo pg other)" <"$BATS_TEST_TMPDIR/header.mp"
	assert_failure 4
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=other .*\\) holds events of another source, or altered ones: its first event \\(id 1\\) is not the source's"
	assert_equal "$(events_count pg other)" 1
}

# --- exit 2: a dry run whose check fails ----------------------------------

@test "exit 2: --dry-run with a failing check prints no parameters and copies nothing" {
	fresh_dest pg dryok >/dev/null
	slate-extract --until 90 "$SRC" 2>/dev/null | slate-load "$(fresh_dest pg dryhole)" 2>/dev/null
	psql_c pg dryhole "DELETE FROM events WHERE id = 7"
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --dry-run --log-format=text --source "$SRC" \
		--destination "$(cluster_conninfo pg dryok)" --destination "$(cluster_conninfo pg dryhole)"
	assert_failure 2
	assert_output ""
	assert_regex "$stderr" "ERROR slate-load: destination \\(.*dbname=dryhole .*\\): ids have holes: 89 events with ids 1\\.\\.90"
	assert_regex "$stderr" "ERROR slate-replicator: start-up check failed for destination 2 \\(.*dbname=dryhole.*\\)"
	assert_equal "$(events_count pg dryok)" 0
	assert_equal "$(events_count pg dryhole)" 89

	# a server that cannot be reached is a failed check too in a dry run
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --dry-run --log-format=text --connect-timeout 2 \
		--source "$SRC" --destination "host=127.0.0.1 port=1 dbname=nowhere"
	assert_failure 2
	assert_output ""
	assert_regex "$stderr" "start-up check failed for destination 1 \\(host=127.0.0.1 port=1 dbname=nowhere\\)"

	# the same configuration without the hole passes
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --dry-run --log-format=text --source "$SRC" \
		--destination "$(cluster_conninfo pg dryok)"
	assert_success
	assert_line "dry run: all checks passed, nothing copied"
}
