#!/usr/bin/env bats
# What the options promise, seen from outside: --max-events-per-write (where
# commits fall), --connect-timeout (against a server that never answers),
# --synchronous-commit (the load session's setting) and --log-format auto.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 90
	SRC=$(cluster_conninfo pg src)
	export SRC
	# a stream file of 23050 events in 1547 transactions of 1 to 30 events
	slate-loadgen --seed 1 --count-person 1000 --count-filler 20000 \
		--output "$BATS_FILE_TMPDIR/loadgen.mp" 2>/dev/null
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	# a postmaster a test stopped with SIGSTOP must go on, or nothing stops it
	[[ -n ${FROZEN:-} ]] && kill -CONT "$FROZEN" 2>/dev/null
	kill_background
	return 0
}

# commit_sizes DB: the number of events of each transaction that wrote DB's
# events, in id order, one line each (rows of one transaction share its xmin)
commit_sizes() {
	psql_c pg "$1" "SELECT count(*) FROM events GROUP BY xmin ORDER BY min(id)"
}

# expected_commit_sizes DB N: the sizes commit_sizes would show had every
# commit come at the first source-transaction boundary (change of ts) after
# N events or more, and at the end
expected_commit_sizes() {
	psql_c pg "$1" "SELECT count(*) FROM events GROUP BY ts ORDER BY min(id)" |
		awk -v n="$2" '{ b += $1; if (b >= n) { print b; b = 0 } } END { if (b) print b }'
}

# holds CLUSTER DB N: DB's events table holds exactly N events
holds() {
	[[ $(events_count "$1" "$2") == "$3" ]]
}

# --- --max-events-per-write ------------------------------------------------

@test "slate-load --max-events-per-write N commits at the first transaction boundary after N events" {
	local n db
	for n in 10000 100 1; do
		db=maxev$n
		db_create pg "$db" destination >/dev/null
		if ((n == 10000)); then
			run --separate-stderr slate-load --log-format=text "$(cluster_conninfo pg "$db")" \
				<"$BATS_FILE_TMPDIR/loadgen.mp"
		else
			run --separate-stderr slate-load --log-format=text --max-events-per-write "$n" \
				"$(cluster_conninfo pg "$db")" <"$BATS_FILE_TMPDIR/loadgen.mp"
		fi
		assert_success
		assert_equal "$(events_count pg "$db")" 23050
		assert_equal "$(commit_sizes "$db")" "$(expected_commit_sizes "$db" "$n")"
	done
	# the default, 10000: three commits, the first two just past 10000
	assert_equal "$(commit_sizes maxev10000 | tr '\n' ' ')" "10002 10005 3043 "
	# 1: every source transaction is a commit of its own
	assert_equal "$(commit_sizes maxev1 | wc -l)" 1547

	run --separate-stderr slate-load --max-events-per-write 0 "$(cluster_conninfo pg maxev1)" </dev/null
	assert_failure 2
	assert_equal "${stderr_lines[0]}" 'slate-load: invalid value "0" for --max-events-per-write: must be an integer from 1 to 2147483647'
}

@test "slate-load commits at a boundary marker once its input is idle, far below N" {
	local dst
	dst=$(fresh_dest pg idle)
	bg_start PID bash -c 'slate-listen --poll-interval 1 "$1" |
		slate-extract --follow "$1" | slate-load --max-events-per-write 10000 "$2"' _ "$SRC" "$dst" \
		2>"$BATS_TEST_TMPDIR/chain.log"
	# 90 events arrive while the stream goes on (no end marker, no EOF)
	assert wait_until 30 holds pg idle 90
	assert running "$PID"
	# and each later source transaction soon after its commit
	insert_events pg src 15 >/dev/null
	assert wait_until 30 holds pg idle 105
	insert_events pg src 30 >/dev/null
	assert wait_until 30 holds pg idle 135
	assert running "$PID"
	assert_equal "$(events_md5 pg idle)" "$(events_md5 pg src)"
	# every commit ended on a source-transaction boundary, none waited for 10000
	local sizes
	sizes=$(commit_sizes idle)
	(($(wc -l <<<"$sizes") >= 3)) || fail "fewer commits than batches: $sizes"
	psql_c pg idle "SELECT max(id) FROM events GROUP BY xmin" >"$BATS_TEST_TMPDIR/ends"
	while read -r end; do
		assert_equal "$(psql_c pg src "SELECT count(*) FROM events a JOIN events b ON b.id = a.id + 1
			WHERE a.id = $end AND a.ts = b.ts")" 0
	done <"$BATS_TEST_TMPDIR/ends"
}

@test "pipeline.sh hands slate-load 10000 by default, raises less to 10000, keeps more" {
	local n want cmd
	fresh_dest pg pmax >/dev/null
	for n in default 500 0 25000; do
		want=$n
		[[ $n == default || $n -lt 10000 ]] && want=10000
		if [[ $n == default ]]; then
			bg_start PID "$SLATE_ROOT/pipeline.sh" --log-format=text \
				--source "$SRC" --destination "$(cluster_conninfo pg pmax)" >/dev/null 2>"$BATS_TEST_TMPDIR/p.log"
		else
			bg_start PID "$SLATE_ROOT/pipeline.sh" --log-format=text --max-events-per-write "$n" \
				--source "$SRC" --destination "$(cluster_conninfo pg pmax)" >/dev/null 2>"$BATS_TEST_TMPDIR/p.log"
		fi
		# the stages start once the start-up checks (slate-load --check) are over
		assert wait_until 30 grep -q "replicating" "$BATS_TEST_TMPDIR/p.log"
		assert wait_until 30 pgrep -g "$PID" -f "^$SLATE_ROOT/bin/slate-load --max-events-per-write "
		cmd=$(pgrep -a -g "$PID" -x slate-load)
		[[ $cmd == *" --max-events-per-write $want "* ]] || fail "$n: slate-load runs as: $cmd"
		grep -q "INFO slate-replicator: replicating .* up to $want events per write" "$BATS_TEST_TMPDIR/p.log" ||
			fail "$n: $(cat "$BATS_TEST_TMPDIR/p.log")"
		if [[ $n != default && $n -lt 10000 ]]; then
			grep -q "INFO slate-replicator: maxEventsPerWrite $n raised to the minimum 10000" \
				"$BATS_TEST_TMPDIR/p.log" || fail "$n: $(cat "$BATS_TEST_TMPDIR/p.log")"
		else
			! grep -q "raised" "$BATS_TEST_TMPDIR/p.log" || fail "$n: $(cat "$BATS_TEST_TMPDIR/p.log")"
		fi
		kill -TERM "$PID"
		wait_exit "$PID" 10
		assert_equal "$STATUS" 0
	done
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --max-events-per-write 1e4 --source "$SRC" \
		--destination "$(cluster_conninfo pg pmax)"
	assert_failure 2
	assert_equal "${stderr_lines[0]}" 'slate-replicator: invalid value "1e4" for --max-events-per-write'
}

# --- --connect-timeout -----------------------------------------------------

# gives_up_after S CMD...: CMD, run by bats's run, with a server that accepts
# connections but never answers, gives up: not before S seconds, and well
# within 30 (libpq alone would wait for ever)
gives_up_after() {
	local s=$1 start end
	shift
	start=$(date +%s.%N)
	run --separate-stderr timeout 60 "$@"
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" -v s="$s" 'BEGIN { exit !(b - a >= s && b - a < 30) }' ||
		fail "$1 gave up after $(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }') s, not about $s: $stderr"
}

@test "--connect-timeout: a server that accepts but never answers is given up after S seconds, exit 1" {
	local frozen
	cluster_start frozen
	db_create frozen f destination >/dev/null
	frozen=$(cluster_conninfo frozen f)
	FROZEN=$(head -1 "$frozen_DIR/data/postmaster.pid")
	kill -STOP "$FROZEN"

	gives_up_after 2 slate-extract --connect-timeout 2 --log-format=text "$frozen"
	assert_failure 1
	assert_regex "$stderr" "ERROR slate-extract: could not connect to source \\(host=[^ ]* port=$frozen_PORT dbname=f user=postgres\\): timeout expired$"

	gives_up_after 2 slate-load --connect-timeout 2 --log-format=text "$frozen" </dev/null
	assert_failure 1
	assert_regex "$stderr" "ERROR slate-load: could not connect to destination \\(.*dbname=f .*\\): timeout expired$"

	gives_up_after 1 slate-listen --connect-timeout 1 --log-format=text "$frozen"
	assert_failure 1
	assert_regex "$stderr" "ERROR slate-listen: could not connect to .*timeout expired"

	# over TCP as well
	gives_up_after 2 slate-diff --connect-timeout 2 --log-format=text \
		"host=127.0.0.1 port=$frozen_PORT dbname=f user=postgres" "$SRC"
	assert_failure 2
	assert_regex "$stderr" "ERROR slate-diff: could not connect to A \\(host=127.0.0.1 port=$frozen_PORT dbname=f user=postgres\\): timeout expired$"

	# the replicator: an unreachable destination fails its start-up check
	gives_up_after 3 "$SLATE_ROOT/pipeline.sh" --connect-timeout 3 --log-format=text \
		--source "$SRC" --destination "$frozen"
	assert_failure 2
	assert_regex "$stderr" "ERROR slate-load: could not connect to destination \\(.*dbname=f .*\\): timeout expired"
	assert_regex "$stderr" "ERROR slate-replicator: start-up check failed for destination 1 "

	# and the server, let go, answers at once
	kill -CONT "$FROZEN"
	run --separate-stderr slate-extract --connect-timeout 2 --check "$SRC"
	assert_success
	run --separate-stderr slate-load --connect-timeout 2 --check "$frozen" <<<""
	[[ $stderr != *"timeout expired"* ]] || fail "$stderr"
}

# --- --synchronous-commit ----------------------------------------------------

@test "--synchronous-commit: off in the load session by default, on keeps the server's setting" {
	# the test clusters turn it off server-wide; this one leaves it on
	CLUSTER_SETTINGS="synchronous_commit = on" cluster_start sync
	local db setting
	for db in s1 s2 s3 s4; do
		db_create sync "$db" destination >/dev/null
		# a trigger in the load session's own transaction records what it runs with
		psql_c sync "$db" "CREATE TABLE seen (setting text);
			CREATE FUNCTION note_setting() RETURNS trigger LANGUAGE plpgsql AS \$\$
			BEGIN
				INSERT INTO seen VALUES (current_setting('synchronous_commit'));
				RETURN NULL;
			END \$\$;
			CREATE TRIGGER note_setting AFTER INSERT ON events
				FOR EACH STATEMENT EXECUTE FUNCTION note_setting()"
	done
	# a database default is the server's setting too
	psql_c sync postgres "ALTER DATABASE s4 SET synchronous_commit = local"
	assert_equal "$(psql_c sync s1 "SHOW synchronous_commit")" on

	slate-extract --until 30 "$SRC" >"$BATS_TEST_TMPDIR/30.mp" 2>/dev/null
	run --separate-stderr slate-load "$(cluster_conninfo sync s1)" <"$BATS_TEST_TMPDIR/30.mp"
	assert_success
	run --separate-stderr slate-load --synchronous-commit=off "$(cluster_conninfo sync s2)" <"$BATS_TEST_TMPDIR/30.mp"
	assert_success
	run --separate-stderr slate-load --synchronous-commit=on "$(cluster_conninfo sync s3)" <"$BATS_TEST_TMPDIR/30.mp"
	assert_success
	run --separate-stderr slate-load --synchronous-commit=on "$(cluster_conninfo sync s4)" <"$BATS_TEST_TMPDIR/30.mp"
	assert_success
	assert_equal "$(psql_c sync s1 "SELECT string_agg(DISTINCT setting, ',') FROM seen")" off
	assert_equal "$(psql_c sync s2 "SELECT string_agg(DISTINCT setting, ',') FROM seen")" off
	assert_equal "$(psql_c sync s3 "SELECT string_agg(DISTINCT setting, ',') FROM seen")" on
	assert_equal "$(psql_c sync s4 "SELECT string_agg(DISTINCT setting, ',') FROM seen")" local
	for db in s1 s2 s3 s4; do
		assert_equal "$(events_md5 sync "$db")" "$(psql_c pg src "SET timezone = 'UTC'; SET DateStyle = 'ISO, YMD';
			SELECT md5(coalesce(string_agg(id || '|' || ts || '|' || event::text,
			E'\n' ORDER BY id), '')) FROM events WHERE id <= 30")"
	done

	# the replicator's load sessions: off
	db_create sync s5 destination >/dev/null
	psql_c sync s5 "CREATE TABLE seen (setting text);
		CREATE FUNCTION note_setting() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN
			INSERT INTO seen VALUES (current_setting('synchronous_commit'));
			RETURN NULL;
		END \$\$;
		CREATE TRIGGER note_setting AFTER INSERT ON events
			FOR EACH STATEMENT EXECUTE FUNCTION note_setting()"
	bg_start PID "$SLATE_ROOT/pipeline.sh" --log-format=text \
		--source "$SRC" --destination "$(cluster_conninfo sync s5)" >/dev/null 2>"$BATS_TEST_TMPDIR/p.log"
	assert wait_until 30 holds sync s5 "$(events_count pg src)"
	assert_equal "$(psql_c sync s5 "SELECT string_agg(DISTINCT setting, ',') FROM seen")" off
	kill -TERM "$PID"
	wait_exit "$PID" 10
	assert_equal "$STATUS" 0

	run --separate-stderr slate-load --synchronous-commit=yes "$(cluster_conninfo sync s1)" </dev/null
	assert_failure 2
	assert_equal "${stderr_lines[0]}" 'slate-load: invalid value "yes" for --synchronous-commit: use on or off'
}

# --- --log-format auto -------------------------------------------------------

# on_tty CMD: run the shell command CMD with a terminal as stdin, stdout and
# stderr (script(1) from util-linux); print what it wrote there, without \r
on_tty() {
	script -qec "$1" /dev/null </dev/null | tr -d '\r'
}

@test "--log-format auto (the default): text on a terminal, JSON lines otherwise" {
	local prog cmd text json
	text='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z (INFO|ERROR) '
	json='^\{"name":"'
	for prog in slate-extract slate-load slate-listen slate-diff; do
		for fmt in "" "--log-format=auto"; do
			# a server that is not there: one error line
			cmd="$prog $fmt 'host=127.0.0.1 port=1 dbname=x' </dev/null"
			[[ $prog == slate-diff ]] && cmd="$prog $fmt 'host=127.0.0.1 port=1 dbname=x' '$SRC'"
			run on_tty "$cmd"
			assert_regex "$output" "${text}$prog: could not connect to "
			[[ $output != *'{"name"'* ]] || fail "$prog $fmt wrote JSON on a terminal: $output"
			run --separate-stderr bash -c "$cmd"
			assert_regex "$stderr" "${json}$prog\",\"hostname\":\"[^\"]*\",\"pid\":[0-9]+,\"level\":50,\"msg\":\"could not connect to "
		done
	done

	# pipeline.sh, and the stages it starts, the same way
	db_create pg lf destination >/dev/null
	cmd="'$SLATE_ROOT/pipeline.sh' --dry-run --source '$SRC' --destination '$(cluster_conninfo pg lf)'"
	run on_tty "$cmd"
	assert_line --regexp "${text}slate-extract: source \\(.*\\) is valid$"
	assert_line --regexp "${text}slate-load: destination \\(.*\\) is valid for source "
	assert_line "dry run: all checks passed, nothing copied"
	run --separate-stderr bash -c "$cmd --log-format=auto"
	assert_success
	assert_equal "${#stderr_lines[@]}" 2
	assert_regex "${stderr_lines[0]}" "${json}slate-extract\",.*\"level\":30,\"msg\":\"source \\(.*\\) is valid\""
	assert_regex "${stderr_lines[1]}" "${json}slate-load\",.*\"level\":30,\"msg\":\"destination \\(.*\\) is valid for source "
	# and its own lines
	run on_tty "'$SLATE_ROOT/pipeline.sh' --max-events-per-write 5 --dry-run --source '$SRC' --destination '$(cluster_conninfo pg lf)'"
	assert_line --regexp "${text}slate-replicator: maxEventsPerWrite 5 raised to the minimum 10000$"
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --max-events-per-write 5 --dry-run --source "$SRC" \
		--destination "$(cluster_conninfo pg lf)"
	assert_regex "${stderr_lines[0]}" "${json}slate-replicator\",.*\"level\":30,\"msg\":\"maxEventsPerWrite 5 raised to the minimum 10000\""
}
