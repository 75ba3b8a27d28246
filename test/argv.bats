#!/usr/bin/env bats
# Passwords from a configuration file never reach a process's argv, short-
# lived ones included: every execve of pipeline.sh and of everything it
# starts (slate-config, the start-up checks, the stages, tee, date...) is
# traced with strace, which misses none, where sampling ps would.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 90
	db_create pg pwdst destination
	# scram-sha-256 over TCP for two roles, so the passwords are really used
	local hba=$pg_DIR/data/pg_hba.conf
	{ echo "host all argv_src,argv_dst 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$BATS_FILE_TMPDIR/hba"
	cat "$BATS_FILE_TMPDIR/hba" >"$hba"
	psql_c pg src "SET password_encryption = 'scram-sha-256';
		CREATE ROLE argv_src LOGIN PASSWORD 'Src-pw-s3cret-4711';
		CREATE ROLE argv_dst LOGIN PASSWORD 'Dst:pw-s3cret\\4712';
		GRANT SELECT ON events TO argv_src;
		SELECT pg_reload_conf()" >/dev/null
	psql_c pg pwdst "GRANT SELECT, INSERT ON events TO argv_dst"
	# the reload is asynchronous: wait until a password is required
	wait_until 10 no_password_fails
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

no_password_fails() {
	! PGPASSWORD= psql -X -w -At -d "host=127.0.0.1 port=$pg_PORT dbname=src user=argv_src" \
		-c "SELECT 1" </dev/null >/dev/null 2>&1
}

# write_config FILE SRC_PASSWORD (a JavaScript string body)
write_config() {
	cat >"$1" <<-EOF
		module.exports = {
		    eventSource: { host: '127.0.0.1:$pg_PORT', databaseName: 'src', user: 'argv_src', password: '$2' },
		    replicationDestinations: [
		        { host: '127.0.0.1:$pg_PORT', databaseName: 'pwdst', user: 'argv_dst', password: 'Dst:pw-s3cret\\\\4712' },
		    ],
		};
	EOF
}

# traced FILE CMD...: CMD under strace, every execve of it and its
# descendants, whole strings, argv and environment, into FILE
traced() {
	local file=$1
	shift
	# LeakSanitizer cannot work under ptrace: under SANITIZE=address the
	# traced programs check everything else but leaks
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	# exec: bg_start's pid is then strace's, whose only child is CMD
	exec strace -f -qq -v -s 4096 -e trace=execve -o "$file" "$@"
}

# assert_no_password FILE: no execve in the trace FILE shows a password
assert_no_password() {
	run grep -c -F -e s3cret "$1"
	assert_output 0
}

# assert_traced FILE PATTERN: the trace FILE holds an execve matching PATTERN
assert_traced() {
	grep -q -E "execve\\(\"[^\"]*\", \\[$2" "$1" || fail "no execve of $2 in $1"
}

converged() {
	[[ $(events_md5 pg pwdst) == "$(events_md5 pg src)" ]]
}

@test "config passwords reach no argv of any process: dry run, start-up checks, run, stop, refusal" {
	local t=$BATS_TEST_TMPDIR child
	write_config "$t/config.js" 'Src-pw-s3cret-4711'

	run --separate-stderr traced "$t/dry.trace" "$SLATE_ROOT/pipeline.sh" -c "$t/config.js" --dry-run
	assert_success
	assert_line "dry run: all checks passed, nothing copied"
	assert_traced "$t/dry.trace" '"[^"]*slate-config", "--passfile"'
	assert_traced "$t/dry.trace" '"[^"]*slate-extract", "--check"'
	assert_traced "$t/dry.trace" '"[^"]*slate-load", "--check"'
	assert_no_password "$t/dry.trace"

	bg_start PID traced "$t/run.trace" "$SLATE_ROOT/pipeline.sh" -c "$t/config.js" \
		--poll-interval 1 --log-format=json >/dev/null 2>"$t/p.log"
	assert wait_until 60 converged
	insert_events pg src 45 >/dev/null
	assert wait_until 30 converged
	# stop pipeline.sh, strace's child; strace ends with it, with its status
	child=$(pgrep -P "$PID")
	[[ -n $child ]] || fail "no pipeline.sh under strace"
	kill -TERM "$child"
	wait_exit "$PID" 20
	assert_equal "$STATUS" 0
	assert_traced "$t/run.trace" '"[^"]*slate-listen", "--reconnect"'
	assert_traced "$t/run.trace" '"[^"]*slate-extract", "--follow"'
	assert_traced "$t/run.trace" '"[^"]*slate-load", "--max-events-per-write"'
	assert_traced "$t/run.trace" '"date"'
	# the stages got the passwords through the private pgpass file
	grep -q -E 'slate-load", "--max-events-per-write".*"PGPASSFILE=[^"]*/pgpass"' "$t/run.trace" ||
		fail "slate-load was started without PGPASSFILE"
	assert_no_password "$t/run.trace"
	run grep -c -F s3cret "$t/p.log"
	assert_output 0

	# a wrong password: refused at the start-up checks, shown nowhere
	write_config "$t/wrong.js" 'Wrong-pw-s3cret-0815'
	run --separate-stderr traced "$t/wrong.trace" "$SLATE_ROOT/pipeline.sh" -c "$t/wrong.js" --log-format=text
	assert_failure 2
	assert_regex "$stderr" 'password authentication failed for user "argv_src"'
	[[ $stderr != *s3cret* ]] || fail "$stderr"
	assert_traced "$t/wrong.trace" '"[^"]*slate-extract", "--check"'
	assert_no_password "$t/wrong.trace"
}
