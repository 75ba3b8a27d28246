# test_helper.bash: what every bats file loads (`load test_helper`):
# bats-support, bats-assert, the cluster helpers of cluster.bash (clusters,
# databases, psql_c, insert_events, events_md5: see there), and the helpers
# below.  One helper per fact: a bats file uses these rather than a copy.
#
# Events tables (CLUSTER is a name given to cluster_start, DB a database):
#	events_count CLUSTER DB		print count(*) of events
#	events_maxid CLUSTER DB		print max(id) of events, 0 when empty
#	fresh_dest CLUSTER DB		create an empty destination DB, print
#					its conninfo
#	events_md5_sql [CONDITION]	SQL printing "COUNT MD5" of the events
#					matching CONDITION (cluster.bash)
#	events_md5 CLUSTER DB		print the md5 of all events (cluster.bash)
#	prefix_check SRC_CLUSTER SRC_DB DST_CLUSTER DST_DB
#					is DST a boundary prefix of SRC?  Sets
#					N (DST's events) and VIOLATION; returns
#					0 yes, 1 no, 2 a query failed
#	assert_boundary_prefix SRC_CLUSTER SRC_DB DST_CLUSTER DST_DB
#					the same as an assertion: DST holds
#					SRC's first N events byte for byte and
#					N ends a source transaction
#
# Sessions and processes:
#	slate_load_lock_key CLUSTER STREAM
#					print the advisory lock key (a bigint)
#					slate-load takes on a destination, as
#					pg_locks shows it while a slate-load
#					reads STREAM into a scratch database
#	backend_pid CLUSTER DB APP	print the server pid of APP's session
#					(application_name) on DB
#	running PID			true while PID lives (a zombie does not)
#	wait_exit PID SECONDS		wait at most SECONDS (fractions allowed,
#					measured with EPOCHREALTIME) for PID, a
#					child, to exit; set STATUS to its exit
#					status and WAITED_MS to the time waited
#	wait_until SECONDS CMD...	poll CMD every 0.05 s until it succeeds;
#					false (saying so) after SECONDS
#	now_us / elapsed_ms T0		the clock in microseconds / the ms since
#					T0 (a now_us value)
#
# Processes a test starts in the background must not outlive the test,
# whether it passes or fails: start them with bg_start (or register them with
# bg_track), and call kill_background from the file's teardown (never only
# from teardown_file: a replicator left by a failed test would run on into
# the next tests):
#	bg_start VAR CMD...		run CMD in the background as the leader
#					of a process group of its own (as an
#					interactive shell starts a job: SIGINT
#					is not ignored), fd 3 closed; set VAR to
#					its pid (= its group id).  Redirections
#					given to bg_start apply to CMD.
#	bg_track PID			register a background process started
#					otherwise (it is killed, not its group)
#	kill_background			kill -9 every registered group and
#					process and reap them
#	teardown() { kill_background; }	the usual teardown

load_bats_library() {
	local name=$1 dir
	for dir in "${BATS_LIB_PATH:-}" /usr/lib/bats /usr/local/lib/bats \
		/usr/lib/node_modules "$SLATE_ROOT/test/lib"; do
		if [[ -n $dir && -f $dir/$name/load.bash ]]; then
			load "$dir/$name/load"
			return 0
		fi
	done
	echo "test_helper: cannot find $name (install the Debian package $name)" >&2
	return 1
}

source "$(dirname "${BASH_SOURCE[0]}")/cluster.bash"

load_bats_library bats-support
load_bats_library bats-assert

# --- events tables ---------------------------------------------------------

events_count() {
	psql_c "$1" "$2" "SELECT count(*) FROM events"
}

events_maxid() {
	psql_c "$1" "$2" "SELECT coalesce(max(id), 0) FROM events"
}

fresh_dest() {
	db_create "$1" "$2" destination >/dev/null || return 1
	cluster_conninfo "$1" "$2"
}

# prefix_check reads the destination in one snapshot (its count and md5 in
# one statement), then the source's first N events and whether event N+1
# has event N's ts: a transaction's events share one ts, so the same ts on
# both sides of N means N cuts a transaction.  The environment (e.g.
# PGCONNECT_TIMEOUT, PGOPTIONS) reaches its psql calls.
prefix_check() {
	local n dst_md5 src_md5 split
	N= VIOLATION=
	read -r n dst_md5 < <(psql_c "$3" "$4" "$(events_md5_sql)") &&
		[[ -n $dst_md5 ]] || return 2
	read -r _ src_md5 split < <(psql_c "$1" "$2" "$(events_md5_sql "id <= $n") || ' ' ||
		(SELECT count(*) FROM events a JOIN events b ON b.id = a.id + 1
			WHERE a.id = $n AND a.ts = b.ts)") && [[ -n $split ]] || return 2
	N=$n
	if [[ $dst_md5 != "$src_md5" ]]; then
		VIOLATION="$4 is not a prefix of $2: its $n events differ from the source's first $n"
	elif [[ $split != 0 ]]; then
		VIOLATION="$4 ends at id $n, inside a source transaction"
	fi
	[[ -z $VIOLATION ]]
}

assert_boundary_prefix() {
	local rc=0
	prefix_check "$@" || rc=$?
	case $rc in
	0) return 0 ;;
	1) fail "$VIOLATION" ;;
	*) fail "assert_boundary_prefix $*: a query failed" ;;
	esac
}

# --- sessions and processes ------------------------------------------------

backend_pid() {
	psql_c "$1" postgres "SELECT pid FROM pg_stat_activity
		WHERE datname = '$2' AND application_name = '$3' ORDER BY backend_start LIMIT 1"
}

# The key is learned from a running slate-load rather than copied from
# src/load/main.c, so that the tests check what the program does.
slate_load_lock_key() {
	local cluster=$1 stream=$2 db=lock_key_probe fifo feeder load key='' i
	fifo=$(mktemp -u "${BATS_FILE_TMPDIR:-/tmp}/lock-key.XXXXXX")
	mkfifo "$fifo" || return 1
	fresh_dest "$cluster" "$db" >/dev/null || return 1
	# the stream's first 64 kB, then a pipe that stays open: slate-load
	# takes its lock, writes, and waits for more
	bg_start feeder bash -c '{ head -c 65536 "$1"; sleep 60; } >"$2"' _ "$stream" "$fifo"
	slate-load --log-format=text "$(cluster_conninfo "$cluster" "$db")" <"$fifo" 2>/dev/null 3>&- &
	load=$!
	for ((i = 0; i < 200; i++)); do
		key=$(psql_c "$cluster" postgres "SELECT (l.classid::bigint << 32) | l.objid::bigint
			FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
				AND d.datname = '$db' AND a.application_name = 'slate-load'")
		[[ -n $key ]] && break
		running "$load" || break
		sleep 0.05
	done
	kill -KILL "$load" 2>/dev/null
	kill -KILL -- "-$feeder" 2>/dev/null
	wait "$load" "$feeder" 2>/dev/null
	rm -f "$fifo"
	psql_c "$cluster" postgres "DROP DATABASE $db WITH (FORCE)" >/dev/null
	if [[ -z $key ]]; then
		echo "slate_load_lock_key: slate-load took no bigint advisory lock" >&2
		return 1
	fi
	echo "$key"
}

running() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $st != Z* ]]
}

now_us() {
	echo "${EPOCHREALTIME/[.,]/}"
}

elapsed_ms() {
	echo $((($(now_us) - $1) / 1000))
}

# SECONDS may be a fraction ("2", "0.5", "1.25"): it becomes microseconds
# without a subshell or bc
seconds_to_us() {
	local whole=${1%%.*} frac=
	[[ $1 == *.* ]] && frac=${1#*.}
	frac=${frac}000000
	echo $((10#${whole:-0} * 1000000 + 10#${frac:0:6}))
}

wait_exit() {
	local t0 deadline
	t0=$(now_us)
	deadline=$((t0 + $(seconds_to_us "$2")))
	while running "$1" && (($(now_us) < deadline)); do sleep 0.02; done
	WAITED_MS=$(elapsed_ms "$t0")
	if running "$1"; then
		echo "wait_exit: process $1 still runs after $2 s; it and its children:" >&2
		ps -o pid,stat,etime,wchan:20,args --pid "$1" --ppid "$1" >&2 || true
		return 1
	fi
	STATUS=0
	wait "$1" || STATUS=$?
}

wait_until() {
	local deadline
	deadline=$(($(now_us) + $(seconds_to_us "$1")))
	shift
	until "$@"; do
		if (($(now_us) >= deadline)); then
			echo "wait_until: still false: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# the registry of a test's background processes: one "group PGID" or
# "pid PID" per line, in a file of the test's own (setup_file's, outside a
# test)
bg_file() {
	echo "${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-/tmp}}/background"
}

bg_start() {
	local var=$1
	shift
	set -m
	"$@" 3>&- &
	printf -v "$var" '%s' $!
	set +m
	echo "group $!" >>"$(bg_file)"
}

bg_track() {
	echo "pid $1" >>"$(bg_file)"
}

kill_background() {
	local kind pid file
	file=$(bg_file)
	[[ -f $file ]] || return 0
	while read -r kind pid; do
		case $kind in
		group) kill -KILL -- "-$pid" 2>/dev/null ;;
		*) kill -KILL "$pid" 2>/dev/null ;;
		esac
		wait "$pid" 2>/dev/null
	done <"$file"
	rm -f "$file"
	return 0
}
