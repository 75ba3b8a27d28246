#!/usr/bin/env bats
# schema.bats: the SQL in sql/ and the helpers other suites build on.

load test_helper

setup_file() {
	cluster_start pg
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

# Each test gets its own database, named after the test's number.
setup() {
	DB=t$BATS_TEST_NUMBER
}

# insert_sql K: a statement calling insert_events() with K small events,
# the rows dollar-quoted so their JSON needs no escaping.
insert_sql() {
	local k=$1 i sep=
	printf 'SELECT insert_events($rows$'
	for ((i = 1; i <= k; i++)); do
		printf "%s(\$1[%d], \$2, '{\"entityName\": \"person\", \"n\": %d}')" \
			"$sep" "$i" "$i"
		sep=', '
	done
	printf '$rows$)'
}

@test "a source database has the events table, its indexes and the id table" {
	db_create pg "$DB" source
	run psql_c pg "$DB" "SELECT string_agg(column_name || ' ' || data_type
		|| ' ' || is_nullable, ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_name = 'events'"
	assert_output 'id bigint NO, ts timestamp with time zone NO, event jsonb NO'
	run psql_c pg "$DB" "SELECT count(*) FROM pg_indexes
		WHERE tablename = 'events'
		AND (indexdef LIKE '%(id)' OR indexdef LIKE '%(ts)'
			OR indexdef ~ '''\{(entityName|operation|propertyName|entityId)\}''')"
	assert_output 6
	run psql_c pg "$DB" "SELECT id FROM id"
	assert_output 1
}

@test "a destination database has the events table only" {
	db_create pg "$DB" destination
	run psql_c pg "$DB" "SELECT string_agg(relname, ' ' ORDER BY relname)
		FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
	assert_output events
	run psql_c pg "$DB" "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
	assert_output 0
}

@test "insert_events assigns consecutive ids from 1 and one ts per call" {
	db_create pg "$DB" source
	run psql_c pg "$DB" "$(insert_sql 3)"
	assert_output 3
	run psql_c pg "$DB" "$(insert_sql 2)"
	assert_output 2
	run psql_c pg "$DB" "SELECT string_agg(id || ':' || (event->>'n'), ' ' ORDER BY id)
		FROM events"
	assert_output '1:1 2:2 3:3 4:1 5:2'
	run psql_c pg "$DB" "SELECT count(DISTINCT ts) FROM events GROUP BY id <= 3
		ORDER BY 1"
	assert_output $'1\n1'
	run psql_c pg "$DB" "SELECT (SELECT id FROM id),
		(SELECT count(DISTINCT ts) FROM events)"
	assert_output '6|2'
}

@test "insert_events uses the transaction's timestamp for every row" {
	db_create pg "$DB" source
	run psql_c pg "$DB" "BEGIN; SELECT 'slept' FROM pg_sleep(0.01);
		$(insert_sql 2);
		SELECT bool_and(ts = now()) FROM events; COMMIT"
	assert_output $'slept\n2\nt'
}

@test "insert_events refuses rows numbered other than 1..n" {
	db_create pg "$DB" source
	local rows
	for rows in "(\$1[1], \$2, '{}'), (\$1[3], \$2, '{}')" \
		"(\$1[2], \$2, '{}'), (\$1[2], \$2, '{}')" \
		"(\$1[1], \$2, '{\"a\": \"\$1[\"}'), (\$1[3], \$2, '{}')"; do
		run psql_c pg "$DB" "SELECT insert_events(\$r\$$rows\$r\$)"
		assert_failure
		assert_output --regexp 'null value in column "id"|duplicate key|rows must use \$1\[1\] to \$1\[2\]'
	done
	assert_output --partial 'rows must use $1[1] to $1[2]'
	run psql_c pg "$DB" "SELECT (SELECT id FROM id), (SELECT count(*) FROM events)"
	assert_output '1|0'
}

@test "events cannot be updated, deleted or truncated in a source database" {
	db_create pg "$DB" source
	psql_c pg "$DB" "$(insert_sql 1)"
	local statement
	for statement in "UPDATE events SET event = '{}'" "DELETE FROM events" \
		"TRUNCATE events"; do
		run psql_c pg "$DB" "$statement"
		assert_failure
		assert_output --partial 'events are immutable'
	done
	run psql_c pg "$DB" "SELECT count(*) FROM events"
	assert_output 1
}

@test "an insert notifies eventsinsert with the whole event" {
	db_create pg "$DB" source
	run psql -X -q -At -d "$(cluster_conninfo pg "$DB")" \
		-c 'LISTEN eventsinsert' -c "$(insert_sql 2)"
	assert_success
	assert_line --index 0 2
	assert_line --index 1 --regexp '^Asynchronous notification "eventsinsert" with payload "\{"table" : "events", "id" : 1, "event" : \{"n": 1, "entityName": "person"\}\}" received'
	assert_line --index 2 --partial '"id" : 2, "event" : {"n": 2,'
}

@test "with notify-id-only.sql the notification carries table and id only" {
	db_create pg "$DB" source
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo pg "$DB")" \
		-f "$SLATE_ROOT/sql/notify-id-only.sql"
	run psql -X -q -At -d "$(cluster_conninfo pg "$DB")" \
		-c 'LISTEN eventsinsert' -c "$(insert_sql 1)"
	assert_success
	assert_line --index 1 --partial 'with payload "{"table" : "events", "id" : 1}" received'
}

@test "an event over 8000 bytes needs notify-id-only.sql" {
	db_create pg "$DB" source
	run insert_events pg "$DB" 1 9000
	assert_failure
	assert_output --partial 'payload string too long'
	psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo pg "$DB")" \
		-f "$SLATE_ROOT/sql/notify-id-only.sql"
	insert_events pg "$DB" 1 9000
	run psql_c pg "$DB" "SELECT id, length(event::text) >= 9000 FROM events"
	assert_output '1|t'
}

@test "insert_events helper writes N events of about SIZE bytes, 15 per transaction" {
	db_create pg "$DB" source
	insert_events pg "$DB" 40
	insert_events pg "$DB" 10 1000
	run psql_c pg "$DB" "SELECT count(*), min(id), max(id), count(DISTINCT ts),
		min(length(event::text)) FILTER (WHERE id <= 40),
		max(length(event::text)) FILTER (WHERE id <= 40),
		min(length(event::text)) FILTER (WHERE id > 40),
		count(*) FILTER (WHERE event ?& array['entityName', 'entityId',
			'operation', 'propertyName'])
		FROM events"
	assert_output '50|1|50|4|480|480|1000|50'
}

@test "concurrent writers get dense ids" {
	db_create pg "$DB" source
	insert_events pg "$DB" 1500 3>&- &
	local first=$!
	bg_track "$first"
	insert_events pg "$DB" 1500
	wait "$first"
	run psql_c pg "$DB" "SELECT count(*), min(id), max(id), (SELECT id FROM id)
		FROM events"
	assert_output '3000|1|3000|3001'
}

@test "events_md5 is equal for equal tables and sees a one-microsecond change" {
	db_create pg "$DB" source
	db_create pg "${DB}_copy" destination
	insert_events pg "$DB" 100
	psql_c pg "$DB" "COPY events TO STDOUT" |
		psql_c pg "${DB}_copy" "COPY events FROM STDIN"
	run events_md5 pg "$DB"
	assert_output --regexp '^[0-9a-f]{32}$'
	local md5=$output
	run events_md5 pg "${DB}_copy"
	assert_output "$md5"
	psql_c pg "${DB}_copy" "UPDATE events SET ts = ts + interval '1 microsecond'
		WHERE id = 50"
	run events_md5 pg "${DB}_copy"
	refute_output "$md5"
}

@test "events_md5 does not depend on the session's time zone" {
	db_create pg "$DB" source
	insert_events pg "$DB" 5
	local md5
	md5=$(events_md5 pg "$DB")
	PGTZ=America/New_York PGDATESTYLE='SQL, DMY' run events_md5 pg "$DB"
	assert_output "$md5"
}

@test "cluster_conninfo describes a superuser connection over the socket" {
	run cluster_conninfo pg somedb
	assert_output "host=$pg_HOST port=$pg_PORT dbname=somedb user=postgres"
	run psql_c pg postgres "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
	assert_output t
	run psql -X -At -d "host=127.0.0.1 port=$pg_PORT dbname=postgres user=postgres" \
		-c 'SELECT 1'
	assert_output 1
}
