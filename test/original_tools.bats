#!/usr/bin/env bats
# The original's test tools' files and modes: slate-diff -c (eventsDiff's
# config), slate-loadgen -c (loadPersonData's) and its loadPerfTestData
# series; port-less config entries that follow PGPORT, with real passwords.

bats_require_minimum_version 1.5.0
load test_helper

LOADGEN="$SLATE_ROOT/test/bin/slate-loadgen"

setup_file() {
	cluster_start pg
	db_create pg src original-source
	db_create pg dst original-destination
	"$LOADGEN" --seed 3 --count-person 100 --count-filler 500 --log-format json \
		"$(cluster_conninfo pg src)" 2>/dev/null
	slate-extract "$(cluster_conninfo pg src)" 2>/dev/null |
		slate-load "$(cluster_conninfo pg dst)" 2>/dev/null
}

teardown_file() {
	clusters_stop_all
}

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# diff_config FILE DB1 DB2 [SETTINGS]: an eventsDiff config for two databases
# of cluster pg over its socket, SETTINGS (JavaScript members) first
diff_config() {
	cat >"$1" <<-EOF
		var config = {
		    ${4:-maxEventsPerRead: 50000,}
		    connectTimeout: 15000,
		    events1Params: { host: '$pg_HOST:$pg_PORT', databaseName: '$2', user: 'postgres', password: '' },
		    events2Params: { host: '$pg_HOST:$pg_PORT', databaseName: '$3', user: 'postgres' }
		};
		module.exports = config;
	EOF
}

# tampered: a copy of dst with 3 events changed
tampered() {
	psql_c pg postgres "CREATE DATABASE tampered TEMPLATE dst" &&
		psql_c pg tampered "UPDATE events SET event = event || '{\"x\": 1}' WHERE id IN (10, 20, 30)"
}

@test "--help of both tools names the original's options" {
	run slate-diff --help
	assert_success
	assert_output --partial "-c, --config=FILE"
	assert_output --partial "maxDiffs"
	run "$LOADGEN" --help
	assert_success
	assert_output --partial "-c, --config=FILE"
	assert_output --partial "--filler-events-between=N"
	assert_output --partial "--max-events-per-insert=N"
}

# --- slate-diff -c -------------------------------------------------------

@test "slate-diff -c compares the two tables of an eventsDiff config" {
	diff_config c.js src dst
	run --separate-stderr slate-diff -c c.js --log-format json
	assert_success
	assert_line "equal"
	assert_line "rows: A 850, B 850"
	# --config-filename, the original's long option, works the same
	run --separate-stderr slate-diff --config-filename=c.js --log-format json
	assert_success
	assert_line "equal"
}

@test "slate-diff -c: maxDiffs is --max-diffs; the command line wins" {
	tampered
	diff_config c.js src tampered "maxDiffs: 2,"
	run --separate-stderr slate-diff -c c.js --log-format json
	assert_failure 1
	assert_line "2 differences (stopped by --max-diffs; there may be more)"
	run --separate-stderr slate-diff -c c.js --max-diffs 10 --log-format json
	assert_failure 1
	assert_line "3 differences"
	# without maxDiffs every difference counts, as in the original
	diff_config all.js src tampered
	run --separate-stderr slate-diff -c all.js --log-format json
	assert_failure 1
	assert_line "3 differences"
	# CONNINFOs on the command line replace the file's tables, in order
	run --separate-stderr slate-diff -c c.js "$(cluster_conninfo pg src)" "$(cluster_conninfo pg dst)" \
		--log-format json
	assert_success
	assert_line "equal"
	run --separate-stderr slate-diff -c c.js "$(cluster_conninfo pg dst)" --max-diffs 1 --log-format json
	assert_failure 1
	assert_line "1 difference (stopped by --max-diffs; there may be more)"
}

@test "slate-diff -c --validate validates both tables of the file" {
	diff_config c.js src dst
	run --separate-stderr slate-diff -c c.js --validate --log-format json
	assert_success
	assert_line --partial "validate A: ok"
	assert_line --partial "validate B: ok"
	run --separate-stderr slate-diff -c c.js --validate-tables --log-format json
	assert_success
}

@test "slate-diff -c: maxEventsPerRead below 50000 is raised; unknown fields warn" {
	diff_config c.js src dst "maxEventsPerRead: 1000, extra: true,"
	run --separate-stderr slate-diff -c c.js --log-format json
	assert_success
	assert_line "equal"
	[[ $stderr == *"slate-diff: maxEventsPerRead 1000 raised to the minimum 50000"* ]]
	[[ $stderr == *"slate-diff: c.js:2:29: warning: unknown field 'extra' ignored"* ]]
}

@test "slate-diff -c: a bad file is one line with file:line:col, exit 2" {
	diff_config c.js src dst "maxDiffs: 'ten',"
	run --separate-stderr slate-diff -c c.js
	assert_failure 2
	assert_equal "$stderr" "slate-diff: c.js:2:15: 'maxDiffs' must be a number, not a string"
	printf 'var config = {\n  events1Params: { host: "h", databaseName: "a" }\n};\nmodule.exports = config;\n' >m.js
	run --separate-stderr slate-diff -c m.js
	assert_failure 2
	assert_equal "$stderr" "slate-diff: m.js:1:14: missing required field 'events2Params'"
	printf 'var config = { maxDiffs: 1,, };\n' >s.js
	run --separate-stderr slate-diff -c s.js
	assert_failure 2
	[[ $stderr == "slate-diff: s.js:1:28: "* ]]
	run --separate-stderr slate-diff -c nothere.js
	assert_failure 2
	assert_equal "$stderr" 'slate-diff: could not open configuration file "nothere.js": No such file or directory'
	run --separate-stderr slate-diff -c
	assert_failure 2
	assert_equal "${stderr_lines[-1]}" 'Try "slate-diff --help" for more information.'
}

# --- slate-loadgen -c ----------------------------------------------------

# source_config FILE DB: a loadPersonData config for DB of cluster pg
source_config() {
	cat >"$1" <<-EOF
		var config = {
		    connectTimeout: 15000,
		    eventSource: { host: '$pg_HOST:$pg_PORT', databaseName: '$2', user: 'postgres', password: '' }
		};
		module.exports = config;
	EOF
}

@test "slate-loadgen -c writes into the loadPersonData config's source" {
	db_create pg lp original-source
	source_config c.js lp
	run --separate-stderr "$LOADGEN" -c c.js --count-person 50 --count-filler 100 \
		--count-person-delete 5 --log-format json
	assert_success
	assert_equal "$(events_count pg lp)" 255
	# --dry-run reads the file and names the source, writing nothing
	run --separate-stderr "$LOADGEN" -c c.js --dry-run --count-person 5
	assert_success
	assert_line "source:               host=$pg_HOST port=$pg_PORT dbname=lp user=postgres"
	assert_equal "$(events_count pg lp)" 255
	# a CONNINFO on the command line wins over the file
	db_create pg lp2 original-source
	run --separate-stderr "$LOADGEN" -c c.js --count-person 10 --count-filler 0 \
		--count-person-delete 0 --log-format json "$(cluster_conninfo pg lp2)"
	assert_success
	assert_equal "$(events_count pg lp2)" 30
	assert_equal "$(events_count pg lp)" 255
}

@test "slate-loadgen -c: bad files, exit 2 with file:line:col; -c with --output is refused" {
	printf 'module.exports = { eventSource: { host: "h" } };\n' >c.js
	run --separate-stderr "$LOADGEN" -c c.js
	assert_failure 2
	assert_equal "$stderr" "slate-loadgen: c.js:1:33: missing required field 'eventSource.databaseName'"
	printf 'module.exports = { connectTimeout: -1, eventSource: { host: "h", databaseName: "d" } };\n' >t.js
	run --separate-stderr "$LOADGEN" -c t.js
	assert_failure 2
	assert_equal "$stderr" "slate-loadgen: t.js:1:36: 'connectTimeout' must be between 1 and 2147483647"
	source_config ok.js lp
	run --separate-stderr "$LOADGEN" -c ok.js --output x.mp
	assert_failure 2
	[[ $stderr == *"drop -c"* ]]
}

# --- the perf series (loadPerfTestData) ----------------------------------

@test "--filler-events-between: 3 users x 4 events, N fillers between, over 1000 filler entities" {
	db_create pg perf original-source
	run --separate-stderr "$LOADGEN" --seed 7 --filler-events-between 1500 --max-events-per-insert 40 \
		--log-format json "$(cluster_conninfo pg perf)"
	assert_success
	assert_equal "$(events_count pg perf)" $((11 * 1500 + 12))
	# user events at ids 1, 1502, 3003, ...: created x3, phone changed x3, name added x3, phone added x3
	run psql_c pg perf "SELECT string_agg(id || ' ' || (event ->> 'name'), ',' ORDER BY id)
		FROM events WHERE event ->> 'name' LIKE 'User %'"
	assert_output "1 User Created,1502 User Created,3003 User Created,4504 User Phone Changed,6005 User Phone Changed,7506 User Phone Changed,9007 User Name Added,10508 User Name Added,12009 User Name Added,13510 User Phone Added,15011 User Phone Added,16512 User Phone Added"
	# three users, four events each, the same entity in data.entityId
	run psql_c pg perf "SELECT count(*), min(n), max(n) FROM (SELECT event #>> '{data,entityId}', count(*) AS n
		FROM events WHERE event ->> 'name' LIKE 'User %' GROUP BY 1) x"
	assert_output "3|4|4"
	# fillers: 1000 entities, each created once, then changed; evenly used (16 or 17 each)
	run psql_c pg perf "SELECT count(*), min(n), max(n), sum(c) FROM (SELECT event #>> '{data,entityId}',
		count(*) AS n, count(*) FILTER (WHERE event ->> 'name' = 'Filler Created') AS c
		FROM events WHERE event ->> 'name' LIKE 'Filler %' GROUP BY 1) x"
	assert_output "1000|16|17|1000"
	# an entity's first event is its creation
	run psql_c pg perf "SELECT count(*) FROM events e WHERE event ->> 'name' = 'Filler Changed'
		AND NOT EXISTS (SELECT FROM events c WHERE c.id < e.id AND c.event ->> 'name' = 'Filler Created'
			AND c.event #> '{data,entityId}' = e.event #> '{data,entityId}')"
	assert_output 0
	# every event has data.value, metadata.command and one of 30 initiators; uuids
	run psql_c pg perf "SELECT count(*) FROM events WHERE NOT (event #>> '{data,entityId}' ~
		'^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\$'
		AND event #> '{data,value}' IS NOT NULL AND event #> '{metadata,command}' IS NOT NULL)"
	assert_output 0
	assert_equal "$(psql_c pg perf "SELECT count(DISTINCT event #>> '{metadata,initiatorId}') FROM events")" 30
	# insert_events calls of at most 40 events, each its own transaction
	run psql_c pg perf "SELECT count(*), max(n) FROM (SELECT ts, count(*) AS n FROM events GROUP BY ts) x"
	assert_output "$(((11 * 1500 + 12 + 39) / 40))|40"
}

@test "the perf series: defaults, --dry-run, --output, option conflicts" {
	run --separate-stderr "$LOADGEN" --dry-run --max-events-per-insert 30
	assert_success
	assert_line "filler events between: 10000"
	assert_line "events:               $((11 * 10000 + 12))"
	assert_line "transactions:         $(((11 * 10000 + 12 + 29) / 30)) (30.0 events on average)"
	run --separate-stderr "$LOADGEN" --dry-run --filler-events-between 10
	assert_line "max events per insert: 25"
	run --separate-stderr "$LOADGEN" --filler-events-between 10 --count-person 3
	assert_failure 2
	[[ $stderr == *"no --count-* options"* ]]
	run --separate-stderr "$LOADGEN" --max-events-per-insert 0
	assert_failure 2
	# a stream file equal, but for ts, to what the same seed inserts
	"$LOADGEN" --seed 9 --filler-events-between 200 --output perf.mp 2>/dev/null
	db_create pg pfile original-destination
	db_create pg pins original-source
	slate-load "$(cluster_conninfo pg pfile)" <perf.mp 2>/dev/null
	"$LOADGEN" --seed 9 --filler-events-between 200 "$(cluster_conninfo pg pins)" 2>/dev/null
	local q="SELECT count(*), md5(string_agg(id || ' ' || event::text, E'\n' ORDER BY id)) FROM events"
	assert_equal "$(psql_c pg pfile "$q")" "$(psql_c pg pins "$q")"
	assert_equal "$(events_count pg pfile)" $((11 * 200 + 12))
}

# --- port-less configs follow PGPORT, with passwords -------------------------

# require_password: scram-sha-256 over TCP for role slate_pw on cluster pg
require_password() {
	local hba=$pg_DIR/data/pg_hba.conf
	{ echo "host all slate_pw 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >hba
	cat hba >"$hba"
	db_create pg pwsrc original-source
	db_create pg pwdst original-destination
	psql_c pg postgres "SET password_encryption = 'scram-sha-256';
		CREATE ROLE slate_pw LOGIN PASSWORD 'Pw:s3cret\\0815'; SELECT pg_reload_conf()" >/dev/null
	psql_c pg pwsrc "GRANT SELECT ON events TO slate_pw;
		GRANT SELECT, UPDATE ON id TO slate_pw; GRANT EXECUTE ON FUNCTION insert_events(text) TO slate_pw;
		GRANT INSERT ON events TO slate_pw"
	psql_c pg pwdst "GRANT SELECT, INSERT ON events TO slate_pw"
}

@test "a port-less config with a password follows PGPORT: pipeline.sh, slate-diff -c, slate-loadgen -c" {
	require_password
	# not 5432: the test clusters take a random free port
	[ "$pg_PORT" != 5432 ]
	export PGPORT=$pg_PORT
	# scram-sha-256 is really required
	run psql -X -At -d "host=127.0.0.1 dbname=pwsrc user=slate_pw" -c "SELECT 1" </dev/null
	assert_failure
	mkdir work
	local pw='Pw:s3cret\\0815'	# the JavaScript text of Pw:s3cret\0815
	cat >load.js <<-EOF
		var config = { connectTimeout: 15000,
		    eventSource: { host: '127.0.0.1', databaseName: 'pwsrc', user: 'slate_pw', password: '$pw' } };
		module.exports = config;
	EOF
	cat >repl.js <<-EOF
		module.exports = {
		    eventSource: { host: '127.0.0.1', databaseName: 'pwsrc', user: 'slate_pw', password: '$pw' },
		    replicationDestinations: [ { host: '127.0.0.1', databaseName: 'pwdst', user: 'slate_pw', password: '$pw' } ]
		};
	EOF
	cat >diff.js <<-EOF
		var config = { maxEventsPerRead: 50000, maxDiffs: 100, connectTimeout: 15000,
		    events1Params: { host: '127.0.0.1', databaseName: 'pwsrc', user: 'slate_pw', password: '$pw' },
		    events2Params: { host: '127.0.0.1', databaseName: 'pwdst', user: 'slate_pw', password: '$pw' } };
		module.exports = config;
	EOF
	# slate-loadgen -c: the password reaches libpq through a private pgpass file
	TMPDIR=$PWD/work run --separate-stderr "$LOADGEN" -c load.js --count-person 100 --count-filler 300 \
		--log-format json
	echo "$stderr"
	assert_success
	assert_equal "$(events_count pg pwsrc)" 650
	# the replicator
	TMPDIR=$PWD/work "$SLATE_ROOT/pipeline.sh" -c repl.js --poll-interval 1 --log-format=json \
		2>replicator.log 3>&- &
	local repl=$!
	for _ in $(seq 300); do
		[[ $(events_count pg pwdst) == 650 ]] && break
		sleep 0.1
	done
	kill -TERM $repl
	local rc=0
	wait $repl || rc=$?
	cat replicator.log | tail -n 5
	assert_equal "$rc" 0
	assert_equal "$(events_count pg pwdst)" 650
	# slate-diff -c
	TMPDIR=$PWD/work run --separate-stderr slate-diff -c diff.js --log-format json
	echo "$stderr"
	assert_success
	assert_line "equal"
	assert_line "A: host=127.0.0.1 port=$pg_PORT dbname=pwsrc user=slate_pw"
	# no password left behind, none in a log
	run ls -A work
	assert_output ""
	run grep -c s3cret replicator.log "$pg_LOG"
	assert_output --partial "replicator.log:0"
	assert_output --partial "server.log:0"
	# a wrong password is refused: the config's password is really used
	sed 's/s3cret/wrong/' diff.js >wrong.js
	TMPDIR=$PWD/work run --separate-stderr slate-diff -c wrong.js --log-format json
	assert_failure 2
	[[ $stderr == *'password authentication failed for user \"slate_pw\"'* ]]
	[[ $stderr != *wrong* ]]
	run ls -A work
	assert_output ""
}
