#!/usr/bin/env bats
# Destinations the original Node replicator wrote (ts cut to the millisecond,
# JSON re-serialised by JavaScript): continued by the start-up check and
# pipeline.sh, named by slate-diff, equal under --json-equal, made exact by
# slate-load --repair, which refuses anything else.

bats_require_minimum_version 1.5.0
load test_helper

# Source events: three per transaction (one ts), microsecond timestamps, and
# numbers JavaScript re-serialises: 12.50, 1.0, an integer beyond 2^53, 0.00000010.
SRC_ROW="id, timestamptz '2026-11-25 18:58:15.017839+00' + ((id - 1) / 3) * interval '1.234567 s',
	format('{\"id\": %s, \"price\": 12.50, \"ratio\": 1.0, \"big\": 12345678901234567890,
		\"tiny\": 0.00000010, \"name\": \"e%s\"}', id, id)::jsonb"
# What the original wrote for them: ts.toISOString() and JSON.stringify(event),
# i.e. {"id":1,"big":12345678901234567000,"name":"e1","tiny":1e-7,"price":12.5,"ratio":1}
ORIG_ROW="id, date_trunc('milliseconds', timestamptz '2026-11-25 18:58:15.017839+00'
		+ ((id - 1) / 3) * interval '1.234567 s'),
	format('{\"id\": %s, \"price\": 12.5, \"ratio\": 1, \"big\": 12345678901234567000,
		\"tiny\": 1e-7, \"name\": \"e%s\"}', id, id)::jsonb"

# fill DB N ROW: ids 1..N made by the SELECT list ROW
fill() {
	psql_c pg "$1" "INSERT INTO events (id, ts, event) SELECT $3 FROM generate_series(1, $2) AS id"
}

setup_file() {
	cluster_start pg
	db_create pg src source
	fill src 30 "$SRC_ROW"
	# the source's first 18 events, exact, and as the original wrote them
	db_create pg exact18 destination
	fill exact18 18 "$SRC_ROW"
	db_create pg orig18 destination
	fill orig18 18 "$ORIG_ROW"
	SRC=$(cluster_conninfo pg src)
	export SRC
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
	return 0
}

# copy_of TEMPLATE NAME: a new database copied from TEMPLATE; prints its conninfo
copy_of() {
	psql_c pg postgres "CREATE DATABASE \"$2\" TEMPLATE \"$1\""
	cluster_conninfo pg "$2"
}

# md5_of DB [CONDITION]: "COUNT MD5" over id|ts|event::text of the matching events
md5_of() {
	psql_c pg "$1" "SET timezone = 'UTC'; SET DateStyle = 'ISO, YMD';
		SELECT count(*) || ' ' || md5(coalesce(string_agg(id || '|' || ts || '|' ||
			event::text, E'\n' ORDER BY id), '')) FROM events WHERE ${2:-true}"
}

# check_dst DST: the start-up check of DST against the source, as pipeline.sh runs it
check_dst() {
	slate-extract --check --log-format=text "$SRC" | slate-load --check --log-format=text "$1"
}

# repair_dst [EXTRACT_ARG]... -- [LOAD_ARG]... DST: slate-extract ... SRC | slate-load --repair ... DST
repair_dst() {
	local extract=()
	while [[ $1 != -- ]]; do extract+=("$1"); shift; done
	shift
	slate-extract "${extract[@]}" --log-format=text "$SRC" | slate-load --repair --log-format=text "$@"
}

# count_lines PATTERN TEXT: how many lines of TEXT contain PATTERN
count_lines() {
	grep -c -- "$1" <<<"$2" || true
}

@test "the original's way of writing, checked against node where it is installed" {
	command -v node >/dev/null || skip "node is not installed (the test's data says what it writes)"
	run node -e 'const e = JSON.parse(process.argv[1]);
		console.log(new Date("2026-11-25T18:58:15.017839Z").toISOString(), JSON.stringify(e))' \
		"$(psql_c pg src "SELECT event FROM events WHERE id = 1")"
	assert_success
	assert_output "$(psql_c pg orig18 "SET timezone = 'UTC';
		SELECT to_char(ts, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM events WHERE id = 1")"' {"id":1,"big":12345678901234567000,"name":"e1","tiny":1e-7,"price":12.5,"ratio":1}'
}

@test "numbers as node's JSON.stringify writes them are recognised, every one (with node only)" {
	command -v node >/dev/null || skip "node is not installed"
	db_create pg numsrc destination
	db_create pg numdst destination
	# awkward literals, then random decimals of every scale and magnitude
	psql_c pg numsrc "INSERT INTO events (id, ts, event) SELECT row_number() OVER (), now(), e FROM (
		SELECT format('{\"v\": %s}', v)::jsonb AS e FROM unnest(ARRAY['0.10', '1.0', '100', '-0.0',
			'1e21', '1.5e-7', '0.000001', '0.0000001', '123.456000', '0.30000000000000004',
			'9007199254740993', '123456789012345678901234567890', '5e-324',
			'1.7976931348623157e308', '-2.50', '1e-400']) AS v
		UNION ALL
		SELECT format('{\"v\": %s, \"w\": [%s]}',
			trunc((random() - 0.5) * 1e17)::numeric / 10::numeric ^ floor(random() * 40 - 10)::int,
			round((random() * 1000)::numeric, floor(random() * 6)::int))::jsonb
		FROM generate_series(1, 300)) AS r"
	psql_c pg numsrc "SELECT id || E'\t' || event::text FROM events ORDER BY id" |
		node -e 'require("readline").createInterface({ input: process.stdin }).on("line", (l) => {
			const [id, e] = l.split("\t");
			console.log(id + "\t2026-01-01 00:00:00+00\t" + JSON.stringify(JSON.parse(e)));
		})' >"$BATS_TEST_TMPDIR/node.tsv"
	psql_c pg numsrc "UPDATE events SET ts = '2026-01-01 00:00:00+00'" 2>/dev/null
	psql -X -q -d "$(cluster_conninfo pg numdst)" -c "\copy events FROM '$BATS_TEST_TMPDIR/node.tsv'"
	run --separate-stderr slate-diff "$(cluster_conninfo pg numsrc)" "$(cluster_conninfo pg numdst)"
	assert_failure 1
	refute_line --partial "event differs"
	assert_regex "${lines[-1]}" "^[0-9]+ differences, all as the original replicator wrote them"
	run --separate-stderr slate-diff --json-equal "$(cluster_conninfo pg numsrc)" "$(cluster_conninfo pg numdst)"
	assert_success
}

@test "the start-up check continues the original's destination with one warning" {
	local dst
	dst=$(copy_of orig18 chk)
	run --separate-stderr check_dst "$dst"
	assert_success
	assert_equal "$(count_lines WARN "$stderr")" 1
	[[ $stderr == *"holds events written by the original replicator"* ]] || fail "$stderr"
	[[ $stderr == *"ts cut to the millisecond, JSON numbers re-serialised"* ]] || fail "$stderr"
	[[ $stderr == *"slate-extract --until 18 SOURCE | slate-load --repair DESTINATION"* ]] || fail "$stderr"
	[[ $stderr == *"is valid for source"* ]] || fail "$stderr"
}

@test "pipeline.sh continues the original's destination: one warning, the rows after its max id exact" {
	local dst before
	dst=$(copy_of orig18 cont)
	before=$(md5_of cont)
	run_pipeline "$dst"
	local log
	log=$(cat "$BATS_TEST_TMPDIR/p.log")
	assert_equal "$(count_lines WARN "$log")" 1
	[[ $log == *"WARN slate-load: destination ("*") holds events written by the original replicator"* ]] ||
		fail "$log"
	# rows 19..30 byte-exact, rows 1..18 as they were
	assert_equal "$(md5_of cont 'id > 18')" "$(md5_of src 'id > 18')"
	assert_equal "$(md5_of cont 'id <= 18')" "$before"
}

# run_pipeline DST: pipeline.sh from the source to DST until DST holds the
# source's 30 events, then SIGTERM; its log in $BATS_TEST_TMPDIR/p.log
run_pipeline() {
	local pid i
	bg_start pid "$SLATE_ROOT/pipeline.sh" --log-format=text --source "$SRC" --destination "$1" \
		--poll-interval 1 >"$BATS_TEST_TMPDIR/p.out" 2>"$BATS_TEST_TMPDIR/p.log"
	for ((i = 0; i < 150; i++)); do
		[[ $(psql -X -At -d "$1" -c "SELECT coalesce(max(id), 0) FROM events") == 30 ]] && break
		sleep 0.1
	done
	kill -TERM "$pid"
	wait_exit "$pid" 5
	assert_equal "$STATUS" 0
}

@test "first event exact, later rows the original's: the one warning comes at the last event" {
	local dst log
	dst=$(copy_of exact18 mixed)
	psql_c pg mixed "DELETE FROM events WHERE id > 9"
	psql_c pg mixed "INSERT INTO events (id, ts, event) SELECT $ORIG_ROW FROM generate_series(10, 18) AS id"
	run_pipeline "$dst"
	log=$(cat "$BATS_TEST_TMPDIR/p.log")
	assert_equal "$(count_lines WARN "$log")" 1
	[[ $log == *"its last event (id 18) is the source's with ts cut to the millisecond, JSON numbers re-serialised"* ]] ||
		fail "$log"
	assert_equal "$(md5_of mixed 'id > 18')" "$(md5_of src 'id > 18')"
}

@test "a destination whose last event is not the source's gets nothing appended" {
	local dst before
	dst=$(copy_of orig18 lastdiff)
	psql_c pg lastdiff "UPDATE events SET event = event || '{\"name\": \"changed\"}' WHERE id = 18"
	before=$(md5_of lastdiff)
	run --separate-stderr bash -c 'slate-extract "$1" | slate-load --log-format=text "$2"' _ "$SRC" "$dst"
	assert_failure 4
	[[ $stderr == *"its last event (id 18) is not the source's, even as the original replicator would have written it: event differs; refusing to append after it"* ]] ||
		fail "$stderr"
	assert_equal "$(md5_of lastdiff)" "$before"
}

@test "a destination that differs otherwise is refused, saying what differs" {
	local dst before
	dst=$(copy_of orig18 othev)
	psql_c pg othev "UPDATE events SET event = event || '{\"name\": \"changed\"}' WHERE id = 1"
	before=$(md5_of othev)
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --log-format=text --source "$SRC" --destination "$dst"
	assert_failure 2
	[[ $stderr == *"its first event (id 1) is not the source's, even as the original replicator would have written it: event differs"* ]] ||
		fail "$stderr"
	[[ $stderr == *"start-up check failed for destination 1"* ]] || fail "$stderr"
	assert_equal "$(count_lines WARN "$stderr")" 0
	assert_equal "$(md5_of othev)" "$before"

	# a ts that is not the source's, even to the millisecond
	dst=$(copy_of orig18 othts)
	psql_c pg othts "UPDATE events SET ts = ts + interval '1 ms' WHERE id = 1"
	run --separate-stderr check_dst "$dst"
	assert_failure 4
	[[ $stderr == *": ts differs (ts 2026-11-25 18:58:15.018000+00, the source's 2026-11-25 18:58:15.017839+00; event equal as JSON values; source "* ]] ||
		fail "$stderr"
	# numbers the original would not have written (1.00 is no JavaScript number's text)
	dst=$(copy_of orig18 othnum)
	psql_c pg othnum "UPDATE events SET event = event || '{\"ratio\": 1.00}' WHERE id = 1"
	run --separate-stderr check_dst "$dst"
	assert_failure 4
	[[ $stderr == *"event differs"* ]] || fail "$stderr"
}

@test "slate-diff names the rows the original wrote, apart from real differences" {
	local orig tampered
	orig=$(cluster_conninfo pg orig18)
	run --separate-stderr slate-diff "$(cluster_conninfo pg exact18)" "$orig"
	assert_failure 1
	assert_line "first event: as the original replicator wrote it (id 1)"
	assert_line "ids 1-18: as the original replicator wrote them (ts cut to the millisecond, JSON numbers re-serialised; 18 ids)"
	assert_equal "${lines[-1]}" "18 differences, all as the original replicator wrote them (equal in its terms: --json-equal; made exact by slate-load --repair)"

	tampered=$(copy_of orig18 difftamper)
	psql_c pg difftamper "UPDATE events SET event = event || '{\"name\": \"changed\"}' WHERE id = 5;
		UPDATE events SET ts = ts + interval '2 ms' WHERE id = 9"
	run --separate-stderr slate-diff "$(cluster_conninfo pg exact18)" "$tampered"
	assert_failure 1
	assert_line "ids 1-4: as the original replicator wrote them (ts cut to the millisecond, JSON numbers re-serialised; 4 ids)"
	assert_line "id 5: event differs (and ts is cut to the millisecond)"
	assert_line "ids 6-8: as the original replicator wrote them (ts cut to the millisecond, JSON numbers re-serialised; 3 ids)"
	assert_line "id 9: ts differs (and JSON numbers are re-serialised)"
	assert_equal "${lines[-1]}" "18 differences: 16 as the original replicator wrote them, 2 others"
}

@test "--json-equal compares as the original eventsDiff: equal, and real differences still found" {
	run --separate-stderr slate-diff --json-equal "$(cluster_conninfo pg exact18)" "$(cluster_conninfo pg orig18)"
	assert_success
	assert_line "first event: same (id 1)"
	assert_equal "${lines[-1]}" "equal (as the original eventsDiff compares)"

	local tampered
	tampered=$(copy_of orig18 jsontamper)
	psql_c pg jsontamper "UPDATE events SET event = event || '{\"price\": 12.51}' WHERE id = 7;
		UPDATE events SET ts = ts + interval '1 ms' WHERE id = 12"
	run --separate-stderr slate-diff --json-equal "$(cluster_conninfo pg exact18)" "$tampered"
	assert_failure 1
	assert_line "id 7: event differs"
	assert_line "id 12: ts differs"
	assert_equal "${lines[-1]}" "2 differences"

	# 1.00 and 1.0 are one JavaScript number: equal here, a difference when exact
	copy_of exact18 scale1 >/dev/null
	copy_of exact18 scale2 >/dev/null
	psql_c pg scale1 "UPDATE events SET event = event || '{\"n\": 1.00}' WHERE id = 3"
	psql_c pg scale2 "UPDATE events SET event = event || '{\"n\": 1.0}' WHERE id = 3"
	run --separate-stderr slate-diff --json-equal "$(cluster_conninfo pg scale1)" "$(cluster_conninfo pg scale2)"
	assert_success
	run --separate-stderr slate-diff "$(cluster_conninfo pg scale1)" "$(cluster_conninfo pg scale2)"
	assert_failure 1
	assert_line "id 3: event differs"
}

@test "timestamps before 1970 and 2000 are cut toward the past, as JavaScript's Date does" {
	local a b
	a=$(copy_of exact18 early_a)
	b=$(copy_of exact18 early_b)
	psql_c pg early_a "UPDATE events SET ts = timestamptz '1969-12-31 23:59:59.999500+00' WHERE id = 4;
		UPDATE events SET ts = timestamptz '1999-12-31 23:59:59.000999+00' WHERE id = 5"
	# what toISOString() gives: 1969-12-31T23:59:59.999Z, 1999-12-31T23:59:59.000Z
	psql_c pg early_b "UPDATE events SET ts = timestamptz '1969-12-31 23:59:59.999+00' WHERE id = 4;
		UPDATE events SET ts = timestamptz '1999-12-31 23:59:59+00' WHERE id = 5"
	run --separate-stderr slate-diff --json-equal "$a" "$b"
	assert_success
	run --separate-stderr slate-diff "$a" "$b"
	assert_failure 1
	assert_line "ids 4-5: as the original replicator wrote them (ts cut to the millisecond; 2 ids)"
	# rounding up instead would be a real difference
	psql_c pg early_b "UPDATE events SET ts = timestamptz '1970-01-01 00:00:00+00' WHERE id = 4"
	run --separate-stderr slate-diff --json-equal "$a" "$b"
	assert_failure 1
	assert_line "id 4: ts differs"
}

@test "--repair makes the original's rows byte-exact; a second run finds nothing to do" {
	local dst
	dst=$(copy_of orig18 rep)
	# part first, as a run killed after its first batches leaves it
	run --separate-stderr repair_dst --until 8 -- "$dst"
	assert_success
	[[ $stderr == *"ids 1..9 are byte-exact now: 9 rows rewritten, 0 were exact already"* ]] || fail "$stderr"
	run --separate-stderr repair_dst --until 18 -- "$dst"
	assert_success
	[[ $stderr == *"ids 1..18 are byte-exact now: 9 rows rewritten, 9 were exact already"* ]] || fail "$stderr"
	assert_equal "$(md5_of rep)" "$(md5_of src 'id <= 18')"
	run --separate-stderr slate-diff "$(cluster_conninfo pg exact18)" "$dst"
	assert_success
	assert_equal "${lines[-1]}" "equal"

	# the whole source: rows past the destination's max id are left to the replicator
	run --separate-stderr repair_dst -- "$dst"
	assert_success
	[[ $stderr == *"0 rows rewritten, 18 were exact already"* ]] || fail "$stderr"
	[[ $stderr == *"12 events after id 18 are not in the destination"* ]] || fail "$stderr"
	assert_equal "$(events_maxid pg rep)" 18
}

@test "--repair refuses a tampered row and changes nothing of its batch" {
	local dst before
	dst=$(copy_of orig18 reptamper)
	psql_c pg reptamper "UPDATE events SET event = event || '{\"name\": \"tampered\"}' WHERE id = 14"
	before=$(md5_of reptamper)
	run --separate-stderr repair_dst --until 18 -- "$dst"
	assert_failure 4
	[[ $stderr == *"event id 14 differs from the source's beyond the original replicator's precision (event differs): corruption, not precision"* ]] ||
		fail "$stderr"
	[[ $stderr == *"nothing of ids 1..18 was changed"* ]] || fail "$stderr"
	assert_equal "$(md5_of reptamper)" "$before"

	# in batches (6 events, ending between transactions): the batches before
	# are repaired and exact, the tampered one and those after are untouched
	run --separate-stderr repair_dst --until 18 -- --max-events-per-write 6 "$dst"
	assert_failure 4
	[[ $stderr == *"nothing of ids 13..18 was changed (the ids before, already checked, are byte-exact)"* ]] ||
		fail "$stderr"
	assert_equal "$(md5_of reptamper 'id <= 12')" "$(md5_of src 'id <= 12')"
	assert_equal "$(md5_of reptamper 'id > 12 AND id <> 14')" "$(md5_of orig18 'id > 12 AND id <> 14')"
	assert_equal "$(psql_c pg reptamper "SELECT count(*) FROM events WHERE id > 12 AND ts <> date_trunc('milliseconds', ts)")" 0
	assert_equal "$(psql_c pg reptamper "SELECT event->>'name' FROM events WHERE id = 14")" tampered
}

@test "--repair takes the writer lock: refused while another slate-load writes" {
	local dst
	dst=$(copy_of orig18 replock)
	# a slate-load holding the lock while it waits for its input
	mkfifo "$BATS_TEST_TMPDIR/in"
	slate-load --log-format=text "$dst" <"$BATS_TEST_TMPDIR/in" 2>"$BATS_TEST_TMPDIR/holder.log" 3>&- &
	bg_track $!
	exec 4>"$BATS_TEST_TMPDIR/in"
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(psql_c pg replock "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == 1 ]] && break
		sleep 0.1
	done
	run --separate-stderr repair_dst --until 18 -- --lock-wait 0 "$dst"
	exec 4>&-
	assert_failure 4
	[[ $stderr == *"is already being written by pid"*"(--repair takes the writer lock too: stop the replicator first)"* ]] ||
		fail "$stderr"
	assert_equal "$(md5_of replock)" "$(md5_of orig18)"

	run --separate-stderr slate-load --repair --check "$dst"
	assert_failure 2
	assert_equal "${stderr_lines[-1]}" 'Try "slate-load --help" for more information.'
}
