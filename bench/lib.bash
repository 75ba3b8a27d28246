# bench/lib.bash: shared by the benchmarks (sourced, never run).
#
# Sets ROOT, TMP (removed on exit with every cluster started), BIN (a private
# copy of bin/ and test/bin/slate-loadgen, so a concurrent `make` or a
# sanitizer build in the work tree cannot change the programs mid-run), and
# the helpers below.  Benchmarks run on real durability settings.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../test/cluster.bash
source "$ROOT/test/cluster.bash"
TMP=$(mktemp -d /tmp/slate-bench.XXXXXX)
chmod 755 "$TMP"
trap 'clusters_stop_all; rm -rf "$TMP"' EXIT

BIN=$TMP/bin
mkdir -p "$BIN"
for p in slate-extract slate-load slate-listen slate-diff; do
	[[ -x $ROOT/bin/$p ]] || { echo "bench: build $ROOT/bin/$p first (make)" >&2; exit 2; }
	cp "$ROOT/bin/$p" "$BIN/"
done
[[ -x $ROOT/test/bin/slate-loadgen ]] && cp "$ROOT/test/bin/slate-loadgen" "$BIN/"
cp "$ROOT/pipeline.sh" "$TMP/pipeline.sh"	# finds its stages in $TMP/bin
if ldd "$BIN/slate-load" | grep -q 'libasan\|libubsan'; then
	echo "bench: bin/ was built with sanitizers; run 'make clean all' first" >&2
	exit 2
fi
PATH=$BIN:$PATH

# durable, as in production; autovacuum stays off so it cannot land in one
# run and not the other
BENCH_SETTINGS="shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 4GB
checkpoint_timeout = 30min
max_parallel_workers_per_gather = 0"

# start_src_dst: the clusters "src" (wal_level = logical, so that logical
# replication can be measured beside slate) and "dst", both with the settings
# above
start_src_dst() {
	CLUSTER_SETTINGS="$BENCH_SETTINGS
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10" cluster_start src
	CLUSTER_SETTINGS=$BENCH_SETTINGS cluster_start dst
}

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
now() { date +%s.%N; }
elapsed() { calc "$(now) - $1"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# machine: the lines every result in docs/performance.md starts with
machine() {
	echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
		"$(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM"
	echo "server:  $("$(pg_bindir)/postgres" --version); psql $(psql --version | awk '{print $3}')"
	echo "commit:  $(git -C "$ROOT" describe --always --dirty 2>/dev/null)"
	echo "load:    $(loadavg)"
}

# fill_source CLUSTER DB N: N realistic events (~480 bytes of JSON, 15 per
# transaction, or EVENTS_PER_TXN) through insert_events(), the way
# applications write them.
# With production durability that takes minutes per million, so the rows are
# kept as a binary COPY file in $BENCH_CACHE (default /tmp/slate-bench-cache)
# and a later run with the same N loads that instead (triggers off, the id
# table set as insert_events() would have left it).
fill_source() {
	local cache=${BENCH_CACHE:-/tmp/slate-bench-cache} file
	file=$cache/events-$3-x${EVENTS_PER_TXN:-15}.copy
	if [[ -s $file ]]; then
		psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo "$1" "$2")" >/dev/null <<-EOF
			BEGIN;
			SET LOCAL session_replication_role = replica;
			\copy events FROM '$file' (FORMAT binary)
			UPDATE id SET id = (SELECT max(id) + 1 FROM events);
			COMMIT;
		EOF
		FILLED_FROM=$file
	else
		# one commit per transaction: without the flush at each it takes minutes, not hours
		PGOPTIONS="-c synchronous_commit=off" insert_events "$1" "$2" "$3" >/dev/null
		mkdir -p "$cache"
		psql -X -q -v ON_ERROR_STOP=1 -d "$(cluster_conninfo "$1" "$2")" \
			-c "\\copy (SELECT id, ts, event FROM events ORDER BY id) TO '$file.tmp' (FORMAT binary)" &&
			mv "$file.tmp" "$file"
		FILLED_FROM="insert_events() (cluster.bash), cached in $file"
	fi
	psql_c "$1" "$2" "VACUUM (FREEZE, ANALYZE) events" >/dev/null
}

# same_events A B: the two conninfos hold the same events (slate-diff)
same_events() {
	slate-diff --log-format=json "$1" "$2" >/dev/null 2>"$TMP/diff.err" || {
		echo "bench: the copy differs from the source:" >&2
		cat "$TMP/diff.err" >&2
		return 1
	}
}

# cluster_cpu NAME: CPU seconds (user+sys) the cluster's server processes have
# used so far: the postmaster, its live children and the children it reaped
# (a backend's time lands in the postmaster's cutime when it exits)
cluster_cpu() {
	local dir=${1}_DIR pm p ticks=0 hz
	hz=$(getconf CLK_TCK)
	pm=$(head -1 "${!dir}/data/postmaster.pid")
	for p in "$pm" $(pgrep -P "$pm"); do
		# fields after the ")" of the command: utime is 14, cstime 17 overall
		ticks=$((ticks + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
			awk -v pm="$([[ $p == "$pm" ]] && echo 1)" '{ print $12 + $13 + (pm ? $14 + $15 : 0) }' || echo 0)))
	done
	calc "$ticks / $hz"
}
