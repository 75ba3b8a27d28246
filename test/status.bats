#!/usr/bin/env bats
# slate-status: figures of a caught-up, a lagging, a stopped and an
# unreachable destination; its three formats parsed back; the check's exit
# statuses at each threshold.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 3000
	db_create pg lag destination
	db_create pg live destination
	SRC=$(cluster_conninfo pg src)
	LAG=$(cluster_conninfo pg lag)
	LIVE=$(cluster_conninfo pg live)
	# a port nobody listens on: an unreachable destination
	DOWN="host=127.0.0.1 port=$(free_port) dbname=gone user=postgres"
	export SRC LAG LIVE DOWN
	# the lagging destination: the first 1500 events (to a transaction's end)
	slate-extract --until 1500 "$SRC" 2>/dev/null | slate-load "$LAG" 2>/dev/null
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

# age_of ID: the age in seconds, on the source's clock, of source event ID
age_of() {
	psql_c pg src "SELECT extract(epoch FROM clock_timestamp() - ts) FROM events WHERE id = $1"
}

# lines_at_least FILE N: FILE has N lines or more
lines_at_least() {
	(($(wc -l <"$1") >= $2))
}

# field JSON NAME: one field of a JSON line, through a JSON parser
field() {
	jq -r --arg k "$2" '.[$k] | tostring' <<<"$1"
}

# start_replicator DST: slate-replicator into DST in the background
start_replicator() {
	setsid "$SLATE_ROOT/pipeline.sh" --source "$SRC" --destination "$1" --poll-interval 1 \
		>/dev/null 2>"$BATS_TEST_TMPDIR/replicator.log" 3>&- &
	REPLICATOR=$!
	echo "group $REPLICATOR" >>"$(bg_file)"
}

# status_until FILTER: run slate-status on LIVE (JSON) every 0.1 s until jq's
# FILTER is true of its line (at most 20 s); leaves it in $output
status_until() {
	local i
	for ((i = 0; i < 200; i++)); do
		run --separate-stderr slate-status --format=json --source "$SRC" --destination "$LIVE"
		[[ $(jq -r "$1" <<<"$output" 2>/dev/null) == true ]] && return 0
		sleep 0.1
	done
	fail "slate-status never showed $1: $output"
}

@test "--help, --version, and usage errors are UNKNOWN (3)" {
	run slate-status --help
	assert_success
	assert_output --partial "Usage:"
	run slate-status --version
	assert_success
	assert_output --regexp '^slate-status \(slate\) [0-9]+\.[0-9]+'
	run slate-status --frobnicate
	assert_failure 3
	assert_output --partial 'Try "slate-status --help" for more information.'
	run slate-status --source "$SRC"
	assert_failure 3
	assert_output --partial "no destination"
	run slate-status --source "$SRC" --destination "$LAG" --format=xml
	assert_failure 3
	assert_output --partial 'invalid value "xml" for --format'
	run slate-status --source "$SRC" --destination "$LAG" --warn-seconds=-1
	assert_failure 3
	run slate-status --source "$SRC" --destination "$LAG" --crit-events=x
	assert_failure 3
	run slate-status --source "$SRC" --destination "$LAG password=hunter2"
	assert_failure 3
	assert_output --partial "holds a password"
	refute_output --partial hunter2
}

@test "a lagging destination: its position, events and seconds behind, not written" {
	local pos src_max before after secs
	pos=$(events_maxid pg lag)
	src_max=$(events_maxid pg src)
	((pos >= 1500 && pos < src_max))
	before=$(age_of $((pos + 1)))
	run --separate-stderr slate-status --format=json --source "$SRC" --destination "$LAG"
	after=$(age_of $((pos + 1)))
	assert_success
	assert_equal "$(field "$output" position)" "$pos"
	assert_equal "$(field "$output" source_position)" "$src_max"
	assert_equal "$(field "$output" behind_events)" "$((src_max - pos))"
	assert_equal "$(field "$output" written)" false
	assert_equal "$(field "$output" state)" OK
	secs=$(field "$output" behind_seconds)
	# the age of event pos+1 when slate-status looked, between two readings of it
	awk -v s="$secs" -v a="$before" -v b="$after" 'BEGIN { exit !(s > 0 && s >= a - 0.001 && s <= b + 0.001) }' ||
		fail "behind_seconds $secs is not between $before and $after"
	# the text line says the same
	run --separate-stderr slate-status --source "$SRC" --destination "$LAG"
	assert_success
	assert_line --index 0 --regexp "^SLATE OK - 1 destination: 1 OK, 0 WARNING, 0 CRITICAL, 0 UNKNOWN; source at $src_max, most behind $((src_max - pos)) events, [0-9.]+ s \| behind_events_1=$((src_max - pos));;;0 behind_seconds_1=[0-9.]+s;;;0\$"
	assert_line --index 1 --regexp "^OK: destination 1 \(host=.* dbname=lag user=postgres\): position $pos, $((src_max - pos)) events and [0-9.]+ s behind, not being written\$"
}

@test "a caught-up destination being written, then stopped, then lagging" {
	local src_max before after secs
	start_replicator "$LIVE"
	status_until ".written and .behind_events == 0"
	src_max=$(events_maxid pg src)
	assert_equal "$(field "$output" position)" "$src_max"
	assert_equal "$(field "$output" behind_seconds)" 0
	assert_equal "$(field "$output" state)" OK
	# written: --crit-not-written passes
	run --separate-stderr slate-status --crit-not-written --source "$SRC" --destination "$LIVE"
	assert_success
	assert_line --index 1 --partial "being written by slate-load"

	# stopped: caught up still, but nothing writes it
	kill -TERM -- "-$REPLICATOR"
	status_until "(.written | not) and .behind_events == 0"
	run --separate-stderr slate-status --crit-not-written --source "$SRC" --destination "$LIVE"
	assert_failure 2
	assert_line --index 0 --partial "SLATE CRITICAL - 1 destination: 0 OK, 0 WARNING, 1 CRITICAL"
	assert_line --index 1 --partial "not being written; no replicator is writing it"

	# stopped while the source goes on: it falls behind by what was added
	insert_events pg src 45
	before=$(age_of $((src_max + 1)))
	run --separate-stderr slate-status --format=json --source "$SRC" --destination "$LIVE"
	after=$(age_of $((src_max + 1)))
	assert_success
	assert_equal "$(field "$output" position)" "$src_max"
	assert_equal "$(field "$output" behind_events)" 45
	assert_equal "$(field "$output" written)" false
	secs=$(field "$output" behind_seconds)
	awk -v s="$secs" -v a="$before" -v b="$after" 'BEGIN { exit !(s > 0 && s >= a - 0.001 && s <= b + 0.001) }' ||
		fail "behind_seconds $secs is not between $before and $after"

	# and a replicator started again catches it up
	start_replicator "$LIVE"
	status_until ".written and .behind_events == 0 and .position == $((src_max + 45))"
}

@test "thresholds: each exit status at its threshold, and the first line names it" {
	local behind
	behind=$(($(events_maxid pg src) - $(events_maxid pg lag)))
	run slate-status --warn-events=$behind --crit-events=$((behind + 1)) --source "$SRC" --destination "$LAG"
	assert_success
	assert_line --index 0 --partial "SLATE OK"
	run slate-status --warn-events=$((behind - 1)) --source "$SRC" --destination "$LAG"
	assert_failure 1
	assert_line --index 0 --partial "SLATE WARNING"
	assert_line --index 1 --partial "WARNING: destination 1"
	assert_line --index 1 --partial "; more than $((behind - 1)) events behind"
	# the performance data carries the thresholds
	assert_line --index 0 --regexp " \| behind_events_1=$behind;$((behind - 1));;0 behind_seconds_1=[0-9.]+s;;;0\$"
	run slate-status --warn-events=0 --crit-events=$((behind - 1)) --source "$SRC" --destination "$LAG"
	assert_failure 2
	assert_line --index 0 --partial "SLATE CRITICAL"
	assert_line --index 1 --partial "; more than $((behind - 1)) events behind"
	# the lagging destination's oldest missing event is some seconds old, never a day
	run slate-status --warn-seconds=86400 --crit-seconds=86400 --source "$SRC" --destination "$LAG"
	assert_success
	run slate-status --warn-seconds=0 --crit-seconds=86400 --source "$SRC" --destination "$LAG"
	assert_failure 1
	assert_line --index 1 --partial "; more than 0 s behind"
	# (the oldest missing event grows older: wait until it is over 0.5 s old)
	local i
	for ((i = 0; i < 50; i++)); do
		awk -v a="$(age_of $(($(events_maxid pg lag) + 1)))" 'BEGIN { exit !(a > 0.5) }' && break
		sleep 0.1
	done
	run slate-status --warn-seconds=0 --crit-seconds=0.5 --source "$SRC" --destination "$LAG"
	assert_failure 2
	assert_line --index 0 --regexp "behind_seconds_1=[0-9.]+s;0;0.5;0\$"
	run slate-status --crit-not-written --source "$SRC" --destination "$LAG"
	assert_failure 2
	# JSON and Prometheus carry the same state and exit status
	run --separate-stderr slate-status --format=json --warn-events=0 --source "$SRC" --destination "$LAG"
	assert_failure 1
	assert_equal "$(field "$output" state)" WARNING
	run --separate-stderr slate-status --format=prometheus --crit-events=0 --source "$SRC" --destination "$LAG"
	assert_failure 2
	assert_line --regexp '^slate_destination_state\{destination="host=.* dbname=lag user=postgres"\} 2$'
}

@test "an unreachable destination is UNKNOWN and hides neither the others nor a CRITICAL" {
	run --separate-stderr slate-status --source "$SRC" --destination "$DOWN" --destination "$LAG"
	assert_failure 3
	assert_line --index 0 --partial "SLATE UNKNOWN - 2 destinations: 1 OK, 0 WARNING, 0 CRITICAL, 1 UNKNOWN"
	assert_line --index 1 --regexp '^UNKNOWN: destination 1 \(host=127.0.0.1 port=[0-9]+ dbname=gone user=postgres\): could not be read \(SQLSTATE 08001\)$'
	assert_line --index 2 --partial "OK: destination 2 ("
	assert_line --index 2 --partial "dbname=lag"
	[[ $stderr == *"could not connect to destination"* ]]
	# a critical destination beside it makes the whole CRITICAL
	run --separate-stderr slate-status --crit-not-written --source "$SRC" --destination "$DOWN" --destination "$LAG"
	assert_failure 2
	assert_line --index 0 --partial "SLATE CRITICAL - 2 destinations: 0 OK, 0 WARNING, 1 CRITICAL, 1 UNKNOWN"
	# JSON: a line for each, the unreachable one without figures
	run --separate-stderr slate-status --format=json --source "$SRC" --destination "$DOWN" --destination "$LAG"
	assert_failure 3
	assert_equal "${#lines[@]}" 2
	assert_equal "$(field "${lines[0]}" up)" false
	assert_equal "$(field "${lines[0]}" position)" null
	assert_equal "$(field "${lines[0]}" state)" UNKNOWN
	assert_equal "$(field "${lines[1]}" position)" "$(events_maxid pg lag)"
	# an unreachable source: positions still, lag unknown
	run --separate-stderr slate-status --format=json --source "$DOWN" --destination "$LAG"
	assert_failure 3
	assert_equal "$(field "$output" position)" "$(events_maxid pg lag)"
	assert_equal "$(field "$output" behind_events)" null
	assert_equal "$(field "$output" reason)" "the source could not be read"
}

# prom_check FILE: the text exposition format's grammar (version 0.0.4),
# checked line by line: HELP and TYPE before a family's samples, each family
# once, names and labels well-formed, values numbers; prints the samples
prom_check() {
	python3 - "$1" <<-'EOF'
		import re, sys
		name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
		label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
		sample = re.compile(r'^(%s)(\{%s(?:,%s)*,?\})? (-?[0-9.e+]+|NaN|[+-]Inf)$' % (name, label, label))
		seen, typed, current = set(), {}, None
		for n, line in enumerate(open(sys.argv[1]).read().split('\n')[:-1], 1):
		    m = re.match(r'^# (HELP|TYPE) (%s) (.+)$' % name, line)
		    if m:
		        if m.group(1) == 'TYPE':
		            assert m.group(3) in ('gauge', 'counter', 'untyped'), line
		            assert m.group(2) not in typed, 'family twice: ' + line
		            typed[m.group(2)] = m.group(3)
		        current = m.group(2)
		        continue
		    m = sample.match(line)
		    assert m, 'line %d is not a sample: %r' % (n, line)
		    assert m.group(1) == current and current in typed, 'sample outside its family: ' + line
		    float(m.group(3))
		    print(line)
	EOF
}

@test "Prometheus output follows the exposition format, labels without passwords" {
	run --separate-stderr slate-status --format=prometheus --source "$SRC" \
		--destination "$LAG" --destination "$DOWN"
	assert_failure 3
	echo "$output" >"$BATS_TEST_TMPDIR/out.prom"
	run prom_check "$BATS_TEST_TMPDIR/out.prom"
	assert_success
	assert_line --regexp "^slate_source_position\{source=\"host=.* dbname=src user=postgres\"\} $(events_maxid pg src)\$"
	assert_line --regexp "^slate_destination_position\{destination=\"host=.* dbname=lag user=postgres\"\} $(events_maxid pg lag)\$"
	assert_line --regexp "^slate_destination_behind_events\{destination=\".*dbname=lag.*\"\} $(($(events_maxid pg src) - $(events_maxid pg lag)))\$"
	assert_line --regexp '^slate_destination_behind_seconds\{destination=".*dbname=lag.*"\} [0-9]+\.[0-9]{3}$'
	assert_line --regexp '^slate_destination_written\{destination=".*dbname=lag.*"\} 0$'
	assert_line --regexp '^slate_destination_up\{destination=".*dbname=gone.*"\} 0$'
	assert_line --regexp '^slate_destination_state\{destination=".*dbname=gone.*"\} 3$'
	refute_line --regexp '^slate_destination_position\{destination=".*dbname=gone'
	refute_output --partial password
}

@test "-c reads the original's config.js; --output replaces a file whole, readable by a collector" {
	cat >"$BATS_TEST_TMPDIR/config.js" <<-EOF
		// the original replicator's configuration
		var config = {
		    connectTimeout: 15000,
		    eventSource: { host: '$pg_HOST:$pg_PORT', databaseName: 'src', user: 'postgres', password: 'S3cretPw' },
		    replicationDestinations: [
		        { host: '$pg_HOST:$pg_PORT', databaseName: 'lag', user: 'postgres', password: 'D3stPw' },
		        { host: '127.0.0.1:$(free_port)', databaseName: 'gone', user: 'postgres' },
		    ],
		};
		module.exports = config;
	EOF
	run --separate-stderr slate-status -c "$BATS_TEST_TMPDIR/config.js" --format=json
	assert_failure 3
	assert_equal "${#lines[@]}" 2
	assert_equal "$(field "${lines[0]}" position)" "$(events_maxid pg lag)"
	assert_equal "$(field "${lines[1]}" state)" UNKNOWN
	refute_output --partial S3cretPw
	refute_output --partial D3stPw
	[[ $stderr != *3cretPw* && $stderr != *D3stPw* ]]
	# no private pgpass file is left behind
	run ls "${TMPDIR:-/tmp}" 
	refute_output --partial "slate-status."

	echo stale >"$BATS_TEST_TMPDIR/slate.prom"
	run --separate-stderr slate-status -c "$BATS_TEST_TMPDIR/config.js" --format=prometheus \
		--output "$BATS_TEST_TMPDIR/slate.prom"
	assert_failure 3
	assert_output ""
	run prom_check "$BATS_TEST_TMPDIR/slate.prom"
	assert_success
	assert_line --partial "slate_destination_position{"
	assert_equal "$(stat -c %a "$BATS_TEST_TMPDIR/slate.prom")" 644
	# nothing else beside it: the temporary file was renamed
	run ls "$BATS_TEST_TMPDIR"
	refute_output --partial "slate.prom."
	# a bad configuration is UNKNOWN, with slate-config's message
	echo "var config = {" >"$BATS_TEST_TMPDIR/bad.js"
	run --separate-stderr slate-status -c "$BATS_TEST_TMPDIR/bad.js"
	assert_failure 3
	[[ $stderr == *bad.js* ]]
	run slate-status -c "$BATS_TEST_TMPDIR/config.js" --source "$SRC"
	assert_failure 3
	assert_output --partial "use either -c CONFIG or --source/--destination"
}

@test "--interval: a report each round on the same sessions, a lost one reopened, SIGTERM ends it with 0" {
	local out=$BATS_TEST_TMPDIR/rounds.jsonl lag_pid src_pid n want
	bg_start STATUS_PID slate-status --interval 0.2 --format=json --log-format=text \
		--source "$SRC" --destination "$LAG" \
		>"$out" 2>"$BATS_TEST_TMPDIR/status.log"
	wait_until 20 lines_at_least "$out" 2
	lag_pid=$(backend_pid pg lag slate-status)
	src_pid=$(backend_pid pg src slate-status)
	[[ -n $lag_pid && -n $src_pid ]] || fail "no slate-status sessions: $(cat "$BATS_TEST_TMPDIR/status.log")"
	n=$(wc -l <"$out")
	wait_until 20 lines_at_least "$out" $((n + 3))
	# three rounds later, the very same sessions
	assert_equal "$(backend_pid pg lag slate-status)" "$lag_pid"
	assert_equal "$(backend_pid pg src slate-status)" "$src_pid"
	# every round reads again: events inserted now show in a later round
	insert_events pg src 15
	want=$(($(events_maxid pg src) - $(events_maxid pg lag)))
	wait_until 20 bash -c "tail -n 1 '$out' | jq -e '.behind_events == $want' >/dev/null"
	# a session the server ends is opened again for a later round
	psql_c pg postgres "SELECT pg_terminate_backend($lag_pid)" >/dev/null
	wait_until 20 bash -c "p=\$(psql -X -At -d '$(cluster_conninfo pg postgres)' -c \
		\"SELECT pid FROM pg_stat_activity WHERE datname = 'lag' AND application_name = 'slate-status'\"); \
		[[ -n \$p && \$p != $lag_pid ]]"
	wait_until 20 bash -c "tail -n 1 '$out' | jq -e '.up and .position == $(events_maxid pg lag)' >/dev/null"
	kill -TERM "$STATUS_PID"
	wait_exit "$STATUS_PID" 5
	assert_equal "$STATUS" 0
	# each line a whole JSON report; the ended session said once: seen on its
	# socket before a round, or (if it ended during one) as that round's error
	run jq -c . "$out"
	assert_success
	(($(grep -c -e ERROR -e 'ended the session' "$BATS_TEST_TMPDIR/status.log") == 1)) ||
		fail "not one line about the ended session: $(cat "$BATS_TEST_TMPDIR/status.log")"
	# a reader that goes away (head) ends it quietly, exit 0
	run bash -c 'slate-status --interval 0.1 --format=json --source "$1" --destination "$2" | head -n 1 >/dev/null
		echo "${PIPESTATUS[0]}"' _ "$SRC" "$LAG"
	assert_output 0
	run slate-status --interval 0.05 --source "$SRC" --destination "$LAG"
	assert_failure 3
	assert_output --partial "must be 0.1 seconds or more"
}

@test "only index lookups: no sequential scan of events on either side" {
	psql_c pg src "SELECT pg_stat_reset()" >/dev/null
	psql_c pg lag "SELECT pg_stat_reset()" >/dev/null
	run slate-status --source "$SRC" --destination "$LAG"
	assert_success
	# the statistics collector reports on its own time: poll for the index use
	local i
	for ((i = 0; i < 100; i++)); do
		psql_c pg src "SELECT pg_stat_force_next_flush()" >/dev/null 2>&1 || true
		[[ $(psql_c pg src "SELECT coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'events'") -gt 0 ]] && break
		sleep 0.1
	done
	assert_equal "$(psql_c pg src "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'events'")" 0
	assert_equal "$(psql_c pg lag "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'events'")" 0
	(($(psql_c pg src "SELECT idx_scan FROM pg_stat_user_tables WHERE relname = 'events'") > 0))
}
