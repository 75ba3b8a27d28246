#!/usr/bin/env bats
# slate-diff: equal and tampered tables, holes, lengths, --max-diffs, --validate, failures.

bats_require_minimum_version 1.5.0
load test_helper

# fill_loadgen DB GROUPS: insert groups of 1..4 events shaped as slate-loadgen
# writes them (group g has 1 + g % 4 events; ids 6-9 are group 3, count 4)
fill_loadgen() {
	psql_c pg "$1" "INSERT INTO events (id, ts, event)
		SELECT row_number() OVER (ORDER BY g, n),
			timestamptz '2024-01-01 00:00:00+00' + g * interval '1.5 ms',
			jsonb_build_object('testingStats', jsonb_build_object(
				'programId', 'loadgen-1', 'dbOperationId', 'loadgen-1-' || g,
				'dbOperationNum', g, 'dbOperationEventNum', n,
				'dbOperationEventCount', 1 + g % 4, 'dbOperationTS', g),
				'entityName', 'person', 'value', jsonb_build_object('n', n, 'g', g),
				'pad', repeat(md5(g::text || '/' || n), 4))
		FROM generate_series(1, $2) AS g, generate_series(1, 1 + g % 4) AS n"
}

setup_file() {
	cluster_start pg
	# the source keeps its immutability trigger; destinations hold events.sql only
	db_create pg src source
	db_create pg dst destination
	fill_loadgen src 2000 # 5000 events
	fill_loadgen dst 2000
	db_create pg empty1 destination
	db_create pg empty2 destination
	psql_c pg postgres "CREATE DATABASE notable"
	SRC=$(cluster_conninfo pg src)
	export SRC
}

teardown_file() {
	clusters_stop_all
}

# copy_dst NAME: a copy of dst to tamper with; prints its conninfo
copy_dst() {
	psql_c pg postgres "CREATE DATABASE \"$1\" TEMPLATE dst"
	cluster_conninfo pg "$1"
}

@test "--help, --version and bad options" {
	run slate-diff --help
	assert_success
	assert_output --partial "Usage:"
	run slate-diff --version
	assert_success
	assert_output --partial "slate-diff (slate)"
	run --separate-stderr slate-diff --bogus a b
	assert_failure 2
	assert_equal "${stderr_lines[-1]}" 'Try "slate-diff --help" for more information.'
	run --separate-stderr slate-diff --max-diffs 0 a b
	assert_failure 2
	assert_equal "${stderr_lines[-1]}" 'Try "slate-diff --help" for more information.'
	run --separate-stderr slate-diff "$SRC"
	assert_failure 2
	run --separate-stderr slate-diff --validate
	assert_failure 2
	run --separate-stderr slate-diff a b c
	assert_failure 2
	run --separate-stderr slate-diff --log-format=xml a b
	assert_failure 2
}

@test "an unreachable database is an error (2), said in one line" {
	local port
	port=$(free_port)
	run --separate-stderr slate-diff --connect-timeout 2 --log-format=text \
		"$SRC" "host=127.0.0.1 port=$port dbname=x user=postgres"
	assert_failure 2
	assert_output ""
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "could not connect to B"
}

@test "a database without the events table is an error (2)" {
	run --separate-stderr slate-diff --log-format=json "$SRC" "$(cluster_conninfo pg notable)"
	assert_failure 2
	assert_regex "$stderr" '"level":50'
	assert_regex "$stderr" 'events.*does not exist'
}

@test "equal tables: summary and \"equal\", exit 0" {
	run --separate-stderr slate-diff "$SRC" "$(cluster_conninfo pg dst)"
	assert_success
	assert_line "rows: A 5000, B 5000"
	assert_line "ids: A 1-5000, B 1-5000"
	assert_line "holes: A none"
	assert_line "holes: B none"
	assert_line "first event: same (id 1)"
	assert_equal "${lines[-1]}" "equal"
}

@test "tampered rows are listed by id, exit 1" {
	local b
	b=$(copy_dst tampered)
	psql_c pg tampered "UPDATE events SET ts = ts + interval '1 microsecond' WHERE id = 17;
		UPDATE events SET event = jsonb_set(event, '{value,n}', '99') WHERE id IN (1500, 4999);
		UPDATE events SET event = event || '{\"x\": 1}', ts = ts - interval '1 hour' WHERE id = 3000;
		UPDATE events SET event = jsonb_set(event, '{pad}', to_jsonb(upper(event->>'pad'))) WHERE id = 1"
	run --separate-stderr slate-diff "$SRC" "$b"
	assert_failure 1
	assert_line "first event: differs (id 1)"
	assert_line "id 1: event differs"
	assert_line "id 17: ts differs"
	assert_line "id 1500: event differs"
	assert_line "id 3000: ts and event differ"
	assert_line "id 4999: event differs"
	assert_equal "${lines[-1]}" "5 differences"
	# the same the other way round
	run --separate-stderr slate-diff "$b" "$SRC"
	assert_failure 1
	assert_equal "${lines[-1]}" "5 differences"
}

@test "a numeric's scale and nesting count as differences (no jsonb_hash collisions)" {
	local b
	b=$(copy_dst subtle)
	psql_c pg subtle "UPDATE events SET event = event || '{\"n\": 1.00}' WHERE id = 10;
		UPDATE events SET event = event || '{\"a\": [[1,2]]}' WHERE id = 11"
	psql_c pg postgres "CREATE DATABASE subtle2 TEMPLATE dst"
	psql_c pg subtle2 "UPDATE events SET event = event || '{\"n\": 1.0}' WHERE id = 10;
		UPDATE events SET event = event || '{\"a\": [[1],2]}' WHERE id = 11"
	run --separate-stderr slate-diff "$b" "$(cluster_conninfo pg subtle2)"
	assert_failure 1
	assert_line "id 10: event differs"
	assert_line "id 11: event differs"
	assert_equal "${lines[-1]}" "2 differences"
}

@test "--max-diffs stops after N differing ids" {
	local b
	b=$(copy_dst many)
	psql_c pg many "UPDATE events SET ts = ts + interval '1 second' WHERE id % 100 = 0"
	run --separate-stderr slate-diff --max-diffs 3 "$SRC" "$b"
	assert_failure 1
	assert_line "id 100: ts differs"
	assert_line "id 300: ts differs"
	refute_line "id 400: ts differs"
	assert_equal "${lines[-1]}" "3 differences (stopped by --max-diffs; there may be more)"
	run --separate-stderr slate-diff "$SRC" "$b"
	assert_failure 1
	assert_equal "${lines[-1]}" "50 differences"
}

@test "holes: counted, listed and reported as ids only in one side" {
	local b
	b=$(copy_dst holes)
	psql_c pg holes "DELETE FROM events WHERE id IN (300, 2047, 2048, 2049, 2050)"
	run --separate-stderr slate-diff "$SRC" "$b"
	assert_failure 1
	assert_line "rows: A 5000, B 4995"
	assert_line "holes: A none"
	assert_line "holes: B 5 missing ids: 300, 2047-2050"
	assert_line "id 300: only in A"
	assert_line "ids 2047-2050: only in A (4 ids)"
	assert_equal "${lines[-1]}" "5 differences"
}

@test "tables of different lengths: the extra ids in one line, all counted" {
	local b
	b=$(copy_dst short)
	psql_c pg short "DELETE FROM events WHERE id > 1200"
	run --separate-stderr slate-diff "$SRC" "$b"
	assert_failure 1
	assert_line "rows: A 5000, B 1200"
	assert_line "ids: A 1-5000, B 1-1200"
	assert_line "ids 1201-5000: only in A (3800 ids)"
	assert_equal "${#lines[@]}" 9
	assert_equal "${lines[-1]}" "3800 differences"
	# far apart ids on the other side
	psql_c pg short "INSERT INTO events SELECT id + 10000000, ts, event FROM events WHERE id <= 3"
	run --separate-stderr slate-diff "$SRC" "$b"
	assert_failure 1
	assert_line "ids 10000001-10000003: only in B (3 ids)"
	assert_equal "${lines[-1]}" "3803 differences"
}

@test "empty tables" {
	run --separate-stderr slate-diff "$(cluster_conninfo pg empty1)" "$(cluster_conninfo pg empty2)"
	assert_success
	assert_line "rows: A 0, B 0"
	assert_line "ids: A none, B none"
	assert_line "first event: both tables empty"
	assert_equal "${lines[-1]}" "equal"
	run --separate-stderr slate-diff "$(cluster_conninfo pg empty1)" "$SRC"
	assert_failure 1
	assert_line "first event: only in B"
	assert_line "ids 1-5000: only in B (5000 ids)"
	assert_equal "${lines[-1]}" "5000 differences"
}

@test "--validate: a good table is valid, alone or with a diff" {
	run --separate-stderr slate-diff --validate "$SRC"
	assert_success
	assert_output "validate A: ok
valid"
	run --separate-stderr slate-diff --validate "$SRC" "$(cluster_conninfo pg dst)"
	assert_success
	assert_line "validate A: ok"
	assert_line "validate B: ok"
	assert_equal "${lines[-1]}" "equal"
	run --separate-stderr slate-diff --validate "$(cluster_conninfo pg empty1)"
	assert_success
}

@test "--validate: broken groups, holes, ts order and missing stats are reported by id" {
	local b
	b=$(copy_dst damaged)
	# ids 6-9 are group 3 (4 events); id 7 now claims another group
	psql_c pg damaged "UPDATE events SET event = jsonb_set(event, '{testingStats,dbOperationId}', '\"other\"') WHERE id = 7;
		DELETE FROM events WHERE id = 100;
		UPDATE events SET ts = ts - interval '1 hour' WHERE id = 2000;
		UPDATE events SET event = event - 'testingStats' WHERE id = 4000"
	run --separate-stderr slate-diff --validate "$b"
	assert_failure 1
	assert_line "validate A: id 6: group loadgen-1-3 is incomplete: it ends at event 1 of 4"
	assert_line "validate A: id 7: event 2 of 4 in group other does not follow event 1 of the group"
	assert_line "validate A: id 8: event 3 of 4 in group loadgen-1-3 does not follow event 2 of the group"
	assert_line "validate A: id 101: ids jump from 99 to 101 (1 missing)"
	assert_line --regexp "^validate A: id 2000: ts 2023-12-31 23:00:.* is before the ts .* of id 1999 of the same program$"
	assert_line --regexp "^validate A: id 4000: no testingStats"
	assert_line "validate A: 6 problems"
	assert_equal "${lines[-1]}" "6 problems"
	# first id must be 1
	psql_c pg damaged "DELETE FROM events WHERE id = 1"
	run --separate-stderr slate-diff --validate --max-diffs 1 "$b" "$SRC"
	assert_failure 1
	assert_line "validate A: id 2: the first id is 2, not 1"
	assert_line "validate A: more than 1 problems, first 1 shown"
	assert_line "validate B: ok"
}
