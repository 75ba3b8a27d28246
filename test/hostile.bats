#!/usr/bin/env bats
# Hostile streams into slate-load and slate-extract --follow: each gets one
# clear error naming the byte offset, exit status 3, and the destination keeps
# exactly the whole transactions before the damage.

bats_require_minimum_version 1.5.0
load test_helper
load mp

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 60 # transactions of 15 events
	SRC=$(cluster_conninfo pg src)
	export SRC
	# a good start: the header and events 1..30 (two transactions), then a
	# boundary; what follows it is the damage.  The 26 bytes cut off are the
	# end marker {type: end, last_id: 30, count: 30}.
	"$SLATE_ROOT/bin/slate-extract" --until 30 "$SRC" 2>/dev/null >"$BATS_FILE_TMPDIR/30.mp"
	head -c -26 "$BATS_FILE_TMPDIR/30.mp" >"$BATS_FILE_TMPDIR/good.mp"
	mp_boundary 30 >>"$BATS_FILE_TMPDIR/good.mp"
}

teardown_file() {
	clusters_stop_all
}

# load_damaged NAME WANT MP_COMMAND...: the good start and then what
# MP_COMMAND writes, into a fresh destination NAME: exit 3, one error line
# containing WANT and the byte offset, and exactly events 1..30 written
load_damaged() {
	local name=$1 want=$2 dst
	shift 2
	db_create pg "$name" destination >/dev/null
	dst=$(cluster_conninfo pg "$name")
	{ cat "$BATS_FILE_TMPDIR/good.mp"; "$@"; } >"$BATS_TEST_TMPDIR/$name.mp"
	run --separate-stderr slate-load --log-format=text "$dst" <"$BATS_TEST_TMPDIR/$name.mp"
	[[ $status -eq 3 ]] || fail "$name: exit $status, not 3: $stderr"
	[[ $(grep -c ERROR <<<"$stderr") -eq 1 ]] || fail "$name: not one error line: $stderr"
	[[ $stderr == *"byte offset "*"$want"*"last good id"* ]] || fail "$name: no \"$want\": $stderr"
	[[ $stderr != *Sanitizer* && $stderr != *"runtime error"* ]] || fail "$name: $stderr"
	assert_equal "$(psql_c pg "$name" "SELECT count(*), max(id) FROM events")" "30|30"
	assert_boundary_prefix pg src pg "$name"
}

@test "the good start alone loads 30 events and is only cut" {
	load_damaged nothing "ends without an end marker" true
}

@test "wrong types: a string id, a number for ts, a number for event" {
	load_damaged strid '"id" is not an integer' eval \
		'mp_hex 84; mp_str type; mp_str event; mp_str id; mp_str 31;
		mp_str ts; mp_ts 1700000000 0; mp_str event; mp_str "{}"'
	load_damaged numts '"ts" is not a msgpack timestamp' eval \
		'mp_hex 84; mp_str type; mp_str event; mp_str id; mp_uint 31;
		mp_str ts; mp_uint 5; mp_str event; mp_str "{}"'
	load_damaged numevent '"event"' eval \
		'mp_hex 84; mp_str type; mp_str event; mp_str id; mp_uint 31;
		mp_str ts; mp_ts 1700000000 0; mp_str event; mp_uint 7'
}

@test "unknown message types and members, a message that is not a map" {
	load_damaged unknowntype "unknown message type" eval 'mp_hex 81; mp_str type; mp_str party'
	load_damaged unknownmember "unexpected member" eval \
		'mp_hex 83; mp_str type; mp_str boundary; mp_str last_id; mp_uint 30; mp_str x; mp_uint 1'
	load_damaged notamap "not a map" mp_str hello
	load_damaged badbyte "malformed" mp_hex c1
}

@test "huge lengths: a map of 2^32-1 members, a string of 4 GB, an id of 2^64-1" {
	load_damaged hugemap "too many members" mp_hex df ff ff ff ff
	load_damaged hugestr "cut" mp_hex db ff ff ff ff 41 41 41
	load_damaged hugeid '"id" is not an integer' eval \
		'mp_hex 84; mp_str type; mp_str event; mp_str id; mp_hex cf ff ff ff ff ff ff ff ff;
		mp_str ts; mp_ts 1700000000 0; mp_str event; mp_str "{}"'
}

@test "nesting bombs: arrays in arrays, maps in maps" {
	load_damaged arrays "array, not a map" mp_repeat 100000 91
	load_damaged maps "nested too deeply" eval \
		'mp_hex 82; mp_str type; mp_str event; mp_str x; mp_repeat 10000 81 a1 61'
}

@test "ids out of order and duplicated" {
	load_damaged skip "event id 32 follows id 30" mp_event 32 1700000000 0 '{}'
	load_damaged again "event id 30 follows id 30" mp_event 30 1700000000 0 '{}'
	load_damaged twice "event id 31 follows id 31" eval \
		'mp_event 31 1700000000 0 "{}"; mp_event 31 1700000000 0 "{}"'
	load_damaged back "event id 29 follows id 30" mp_event 29 1700000000 0 '{}'
}

@test "timestamps out of range or finer than microseconds" {
	load_damaged future "within PostgreSQL's range" mp_event 31 9999999999999 0 '{}'
	load_damaged past "within PostgreSQL's range" mp_event 31 -300000000000 0 '{}'
	load_damaged nanos "whole microseconds" mp_event 31 1700000000 1 '{}'
}

@test "markers that lie: an end with the wrong count or last id, a boundary ahead" {
	load_damaged endcount "end marker says count 99 but the stream held 31 events" eval 'mp_event 31 1700000000 0 "{}"; mp_end 31 99'
	load_damaged endlast "end marker says last_id 35 but the stream is at id 31" eval 'mp_event 31 1700000000 0 "{}"; mp_end 35 31'
	load_damaged boundahead "boundary marker says last_id 40 but the stream is at id 30" mp_boundary 40
}

@test "an event the destination refuses is named; nothing of its batch is written" {
	db_create pg notjson destination >/dev/null
	{
		cat "$BATS_FILE_TMPDIR/good.mp"
		mp_event 31 1700000000 0 'not json'
		mp_end 31 31
	} >"$BATS_TEST_TMPDIR/notjson.mp"
	run --separate-stderr slate-load --log-format=text "$(cluster_conninfo pg notjson)" \
		<"$BATS_TEST_TMPDIR/notjson.mp"
	assert_failure 3
	[[ $(grep -c ERROR <<<"$stderr") -eq 1 ]] || fail "not one error line: $stderr"
	[[ $stderr == *"event 31 refused by the destination: invalid input syntax for type json"* ]] ||
		fail "$stderr"
	# events 1..31 were one COPY: all of it rolled back, the table is still a prefix
	assert_equal "$(psql_c pg notjson "SELECT count(*) FROM events")" 0
}

@test "a live batch the destination refuses is named like a COPY's; the transactions before it stay" {
	db_create pg notjsonlive destination >/dev/null
	# pauses make slate-load idle at each boundary: its live INSERT path
	run --separate-stderr bash -c '{ cat "$1"; sleep 0.5; source "$2"; mp_event 31 1700000000 0 "not json"
		mp_boundary 31; sleep 0.5; mp_end 31 31; } | slate-load -v --log-format=text "$3"' - \
		"$BATS_FILE_TMPDIR/good.mp" "$BATS_TEST_DIRNAME/mp.bash" "$(cluster_conninfo pg notjsonlive)"
	assert_failure 3
	[[ $stderr == *"the live INSERT was refused"* ]] || fail "the live path was not taken: $stderr"
	[[ $(grep -c ERROR <<<"$stderr") -eq 1 ]] || fail "not one error line: $stderr"
	[[ $stderr == *"event 31 refused by the destination: invalid input syntax for type json"* ]] ||
		fail "$stderr"
	# the two whole transactions before it are committed; nothing of event 31
	assert_equal "$(psql_c pg notjsonlive "SELECT count(*), max(id) FROM events")" "30|30"
}

# live_stream: the good start, then events 31..34 as four one-event
# transactions, each after a pause, so slate-load is idle at every boundary
# and each goes by its live path when it can
live_stream() {
	cat "$BATS_FILE_TMPDIR/good.mp"
	for id in 31 32 33 34; do
		sleep 0.3
		mp_event $id $((1700000000 + id)) 0 "{\"n\": $id}"
		mp_boundary $id
	done
	mp_end 34 34
}

# load_live NAME: live_stream into the destination NAME, slate-load -v
load_live() {
	run --separate-stderr slate-load -v --log-format=text "$(cluster_conninfo pg "$1")" < <(live_stream)
}

@test "the live INSERT writes what a COPY writes: an identity id, rules, a refusing trigger" {
	db_create pg plain destination >/dev/null
	load_live plain
	assert_success
	[[ $(grep -c "(INSERT)" <<<"$stderr") -eq 4 ]] || fail "not four live INSERTs: $stderr"
	want=$(events_md5 pg plain)
	assert_equal "$(psql_c pg plain "SELECT count(*), max(id) FROM events")" "34|34"

	# COPY writes an identity column's values as given; so does the INSERT
	db_create pg identity destination >/dev/null
	psql_c pg identity "ALTER TABLE events ALTER id ADD GENERATED ALWAYS AS IDENTITY" >/dev/null
	load_live identity
	assert_success
	[[ $(grep -c "(INSERT)" <<<"$stderr") -eq 4 ]] || fail "identity: not four live INSERTs: $stderr"
	assert_equal "$(events_md5 pg identity)" "$want"

	# COPY ignores rules, an INSERT obeys them: DO INSTEAD NOTHING would drop events
	db_create pg rules destination >/dev/null
	psql_c pg rules "CREATE RULE drop_all AS ON INSERT TO events DO INSTEAD NOTHING" >/dev/null
	load_live rules
	assert_success
	[[ $stderr == *"events table has rules"*"every batch is a COPY"* ]] || fail "rules: $stderr"
	[[ $stderr != *"(INSERT)"* ]] || fail "rules: a live INSERT: $stderr"
	assert_equal "$(events_md5 pg rules)" "$want"

	# a trigger that refuses the INSERT and takes the COPY: one refusal, then COPY
	db_create pg refuses destination >/dev/null
	psql_c pg refuses "CREATE FUNCTION no_insert() RETURNS trigger LANGUAGE plpgsql AS
		\$\$BEGIN IF current_query() LIKE 'INSERT%' THEN RAISE 'no INSERT here'; END IF;
		RETURN NEW; END\$\$;
		CREATE TRIGGER no_insert BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION no_insert()" >/dev/null
	load_live refuses
	assert_success
	[[ $(grep -c "the live INSERT was refused" <<<"$stderr") -eq 1 ]] || fail "refuses: $stderr"
	[[ $stderr == *"no INSERT here"* && $stderr != *"(INSERT)"* ]] || fail "refuses: $stderr"
	assert_equal "$(events_md5 pg refuses)" "$want"
}

@test "a trigger that skips rows is named and stops slate-load, live or COPY" {
	for name in skiplive skipcopy; do
		db_create pg $name destination >/dev/null
		psql_c pg $name "CREATE FUNCTION skip_32() RETURNS trigger LANGUAGE plpgsql AS
			\$\$BEGIN IF NEW.id = 32 THEN RETURN NULL; END IF; RETURN NEW; END\$\$;
			CREATE TRIGGER skip_32 BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION skip_32()" >/dev/null
	done
	load_live skiplive
	assert_failure 4
	[[ $(grep -c ERROR <<<"$stderr") -eq 1 ]] || fail "not one error line: $stderr"
	[[ $stderr == *"the destination wrote 0 of the 1 events of its INSERT through id 32"* ]] || fail "$stderr"
	assert_equal "$(psql_c pg skiplive "SELECT count(*), max(id) FROM events")" "31|31"

	live_stream >"$BATS_TEST_TMPDIR/skip.mp"
	run --separate-stderr slate-load --log-format=text "$(cluster_conninfo pg skipcopy)" <"$BATS_TEST_TMPDIR/skip.mp"
	assert_failure 4
	[[ $stderr == *"the destination wrote 33 of the 34 events of its COPY through id 34"* ]] || fail "$stderr"
}

# follow_to FILE: slate-extract --follow of the source into FILE
follow_to() {
	slate-extract --follow --log-format=text "$SRC" >"$1"
}

# follow_damaged WANT MP_COMMAND...: slate-extract --follow reading a wake and
# then what MP_COMMAND writes: exit 3 with one error line containing WANT
# after the events of the first wake
follow_damaged() {
	local want=$1
	shift
	{ mp_wake; "$@"; } >"$BATS_TEST_TMPDIR/wakes.mp"
	run --separate-stderr follow_to "$BATS_TEST_TMPDIR/out.mp" <"$BATS_TEST_TMPDIR/wakes.mp"
	[[ $status -eq 3 ]] || fail "exit $status, not 3: $stderr"
	[[ $(grep -c ERROR <<<"$stderr") -eq 1 ]] || fail "not one error line: $stderr"
	[[ $stderr == *"stdin: byte offset 11: "*"$want"* ]] || fail "no \"$want\": $stderr"
}

@test "--follow: hostile input instead of wakes is one error, exit 3" {
	follow_damaged "expected a wake message, got event" mp_event 1 1700000000 0 '{}'
	follow_damaged "too many members" mp_hex df ff ff ff ff
	follow_damaged "array, not a map" mp_repeat 1000 91
	follow_damaged "not a map" printf 'hello'
	follow_damaged "unexpected member" eval 'mp_hex 82; mp_str type; mp_str wake; mp_str x; mp_str y'
	follow_damaged "cut" mp_hex 81 a4 74 79
}

@test "--follow: the events extracted before the damage are whole and end on a boundary" {
	{ mp_wake; printf 'hello'; } >"$BATS_TEST_TMPDIR/wakes.mp"
	run --separate-stderr follow_to "$BATS_TEST_TMPDIR/out.mp" <"$BATS_TEST_TMPDIR/wakes.mp"
	assert_failure 3
	[[ $stderr == *"stdin: byte offset 11: "*"not a map"* ]] || fail "$stderr"
	db_create pg followed destination >/dev/null
	run --separate-stderr slate-load --log-format=text "$(cluster_conninfo pg followed)" \
		<"$BATS_TEST_TMPDIR/out.mp"
	# no end marker (the extract failed), but the boundary after the round keeps all 60
	assert_failure 3
	assert_equal "$(events_md5 pg followed)" "$(events_md5 pg src)"
}

@test "the fuzzers' seeds and findings: exit 0, 3 or a filtered stream's 4, one error at most, never a crash" {
	local f name
	local seeds=0
	for f in "$SLATE_ROOT"/fuzz/corpus/stream/*; do
		[[ -f $f ]] || continue
		seeds=$((seeds + 1))
		name=fz$seeds
		db_create pg "$name" destination >/dev/null
		run --separate-stderr slate-load --log-format=text "$(cluster_conninfo pg "$name")" <"$f"
		# a content selection is refused as a whole (exit 4), as README says
		[[ $status -eq 0 || $status -eq 3 || ($status -eq 4 && $stderr == *"is a filtered extract"*) ]] ||
			fail "$f: exit $status: $stderr"
		(($(grep -c ERROR <<<"$stderr") <= 1)) || fail "$f: more than one error: $stderr"
		[[ $stderr != *Sanitizer* && $stderr != *"runtime error"* ]] || fail "$f: $stderr"
	done
	((seeds > 0)) || fail "no seeds in $SLATE_ROOT/fuzz/corpus/stream"
}
