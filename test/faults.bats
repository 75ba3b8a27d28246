#!/usr/bin/env bats
# The fault matrix: the replicator's invariant under killed stages and servers.
#
# While a backlog is copied and live events arrive, kill stages and crash
# servers at random moments, round after round; after every fault the
# destination must be a byte-identical prefix of the source that ends on a
# source-transaction boundary, and at the end the two must be equal.
#
# It runs on two sources: slate's sql/ schema and the original slate-init-db's
# (test/fixtures/, whose insert_events() is stricter), each with its own
# destination database.
#
# Environment:
#	FAULT_ROUNDS	rounds to run (default 30), split between the schemas
#	FAULT_SCHEMA	sql, original or both (default both: half the rounds each)
#	FAULT_SEED	seed of the fault order and timings (default: random);
#			printed, so that a failing sequence can be run again
#	FAULT_REPORT	a file to append the summary line to
#	FAULT_LOGS	a directory to copy the logs into (the rounds, the
#			pipeline's, the writers' and the servers')
#
# It takes a few minutes: `bats --filter-tags '!slow' test/` leaves it out.

# bats file_tags=slow

bats_require_minimum_version 1.5.0
load test_helper

FAULTS=(load extract listen dst-crash src-terminate src-stop)

setup_file() {
	# The source commits synchronously (the throwaway clusters do not) so
	# that its crash keeps every transaction a reader has seen: otherwise a
	# crashed source may lose events a destination already holds, which no
	# replicator can prevent.  The destination keeps the asynchronous
	# commits slate-load relies on.
	CLUSTER_SETTINGS="synchronous_commit = on" cluster_start src
	cluster_start dst
	db_create src fm source >/dev/null
	db_create dst fm destination >/dev/null
	db_create src fmo original-source >/dev/null
	db_create dst fmo original-destination >/dev/null
	# A destination slower than the source, as one under other load is: a
	# millisecond's pause every 40 rows caps it near 30,000 events/s, so
	# that a backlog of thousands takes long enough for faults to land in
	# its catch-up (this server copies several times faster without it).
	# The trigger changes nothing in the rows.
	local db
	for db in fm fmo; do
		psql_c dst "$db" "CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS \$\$
			BEGIN
				IF NEW.id % 40 = 0 THEN
					PERFORM pg_sleep(0.001);
				END IF;
				RETURN NEW;
			END \$\$;
			CREATE TRIGGER slow_down BEFORE INSERT ON events
				FOR EACH ROW EXECUTE FUNCTION slow_down()" >/dev/null
	done
}

teardown_file() {
	clusters_stop_all
}

setup() {
	LOG=$BATS_TEST_TMPDIR/pipeline.log
	ROUNDS_LOG=$BATS_TEST_TMPDIR/rounds.log
	INSERTER_LOG=$BATS_TEST_TMPDIR/inserter.log
	WRITERS_LOG=$BATS_TEST_TMPDIR/writers.log
	: >"$LOG"
	: >"$ROUNDS_LOG"
	: >"$INSERTER_LOG"
}

# kill every process group and process the test started; on failure show
# the logs; keep them in FAULT_LOGS
teardown() {
	kill_background
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		((${ROUND:-0} == 0)) || report
		show_logs
	fi
	if [[ -n ${FAULT_LOGS:-} ]]; then
		mkdir -p "$FAULT_LOGS" &&
			cp "$LOG" "$ROUNDS_LOG" "$INSERTER_LOG" "$WRITERS_LOG" "$FAULT_LOGS"/ &&
			cp "$src_LOG" "$FAULT_LOGS/src-server.log" &&
			cp "$dst_LOG" "$FAULT_LOGS/dst-server.log"
	fi
	return 0
}

show_logs() {
	echo "--- rounds (seed ${SEED:-?})"
	cat "$ROUNDS_LOG"
	echo "--- pipeline log, last 40 lines"
	tail -n 40 "$LOG"
	echo "--- inserter log, last 5 lines"
	tail -n 5 "$INSERTER_LOG"
	echo "--- source server log, last 10 lines"
	tail -n 10 "$src_LOG"
	echo "--- destination server log, last 10 lines"
	tail -n 10 "$dst_LOG"
}

# --- randomness ----------------------------------------------------------

# Everything random about a run comes from bash's RANDOM, seeded once in the
# test and read only in the test's own shell (never inside $(...)), so the
# same seed gives the same faults, modes and timings.

# rand LO HI: set R to a random integer in LO..HI
rand() {
	R=$(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
}

# sleep_ms MS: sleep MS milliseconds
sleep_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# fault_order N: set ORDER to N faults, each block of six a random
# permutation of FAULTS, so that every fault comes up as often as the others
fault_order() {
	local block=() i j t
	ORDER=()
	while ((${#ORDER[@]} < $1)); do
		block=("${FAULTS[@]}")
		for ((i = ${#block[@]} - 1; i > 0; i--)); do
			rand 0 "$i"
			j=$R t=${block[i]}
			block[i]=${block[j]} block[j]=$t
		done
		ORDER+=("${block[@]}")
	done
	ORDER=("${ORDER[@]:0:$1}")
}

# elapsed T0: seconds since EPOCHREALTIME was T0, to a tenth
elapsed() {
	local us=$((${EPOCHREALTIME/./} - ${1/./}))
	printf '%d.%d' $((us / 1000000)) $((us / 100000 % 10))
}

# --- servers -------------------------------------------------------------

# bounded CMD...: CMD with its psql calls bounded in time (a server that
# hangs must fail the round, not the whole run)
bounded() {
	PGCONNECT_TIMEOUT=10 PGOPTIONS="-c statement_timeout=120s" "$@"
}

# use_db DB: the test's source and destination are database DB of src and dst
use_db() {
	DB=$1
	SRC=$(cluster_conninfo src "$DB")
	DST=$(cluster_conninfo dst "$DB")
}

# q NAME SQL: psql_c on the test's database (use_db) of cluster NAME, bounded in time
q() {
	bounded psql_c "$1" "$DB" "$2"
}

# server_up NAME: true while cluster NAME's server runs (pg_ctl status's
# test, without its cost)
server_up() {
	local dir=${1}_DIR pid
	read -r pid 2>/dev/null <"${!dir}/data/postmaster.pid" && kill -0 "$pid" 2>/dev/null
}

# server_stop NAME MODE: stop cluster NAME's server (fast or immediate: a
# crash), keeping its data directory and port
server_stop() {
	local dir=${1}_DIR
	as_server_user "$(pg_bindir)/pg_ctl" -D "${!dir}/data" -m "$2" -w -t 30 \
		stop >/dev/null 2>&1
}

# server_start NAME: start cluster NAME's server again, as cluster_start
# did, unless it runs; waits (at most 60 s) until it accepts connections
server_start() {
	local dir=${1}_DIR log=${1}_LOG
	server_up "$1" && return 0
	as_server_user "$(pg_bindir)/pg_ctl" -D "${!dir}/data" -l "${!log}" -w -t 60 \
		start >/dev/null 2>&1
}

# --- processes -----------------------------------------------------------

# start_group VAR CMD...: run CMD in the background as the leader of a
# process group of its own (so that teardown can kill all it starts), with
# stdin from /dev/null and fd 3 closed; set VAR to its pid
start_group() {
	bg_start "$@" </dev/null
}

# stop_group PID: let PID (a group leader) end within 30 s, else kill its group
stop_group() {
	wait_exit "$1" 30 || {
		kill -KILL -- "-$1" 2>/dev/null
		wait "$1" 2>/dev/null
	}
	return 0
}

# the replicator: one destination, a notification lost costs a second; run
# by start_group, exec makes the group leader pipeline.sh itself
pipeline() {
	exec "$SLATE_ROOT/pipeline.sh" --log-format=text --source "$SRC" \
		--destination "$DST" --poll-interval 1 \
		>>"$BATS_TEST_TMPDIR/pipeline.out" 2>>"$LOG"
}

# wait_running: wait (at most 30 s) until all three stages of pipeline PID
# run (past the start-up checks, which run slate-extract and slate-load
# too, but never three stages at once); false if it exits or does not get
# there
wait_running() {
	local deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)) && running "$PID"; do
		(($(pgrep -g "$PID" -c -x 'slate-.*') >= 3)) && return 0
		sleep 0.05
	done
	return 1
}

# inserter: until the file STOP exists, insert 1 to 24 events (a commit per
# 15) about three times a second through one psql session; when a fault
# takes the session or the server, start another
inserter() {
	# a failed psql is expected here, and its pipeline stays in this group
	set +e +m
	while [[ ! -e $STOP ]]; do
		while [[ ! -e $STOP ]]; do
			events_generator_sql $((RANDOM % 24 + 1)) 480 || break
			sleep 0.3
		done | psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" >/dev/null 2>>"$INSERTER_LOG"
		sleep 0.2
	done
}

# big_transaction N PAD: one insert_events() call of N events of about
# 100 + 32 * PAD bytes.  Past 4 MB slate-load no longer holds a transaction
# back but streams it into a batch of its own; past 10,000 events it is
# larger than a batch of --max-events-per-write.
big_transaction() {
	psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" -c "SELECT insert_events(string_agg(
		format('(\$1[%s], \$2, %L)', j, json_build_object('entityName', 'bulk',
			'entityId', j, 'operation', 'imported', 'pad', repeat(md5(j::text), $2))),
		', ' ORDER BY j)) FROM generate_series(1, $1) AS j" >/dev/null 2>>"$WRITERS_LOG"
}

# burst SEED: a second writer for a moment, loadgen's 2,000 events
burst() {
	slate-loadgen --log-format=json --seed "$1" --count-person 200 --count-filler 1400 \
		--count-person-delete 0 "$SRC" 2>>"$WRITERS_LOG"
}

# --- the invariant -------------------------------------------------------

# check_prefix: is the destination, in one snapshot, the source's first N
# events to the byte, N on a source-transaction boundary?  Sets N and, when
# it is not, VIOLATION; returns 0 yes, 1 no, 2 a query failed.
check_prefix() {
	bounded prefix_check src "$DB" dst "$DB"
}

# maxid NAME: the largest id in cluster NAME's events (0: none)
maxid() {
	bounded events_maxid "$1" "$DB"
}

# --- the matrix ----------------------------------------------------------

# wait_copy NAME PROGRAM: wait (at most a second) until PROGRAM's session on
# cluster NAME is in a COPY, watching from inside the server every 10 ms;
# true if it was.  Most of the time a live pipeline idles between short
# batches; this aims a fault at the moments that matter most.
wait_copy() {
	q "$1" "DO \$\$ BEGIN
		FOR i IN 1..100 LOOP
			PERFORM pg_stat_clear_snapshot();
			IF EXISTS (SELECT FROM pg_stat_activity WHERE application_name = '$2'
				AND state = 'active' AND query LIKE 'COPY%') THEN
				RAISE NOTICE 'in COPY';
				EXIT;
			END IF;
			PERFORM pg_sleep(0.01);
		END LOOP;
	END \$\$" 2>&1 | grep -q 'in COPY'
}

# inject FAULT: do it to the running pipeline PID; sets DETAIL
inject() {
	local pid
	DETAIL=
	case $1 in
	load | extract | listen)
		pid=$(pgrep -g "$PID" -x "slate-$1") && kill -KILL "$pid"
		DETAIL="kill -9 of slate-$1 ${pid:-(not running)}"
		;;
	dst-crash)
		server_stop dst immediate
		DETAIL="destination crashed"
		server_start dst || return 1
		;;
	src-terminate)
		pid=$(q src "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = '$DB' AND pid <> pg_backend_pid()")
		DETAIL="terminated ${pid:-?} source backends"
		;;
	src-stop)
		local mode=fast
		rand 0 1
		((R)) && mode=immediate
		rand 1000 3000
		server_stop src "$mode"
		sleep_ms "$R"
		DETAIL="source stopped ($mode) for ${R} ms"
		server_start src || return 1
		;;
	esac
}

# report: print the summary (to bats's fd 3) and append it to FAULT_REPORT
report() {
	local fault counts='' summary
	for fault in "${FAULTS[@]}"; do
		counts+="${counts:+, }$fault ${INJECTED[$fault]:-0}"
	done
	summary="$ROUND rounds, $CLEAN clean, seed $SEED, schema $SCHEMA; $counts; $BEHIND during a catch-up, $IN_COPY aimed into a COPY"
	summary+="; $SURVIVED survived (stopped by SIGTERM), $UNEXPECTED unexpected exits"
	summary+="; $(maxid src 2>/dev/null || echo ?) events; $((SECONDS - STARTED)) s"
	echo "# fault matrix: $summary" >&3
	if [[ -n ${FAULT_REPORT:-} ]]; then
		echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $summary" >>"$FAULT_REPORT"
	fi
}

# fault_round N FAULT: let the pipeline PID run for a random time, then do
# FAULT; once it stopped, check the invariant; leave servers and a new
# pipeline running.  Fails the test on a violation.
fault_round() {
	local round=$1 fault=$2 ran status stopped line off aim at t0=$EPOCHREALTIME
	off=$(stat -c %s "$LOG")
	# more writers now and then: a catch-up while live, a spilled transaction
	if ((round % 5 == 2 || round % 10 == 4)); then
		[[ -n $WRITER ]] && stop_group "$WRITER"
		if ((round % 5 == 2)); then
			start_group WRITER burst "$((SEED + round))"
		else
			start_group WRITER big_transaction 4000 36
		fi
	fi
	wait_running || fail "round $round: the pipeline did not start"
	# from "still connecting" through "copying a burst" to "live and idle"
	rand 50 2000
	ran=$R
	sleep_ms "$ran"
	# every third round the invariant while it runs, too
	if ((round % 3 == 0)); then
		status=0
		check_prefix || status=$?
		((status != 2)) || fail "round $round: the live check could not query the servers"
		if ((status == 1)); then
			echo "round $round: VIOLATION while live: $VIOLATION" >>"$ROUNDS_LOG"
			fail "round $round: while live: $VIOLATION"
		fi
	fi
	# every other time a fault that can hit a COPY waits for one
	aim=
	rand 0 1
	if ((R)); then
		case $fault in
		load | dst-crash) aim="dst slate-load" ;;
		extract | src-*) aim="src slate-extract" ;;
		esac
	fi
	if [[ -n $aim ]]; then
		# shellcheck disable=SC2086 # two words
		if wait_copy $aim; then
			aim="in a COPY of ${aim#* }"
			IN_COPY=$((IN_COPY + 1))
		else
			aim="no COPY of ${aim#* } within 1 s"
		fi
	fi
	if ! running "$PID"; then
		wait_exit "$PID" 1
		fail "round $round: the pipeline stopped by itself (exit $STATUS) before the fault"
	fi

	# how far behind the destination is, roughly: the source's last id now
	at=$(maxid src) || at=?
	inject "$fault" || fail "round $round: $fault: could not start the server again"
	DETAIL+=${aim:+, $aim}
	INJECTED[$fault]=$((${INJECTED[$fault]:-0} + 1))
	ROUND=$round
	# a stage failed: the pipeline stops; a stage that survived: stop it
	stopped=exited
	if ! wait_exit "$PID" 15; then
		stopped=SIGTERM
		kill -TERM -- "-$PID"
		if ! wait_exit "$PID" 10; then
			stopped="SIGKILL (SIGTERM did not stop it)"
			kill -KILL -- "-$PID"
			wait_exit "$PID" 10
		fi
	fi
	[[ $stopped == SIGTERM ]] && SURVIVED=$((SURVIVED + 1))
	[[ $stopped == exited && $STATUS == 1 || $stopped == SIGTERM && $STATUS == 0 ]] ||
		UNEXPECTED=$((UNEXPECTED + 1))
	line=$(tail -c +"$((off + 1))" "$LOG" |
		grep -m 1 -o '[a-z-]* for destination 1 .* stopped with exit status [0-9]*' |
		sed 's/ (host=.*)//') || true

	status=0
	check_prefix || status=$?
	((status != 2)) || fail "round $round: the check could not query the servers"
	# more than a second's worth of inserts behind: the fault hit a catch-up
	[[ $at != ? ]] && ((at - N > 1000)) && BEHIND=$((BEHIND + 1))
	printf 'round %d: %s after %d ms: %s; %s, exit %s%s; destination %s events, source had %s at the fault (%s s): %s\n' \
		"$round" "$fault" "$ran" "$DETAIL" "$stopped" "$STATUS" "${line:+ ($line)}" "$N" "$at" \
		"$(elapsed "$t0")" \
		"$( ((status == 0)) && echo clean || echo "VIOLATION: $VIOLATION")" >>"$ROUNDS_LOG"
	((status == 0)) || fail "round $round ($fault): $VIOLATION"
	# the two ways a round may end: a stage failed and the pipeline stopped
	# by itself with exit 1, naming it; or the fault missed (no stage to
	# kill, say) and SIGTERM stopped it cleanly.  Another exit status, or a
	# pipeline that needed SIGKILL, fails the matrix.
	case $stopped/$STATUS in
	exited/1)
		[[ -n $line ]] || fail "round $round ($fault): exit 1 without a line naming the stage"
		;;
	SIGTERM/0) ;;
	*) fail "round $round ($fault): the pipeline ended unexpectedly: $stopped, exit $STATUS" ;;
	esac
	CLEAN=$((CLEAN + 1))

	# as a supervisor would: servers up, the replicator again; every other
	# round on a backlog of its own, so that the next fault may well land in
	# a catch-up
	server_start src || fail "round $round: the source did not start again"
	server_start dst || fail "round $round: the destination did not start again"
	rand 0 1
	if ((R)); then
		rand 3000 15000
		q src "$(events_generator_sql "$R" 480)" >/dev/null 2>>"$WRITERS_LOG" ||
			fail "round $round: could not write a backlog of $R events"
		echo "round $round: a backlog of $R events for the next" >>"$ROUNDS_LOG"
	fi
	echo "=== round $((round + 1))" >>"$LOG"
	start_group PID pipeline
}

# fault_matrix SCHEMA: the matrix on the source of that schema (sql or
# original), for its share of FAULT_ROUNDS; skips when FAULT_SCHEMA leaves it out
fault_matrix() {
	local rounds=${FAULT_ROUNDS:-30} round target deadline
	SCHEMA=$1
	case ${FAULT_SCHEMA:-both} in
	both) [[ $SCHEMA == sql ]] && rounds=$(((rounds + 1) / 2)) || rounds=$((rounds / 2)) ;;
	"$SCHEMA") ;;
	sql | original) skip "FAULT_SCHEMA=$FAULT_SCHEMA" ;;
	*) fail "FAULT_SCHEMA must be sql, original or both, not '$FAULT_SCHEMA'" ;;
	esac
	((rounds > 0)) || skip "no rounds left for the $SCHEMA schema"
	[[ $SCHEMA == sql ]] && use_db fm || use_db fmo
	SEED=${FAULT_SEED:-$(($(date +%s%N) / 1000 % 1000000))}
	RANDOM=$SEED
	STOP=$BATS_TEST_TMPDIR/stop
	STARTED=$SECONDS ROUND=0 CLEAN=0 BEHIND=0 IN_COPY=0 SURVIVED=0 UNEXPECTED=0 WRITER=''
	declare -gA INJECTED=()
	echo "# fault matrix ($SCHEMA schema): seed $SEED, $rounds rounds (FAULT_SEED=$SEED FAULT_SCHEMA=$SCHEMA FAULT_ROUNDS=$rounds replay them)" >&3
	fault_order "$rounds"

	# a backlog: loadgen's series, then one transaction larger than a batch
	# and too big to hold back
	timeout 120 slate-loadgen --log-format=json --seed "$SEED" --count-person 1000 \
		--count-filler 9000 "$SRC" 2>>"$WRITERS_LOG"
	big_transaction 12000 10
	echo "backlog: $(maxid src) events; seed $SEED" >>"$ROUNDS_LOG"

	start_group INSERTER inserter
	echo "=== round 1" >>"$LOG"
	start_group PID pipeline
	for ((round = 1; round <= rounds; round++)); do
		fault_round "$round" "${ORDER[round - 1]}"
	done

	# the end: no more writes; it catches up and the tables are equal
	[[ -z $WRITER ]] || stop_group "$WRITER"
	touch "$STOP"
	stop_group "$INSERTER"
	wait_running || fail "the last pipeline did not start"
	target=$(maxid src)
	deadline=$((SECONDS + 60))
	while [[ $(maxid dst) != "$target" ]] && ((SECONDS < deadline)); do
		sleep 0.2
	done
	assert_equal "$(maxid dst)" "$target"
	assert_equal "$(q dst "$(events_md5_sql)")" "$(q src "$(events_md5_sql)")"
	kill -TERM "$PID"
	wait_exit "$PID" 10 || fail "SIGTERM did not stop the pipeline within 10 s"
	assert_equal "$STATUS" 0
	run timeout 120 slate-diff --log-format=json "$SRC" "$DST"
	assert_success
	assert_line equal
	report
	assert_equal "$UNEXPECTED" 0
	assert_equal "$CLEAN" "$rounds"
}

@test "fault matrix: killed stages, crashed servers, the destination stays a boundary prefix" {
	fault_matrix sql
}

@test "fault matrix on the original's schema (slate-init-db's source)" {
	fault_matrix original
}
