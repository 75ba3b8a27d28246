#!/usr/bin/env bats
# slate-cat (JSON lines out and back, --info) and slate-extract's selections
# (--since, --entity-id...): output compared with the same SQL query's rows.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	# events over 8000 bytes need the id-only notification
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo pg src)" -f "$SLATE_ROOT/sql/notify-id-only.sql"
	insert_events pg src 1500
	# awkward texts: quotes, backslashes, unicode, emoji, a 20 kB event, "$1[7]"
	psql_c pg src "SELECT insert_events(format('(\$1[1], \$2, %L), (\$1[2], \$2, %L), (\$1[3], \$2, %L)',
		'{\"q\": \"it''s \\\"quoted\\\" \\\\ back\\\\slash\", \"t\": \"Zoë Łukasz Nguyễn 😀 \\u2028\"}',
		'{\"ctl\": \"\\u0001\\t\\n\", \"n\": 1.50, \"x\": [1, {\"b\": null}], \"s\": \"\$1[7]\"}',
		json_build_object('big', repeat('x', 20000), 'more', repeat('é', 500))))" >/dev/null
	insert_events pg src 300
	psql_c pg src "ANALYZE events"
	SRC=$(cluster_conninfo pg src)
	export SRC
	slate-extract "$SRC" >"$BATS_FILE_TMPDIR/all.mp" 2>/dev/null
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	exec 4>&-
	kill_background
}

# fresh_dest NAME: create an empty destination database, print its conninfo
fresh_dest() {
	db_create pg "$1" destination >/dev/null
	cluster_conninfo pg "$1"
}

# sql_lines WHERE: the JSON lines slate-cat should print for the source's
# rows matching WHERE, made by PostgreSQL itself
sql_lines() {
	psql_c pg src "SELECT format('{\"id\":%s,\"ts\":\"%s\",\"event\":%s}', id,
		to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), event::text)
		FROM events WHERE $1 ORDER BY id"
}

@test "--help, --version and bad options" {
	run slate-cat --help
	assert_success
	assert_output --partial "Usage:"
	assert_output --partial "--encode"
	run slate-cat --version
	assert_success
	assert_output --regexp "^slate-cat \(slate\) [0-9]+\.[0-9]+"
	run slate-cat --no-such-option
	assert_failure 2
	assert_output --partial 'Try "slate-cat --help" for more information.'
	run slate-cat --encode --info
	assert_failure 2
	run slate-cat --pass
	assert_failure 2
	assert_output --partial "--pass goes with --info"
	run slate-cat -e -n
	assert_failure 2
	run --separate-stderr slate-cat "$BATS_TEST_TMPDIR/missing.mp"
	assert_failure 2
	[[ $stderr == *"could not open"*"missing.mp"* ]]
	run slate-extract --since yesterday "$SRC"
	assert_failure 2
	assert_output --partial 'invalid value "yesterday" for --since'
	run slate-extract --since 2026-12-05 --before 2026-12-04 "$SRC"
	assert_failure 2
	assert_output --partial "--before must be later than --since"
	run slate-extract --follow --entity-id x "$SRC"
	assert_failure 2
	run --separate-stderr slate-extract --log-format=text --contains '{"a":' "$SRC"
	assert_failure 2
	[[ $stderr == *"invalid value for --contains"* ]]
	assert_equal "$output" ""
}

@test "JSON lines are exactly what PostgreSQL prints, and jq reads every line" {
	slate-cat "$BATS_FILE_TMPDIR/all.mp" >"$BATS_TEST_TMPDIR/out.jsonl"
	sql_lines true >"$BATS_TEST_TMPDIR/sql.jsonl"
	run cmp "$BATS_TEST_TMPDIR/out.jsonl" "$BATS_TEST_TMPDIR/sql.jsonl"
	assert_success
	# real jq on every line: as many objects, the same ids, the awkward texts intact
	run jq -c . "$BATS_TEST_TMPDIR/out.jsonl"
	assert_success
	assert_equal "$(printf '%s\n' "$output" | wc -l)" 1803
	assert_equal "$(jq -r .id "$BATS_TEST_TMPDIR/out.jsonl" | tail -1)" 1803
	run jq -r 'select(.event.q != null) | .event.q + "|" + .event.t' "$BATS_TEST_TMPDIR/out.jsonl"
	assert_output "it's \"quoted\" \\ back\\slash|Zoë Łukasz Nguyễn 😀 "$'\u2028'
	run jq -r 'select(.event.s != null) | .event.s' "$BATS_TEST_TMPDIR/out.jsonl"
	assert_output '$1[7]'
	run jq -r 'select(.event.big != null) | .event.big | length' "$BATS_TEST_TMPDIR/out.jsonl"
	assert_output 20000
	# ts to the microsecond, ISO 8601 with its offset
	run bash -c 'jq -r .ts "$1" | grep -cvE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}\+00:00$"' _ "$BATS_TEST_TMPDIR/out.jsonl"
	assert_output 0
}

@test "-e prints the event texts; -n numbers transactions; -b separates them" {
	run slate-cat -e "$BATS_FILE_TMPDIR/all.mp"
	assert_success
	assert_equal "$output" "$(psql_c pg src "SELECT event::text FROM events ORDER BY id")"
	# a transaction is a run of one ts: the source's count of them
	txns=$(psql_c pg src "SELECT count(DISTINCT ts) FROM events")
	run bash -c 'slate-cat -n "$1" | jq -r .txn | uniq | wc -l' _ "$BATS_FILE_TMPDIR/all.mp"
	assert_output "$txns"
	run bash -c 'slate-cat -n "$1" | jq -r .txn | tail -1' _ "$BATS_FILE_TMPDIR/all.mp"
	assert_output "$txns"
	# every event's txn groups exactly the events of one ts
	run bash -c 'slate-cat -n "$1" | jq -r "[.txn, .ts] | @tsv" | sort -u | cut -f1 | uniq -d' _ "$BATS_FILE_TMPDIR/all.mp"
	assert_output ""
	run bash -c 'slate-cat -b "$1" | grep -c "^$"' _ "$BATS_FILE_TMPDIR/all.mp"
	assert_output "$((txns - 1))"
	# -b output still goes through jq
	run bash -c 'slate-cat -b "$1" | jq -c . | wc -l' _ "$BATS_FILE_TMPDIR/all.mp"
	assert_output 1803
}

@test "--all lines round-trip byte for byte, concatenations included" {
	slate-cat -a "$BATS_FILE_TMPDIR/all.mp" >"$BATS_TEST_TMPDIR/all.jsonl"
	run jq -r .type "$BATS_TEST_TMPDIR/all.jsonl"
	assert_line --index 0 header
	assert_line --index 1 event
	assert_line --index 1804 end
	run slate-cat --encode "$BATS_TEST_TMPDIR/all.jsonl"
	run bash -c 'slate-cat --encode "$1" | cmp - "$2"' _ "$BATS_TEST_TMPDIR/all.jsonl" "$BATS_FILE_TMPDIR/all.mp"
	assert_success
	# two extracts in one file, through stdin, with -n and -b on the way
	slate-extract --until 600 "$SRC" >"$BATS_TEST_TMPDIR/a.mp"
	slate-extract --after 600 "$SRC" >"$BATS_TEST_TMPDIR/b.mp"
	cat "$BATS_TEST_TMPDIR/a.mp" "$BATS_TEST_TMPDIR/b.mp" >"$BATS_TEST_TMPDIR/ab.mp"
	run bash -c 'set -o pipefail; cat "$1" | slate-cat -a -n -b | slate-cat --encode | cmp - "$1"' _ "$BATS_TEST_TMPDIR/ab.mp"
	assert_success
	run bash -c 'slate-cat "$1" "$2" | cmp - <(slate-cat "$3")' _ "$BATS_TEST_TMPDIR/a.mp" "$BATS_TEST_TMPDIR/b.mp" "$BATS_FILE_TMPDIR/all.mp"
	assert_success
}

@test "events alone encode to a stream that loads into the same table" {
	dst=$(fresh_dest fromjson)
	run bash -c 'set -o pipefail; slate-cat "$1" | slate-cat --encode | slate-load "$2"' _ "$BATS_FILE_TMPDIR/all.mp" "$dst"
	assert_success
	assert_equal "$(events_md5 pg fromjson)" "$(events_md5 pg src)"
	# with -n: the txn numbers are checked against the ts, and kept as transactions
	dst=$(fresh_dest fromjson2)
	run bash -c 'set -o pipefail; slate-cat -n "$1" | slate-cat --encode | slate-load --max-events-per-write 10 "$2"' _ "$BATS_FILE_TMPDIR/all.mp" "$dst"
	assert_success
	assert_equal "$(events_md5 pg fromjson2)" "$(events_md5 pg src)"
	# and the encoded stream verifies
	run bash -c 'slate-cat "$1" | slate-cat --encode | slate-cat --info' _ "$BATS_FILE_TMPDIR/all.mp"
	assert_success
	assert_line --index 0 "stdin: complete, every checksum verified"
}

@test "a hand-written fixture loads; txn splits equal ts with a boundary" {
	cat >"$BATS_TEST_TMPDIR/fixture.jsonl" <<-'JSON'
		{"id":1,"ts":"2026-12-04T18:00:00Z","event":{"entityId": "e1", "operation": "create"}}
		{"id":2,"ts":"2026-12-04T18:00:00Z","event":{"entityId": "e1", "operation": "update"}}

		{"id":3,"ts":"2026-12-04 19:30:00.5+01:00","event":{"entityId": "e2", "note": "caf\u00e9 \ud83d\ude00"}}
	JSON
	dst=$(fresh_dest fixture)
	run bash -c 'set -o pipefail; slate-cat --encode "$1" | slate-load "$2"' _ "$BATS_TEST_TMPDIR/fixture.jsonl" "$dst"
	assert_success
	run psql_c pg fixture "SET timezone = 'UTC'; SELECT id, ts, event::text FROM events ORDER BY id"
	assert_line --index 0 '1|2026-12-04 18:00:00+00|{"entityId": "e1", "operation": "create"}'
	assert_line --index 2 '3|2026-12-04 18:30:00.5+00|{"note": "café 😀", "entityId": "e2"}'
	# "txn" makes two transactions of one ts: a boundary marker between them
	printf '%s\n' '{"id":1,"ts":"2026-12-04T18:00:00Z","txn":1,"event":1}' \
		'{"id":2,"ts":"2026-12-04T18:00:00Z","txn":2,"event":2}' >"$BATS_TEST_TMPDIR/txn.jsonl"
	run bash -c 'slate-cat --encode "$1" | slate-cat -a | jq -r .type' _ "$BATS_TEST_TMPDIR/txn.jsonl"
	assert_output "$(printf 'header\nevent\nboundary\nevent\nend')"
}

@test "bad JSON lines: line N, status 3, nothing after the last whole transaction" {
	# three transactions of two events; the fifth line is bad.  Whether the
	# second transaction was whole, only a good fifth line could have said
	for i in 1 2 3 4 5 6; do
		printf '{"id":%d,"ts":"2026-12-04T18:00:0%dZ","event":{"n": %d}}\n' $i $(((i + 1) / 2)) $i
	done >"$BATS_TEST_TMPDIR/good.jsonl"
	bad() { # bad LINE TEXT: good.jsonl with line LINE replaced
		awk -v n="$1" -v t="$2" 'NR == n { print t; next } { print }' "$BATS_TEST_TMPDIR/good.jsonl" >"$BATS_TEST_TMPDIR/bad.jsonl"
	}
	for case in '{"id":5,"ts":"2026-12-04T18:00:03Z","event":{"n": 5}' \
		'{"id":5,"ts":"2026-12-04T18:00:03Z","event":{"n": 5},"extra":1}' \
		'{"id":7,"ts":"2026-12-04T18:00:03Z","event":{"n": 5}}' \
		'{"id":5,"ts":"2026-12-04T18:00:03.1234567Z","event":{"n": 5}}' \
		'{"id":5,"ts":"2026-12-04T18:00:03Z","event":{"n": "\u0000"}}' \
		'{"id":5,"ts":"2026-12-04T18:00:03Z"}' \
		'not json'; do
		bad 5 "$case"
		run --separate-stderr bash -c 'slate-cat --log-format=text --encode "$1" >"$1.mp"' _ "$BATS_TEST_TMPDIR/bad.jsonl"
		assert_failure 3
		[[ $stderr == *"bad.jsonl: line 5: "* ]] || { echo "$case: $stderr"; false; }
		[[ $stderr == *"wrote whole transactions through id 2"* ]]
		# what was written: the first transaction, no end: slate-load keeps it, exit 3
		run --separate-stderr slate-cat -e "$BATS_TEST_TMPDIR/bad.jsonl.mp"
		assert_failure 3
		assert_output "$(printf '{"n": 1}\n{"n": 2}')"
	done
	dst=$(fresh_dest badjson)
	run bash -c 'slate-cat --encode "$1" 2>/dev/null | slate-load "$2"' _ "$BATS_TEST_TMPDIR/bad.jsonl" "$dst"
	assert_failure 3
	assert_equal "$(psql_c pg badjson "SELECT string_agg(id::text, ',' ORDER BY id) FROM events")" "1,2"
	# a transaction whose txn says one but whose ts says two
	printf '%s\n' '{"id":1,"ts":"2026-12-04T18:00:00Z","txn":1,"event":1}' \
		'{"id":2,"ts":"2026-12-04T18:00:01Z","txn":1,"event":2}' >"$BATS_TEST_TMPDIR/txn.jsonl"
	run --separate-stderr bash -c 'slate-cat --log-format=text --encode "$1" >/dev/null' _ "$BATS_TEST_TMPDIR/txn.jsonl"
	assert_failure 3
	[[ $stderr == *"line 2: "*"transaction 1"*"ts differs"* ]]
	# events alone must start at id 1; --all lines that stop before the end are a cut stream
	run --separate-stderr bash -c 'sed 1d "$1" | slate-cat --log-format=text --encode' _ "$BATS_TEST_TMPDIR/good.jsonl"
	assert_failure 3
	[[ $stderr == *"stdin: line 1: the first event has id 2"* ]]
	run --separate-stderr bash -c 'slate-cat -a "$1" | head -100 | slate-cat --log-format=text --encode >/dev/null' _ "$BATS_FILE_TMPDIR/all.mp"
	assert_failure 3
	[[ $stderr == *"line 100: the input ends without an end line"* ]]
	run --separate-stderr slate-cat --encode </dev/null
	assert_failure 3
	# hostile: nesting too deep for a recursive parser is refused, not a crash
	run --separate-stderr bash -c 'printf "{\"id\":1,\"ts\":\"2026-12-04T18:00:00Z\",\"event\":%s1%s}\n" \
		"$(printf "[%.0s" {1..100000})" "$(printf "]%.0s" {1..100000})" | slate-cat --log-format=text --encode'
	assert_failure 3
	[[ $stderr == *"line 1: \"event\": nested too deeply"* ]]
}

@test "a live stream is printed as it comes, not when the input ends" {
	mkfifo "$BATS_TEST_TMPDIR/wake"
	slate-extract --follow "$SRC" <"$BATS_TEST_TMPDIR/wake" 2>/dev/null 3>&- |
		slate-cat >"$BATS_TEST_TMPDIR/live.jsonl" 3>&- &
	pid=$!
	bg_track "$pid"
	exec 4>"$BATS_TEST_TMPDIR/wake"
	# the extract waits for a wake message with its stdin open: the lines must be out already
	for ((i = 0; i < 600; i++)); do
		[ "$(wc -l <"$BATS_TEST_TMPDIR/live.jsonl")" -ge 1803 ] && break
		sleep 0.05
	done
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/live.jsonl")" 1803
	running "$pid"
	exec 4>&-
	wait_exit "$pid" 10
	assert_equal "$STATUS" 0
}

@test "--info: summary of a complete stream, exit 0" {
	run slate-cat --info "$BATS_FILE_TMPDIR/all.mp"
	assert_success
	assert_line --index 0 "$BATS_FILE_TMPDIR/all.mp: complete, every checksum verified"
	assert_line --partial "producer  slate-extract "
	assert_line --partial "source    host="
	txns=$(psql_c pg src "SELECT count(DISTINCT ts) FROM events")
	assert_line "  events    1803 in $txns transactions, 1803 with a verified checksum"
	assert_line "  ids       1..1803 (after 0, source max 1803)"
	first=$(sql_lines "id = 1" | jq -r .ts)
	last=$(sql_lines "id = 1803" | jq -r .ts)
	assert_line "  ts        $first .. $last"
	# two streams in one input: a block each
	run bash -c 'cat "$1" "$1" | slate-cat --info' _ "$BATS_FILE_TMPDIR/all.mp"
	assert_success
	assert_line "stdin: complete, every checksum verified"
	assert_line "stdin (stream 2): complete, every checksum verified"
}

@test "--info finds a cut file and a flipped byte, naming the event" {
	size=$(stat -c %s "$BATS_FILE_TMPDIR/all.mp")
	head -c $((size / 2)) "$BATS_FILE_TMPDIR/all.mp" >"$BATS_TEST_TMPDIR/cut.mp"
	last=$(slate-cat "$BATS_TEST_TMPDIR/cut.mp" 2>/dev/null | tail -1 | jq .id)
	run slate-cat --info "$BATS_TEST_TMPDIR/cut.mp"
	assert_failure 3
	assert_line --index 0 --regexp "cut.mp: DAMAGED after id $last: .*byte offset [0-9]+: input ends inside a message"
	# cut exactly after a message: no end marker
	head -c $((size - 3)) "$BATS_FILE_TMPDIR/all.mp" >"$BATS_TEST_TMPDIR/noend.mp"
	run slate-cat --info "$BATS_TEST_TMPDIR/noend.mp"
	assert_failure 3
	assert_line --index 0 --partial "noend.mp: "
	# the end marker (3 bytes+) cut: either the message is cut, or it is missing
	printf '' >"$BATS_TEST_TMPDIR/empty.mp"
	run slate-cat --info "$BATS_TEST_TMPDIR/empty.mp"
	assert_failure 3
	assert_line --index 0 --partial "NO STREAM"
	# a flipped letter in event 700's text: still JSON, caught by the checksum
	cp "$BATS_FILE_TMPDIR/all.mp" "$BATS_TEST_TMPDIR/flip.mp"
	offset=$(grep -abo 'Name700"' "$BATS_TEST_TMPDIR/flip.mp" | head -1 | cut -d: -f1)
	printf 'X' | dd of="$BATS_TEST_TMPDIR/flip.mp" bs=1 seek="$offset" conv=notrunc status=none
	run slate-cat --info "$BATS_TEST_TMPDIR/flip.mp" "$BATS_FILE_TMPDIR/all.mp"
	assert_failure 3
	assert_line --index 0 --regexp "flip.mp: DAMAGED after id 699: .*byte offset [0-9]+: event id 700: checksum mismatch"
	# the next file still gets its verdict
	assert_line "$BATS_FILE_TMPDIR/all.mp: complete, every checksum verified"
	# printing stops there too
	run --separate-stderr slate-cat "$BATS_TEST_TMPDIR/flip.mp"
	assert_failure 3
	assert_equal "$(printf '%s\n' "$output" | tail -1 | jq .id)" 699
}

@test "--info --pass passes the stream on unchanged, the summary on stderr" {
	run bash -c 'slate-cat --info --pass <"$1" 2>"$2" | cmp - "$1"' _ "$BATS_FILE_TMPDIR/all.mp" "$BATS_TEST_TMPDIR/err"
	assert_success
	run cat "$BATS_TEST_TMPDIR/err"
	assert_line --index 0 "stdin: complete, every checksum verified"
	dst=$(fresh_dest passed)
	run bash -c 'set -o pipefail; slate-extract "$1" | slate-cat --info --pass 2>/dev/null | slate-load "$2"' _ "$SRC" "$dst"
	assert_success
	assert_equal "$(events_md5 pg passed)" "$(events_md5 pg src)"
	# damaged input is passed on as it is, for the next stage to judge, and the status says so
	size=$(stat -c %s "$BATS_FILE_TMPDIR/all.mp")
	head -c $((size / 2)) "$BATS_FILE_TMPDIR/all.mp" >"$BATS_TEST_TMPDIR/cut.mp"
	run bash -c 'slate-cat --info --pass <"$1" 2>/dev/null | cmp - "$1"; echo "${PIPESTATUS[0]}"' _ "$BATS_TEST_TMPDIR/cut.mp"
	assert_output 3
}

@test "time and entity extracts equal the same SQL query's rows" {
	since=$(sql_lines "id = 400" | jq -r .ts)
	before=$(sql_lines "id = 1200" | jq -r .ts)
	eid=$(psql_c pg src "SELECT event #>> '{entityId}' FROM events WHERE id = 100")
	check() { # check WHERE OPTION...: the extract with OPTIONS prints the rows of WHERE
		local where=$1
		shift
		run --separate-stderr bash -c 'set -o pipefail; slate-extract "$@" "$SRC" | slate-cat' _ "$@"
		assert_success
		assert_equal "$output" "$(sql_lines "$where")"
		[ -n "$output" ]
	}
	check "ts >= '$since'" --since "$since"
	check "ts < '$before'" --before "$before"
	check "ts >= '$since' AND ts < '$before'" --since "$since" --before "$before"
	check "event #>> '{entityId}' = '$eid'" --entity-id "$eid"
	check "event #>> '{entityName}' = 'filler' AND event #>> '{operation}' = 'deleted'" \
		--entity-name filler --operation deleted
	check "event #>> '{propertyName}' = 'phone' AND id > 500 AND id <= 1005" \
		--property-name phone --after 500 --until 1000
	check "event @> '{\"metadata\": {\"command\": \"Fill\"}}' AND ts >= '$since'" \
		--contains '{"metadata": {"command": "Fill"}}' --since "$since"
	# quotes in a value are data, not SQL
	run bash -c 'slate-extract --entity-name "x'"'"' OR true --" "$SRC" 2>/dev/null | slate-cat'
	assert_success
	assert_output ""
	# a time range is an ordinary slice of the source: whole transactions, loadable in turn
	first=$(psql_c pg src "SELECT min(id) FROM events WHERE ts >= '$since'")
	run bash -c 'slate-extract --since "$1" "$SRC" 2>/dev/null | slate-cat --info' _ "$since"
	assert_success
	assert_line "  ids       $first..1803 (after $((first - 1)), source max 1803)"
	refute_output --partial "filter"
	dst=$(fresh_dest bytime)
	run bash -c 'set -o pipefail; slate-extract --before "$1" "$SRC" | slate-load "$2" &&
		slate-extract --since "$1" "$SRC" | slate-load "$2"' _ "$since" "$dst"
	assert_success
	assert_equal "$(events_md5 pg bytime)" "$(events_md5 pg src)"
	# nothing in range: an empty stream
	run bash -c 'slate-extract --since 2999-01-01 "$SRC" 2>/dev/null | slate-cat --info' _
	assert_success
	assert_line "  events    0 in 0 transactions, 0 with a verified checksum"
}

@test "selections use the schema's indexes" {
	plan() { # plan OPTION...: EXPLAIN of the query the extract runs
		local sql
		sql=$(slate-extract -v --log-format=json "$@" "$SRC" 2>&1 >/dev/null |
			jq -r 'select(.msg | startswith("COPY (")) | .msg' |
			sed -e 's/^COPY (//' -e 's/) TO STDOUT (FORMAT binary)$//')
		[ -n "$sql" ]
		psql_c pg src "EXPLAIN $sql"
	}
	eid=$(psql_c pg src "SELECT event #>> '{entityId}' FROM events WHERE id = 100")
	run plan --entity-id "$eid"
	assert_output --partial "events_entity_id_idx"
	run plan --entity-name nobody
	assert_output --partial "events_entity_name_idx"
	run plan --operation nothing
	assert_output --partial "events_operation_idx"
	run plan --property-name none
	assert_output --partial "events_property_name_idx"
	# --since/--before find their ids through the ts index
	since=$(sql_lines "id = 1790" | jq -r .ts)
	sql=$(slate-extract -v --log-format=json --since "$since" "$SRC" 2>&1 >/dev/null |
		jq -r 'select(.msg | startswith("SELECT (SELECT min(id)")) | .msg')
	[ -n "$sql" ]
	run psql_c pg src "EXPLAIN $sql"
	assert_output --partial "events_ts_idx"
}

@test "a filtered stream is refused by slate-load, the destination untouched" {
	dst=$(fresh_dest filtered)
	slate-extract --until 100 "$SRC" | slate-load "$dst"
	before=$(events_md5 pg filtered)
	slate-extract --after 100 --operation created "$SRC" >"$BATS_TEST_TMPDIR/f.mp"
	run --separate-stderr slate-load --log-format=text "$dst" <"$BATS_TEST_TMPDIR/f.mp"
	assert_failure 4
	[[ $stderr == *"filtered extract"*"(event #>> '{operation}') = 'created'"*"cannot be loaded"* ]]
	assert_equal "$(events_md5 pg filtered)" "$before"
	# also behind a replica's stream in one input, and into an empty destination
	dst2=$(fresh_dest filtered2)
	run --separate-stderr bash -c 'cat "$1" | slate-load "$2"' _ "$BATS_TEST_TMPDIR/f.mp" "$dst2"
	assert_failure 4
	assert_equal "$(psql_c pg filtered2 "SELECT count(*) FROM events")" 0
	# slate-cat reads it: ids rise, not by 1, and --info says what it is
	run slate-cat --info "$BATS_TEST_TMPDIR/f.mp"
	assert_success
	assert_line --partial "filter    (event #>> '{operation}') = 'created' (not a prefix of the source"
	# its JSON lines keep the filter, and round-trip
	run bash -c 'slate-cat -a "$1" | slate-cat --encode | cmp - "$1"' _ "$BATS_TEST_TMPDIR/f.mp"
	assert_success
}

# README "Shell scripting": each example, with ssh left out
@test "README: a day's events to zstd, checked and loaded elsewhere" {
	day=$(sql_lines "id = 1" | jq -r '.ts[0:10]')
	next=$(date -u -d "$day + 1 day" +%F)
	slate-extract --since "$day" --before "$next" "$SRC" | zstd -q >"$BATS_TEST_TMPDIR/day.mp.zst"
	dst=$(fresh_dest elsewhere)
	run bash -c 'zstd -dc "$1" | slate-cat --info && zstd -dc "$1" | slate-load "$2"' _ "$BATS_TEST_TMPDIR/day.mp.zst" "$dst"
	assert_success
	assert_equal "$(events_md5 pg elsewhere)" \
		"$(psql_c pg src "CREATE TEMP TABLE e AS SELECT * FROM events WHERE ts >= '$day' AND ts < '$next';
			SET timezone = 'UTC'; SET DateStyle = 'ISO, YMD';
			SELECT md5(coalesce(string_agg(id || '|' || ts || '|' || event::text, E'\n' ORDER BY id), '')) FROM e")"
	# in one pass
	slate-extract "$SRC" | zstd -q >"$BATS_TEST_TMPDIR/backup.mp.zst"
	dst=$(fresh_dest elsewhere2)
	run bash -c 'set -o pipefail; zstd -dc "$1" | slate-cat --info --pass | slate-load "$2"' _ "$BATS_TEST_TMPDIR/backup.mp.zst" "$dst"
	assert_success
	assert_equal "$(events_md5 pg elsewhere2)" "$(events_md5 pg src)"
	# a damaged file is refused before anything is loaded
	zstd -dc "$BATS_TEST_TMPDIR/day.mp.zst" | head -c 100000 | zstd -q >"$BATS_TEST_TMPDIR/cut.mp.zst"
	dst=$(fresh_dest elsewhere3)
	run bash -c 'zstd -dc "$1" | slate-cat --info && zstd -dc "$1" | slate-load "$2"' _ "$BATS_TEST_TMPDIR/cut.mp.zst" "$dst"
	assert_failure 3
	assert_equal "$(psql_c pg elsewhere3 "SELECT count(*) FROM events")" 0
}

@test "README: the hand-written fixture loads" {
	sed -n "/^cat > fixture.jsonl <<'EOF'\$/,/^EOF\$/p" "$SLATE_ROOT/README.md" | sed '1d;$d' >"$BATS_TEST_TMPDIR/fixture.jsonl"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/fixture.jsonl")" -eq 3 ]
	dst=$(fresh_dest readme_fixture)
	run bash -c 'cd "$1" && slate-cat --encode fixture.jsonl | slate-load "$2"' _ "$BATS_TEST_TMPDIR" "$dst"
	assert_success
	run psql_c pg readme_fixture "SET timezone = 'UTC'; SELECT id, ts, event #>> '{operation}' FROM events ORDER BY id"
	assert_output "$(printf '1|2026-12-04 18:00:00+00|create\n2|2026-12-04 18:00:00+00|update\n3|2026-12-04 18:30:00.5+00|create')"
}

@test "README: one entity's history through jq" {
	eid=$(psql_c pg src "SELECT event #>> '{entityId}' FROM events WHERE id = 100")
	run bash -c 'slate-extract "$SRC" --entity-id "$1" 2>/dev/null | slate-cat | jq -r '"'"'[.id, .ts, .event.operation] | @tsv'"'"'' _ "$eid"
	assert_success
	assert_output "$(psql_c pg src "SELECT id, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'),
		event #>> '{operation}' FROM events WHERE event #>> '{entityId}' = '$eid' ORDER BY id" | tr '|' '\t')"
}
