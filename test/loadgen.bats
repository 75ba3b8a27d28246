#!/usr/bin/env bats
# slate-loadgen: counts, ids, transactions, testingStats, concurrency, --seed, --output, --dry-run.

bats_require_minimum_version 1.5.0
load test_helper

LOADGEN="$SLATE_ROOT/test/bin/slate-loadgen"
# a small run: 300 people (900 events), 20 deletions, 3000 fillers
SMALL=(--count-person 300 --count-person-delete 20 --count-filler 3000)
SMALL_TOTAL=3920

setup_file() {
	cluster_start pg
	db_create pg src source
	SRC=$(cluster_conninfo pg src)
	export SRC
	# the run most tests look at, with its log kept
	"$LOADGEN" --seed 11 "${SMALL[@]}" --log-format json "$SRC" \
		2>"$BATS_FILE_TMPDIR/src.log"
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

# log_number FILE FIELD: the value of "FIELD":N on the final "wrote" log line
log_number() {
	grep '"msg":"wrote' "$1" | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}

@test "--help, --version and bad options" {
	run "$LOADGEN" --help
	assert_success
	assert_output --partial "Usage:"
	assert_output --partial "--count-person-delete=N"
	run "$LOADGEN" --version
	assert_success
	assert_output --regexp "^slate-loadgen \(slate\) [0-9]+\.[0-9]+"
	run "$LOADGEN" --no-such-option
	assert_failure 2
	assert_output --partial 'Try "slate-loadgen --help" for more information.'
	run "$LOADGEN" --count-person=-1
	assert_failure 2
	assert_output --partial 'invalid value "-1" for --count-person'
	run "$LOADGEN" --seed=abc
	assert_failure 2
	run "$LOADGEN" --pipeline=0
	assert_failure 2
	run "$LOADGEN" --output x.mp "dbname=x"
	assert_failure 2
	assert_output --partial "drop CONNINFO"
	run "$LOADGEN" a b
	assert_failure 2
	assert_output --partial "too many command-line arguments"
}

@test "a server that is not there is a database error" {
	run --separate-stderr "$LOADGEN" --connect-timeout 2 "host=$BATS_FILE_TMPDIR port=1 dbname=x"
	assert_failure 1
	[[ $stderr == *"could not connect"* ]]
}

@test "--dry-run prints counts and jsonb-canonical samples and inserts nothing" {
	db_create pg dry source
	run --separate-stderr "$LOADGEN" --dry-run "${SMALL[@]}" "$(cluster_conninfo pg dry)"
	assert_success
	assert_line "events:               $SMALL_TOTAL"
	assert_line --partial "person deletions:     20"
	assert_equal "$(events_count pg dry)" 0
	# one sample per kind, each already in the form event::text gives back
	local samples=0 line
	while IFS= read -r line; do
		[[ $line == '{'* ]] || continue
		samples=$((samples + 1))
		assert_equal "$(psql_c pg dry "SELECT \$j\$${line}\$j\$::jsonb::text")" "$line"
	done <<<"$output"
	assert_equal "$samples" 5
}

@test "the table holds exactly the events the tool reports, in the planned mix" {
	assert_equal "$(log_number "$BATS_FILE_TMPDIR/src.log" events)" "$SMALL_TOTAL"
	assert_equal "$(events_count pg src)" "$SMALL_TOTAL"
	run psql_c pg src "SELECT event->>'name', count(*) FROM events
		WHERE event->>'entityName' = 'Person' GROUP BY 1 ORDER BY 1"
	assert_output "PersonCreated|300
PersonDeleted|20
PersonNameAdded|300
PersonSSNAdded|300"
	assert_equal "$(psql_c pg src "SELECT count(*) FROM events
		WHERE event->>'name' ~ '^FillerEvent[0-9]\$'")" 3000
	# a person is deleted once, and only after (or as) it was created
	assert_equal "$(psql_c pg src "SELECT count(DISTINCT event->>'entityId') FROM events
		WHERE event->>'name' = 'PersonDeleted'")" 20
	assert_equal "$(psql_c pg src "SELECT count(*) FROM events d JOIN events c
		ON c.event->>'entityId' = d.event->>'entityId' AND c.event->>'name' = 'PersonCreated'
		WHERE d.event->>'name' = 'PersonDeleted' AND c.id > d.id")" 0
}

@test "ids run from 1 without a hole" {
	assert_equal "$(psql_c pg src "SELECT min(id), max(id), count(*) FROM events")" \
		"1|$SMALL_TOTAL|$SMALL_TOTAL"
}

@test "each transaction is one db operation with one ts" {
	local txns
	txns=$(log_number "$BATS_FILE_TMPDIR/src.log" transactions)
	assert_equal "$(psql_c pg src "SELECT count(DISTINCT ts) FROM events")" "$txns"
	assert_equal "$(psql_c pg src "SELECT count(DISTINCT event #>> '{testingStats,dbOperationId}')
		FROM events")" "$txns"
	# one ts per operation and one operation per ts
	assert_equal "$(psql_c pg src "SELECT count(*) FROM (SELECT event #>> '{testingStats,dbOperationId}'
		FROM events GROUP BY 1 HAVING count(DISTINCT ts) <> 1) x")" 0
	assert_equal "$(psql_c pg src "SELECT count(*) FROM (SELECT ts FROM events GROUP BY 1
		HAVING count(DISTINCT event #>> '{testingStats,dbOperationId}') <> 1) x")" 0
	# about 15 events per transaction
	run psql_c pg src "SELECT count(*) / count(DISTINCT ts) BETWEEN 10 AND 20 FROM events"
	assert_output t
}

@test "every event carries what slate-diff --validate checks" {
	# shape: names, ids, metadata, testingStats with the right JSON types
	assert_equal "$(psql_c pg src "SELECT count(*) FROM events WHERE NOT (
		event ?& array['entityName', 'entityId', 'operation', 'metadata', 'testingStats', 'data']
		AND event->>'entityId' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\$'
		AND event #>> '{data,entity_id}' = event->>'entityId'
		AND event->'metadata' ?& array['initiatorId', 'command']
		AND (event->>'propertyName' IS NOT NULL) = (event->>'name' NOT IN ('PersonCreated', 'PersonDeleted'))
		AND event->'testingStats' ?& array['programId', 'dbOperationId', 'dbOperationNum',
			'dbOperationEventNum', 'dbOperationEventCount', 'dbOperationTS']
		AND jsonb_typeof(event #> '{testingStats,dbOperationNum}') = 'number'
		AND jsonb_typeof(event #> '{testingStats,dbOperationEventNum}') = 'number'
		AND jsonb_typeof(event #> '{testingStats,dbOperationEventCount}') = 'number'
		AND (event #>> '{testingStats,dbOperationTS}')::timestamptz
			BETWEEN ts - interval '1 minute' AND ts + interval '1 minute')")" 0
	# one program; operations numbered 1..T in id order
	assert_equal "$(psql_c pg src "SELECT count(DISTINCT event #>> '{testingStats,programId}')
		FROM events")" 1
	run psql_c pg src "SELECT bool_and(num = rank) FROM (
		SELECT (event #>> '{testingStats,dbOperationNum}')::int AS num,
			dense_rank() OVER (ORDER BY ts) AS rank FROM events) x"
	assert_output t
	# within an operation: event numbers 1..count in id order
	run psql_c pg src "SELECT bool_and(n = row_number AND c = total) FROM (
		SELECT (event #>> '{testingStats,dbOperationEventNum}')::int AS n,
			(event #>> '{testingStats,dbOperationEventCount}')::int AS c,
			row_number() OVER w, count(*) OVER (PARTITION BY ts) AS total
		FROM events WINDOW w AS (PARTITION BY ts ORDER BY id)) x"
	assert_output t
}

@test "awkward text arrives intact: quotes, backslashes, non-ASCII, emoji, \$1[" {
	run psql_c pg src "SELECT count(*) > 0 FROM events WHERE event::text LIKE '%''%'"
	assert_output t
	run psql_c pg src "SELECT count(*) > 0 FROM events WHERE event::text LIKE '%\\\\%'"
	assert_output t
	run psql_c pg src "SELECT count(*) > 0 FROM events WHERE event::text ~ '[^\\x01-\\x7f]'"
	assert_output t
	run psql_c pg src "SELECT count(*) > 0 FROM events WHERE event::text LIKE '%\$1[%'"
	assert_output t
}

@test "two loadgens at once: both complete, operations stay whole" {
	db_create pg conc source
	local ci
	ci=$(cluster_conninfo pg conc)
	"$LOADGEN" --seed 1 "${SMALL[@]}" --log-format json "$ci" 2>"$BATS_TEST_TMPDIR/a.log" 3>&- &
	local a=$!
	bg_track "$a"
	"$LOADGEN" --seed 2 --pipeline 1 "${SMALL[@]}" --log-format json "$ci" 2>"$BATS_TEST_TMPDIR/b.log" 3>&- &
	local b=$!
	bg_track "$b"
	wait "$a" || fail "the first loadgen exited $?: $(cat "$BATS_TEST_TMPDIR/a.log")"
	wait "$b" || fail "the second loadgen exited $?: $(cat "$BATS_TEST_TMPDIR/b.log")"
	assert_equal "$(events_count pg conc)" $((2 * SMALL_TOTAL))
	assert_equal "$(psql_c pg conc "SELECT min(id), max(id)::int - min(id) + 1 FROM events")" \
		"1|$((2 * SMALL_TOTAL))"
	assert_equal "$(psql_c pg conc "SELECT count(DISTINCT event #>> '{testingStats,programId}')
		FROM events")" 2
	# every operation: consecutive ids, event numbers 1..count in id order, one ts
	run psql_c pg conc "SELECT count(*) FROM (
		SELECT event #>> '{testingStats,dbOperationId}' AS op FROM events
		GROUP BY 1
		HAVING max(id) - min(id) + 1 <> count(*)
			OR count(DISTINCT ts) <> 1
			OR max((event #>> '{testingStats,dbOperationEventCount}')::int) <> count(*)
			OR min((event #>> '{testingStats,dbOperationEventCount}')::int) <> count(*)) x"
	assert_output 0
	run psql_c pg conc "SELECT bool_and(n = r) FROM (
		SELECT (event #>> '{testingStats,dbOperationEventNum}')::int AS n,
			row_number() OVER (PARTITION BY event #>> '{testingStats,dbOperationId}' ORDER BY id) AS r
		FROM events) x"
	assert_output t
}

@test "--seed reproduces a --output file byte for byte" {
	run "$LOADGEN" --seed 5 "${SMALL[@]}" --output "$BATS_TEST_TMPDIR/a.mp"
	assert_success
	run "$LOADGEN" --seed 5 "${SMALL[@]}" --output "$BATS_TEST_TMPDIR/b.mp"
	assert_success
	run "$LOADGEN" --seed 6 "${SMALL[@]}" --output "$BATS_TEST_TMPDIR/c.mp"
	assert_success
	cmp "$BATS_TEST_TMPDIR/a.mp" "$BATS_TEST_TMPDIR/b.mp"
	! cmp -s "$BATS_TEST_TMPDIR/a.mp" "$BATS_TEST_TMPDIR/c.mp"
}

@test "an --output file loads with slate-load and matches a seeded insert" {
	"$LOADGEN" --seed 11 "${SMALL[@]}" --output "$BATS_TEST_TMPDIR/s.mp"
	db_create pg file destination
	run slate-load "$(cluster_conninfo pg file)" <"$BATS_TEST_TMPDIR/s.mp"
	assert_success
	assert_equal "$(events_count pg file)" "$SMALL_TOTAL"
	# transaction n at 2020-01-01 plus n microseconds
	assert_equal "$(psql_c pg file "SELECT count(*) FROM events WHERE ts <> '2020-01-01 00:00:00+00'::timestamptz
		+ (event #>> '{testingStats,dbOperationNum}')::int * interval '1 microsecond'")" 0
	# the same seed inserted through insert_events gave the same events, but for the client clock
	local q="SELECT md5(string_agg((event #- '{testingStats,dbOperationTS}')::text, E'\n' ORDER BY id))
		FROM events"
	assert_equal "$(psql_c pg file "$q")" "$(psql_c pg src "$q")"
}

@test "SIGINT stops after whole transactions, exit 0" {
	db_create pg intr source
	"$LOADGEN" --count-person 100000 --count-filler 1000000 --log-format json \
		"$(cluster_conninfo pg intr)" 2>"$BATS_TEST_TMPDIR/i.log" 3>&- &
	local pid=$! n
	bg_track "$pid"
	# in the middle of its run: it has committed some transactions
	wait_until 30 eval '(($(events_count pg intr) >= 1000))' ||
		fail "slate-loadgen wrote nothing: $(cat "$BATS_TEST_TMPDIR/i.log")"
	kill -INT "$pid"
	wait_exit "$pid" 10 || fail "SIGINT did not stop slate-loadgen"
	assert_equal "$STATUS" 0
	grep -q "stopped by signal" "$BATS_TEST_TMPDIR/i.log"
	n=$(events_count pg intr)
	# stopped, not finished: far fewer than the 1,350,050 planned
	((n < 1350050)) || fail "slate-loadgen finished before SIGINT"
	assert_equal "$(log_number "$BATS_TEST_TMPDIR/i.log" events)" "$n"
	# the last operation is complete
	run psql_c pg intr "SELECT (event #>> '{testingStats,dbOperationEventNum}') =
		(event #>> '{testingStats,dbOperationEventCount}') FROM events ORDER BY id DESC LIMIT 1"
	assert_output t
}

@test "the original's source (slate-init-db): two at once, its stricter insert_events takes the awkward texts" {
	db_create pg orig original-source
	local ci
	ci=$(cluster_conninfo pg orig)
	"$LOADGEN" --seed 1 "${SMALL[@]}" --log-format json "$ci" 2>"$BATS_TEST_TMPDIR/a.log" 3>&- &
	local a=$!
	"$LOADGEN" --seed 2 "${SMALL[@]}" --log-format json "$ci" 2>"$BATS_TEST_TMPDIR/b.log" 3>&- &
	local b=$! rc=0
	wait $a || rc=$?
	wait $b || rc=$((rc + $?))
	tail -n 2 "$BATS_TEST_TMPDIR/a.log" "$BATS_TEST_TMPDIR/b.log"
	assert_equal "$rc" 0
	assert_equal "$(events_count pg orig)" $((2 * SMALL_TOTAL))
	# the awkward texts that come nearest its checks made it in
	run psql_c pg orig "SELECT count(*) > 0 FROM events WHERE event::text LIKE '%\$1[x]%'"
	assert_output t
	run psql_c pg orig "SELECT count(*) > 0 FROM events WHERE event::text LIKE '%\$2.50 or \$1[] each; \$12, then \$2;%'"
	assert_output t
	# and its checks are real: "$1[7]" or "$2," anywhere in the text is refused
	run psql_c pg orig "SELECT insert_events(\$v\$(\$1[1], \$2, '{\"note\": \"\$1[7] is not an id\"}')\$v\$)"
	assert_failure
	assert_output --partial "Parameter index is not consecutive at ------> 7"
	run psql_c pg orig "SELECT insert_events(\$v\$(\$1[1], \$2, '{\"note\": \"pay \$2, then\"}')\$v\$)"
	assert_failure
	run psql_c pg orig "DELETE FROM events WHERE id = 1"
	assert_failure
	assert_output --partial "cannot perform SQL command on events table:  DELETE"
	assert_equal "$(events_count pg orig)" $((2 * SMALL_TOTAL))
}

@test "the original's restore_events() refills a source from a replica through dblink" {
	db_create pg rsrc original-source
	"$LOADGEN" --seed 4 --count-person 20 --count-filler 40 --count-person-delete 0 \
		"$(cluster_conninfo pg rsrc)" 2>/dev/null
	db_create pg rnew original-source
	run psql_c pg rnew "SELECT rows_restored, next_insert_id FROM
		restore_events('$pg_HOST:$pg_PORT', 'rsrc', 'postgres', '')"
	assert_success
	assert_output "100|101"
	assert_equal "$(events_md5 pg rnew)" "$(events_md5 pg rsrc)"
	# and writing goes on after the restored ids
	"$LOADGEN" --seed 5 --count-person 1 --count-filler 0 --count-person-delete 0 \
		"$(cluster_conninfo pg rnew)" 2>/dev/null
	assert_equal "$(psql_c pg rnew "SELECT min(id), max(id), count(*) FROM events")" "1|103|103"
}
