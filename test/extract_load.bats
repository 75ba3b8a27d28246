#!/usr/bin/env bats
# slate-extract and slate-load: round trips, ranges, damage, refusals, kills.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	# events over 8000 bytes need the id-only notification
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo pg src)" -f "$SLATE_ROOT/sql/notify-id-only.sql"
	insert_events pg src 3000
	# awkward text and big events, each in its own transaction
	psql_c pg src "SELECT insert_events(format('(\$1[1], \$2, %L), (\$1[2], \$2, %L)',
		'{\"q\": \"it''s \\\"quoted\\\" \\\\ back\\\\slash\", \"t\": \"Zoë Łukasz Nguyễn 😀\"}',
		'{\"nul\": \"\\u0001\\t\", \"n\": 1.50, \"x\": [1, {\"b\": null}]}'))" >/dev/null
	psql_c pg src "SELECT insert_events(format('(\$1[1], \$2, %L)',
		json_build_object('big', repeat('x', 25000), 'more', repeat('é', 12000))))" >/dev/null
	insert_events pg src 500
	SRC=$(cluster_conninfo pg src)
	export SRC
	"$SLATE_ROOT/bin/slate-extract" "$SRC" >"$BATS_FILE_TMPDIR/all.mp" 2>/dev/null
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

@test "--help, --version and bad options" {
	for prog in slate-extract slate-load; do
		run "$prog" --help
		assert_success
		assert_output --partial "Usage:"
		run "$prog" --version
		assert_success
		assert_output --regexp "^$prog \(slate\) [0-9]+\.[0-9]+"
		run "$prog" --no-such-option
		assert_failure 2
		assert_output --partial "Try \"$prog --help\" for more information."
		run "$prog" --connect-timeout=abc
		assert_failure 2
		assert_output --partial "invalid value \"abc\" for --connect-timeout"
	done
	run slate-load --max-events-per-write=0
	assert_failure 2
	run slate-extract --after 5 --until 3
	assert_failure 2
	assert_output --partial "--until must be greater than --after"
}

@test "round trip is byte-exact, awkward text and 37 kB events included" {
	dst=$(fresh_dest pg rt)
	run slate-load "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_success
	assert_equal "$(events_md5 pg rt)" "$(events_md5 pg src)"
	assert_equal "$(events_count pg rt)" 3503
}

@test "extract | load through a pipe equals the source" {
	dst=$(fresh_dest pg piped)
	run bash -c 'set -o pipefail; slate-extract "$1" | slate-load --max-events-per-write 700 "$2"' _ "$SRC" "$dst"
	assert_success
	assert_equal "$(events_md5 pg piped)" "$(events_md5 pg src)"
}

@test "ranges compose: --until then --after" {
	dst=$(fresh_dest pg ranges)
	slate-extract "$SRC" --until 1000 >"$BATS_TEST_TMPDIR/a.mp"
	slate-extract "$SRC" --after 1000 >"$BATS_TEST_TMPDIR/b.mp"
	run slate-load "$dst" <"$BATS_TEST_TMPDIR/a.mp"
	assert_success
	# --until extends to the end of id 1000's transaction (15 per transaction)
	assert_equal "$(events_count pg ranges)" 1005
	assert_boundary_prefix pg src pg ranges
	run slate-load "$dst" <"$BATS_TEST_TMPDIR/b.mp"
	assert_success
	assert_equal "$(events_md5 pg ranges)" "$(events_md5 pg src)"
}

@test "replaying a stream is harmless" {
	dst=$(fresh_dest pg replay)
	slate-load "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	run slate-load "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_success
	cat "$BATS_FILE_TMPDIR/all.mp" "$BATS_FILE_TMPDIR/all.mp" | slate-load "$dst"
	assert_equal "$(events_md5 pg replay)" "$(events_md5 pg src)"
}

@test "a cut stream keeps whole transactions and names the offset" {
	dst=$(fresh_dest pg cut)
	size=$(stat -c %s "$BATS_FILE_TMPDIR/all.mp")
	head -c $((size / 2)) "$BATS_FILE_TMPDIR/all.mp" >"$BATS_TEST_TMPDIR/cut.mp"
	run --separate-stderr slate-load --log-format=text --max-events-per-write 100 "$dst" <"$BATS_TEST_TMPDIR/cut.mp"
	assert_failure 3
	[[ $stderr == *"byte offset"*"cut"*"last good id"* ]]
	[ "$(events_count pg cut)" -gt 100 ]
	assert_boundary_prefix pg src pg cut
}

@test "corrupt bytes are refused with the offset; whole transactions kept" {
	dst=$(fresh_dest pg corrupt)
	cp "$BATS_FILE_TMPDIR/all.mp" "$BATS_TEST_TMPDIR/bad.mp"
	# change one letter inside an event's text: still valid JSON, caught by the checksum
	offset=$(grep -abo 'Name700' "$BATS_TEST_TMPDIR/bad.mp" | head -1 | cut -d: -f1)
	printf 'X' | dd of="$BATS_TEST_TMPDIR/bad.mp" bs=1 seek="$offset" conv=notrunc status=none
	run --separate-stderr slate-load --log-format=text "$dst" <"$BATS_TEST_TMPDIR/bad.mp"
	assert_failure 3
	[[ $stderr == *"byte offset"*"checksum mismatch"* ]]
	[ "$(events_count pg corrupt)" -lt 700 ]
	[ "$(events_count pg corrupt)" -gt 600 ]
	assert_boundary_prefix pg src pg corrupt
	# a structural break too
	cp "$BATS_FILE_TMPDIR/all.mp" "$BATS_TEST_TMPDIR/bad2.mp"
	printf '\xc1' | dd of="$BATS_TEST_TMPDIR/bad2.mp" bs=1 seek=$((offset + 2000)) conv=notrunc status=none
	dst2=$(fresh_dest pg corrupt2)
	run --separate-stderr slate-load --log-format=text "$dst2" <"$BATS_TEST_TMPDIR/bad2.mp"
	assert_failure 3
	[[ $stderr == *"byte offset"* ]]
	assert_boundary_prefix pg src pg corrupt2
}

@test "garbage and empty input are refused" {
	dst=$(fresh_dest pg garbage)
	run --separate-stderr slate-load "$dst" </dev/null
	assert_failure 3
	run --separate-stderr slate-load --log-format=text "$dst" < <(printf 'hello world\n')
	assert_failure 3
	[[ $stderr == *"byte offset 0"* ]]
	assert_equal "$(events_count pg garbage)" 0
}

@test "a stream that does not reach the destination's position is a gap" {
	dst=$(fresh_dest pg gap)
	slate-extract "$SRC" --after 100 >"$BATS_TEST_TMPDIR/late.mp"
	run --separate-stderr slate-load --log-format=text "$dst" <"$BATS_TEST_TMPDIR/late.mp"
	assert_failure 4
	[[ $stderr == *"gap"*"ids 1..100 are missing"* ]]
	assert_equal "$(events_count pg gap)" 0
}

@test "a hole in the source ids stops the extract before it" {
	db_create pg holey destination
	psql_c pg holey "INSERT INTO events SELECT id, '2026-01-01'::timestamptz + id * interval '1 s',
		jsonb_build_object('n', id) FROM generate_series(1, 50) id WHERE id <> 31"
	run --separate-stderr slate-extract --log-format=text "$(cluster_conninfo pg holey)"
	assert_failure 4
	[[ $stderr == *"hole in the source ids: id 32 follows id 30"* ]]
	dst=$(fresh_dest pg afterhole)
	# the extract stops at the hole (4); the load keeps the whole
	# transactions before it and reports the stream cut there (3)
	run --separate-stderr bash -c 'slate-extract --log-format=text "$1" |
		slate-load --log-format=text "$2"; echo "${PIPESTATUS[*]}"' _ "$(cluster_conninfo pg holey)" "$dst"
	assert_success
	assert_output "4 3"
	[[ $stderr == *"ERROR slate-extract: "*"hole in the source ids: id 32 follows id 30"* ]] || fail "$stderr"
	[[ $stderr == *"ERROR slate-load: "*"without an end marker"*"last good id 30"* ]] || fail "$stderr"
	assert_equal "$(events_count pg afterhole)" 30
}

@test "a destination ahead of the source is refused, untouched" {
	dst=$(fresh_dest pg ahead)
	slate-load "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	psql_c pg ahead "INSERT INTO events SELECT 3504, now(), '{}'"
	before=$(events_md5 pg ahead)
	run --separate-stderr slate-load --log-format=text "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 4
	[[ $stderr == *"ahead of the source"* ]]
	assert_equal "$(events_md5 pg ahead)" "$before"
}

@test "a header from another source is refused before anything is written" {
	dst=$(fresh_dest pg other)
	psql_c pg other "INSERT INTO events VALUES (1, now(), '{\"another\": \"source\"}')"
	before=$(events_md5 pg other)
	run --separate-stderr slate-load --log-format=text "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 4
	# what differs is said, in both languages (exact and the original replicator's)
	[[ $stderr == *"holds events of another source, or altered ones: its first event (id 1) is not the source's, even as the original replicator would have written it: ts and event differ"* ]]
	assert_equal "$(events_md5 pg other)" "$before"
}

# copying DB: slate-load's session on DB is in a COPY
copying() {
	[[ $(psql_c pg postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1'
		AND application_name = 'slate-load' AND query LIKE 'COPY%'") != 0 ]]
}

@test "kill -9 of slate-load mid-run leaves a prefix; a rerun completes it" {
	dst=$(fresh_dest pg killed)
	# a slow reader so the kill lands mid-stream: 64 kB every 20 ms
	bg_start feeder bash -c 'while dd bs=64k count=1 status=none; do sleep 0.02; done <"$1" |
		slate-load --max-events-per-write 200 "$2"' _ "$BATS_FILE_TMPDIR/all.mp" "$dst" \
		2>"$BATS_TEST_TMPDIR/err"
	wait_until 10 eval '[ "$(events_count pg killed)" -ge 400 ]' ||
		fail "slate-load did not write 400 events: $(cat "$BATS_TEST_TMPDIR/err")"
	load=$(pgrep -g "$feeder" -x slate-load) || fail "slate-load is not running"
	kill -KILL "$load"
	wait_exit "$feeder" 5
	# the pipeline's status is slate-load's: killed by signal 9
	assert_equal "$STATUS" 137
	n=$(events_count pg killed)
	[ "$n" -ge 400 ]
	[ "$n" -lt 3503 ]
	assert_boundary_prefix pg src pg killed
	run slate-load "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_success
	assert_equal "$(events_md5 pg killed)" "$(events_md5 pg src)"
}

@test "SIGTERM stops slate-load cleanly without committing a partial batch" {
	dst=$(fresh_dest pg termed)
	# about 190 events, then a stream that stays open: a batch of 100000
	# events is never full, so the COPY is open when the signal comes
	mkfifo "$BATS_TEST_TMPDIR/in"
	bg_start feeder bash -c '{ head -c 100000 "$1"; sleep 30; } >"$2"' \
		_ "$BATS_FILE_TMPDIR/all.mp" "$BATS_TEST_TMPDIR/in"
	slate-load --log-format=text --max-events-per-write 100000 "$dst" \
		<"$BATS_TEST_TMPDIR/in" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	load=$!
	bg_track "$load"
	wait_until 10 copying termed ||
		fail "slate-load never started a COPY: $(cat "$BATS_TEST_TMPDIR/err")"
	kill -TERM "$load"
	wait_exit "$load" 2 || fail "slate-load still runs 2 s after SIGTERM"
	assert_equal "$STATUS" 0
	# nothing of the open batch was committed, the COPY is gone with the session
	assert_equal "$(events_count pg termed)" 0
	run copying termed
	assert_failure
	# a clean stop: a log line saying so, no error, and the lock is free for
	# the next loader, which loads everything
	grep -q "stopped by signal" "$BATS_TEST_TMPDIR/err" ||
		fail "no \"stopped by signal\" line: $(cat "$BATS_TEST_TMPDIR/err")"
	run grep ERROR "$BATS_TEST_TMPDIR/err"
	assert_failure
	run slate-load --lock-wait 0 "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_success
	assert_equal "$(events_md5 pg termed)" "$(events_md5 pg src)"
}

@test "--follow extracts again after each wake and ends at EOF" {
	db_create pg fsrc source
	insert_events pg fsrc 30
	dst=$(fresh_dest pg fdst)
	wake=$'\x81\xa4type\xa4wake'
	{
		printf '%s' "$wake"
		sleep 0.5
		insert_events pg fsrc 45 >/dev/null
		printf '%s%s' "$wake" "$wake"
		sleep 0.5
	} | slate-extract --follow "$(cluster_conninfo pg fsrc)" | slate-load "$dst"
	assert_equal "$(events_md5 pg fdst)" "$(events_md5 pg fsrc)"
	assert_equal "$(events_count pg fdst)" 75
}

@test "--follow live path: small wakes by prepared query and INSERT, a big one by COPY, byte-exact" {
	db_create pg lsrc source
	dst=$(fresh_dest pg ldst)
	lsrc=$(cluster_conninfo pg lsrc)
	wake=$'\x81\xa4type\xa4wake'
	{
		printf '%s' "$wake"
		sleep 0.5
		insert_events pg lsrc 3 >/dev/null
		printf '%s' "$wake"
		sleep 0.5
		# one transaction of 600 events: more than the prepared query's 256 rows
		psql_c pg lsrc "SELECT insert_events((SELECT string_agg(format('(\$1[%s], \$2, %L)', g,
			json_build_object('n', g, 'pad', repeat('p', g % 50))), ', ') FROM generate_series(1, 600) g))" >/dev/null
		printf '%s' "$wake"
		sleep 0.5
	} | slate-extract --follow -v --log-format=text "$lsrc" 2>"$BATS_TEST_TMPDIR/extract.log" |
		slate-load -v --log-format=text "$dst" 2>"$BATS_TEST_TMPDIR/load.log"
	assert_equal "$(events_md5 pg ldst)" "$(events_md5 pg lsrc)"
	assert_equal "$(events_count pg ldst)" 603
	# the first wake's three events came by the prepared query and went in by INSERT
	grep -q "committed 3 events through id 3 (INSERT)" "$BATS_TEST_TMPDIR/load.log" ||
		fail "$(cat "$BATS_TEST_TMPDIR/load.log")"
	# the big transaction: 256 rows by the prepared query, the rest by a COPY after them
	grep -q "COPY (SELECT id, ts, event FROM events WHERE id > 259 ORDER BY id)" "$BATS_TEST_TMPDIR/extract.log" ||
		fail "$(cat "$BATS_TEST_TMPDIR/extract.log")"
	grep -q "committed 600 events through id 603 " "$BATS_TEST_TMPDIR/load.log" ||
		fail "$(cat "$BATS_TEST_TMPDIR/load.log")"
}

@test "no password in logs or errors" {
	dst="$(fresh_dest pg pw) password=s3cr3tpw"
	run --separate-stderr slate-load --log-format=json "$dst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_success
	[[ $stderr != *s3cr3tpw* ]]
	run --separate-stderr slate-extract --log-format=json "$SRC password=s3cr3tpw" --until 5
	assert_success
	[[ $stderr != *s3cr3tpw* ]]
	[[ $output != *s3cr3tpw* ]]
	run --separate-stderr slate-extract "host=127.0.0.1 port=1 password=s3cr3tpw dbname=x"
	assert_failure 1
	[[ $stderr == *"could not connect to source"* ]]
	[[ $stderr != *s3cr3tpw* ]]
}

@test "logs are bunyan JSON lines" {
	run --separate-stderr slate-extract --log-format=json "$SRC" --until 20
	assert_success
	[[ $stderr == '{"name":"slate-extract","hostname":"'*'"level":30,"msg":"extracted 30 events'*'"time":"'*'"v":0'* ]]
}
