#!/usr/bin/env bats
# pipeline.sh as a user runs it: live replication, catch-up, configurations,
# dry runs, start-up refusals, killed stages, signals and passwords.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	# sources and destinations on separate servers, as in production
	cluster_start src
	cluster_start dst
}

teardown_file() {
	clusters_stop_all
}

setup() {
	PATH=$SLATE_ROOT/test/bin:$PATH
}

# every pipeline is the leader of its own process group: kill the groups,
# then the inserters, so that nothing a test started outlives it
teardown() {
	kill_background
	return 0
}

# --- helpers -------------------------------------------------------------

# new_source DB [N]: a source database on cluster src holding N events
new_source() {
	db_create src "$1" source >/dev/null
	if ((${2:-0} > 0)); then
		insert_events src "$1" "$2" >/dev/null
	fi
}

# new_dest DB: an empty destination database on cluster dst
new_dest() {
	db_create dst "$1" destination >/dev/null
}

# pipeline ARG...: pipeline.sh as a user runs it
pipeline() { "$SLATE_ROOT/pipeline.sh" "$@"; }

src_of() { cluster_conninfo src "$1"; }
dst_of() { cluster_conninfo dst "$1"; }

# assert_same SRCDB DSTDB: the destination's events equal the source's
assert_same() {
	assert_equal "$(psql_c dst "$2" "$(events_md5_sql)")" "$(psql_c src "$1" "$(events_md5_sql)")"
}

# wait_caught_up SRCDB DSTDB... : wait (at most 30 s) until every destination
# has the source's max(id), then check they are equal to the source
wait_caught_up() {
	local srcdb=$1 target db i ok
	shift
	target=$(events_maxid src "$srcdb")
	for ((i = 0; i < 300; i++)); do
		ok=1
		for db in "$@"; do
			[[ $(events_maxid dst "$db") == "$target" ]] || { ok=0; break; }
		done
		((ok)) && break
		sleep 0.1
	done
	for db in "$@"; do
		assert_equal "$(events_maxid dst "$db")" "$target"
		assert_same "$srcdb" "$db"
	done
}

# start_pipeline NAME ARG...: run pipeline.sh ARG... in the background as the
# leader of a process group of its own, the way an interactive shell starts
# a job (with job control, so SIGINT is not ignored); stdout to NAME.out,
# stderr (its log and the stages') to NAME.log.  Sets PID (= its group id).
start_pipeline() {
	local name=$1
	shift
	# SIGINT as a terminal gives it: a suite started in the background
	# (make test &) passes SIGINT on ignored, and a shell cannot trap a
	# signal ignored when it started, so the Ctrl-C tests would test nothing
	bg_start PID env --default-signal=INT,QUIT "$SLATE_ROOT/pipeline.sh" --log-format=text "$@" \
		>"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.log"
}

# stage_pid PGID NAME: the pid of stage NAME in pipeline group PGID (one
# destination), waiting up to 10 s for it
stage_pid() {
	local i pid
	for ((i = 0; i < 100; i++)); do
		pid=$(pgrep -g "$1" -x "$2") && { echo "$pid"; return 0; }
		sleep 0.1
	done
	return 1
}

# at_least CLUSTER DB N: the events table holds N events or more
at_least() {
	(($(events_maxid "$1" "$2") >= $3))
}

# prefix_until_at_least DB N: while events arrive, check every 0.1 s that
# destination DB is a boundary prefix of source DB, until it holds N events
# (at most 15 s)
prefix_until_at_least() {
	local i
	for ((i = 0; i < 150; i++)); do
		assert_boundary_prefix src "$1" dst "$1"
		at_least dst "$1" "$2" && return 0
		sleep 0.1
	done
	fail "destination $1 did not reach $2 events"
}

# start_inserter DB: through one psql session, insert 45 events (3
# transactions) about 15 times a second into source DB until stop_inserter
# DB (at most 11,700 events)
start_inserter() {
	rm -f "$BATS_TEST_TMPDIR/stop.$1"
	bg_start "INSERTER_$1" inserter "$1"
}

# inserter DB: start_inserter's process group
inserter() {
	local i
	for ((i = 0; i < 260; i++)); do
		[[ -e $BATS_TEST_TMPDIR/stop.$1 ]] && break
		events_generator_sql 45 480
		sleep 0.05
	done | psql -X -q -v ON_ERROR_STOP=1 -d "$(src_of "$1")" >/dev/null
}

stop_inserter() {
	local var=INSERTER_$1
	touch "$BATS_TEST_TMPDIR/stop.$1"
	wait "${!var}"
}

# config_js FILE SRCDB DSTDB... [PASSWORD]: the original's config.js style
write_config_js() {
	local file=$1 srcdb=$2 db
	shift 2
	{
		cat <<-EOF
			// replicator configuration, as the original reads it
			var config = {
			    maxEventsPerWrite: 10000,   /* optional */
			    connectTimeout: 15000,
			    eventSource: {
			        host: '$src_HOST:$src_PORT',
			        databaseName: '$srcdb',
			        user: 'postgres',
			        password: 'S3cretPw',
			    },
			    replicationDestinations: [
		EOF
		for db in "$@"; do
			printf "        { host: '%s:%s', databaseName: '%s', user: 'postgres', password: 'D3stPw', },\n" \
				"$dst_HOST" "$dst_PORT" "$db"
		done
		cat <<-EOF
			    ],
			};
			module.exports = config;
		EOF
	} >"$file"
}

# --- usage ---------------------------------------------------------------

@test "--help, --version and bad options" {
	run pipeline --help
	assert_success
	assert_output --partial "Usage:"
	run pipeline --version
	assert_success
	assert_output --regexp '^slate-replicator \(slate\) [0-9]+\.[0-9]+'
	run pipeline --frobnicate
	assert_failure 2
	assert_output --partial 'Try "slate-replicator --help" for more information.'
	run pipeline --source "dbname=x"
	assert_failure 2
	assert_output --partial "no destination"
	run pipeline --source "dbname=x" --destination "dbname=y" --poll-interval abc
	assert_failure 2
}

@test "a password inside a CONNINFO is refused, in any form" {
	new_source pwsrc 15
	new_dest pwdst
	local s d
	s=$(src_of pwsrc) d=$(dst_of pwdst)
	for args in \
		"--source|$s password=S3cretPw|--destination|$d" \
		"--source|$s|--destination|$d PASSWORD = 'S3cretPw'" \
		"--source|postgresql://postgres:S3cretPw@localhost:$src_PORT/pwsrc|--destination|$d" \
		"--source|$s|--destination|postgresql://postgres@localhost:$dst_PORT/pwdst?password=S3cretPw"; do
		IFS='|' read -r -a argv <<<"$args"
		run --separate-stderr pipeline "${argv[@]}" --log-format=text
		assert_failure 2
		[[ $stderr == *"holds a password"* ]] || fail "no message for: $args: $stderr"
		[[ $stderr != *S3cretPw* ]] || fail "the password is in the message: $stderr"
	done
	assert_equal "$(events_maxid dst pwdst)" 0
}

@test "the prefix check itself catches a cut inside a transaction and a changed event" {
	new_source self 45
	new_dest self
	psql -X -q -d "$(src_of self)" -c "COPY (SELECT * FROM events WHERE id <= 7) TO STDOUT" |
		psql -X -q -d "$(dst_of self)" -c "COPY events FROM STDIN"
	run assert_boundary_prefix src self dst self
	assert_failure
	assert_output --partial "inside a source transaction"
	psql_c dst self "DELETE FROM events WHERE id > 1; UPDATE events SET event = '{}'"
	run assert_boundary_prefix src self dst self
	assert_failure
	assert_output --partial "not a prefix"
}

# --- live replication ----------------------------------------------------

@test "live: two writers at once, two destinations converge to the source" {
	new_source live 300
	new_dest live1
	new_dest live2
	start_pipeline p --source "$(src_of live)" --destination "$(dst_of live1)" \
		--destination "$(dst_of live2)" --poll-interval 1
	slate-loadgen --log-format=json --count-person 800 --count-filler 3000 "$(src_of live)" \
		2>"$BATS_TEST_TMPDIR/w1.log" 3>&- &
	local w1=$!
	bg_track "$w1"
	slate-loadgen --log-format=json --count-person 800 --count-filler 3000 "$(src_of live)" \
		2>"$BATS_TEST_TMPDIR/w2.log" 3>&- &
	local w2=$!
	bg_track "$w2"
	# while they write, each destination is always a prefix on a boundary
	while running "$w1" || running "$w2"; do
		assert_boundary_prefix src live dst live1
		assert_boundary_prefix src live dst live2
		sleep 0.2
	done
	wait "$w1"
	wait "$w2"
	assert_equal "$(events_maxid src live)" $((300 + 2 * (2400 + 3000 + 50)))
	wait_caught_up live live1 live2
	assert running "$PID"
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
}

@test "catch-up: a backlog into an empty destination and one holding a prefix" {
	new_source backlog
	slate-loadgen --log-format=json --count-person 1000 --count-filler 9000 "$(src_of backlog)" 2>/dev/null
	new_dest empty
	new_dest prefix
	slate-extract --until 4000 "$(src_of backlog)" 2>/dev/null | slate-load "$(dst_of prefix)" 2>/dev/null
	assert at_least dst prefix 4000
	assert_boundary_prefix src backlog dst prefix
	start_pipeline p --source "$(src_of backlog)" --destination "$(dst_of empty)" \
		--destination "$(dst_of prefix)"
	wait_caught_up backlog empty prefix
	assert_equal "$(events_maxid dst empty)" $((3 * 1000 + 9000 + 50))
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
}

# --- configuration files -------------------------------------------------

@test "config.js in the original's style replicates" {
	new_source cfgsrc 200
	new_dest cfgjs1
	new_dest cfgjs2
	write_config_js "$BATS_TEST_TMPDIR/config.js" cfgsrc cfgjs1 cfgjs2
	start_pipeline p -c "$BATS_TEST_TMPDIR/config.js" --poll-interval 1
	wait_caught_up cfgsrc cfgjs1 cfgjs2
	insert_events src cfgsrc 100 >/dev/null
	wait_caught_up cfgsrc cfgjs1 cfgjs2
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
}

@test "plain JSON with TCP host:port, and module.exports = {...}, replicate" {
	new_source cfgsrc2 120
	new_dest cfgjson
	new_dest cfgexp
	cat >"$BATS_TEST_TMPDIR/config.json" <<-EOF
		{
		  "maxEventsPerWrite": 20000,
		  "eventSource": { "host": "127.0.0.1:$src_PORT", "databaseName": "cfgsrc2", "user": "postgres" },
		  "replicationDestinations": [
		    { "host": "127.0.0.1:$dst_PORT", "databaseName": "cfgjson", "user": "postgres" }
		  ]
		}
	EOF
	start_pipeline p -c "$BATS_TEST_TMPDIR/config.json" --poll-interval 1
	wait_caught_up cfgsrc2 cfgjson
	grep -q "up to 20000 events per write" "$BATS_TEST_TMPDIR/p.log"
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0

	cat >"$BATS_TEST_TMPDIR/exports.js" <<-EOF
		/* no variable, no semicolons */
		module.exports = {
		  eventSource: {host: "$src_HOST", databaseName: 'cfgsrc2', user: 'postgres',
		    // the port rides on the host
		  },
		  replicationDestinations: [{host: 'localhost:$dst_PORT', databaseName: "cfgexp", user: "postgres"},],
		}
	EOF
	# the socket directory has no port: libpq's PGPORT supplies it
	PGPORT=$src_PORT start_pipeline q -c "$BATS_TEST_TMPDIR/exports.js" --poll-interval 1
	wait_caught_up cfgsrc2 cfgexp
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
}

@test "a configuration syntax error: exit 2 naming file:line:col, nothing copied" {
	new_source cfgbad 30
	new_dest cfgbaddst
	cat >"$BATS_TEST_TMPDIR/bad.js" <<-EOF
		var config = {
		  eventSource: { host: '$src_HOST:$src_PORT', databaseName: 'cfgbad' }
		  replicationDestinations: [ { host: '$dst_HOST:$dst_PORT', databaseName: 'cfgbaddst' } ],
		};
		module.exports = config;
	EOF
	run --separate-stderr pipeline -c "$BATS_TEST_TMPDIR/bad.js" --log-format=text
	assert_failure 2
	[[ $stderr == *"$BATS_TEST_TMPDIR/bad.js:3:3:"* ]] || fail "no file:line:col in: $stderr"
	assert_equal "$output" ""
	run --separate-stderr pipeline -c "$BATS_TEST_TMPDIR/missing.js" --log-format=text
	assert_failure 2
	assert_equal "$(events_maxid dst cfgbaddst)" 0
}

# --- dry run -------------------------------------------------------------

@test "--dry-run prints the parameters, copies nothing and hides passwords" {
	new_source dry 60
	new_dest dry1
	new_dest dry2
	write_config_js "$BATS_TEST_TMPDIR/config.js" dry dry1 dry2
	run --separate-stderr pipeline -c "$BATS_TEST_TMPDIR/config.js" --dry-run --log-format=text
	assert_success
	assert_line "source: host=$src_HOST port=$src_PORT dbname=dry user=postgres"
	assert_line "destination 1: host=$dst_HOST port=$dst_PORT dbname=dry1 user=postgres"
	assert_line "destination 2: host=$dst_HOST port=$dst_PORT dbname=dry2 user=postgres"
	assert_line "max events per write: 10000"
	assert_line "connect timeout: 15s"
	assert_line --partial "nothing copied"
	[[ $output != *S3cretPw* && $stderr != *S3cretPw* ]] || fail "a password was shown"
	[[ $output != *D3stPw* && $stderr != *D3stPw* ]] || fail "a password was shown"
	assert_equal "$(events_maxid dst dry1)" 0
	assert_equal "$(events_maxid dst dry2)" 0

	run --separate-stderr pipeline --source "$(src_of dry)" \
		--destination "$(dst_of dry1)" --dry-run --poll-interval 2 --log-format=json
	assert_success
	assert_line "poll interval: 2s"
	assert_equal "$(events_maxid dst dry1)" 0
}

# --- start-up refusals ---------------------------------------------------

@test "start-up checks: another first event, a source as destination, a destination ahead" {
	new_source chk 90
	new_dest chkok
	local before

	# another first event: refused, untouched, and the good destination too
	new_dest chkother
	psql_c dst chkother "INSERT INTO events VALUES (1, now(), '{\"another\": \"source\"}')"
	before=$(events_md5 dst chkother)
	run --separate-stderr pipeline --source "$(src_of chk)" \
		--destination "$(dst_of chkok)" --destination "$(dst_of chkother)" --log-format=text
	assert_failure 2
	[[ $stderr == *"start-up check failed for destination 2"* ]] || fail "$stderr"
	assert_equal "$(events_md5 dst chkother)" "$before"
	assert_equal "$(events_maxid dst chkok)" 0

	# a destination that is itself a source (notify trigger, id table)
	db_create dst chksrc source >/dev/null
	run --separate-stderr pipeline --source "$(src_of chk)" \
		--destination "$(dst_of chksrc)" --log-format=text
	assert_failure 2
	[[ $stderr == *"start-up check failed for destination 1"* ]] || fail "$stderr"
	assert_equal "$(events_maxid dst chksrc)" 0

	# a destination ahead of the source
	new_dest chkahead
	slate-extract "$(src_of chk)" 2>/dev/null | slate-load "$(dst_of chkahead)" 2>/dev/null
	psql_c dst chkahead "INSERT INTO events SELECT 91, now(), '{}'"
	before=$(events_md5 dst chkahead)
	run --separate-stderr pipeline --source "$(src_of chk)" \
		--destination "$(dst_of chkahead)" --log-format=text
	assert_failure 2
	[[ $stderr == *"ahead"* ]] || fail "$stderr"
	assert_equal "$(events_md5 dst chkahead)" "$before"

	# a source that fails its own check: its failure is the one reported,
	# though the destinations' checks ran at the same time (and chkother's
	# would fail)
	db_create src chknotsrc destination >/dev/null
	run --separate-stderr pipeline --source "$(src_of chknotsrc)" \
		--destination "$(dst_of chkok)" --destination "$(dst_of chkother)" --log-format=text
	assert_failure 2
	[[ $stderr == *"start-up check failed for the source"* ]] || fail "$stderr"
	[[ $stderr != *"for destination"* && $stderr != *"ERROR slate-load"* ]] ||
		fail "a destination's check was reported too: $stderr"
	assert_equal "$(events_maxid dst chkok)" 0

	# the same destination twice, or the source as destination
	run pipeline --source "$(src_of chk)" \
		--destination "$(dst_of chkok)" --destination "$(dst_of chkok)"
	assert_failure 2
	run pipeline --source "$(src_of chk)" --destination "$(src_of chk)"
	assert_failure 2
	assert_equal "$(events_maxid dst chkok)" 0
}

# --- killed stages -------------------------------------------------------

# kill_stage_test STAGE: kill -9 STAGE while events arrive; the pipeline
# stops naming it; the destination is a boundary prefix; a restart completes it
kill_stage_test() {
	local stage=$1 db=k${1#slate-} victim
	new_source "$db" 300
	new_dest "$db"
	start_pipeline p --source "$(src_of "$db")" --destination "$(dst_of "$db")" --poll-interval 1
	start_inserter "$db"
	prefix_until_at_least "$db" 600
	victim=$(stage_pid "$PID" "$stage")
	kill -KILL "$victim"
	wait_exit "$PID" 10
	assert_equal "$STATUS" 1
	grep -q "ERROR slate-replicator: $stage for destination 1 (.*) stopped with exit status 137 (signal 9); replication stopped" \
		"$BATS_TEST_TMPDIR/p.log" || fail "no line naming $stage: $(cat "$BATS_TEST_TMPDIR/p.log")"
	[[ -z $(pgrep -g "$PID") ]] || fail "stages left: $(pgrep -a -g "$PID")"
	# the source keeps growing; the stopped destination stays a boundary prefix
	assert_boundary_prefix src "$db" dst "$db"
	assert wait_until 15 at_least src "$db" $(($(events_maxid dst "$db") + 100))
	assert_boundary_prefix src "$db" dst "$db"
	start_pipeline p2 --source "$(src_of "$db")" --destination "$(dst_of "$db")" --poll-interval 1
	sleep 0.5
	assert_boundary_prefix src "$db" dst "$db"
	stop_inserter "$db"
	wait_caught_up "$db" "$db"
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
}

@test "kill -9 of slate-listen: exit 1 naming it, a boundary prefix, a restart completes" {
	kill_stage_test slate-listen
}

@test "kill -9 of slate-extract: exit 1 naming it, a boundary prefix, a restart completes" {
	kill_stage_test slate-extract
}

@test "kill -9 of slate-load: exit 1 naming it, a boundary prefix, a restart completes" {
	kill_stage_test slate-load
}

@test "--restart: a killed stage is restarted and the destination converges" {
	new_source rst 150
	new_dest rst
	start_pipeline p --source "$(src_of rst)" --destination "$(dst_of rst)" --poll-interval 1 --restart
	start_inserter rst
	prefix_until_at_least rst 600
	local stage old new
	for stage in slate-load slate-extract; do
		old=$(stage_pid "$PID" "$stage")
		kill -KILL "$old"
		assert wait_until 15 grep -q "restarting in" "$BATS_TEST_TMPDIR/p.log"
		assert_boundary_prefix src rst dst rst
		for _ in $(seq 100); do
			new=$(pgrep -g "$PID" -x "$stage") && [[ $new != "$old" ]] && break
			sleep 0.1
		done
		[[ -n $new && $new != "$old" ]] || fail "$stage was not restarted: $(cat "$BATS_TEST_TMPDIR/p.log")"
		assert running "$PID"
		# it moves again
		local m
		prefix_until_at_least rst $(($(events_maxid dst rst) + 100))
		: >"$BATS_TEST_TMPDIR/p.log"
	done
	stop_inserter rst
	wait_caught_up rst rst
	assert running "$PID"
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
}

# --- lost LISTEN connection, big events ----------------------------------

@test "a terminated LISTEN backend: slate-listen reconnects and later events arrive" {
	new_source lsn 30
	new_dest lsn
	# a 30 s poll: only a notification or the reconnect's wake can deliver in time
	start_pipeline p --source "$(src_of lsn)" --destination "$(dst_of lsn)" --poll-interval 30
	wait_caught_up lsn lsn
	assert wait_until 15 psql_c src postgres "SELECT 1/count(*) FROM pg_stat_activity
		WHERE application_name = 'slate-listen' AND query LIKE 'LISTEN%'"
	run psql_c src postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'slate-listen'"
	assert_output t
	# events committed while the listener is away come with the reconnect's wake
	insert_events src lsn 45 >/dev/null
	t0=$(now_us)
	wait_caught_up lsn lsn
	(($(elapsed_ms "$t0") < 10000)) || fail "caught up only after $(elapsed_ms "$t0") ms"
	# and notifications work again on the new connection
	assert wait_until 15 psql_c src postgres "SELECT 1/count(*) FROM pg_stat_activity
		WHERE application_name = 'slate-listen' AND query LIKE 'LISTEN%'"
	insert_events src lsn 30 >/dev/null
	t0=$(now_us)
	wait_caught_up lsn lsn
	(($(elapsed_ms "$t0") < 10000)) || fail "caught up only after $(elapsed_ms "$t0") ms"
	# once more, terminating by the LISTEN query
	psql_c src postgres "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN%' AND datname = 'lsn'" >/dev/null
	insert_events src lsn 15 >/dev/null
	t0=$(now_us)
	wait_caught_up lsn lsn
	(($(elapsed_ms "$t0") < 10000)) || fail "caught up only after $(elapsed_ms "$t0") ms"
	assert running "$PID"
	grep -q "reconnected" "$BATS_TEST_TMPDIR/p.log"
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
}

@test "events over 8000 bytes replicate with the id-only notification" {
	new_source big 15
	psql -X -q -v ON_ERROR_STOP=1 -d "$(src_of big)" -f "$SLATE_ROOT/sql/notify-id-only.sql"
	new_dest big
	start_pipeline p --source "$(src_of big)" --destination "$(dst_of big)" --poll-interval 30
	wait_caught_up big big
	insert_events src big 30 20000 >/dev/null
	psql_c src big "SELECT insert_events(format('(\$1[1], \$2, %L)',
		json_build_object('big', repeat('x', 25000), 'more', repeat('é', 12000))))" >/dev/null
	t0=$(now_us)
	wait_caught_up big big
	(($(elapsed_ms "$t0") < 10000)) || fail "caught up only after $(elapsed_ms "$t0") ms"
	assert_equal "$(psql_c dst big "SELECT count(*) FROM events WHERE length(event::text) > 8000")" 31
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
}

# --- stopping ------------------------------------------------------------

@test "Ctrl-C (SIGINT to the process group) stops everything within 2 s, exit 0" {
	new_source sigint 300
	new_dest sigint
	start_pipeline p --source "$(src_of sigint)" --destination "$(dst_of sigint)" --poll-interval 1
	wait_caught_up sigint sigint
	start_inserter sigint
	assert wait_until 15 at_least dst sigint 400
	assert_equal "$(pgrep -g "$PID" -c -x 'slate-(listen|extract|load)')" 3
	kill -INT -- "-$PID"
	# the README's promise: Ctrl-C stops every stage within 2 seconds
	wait_exit "$PID" 2 || fail "still running 2 s after Ctrl-C: $(cat "$BATS_TEST_TMPDIR/p.log")"
	((STATUS == 0)) || fail "exit status $STATUS after Ctrl-C: $(cat "$BATS_TEST_TMPDIR/p.log")"
	[[ -z $(pgrep -g "$PID") ]] || fail "left running: $(pgrep -a -g "$PID")"
	stop_inserter sigint
	assert_boundary_prefix src sigint dst sigint
	grep -q "stopped" "$BATS_TEST_TMPDIR/p.log"
}

@test "SIGTERM to pipeline.sh alone stops every stage within 2 s, exit 0" {
	new_source sigterm 300
	new_dest sigterm1
	new_dest sigterm2
	start_pipeline p --source "$(src_of sigterm)" --destination "$(dst_of sigterm1)" \
		--destination "$(dst_of sigterm2)" --poll-interval 1
	wait_caught_up sigterm sigterm1 sigterm2
	assert_equal "$(pgrep -g "$PID" -c -x 'slate-(listen|extract|load)')" 6
	kill -TERM "$PID"
	wait_exit "$PID" 2 || fail "still running 2 s after SIGTERM: $(cat "$BATS_TEST_TMPDIR/p.log")"
	assert_equal "$STATUS" 0
	[[ -z $(pgrep -g "$PID") ]] || fail "left running: $(pgrep -a -g "$PID")"
}

@test "SIGTERM to every stage, not to pipeline.sh (systemd's stop): exit 0, \"stopped\", no error" {
	new_source stagestop 300
	new_dest stagestop
	start_pipeline p --source "$(src_of stagestop)" --destination "$(dst_of stagestop)" --poll-interval 1
	wait_caught_up stagestop stagestop
	# the stages alone, as when the signal reaches them before the shell
	pkill -TERM -g "$PID" -x 'slate-(listen|extract|load)'
	wait_exit "$PID" 5 || fail "still running 5 s after the stages were stopped: $(cat "$BATS_TEST_TMPDIR/p.log")"
	((STATUS == 0)) || fail "exit status $STATUS: $(cat "$BATS_TEST_TMPDIR/p.log")"
	grep -q "INFO slate-replicator: stopped" "$BATS_TEST_TMPDIR/p.log"
	! grep -q "ERROR" "$BATS_TEST_TMPDIR/p.log"
	assert_boundary_prefix src stagestop dst stagestop
}

# --- passwords -----------------------------------------------------------

@test "config passwords: never in ps, a 0600 pgpass file removed at exit" {
	new_source pwcfg 200
	new_dest pwcfg
	write_config_js "$BATS_TEST_TMPDIR/config.js" pwcfg pwcfg
	start_pipeline p -c "$BATS_TEST_TMPDIR/config.js" --poll-interval 1
	wait_caught_up pwcfg pwcfg
	local load passfile
	load=$(stage_pid "$PID" slate-load)
	run ps -eo args
	assert_success
	refute_output --partial S3cretPw
	refute_output --partial D3stPw
	passfile=$(tr '\0' '\n' <"/proc/$load/environ" | sed -n 's/^PGPASSFILE=//p')
	[[ -n $passfile ]] || fail "the stages have no PGPASSFILE"
	assert_equal "$(stat -c %a "$passfile")" 600
	assert_equal "$(stat -c %a "$(dirname "$passfile")")" 700
	grep -q ':pwcfg:postgres:S3cretPw$' "$passfile"
	grep -q ':pwcfg:postgres:D3stPw$' "$passfile"
	refute grep -q S3cretPw "$BATS_TEST_TMPDIR/p.log"
	kill -TERM "$PID"
	wait_exit "$PID" 5
	assert_equal "$STATUS" 0
	[[ ! -e $passfile ]] || fail "$passfile is left behind"

	# also when a start-up check fails
	psql_c dst pwcfg "INSERT INTO events SELECT 201, now(), '{}'"
	run --separate-stderr pipeline -c "$BATS_TEST_TMPDIR/config.js" --log-format=text
	assert_failure 2
	[[ ! -e $passfile ]]
	[[ $stderr != *S3cretPw* && $stderr != *D3stPw* ]]
}
