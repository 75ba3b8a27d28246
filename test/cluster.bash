# cluster.bash: throwaway PostgreSQL clusters and event helpers, for the bats
# suites (through test_helper.bash), the benchmarks and the demo.
#
# Every bats file does `load test_helper`.  A file normally starts its
# clusters in setup_file and MUST call clusters_stop_all from teardown_file
# (bats runs teardown_file even when setup_file fails):
#
#	setup_file() {
#		cluster_start src
#		db_create src app source
#	}
#	teardown_file() {
#		clusters_stop_all
#	}
#
# bats owns the EXIT traps of its processes, so instead of a trap each
# cluster gets a watchdog that stops it once the process that started it has
# gone (a crash, a kill, a forgotten teardown_file).  No cluster outlives the
# run by more than about a second.  The owner is the process that called
# cluster_start: a cluster started inside a @test lasts until that test ends.
#
# Environment it reads: CLUSTER_SETTINGS (postgresql.conf lines appended last,
# e.g. to turn fsync back on for a benchmark), PG_BINDIR (server binaries; default: the newest
# /usr/lib/postgresql/*/bin, else the directory of initdb on PATH).
#
# What cluster_start NAME exports (NAME must be a shell identifier):
#	NAME_HOST	the server's unix socket directory (use as host=)
#	NAME_PORT	its port; it also listens on 127.0.0.1:NAME_PORT
#	NAME_USER	superuser role to connect as (always "postgres")
#	NAME_DIR	cluster directory: data/, sock/, server.log
#	NAME_LOG	the server log

SLATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SLATE_ROOT
PATH="$SLATE_ROOT/bin:$SLATE_ROOT/test/bin:$PATH"


# pg_bindir: print the directory holding initdb, pg_ctl and postgres.
pg_bindir() {
	local dir
	if [[ -n ${PG_BINDIR:-} ]]; then
		echo "$PG_BINDIR"
		return 0
	fi
	for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x $dir/initdb ]]; then
			echo "$dir"
			return 0
		fi
	done
	dir=$(command -v initdb) || {
		echo "test_helper: no initdb found; set PG_BINDIR" >&2
		return 1
	}
	dirname "$dir"
}

# as_server_user CMD ARGS...: run a server command as the account owning the
# clusters.  initdb refuses to run as root, so root hands it to "postgres".
# fd 3 is closed because bats waits on it and a postmaster lives on.
as_server_user() {
	if ((EUID == 0)); then
		(cd / && runuser -u postgres -- "$@" 3>&-)
	else
		(cd / && "$@" 3>&-)
	fi
}

# port_in_use PORT: true if something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 2>/dev/null 3>&- ; : </dev/tcp/127.0.0.1/"$1")
}

# free_port: print a random TCP port nobody listens on.  Another process may
# still take it before the server binds; cluster_start retries then.
free_port() {
	local port tries=0
	while ((tries++ < 100)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		if ! port_in_use "$port"; then
			echo "$port"
			return 0
		fi
	done
	echo "test_helper: no free TCP port found" >&2
	return 1
}

# cluster_base: create (once per bats file or test) the directory holding this
# process's clusters and its registry, and export it as SLATE_CLUSTERS_DIR.
# It lives directly under /tmp, not under $BATS_FILE_TMPDIR or $TMPDIR: those
# may be private to the user running bats, the postgres account must reach
# it, and unix socket paths must stay short (about 100 bytes).
cluster_base() {
	if [[ -n ${SLATE_CLUSTERS_DIR:-} && -d $SLATE_CLUSTERS_DIR ]]; then
		return 0
	fi
	SLATE_CLUSTERS_DIR=$(mktemp -d /tmp/slate-pg.XXXXXX) || return 1
	chmod 755 "$SLATE_CLUSTERS_DIR"
	: >"$SLATE_CLUSTERS_DIR/registry"
	export SLATE_CLUSTERS_DIR
}

# cluster_start NAME: initdb and start a cluster; export NAME_HOST, NAME_PORT,
# NAME_USER, NAME_DIR, NAME_LOG.  On failure prints the server log, leaves
# nothing running and returns 1.
cluster_start() {
	local name=$1 bindir dir port attempt
	if [[ ! $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		echo "cluster_start: NAME must be a shell identifier: '$name'" >&2
		return 1
	fi
	bindir=$(pg_bindir) || return 1
	cluster_base || return 1
	dir=$SLATE_CLUSTERS_DIR/$name
	if [[ -e $dir ]]; then
		echo "cluster_start: cluster '$name' already exists in $dir" >&2
		return 1
	fi
	mkdir -p "$dir/sock" || return 1
	((EUID == 0)) && chown -R postgres: "$dir"
	# registered before initdb so that a failure or a kill half-way is
	# cleaned up too
	echo "$name" >>"$SLATE_CLUSTERS_DIR/registry"
	cluster_watchdog "$name" "$BASHPID"

	if ! as_server_user "$bindir/initdb" -D "$dir/data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
		>"$dir/initdb.log" 2>&1; then
		echo "cluster_start: initdb failed:" >&2
		cat "$dir/initdb.log" >&2
		return 1
	fi

	for attempt in 1 2 3 4 5; do
		port=$(free_port) || return 1
		# settings appended last win over initdb's defaults
		as_server_user tee -a "$dir/data/postgresql.conf" >/dev/null <<-EOF
			port = $port
			listen_addresses = '127.0.0.1'
			unix_socket_directories = '$dir/sock'
			max_connections = 30
			shared_buffers = 16MB
			fsync = off
			synchronous_commit = off
			full_page_writes = off
			logging_collector = off
			autovacuum = off
			log_min_messages = warning
			log_line_prefix = '%m [%p] %q%u@%d '
			timezone = 'UTC'
			${CLUSTER_SETTINGS:-}
		EOF
		if as_server_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
			-w -t 60 start >/dev/null 2>&1; then
			break
		fi
		if ! grep -q 'could not bind\|could not create lock file' \
			"$dir/server.log" 2>/dev/null || ((attempt == 5)); then
			echo "cluster_start: server '$name' did not start:" >&2
			cat "$dir/server.log" >&2
			cluster_stop "$name"
			return 1
		fi
	done

	printf -v "${name}_HOST" '%s' "$dir/sock"
	printf -v "${name}_PORT" '%s' "$port"
	printf -v "${name}_USER" '%s' postgres
	printf -v "${name}_DIR" '%s' "$dir"
	printf -v "${name}_LOG" '%s' "$dir/server.log"
	export "${name}_HOST" "${name}_PORT" "${name}_USER" "${name}_DIR" \
		"${name}_LOG"
}

# cluster_watchdog NAME OWNER_PID: in the background, wait until the owner
# process has exited or the cluster directory is removed (cluster_stop); in
# the first case stop the server, if it runs, and remove the directory.
# It runs in a session of its own so that killing bats's process group
# (Ctrl-C, timeout, kill -9) leaves it alive to clean up.
cluster_watchdog() {
	local dir=$SLATE_CLUSTERS_DIR/$1 owner=$2 bindir runas=()
	bindir=$(pg_bindir) || return 1
	((EUID == 0)) && runas=(runuser -u postgres --)
	# shellcheck disable=SC2016 # expanded by the inner bash
	setsid -f bash -c '
		dir=$1 base=$2 owner=$3; shift 3
		cd /
		while kill -0 "$owner" 2>/dev/null; do
			[[ -d $dir ]] || exit 0
			sleep 1
		done
		[[ -f $dir/data/postmaster.pid ]] &&
			"$@" -D "$dir/data" -m immediate -w -t 30 stop
		rm -rf "$dir"
		# the last cluster out removes the registry directory too
		ls -d "$base"/*/ >/dev/null 2>&1 || rm -rf "$base"
	' slate-watchdog "$dir" "$SLATE_CLUSTERS_DIR" "$owner" \
		"${runas[@]}" "$bindir/pg_ctl" </dev/null >/dev/null 2>&1 3>&-
}

# cluster_stop NAME: stop the cluster (fast, then immediate) and delete it.
# Safe to call on a cluster that never started or is already gone.
cluster_stop() {
	local name=$1 dir bindir
	[[ -n ${SLATE_CLUSTERS_DIR:-} ]] || return 0
	dir=$SLATE_CLUSTERS_DIR/$name
	[[ -d $dir ]] || return 0
	bindir=$(pg_bindir) || return 1
	if [[ -f $dir/data/postmaster.pid ]]; then
		as_server_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 20 \
			stop >/dev/null 2>&1 ||
			as_server_user "$bindir/pg_ctl" -D "$dir/data" -m immediate \
				-w -t 20 stop >/dev/null 2>&1
	fi
	if [[ -f $dir/data/postmaster.pid ]]; then
		echo "cluster_stop: cluster '$name' in $dir is still running" >&2
		return 1
	fi
	rm -rf "$dir"
}

# clusters_stop_all: stop every cluster this bats file started and remove
# their directory.  Call it from teardown_file.
clusters_stop_all() {
	local name status=0
	[[ -n ${SLATE_CLUSTERS_DIR:-} && -d $SLATE_CLUSTERS_DIR ]] || return 0
	while read -r name; do
		cluster_stop "$name" || status=1
	done <"$SLATE_CLUSTERS_DIR/registry"
	((status == 0)) && rm -rf "$SLATE_CLUSTERS_DIR"
	return $status
}

# cluster_conninfo NAME [DB]: print a libpq conninfo for database DB
# (default postgres) over the unix socket, as the superuser.
cluster_conninfo() {
	local name=$1 db=${2:-postgres} host port
	host=${name}_HOST port=${name}_PORT
	if [[ -z ${!host:-} ]]; then
		echo "cluster_conninfo: no cluster '$name' started" >&2
		return 1
	fi
	echo "host=${!host} port=${!port} dbname=$db user=postgres"
}

# psql_c NAME DB SQL: run SQL (one or more statements) in DB; print the
# unaligned, tuples-only result; fail on the first error.
psql_c() {
	local conninfo
	conninfo=$(cluster_conninfo "$1" "$2") || return 1
	psql -X -q -At -v ON_ERROR_STOP=1 -d "$conninfo" -c "$3"
}

# db_create NAME DB KIND: create DB and load a schema.  KIND is source or
# destination (slate's sql/), or original-source or original-destination: the
# schema the original slate-init-db makes (test/fixtures/), whose stricter
# insert_events() every writer must satisfy too.
db_create() {
	local name=$1 db=$2 kind=$3 conninfo files=()
	case $kind in
	source) files=("$SLATE_ROOT/sql/events.sql" "$SLATE_ROOT/sql/source.sql") ;;
	destination) files=("$SLATE_ROOT/sql/destination.sql") ;;
	original-source)
		# the original's source is its destination's table plus the rest
		files=("$SLATE_ROOT/test/fixtures/original-destination.sql"
			"$SLATE_ROOT/test/fixtures/original-source.sql")
		;;
	original-destination) files=("$SLATE_ROOT/test/fixtures/original-destination.sql") ;;
	*)
		echo "db_create: kind must be source, destination, original-source or" \
			"original-destination: '$kind'" >&2
		return 1
		;;
	esac
	psql_c "$name" postgres "CREATE DATABASE \"$db\"" || return 1
	conninfo=$(cluster_conninfo "$name" "$db") || return 1
	psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$conninfo" \
		"${files[@]/#/-f}"
}

# events_md5_sql [CONDITION]: SQL printing "COUNT MD5" of the events
# matching CONDITION (default: all): the md5 over every such event (id, ts to
# the microsecond in UTC, event text) in id order; equal output means equal
# tables.  The one definition of the checksum the suites compare.
events_md5_sql() {
	echo "SET timezone = 'UTC'; SET DateStyle = 'ISO, YMD';
		SELECT (SELECT count(*) || ' ' || md5(coalesce(string_agg(id || '|' || ts || '|' ||
			event::text, E'\n' ORDER BY id), '')) FROM events WHERE ${1:-true})"
}

# events_md5 NAME DB: print events_md5_sql's md5 over every event of DB
events_md5() {
	local out
	out=$(psql_c "$1" "$2" "$(events_md5_sql)") || return 1
	echo "${out#* }"
}

# insert_events NAME DB N [SIZE]: insert N events through insert_events(),
# committing every 15 events (EVENTS_PER_TXN), each about SIZE bytes
# (default 480) of JSON.
insert_events() {
	local name=$1 db=$2 n=$3 size=${4:-480}
	psql_c "$name" "$db" "$(events_generator_sql "$n" "$size")"
}

# events_generator_sql N SIZE: print a DO block inserting N events shaped like
# those slate applications write: person and filler entities whose properties
# change, padded to SIZE bytes.  Built with format() rather than
# json_build_object(): it is twice as fast and the tests want volume.
events_generator_sql() {
	cat <<-EOF
		DO \$gen\$
		DECLARE
			total int := $1;
			size int := $2;
			per_txn int := ${EVENTS_PER_TXN:-15};
			done int := 0;
			k int;
			rows text;
		BEGIN
			WHILE done < total LOOP
				k := least(per_txn, total - done);
				SELECT string_agg(format('(\$1[%s], \$2, %L)', j,
						rpad(head, greatest(size - 2, length(head)), md5(seq::text))
						|| '"}'), ', ' ORDER BY j)
				INTO rows
				FROM (SELECT j, seq, format('{"entityName": "%s", '
						'"entityId": "%s", "operation": "%s", '
						'"propertyName": "%s", "value": {"first": "Name%s", '
						'"last": "Surname%s"}, "metadata": {"initiatorId": '
						'"user-%s", "command": "%s"}, "pad": "',
						CASE WHEN seq % 3 = 0 THEN 'filler' ELSE 'person' END,
						to_hex(3000000000 + seq / 7 * 7919),
						(ARRAY['created', 'updated', 'updated', 'deleted'])[seq % 4 + 1],
						(ARRAY['name', 'address', 'phone', 'email', 'note'])[seq % 5 + 1],
						seq, seq % 97, seq % 11,
						CASE WHEN seq % 3 = 0 THEN 'Fill' ELSE 'Change person' END
					) AS head
					FROM generate_series(1, k) AS j,
					LATERAL (SELECT done + j AS seq) AS s) AS r;
				PERFORM insert_events(rows);
				COMMIT;
				done := done + k;
			END LOOP;
		END
		\$gen\$;
	EOF
}
