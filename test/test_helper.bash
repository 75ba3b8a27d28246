# test_helper.bash: what every bats file loads: bats-support, bats-assert,
# bats-file and the cluster helpers of cluster.bash (see there for usage).

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
load_bats_library bats-support
load_bats_library bats-assert
load_bats_library bats-file

source "$(dirname "${BASH_SOURCE[0]}")/cluster.bash"

# --- processes a test starts ---------------------------------------------
#
# A test that starts processes in the background lists them in $BG, one
# "group PGID" (a process group of its own) or "pid PID" per line; its
# teardown calls kill_background, so that nothing a test started outlives it.

kill_background() {
	local kind pid
	[[ -n ${BG:-} && -f $BG ]] || return 0
	while read -r kind pid; do
		case $kind in
		group) kill -KILL -- "-$pid" 2>/dev/null ;;
		*) kill -KILL "$pid" 2>/dev/null ;;
		esac
		wait "$pid" 2>/dev/null
	done <"$BG"
	return 0
}

# running PID: true while PID is alive (a zombie is not)
running() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $st != Z* ]]
}

# wait_exit PID SECONDS: wait at most SECONDS for PID, a child, to exit and
# set STATUS to its exit status; false, saying so, if it still runs
wait_exit() {
	local deadline=$((SECONDS + $2))
	while running "$1" && ((SECONDS < deadline)); do sleep 0.05; done
	if running "$1"; then
		echo "process $1 still runs after $2 s" >&2
		return 1
	fi
	STATUS=0
	wait "$1" || STATUS=$?
}
