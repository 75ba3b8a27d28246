#!/usr/bin/env bats
# Security: least-privilege roles, missing grants, no password in argv or
# logs (scram-sha-256 over TCP), and TLS with verify-full through libpq.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	db_create pg src source
	insert_events pg src 600
	SRC=$(cluster_conninfo pg src)
	export SRC
	slate-extract "$SRC" >"$BATS_FILE_TMPDIR/all.mp" 2>/dev/null
	# nobody reaches src but the roles granted below, and through no schema
	# but the one granted
	psql_c pg src "REVOKE CONNECT ON DATABASE src FROM PUBLIC;
		REVOKE ALL ON SCHEMA public FROM PUBLIC;
		CREATE ROLE slate_src LOGIN; CREATE ROLE src_noselect LOGIN;
		CREATE ROLE slate_dst LOGIN; CREATE ROLE dst_noinsert LOGIN; CREATE ROLE dst_noselect LOGIN;
		GRANT CONNECT ON DATABASE src TO slate_src, src_noselect;
		GRANT USAGE ON SCHEMA public TO slate_src, src_noselect;
		GRANT SELECT ON events TO slate_src"
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

# as ROLE DB: a conninfo for DB on cluster pg over the unix socket as ROLE
as() {
	echo "host=$pg_HOST port=$pg_PORT dbname=$2 user=$1"
}

# dest_for DB ROLE PRIVILEGES: a destination DB that only ROLE may reach,
# with PRIVILEGES on its events table ("" for none)
dest_for() {
	db_create pg "$1" destination >/dev/null
	psql_c pg "$1" "REVOKE CONNECT ON DATABASE $1 FROM PUBLIC;
		REVOKE ALL ON SCHEMA public FROM PUBLIC;
		GRANT CONNECT ON DATABASE $1 TO $2;
		GRANT USAGE ON SCHEMA public TO $2;
		${3:+GRANT $3 ON events TO $2}"
}

# --- least privilege ------------------------------------------------------

@test "the grants are really that small" {
	dest_for lp_check slate_dst "SELECT, INSERT"
	run psql_c pg src "SELECT has_table_privilege('slate_src', 'events', 'INSERT'),
		has_table_privilege('slate_src', 'id', 'SELECT'),
		has_database_privilege('slate_dst', 'src', 'CONNECT'),
		has_database_privilege('slate_src', 'lp_check', 'CONNECT'),
		has_database_privilege('src_noselect', 'src', 'CONNECT')"
	assert_output "f|f|f|f|t"
	run psql_c pg lp_check "SELECT has_table_privilege('slate_dst', 'events', 'UPDATE'),
		has_table_privilege('slate_dst', 'events', 'DELETE'),
		has_table_privilege('slate_dst', 'events', 'TRUNCATE')"
	assert_output "f|f|f"
	run psql -X -At -d "$(as slate_dst src)" -c "SELECT 1"
	assert_failure
	assert_output --partial 'permission denied for database "src"'
}

@test "extract | load works with CONNECT + SELECT on the source and CONNECT + SELECT, INSERT on the destination" {
	dest_for lp_pipe slate_dst "SELECT, INSERT"
	run bash -c 'set -o pipefail; slate-extract "$1" | slate-load --max-events-per-write 100 "$2"' _ \
		"$(as slate_src src)" "$(as slate_dst lp_pipe)"
	assert_success
	assert_equal "$(events_md5 pg lp_pipe)" "$(events_md5 pg src)"
	# the --check start-up checks too
	run bash -c 'set -o pipefail; slate-extract --check "$1" | slate-load --check "$2"' _ \
		"$(as slate_src src)" "$(as slate_dst lp_pipe)"
	assert_success
}

@test "the replicator runs live with the least-privilege roles" {
	dest_for lp_live slate_dst "SELECT, INSERT"
	"$SLATE_ROOT/pipeline.sh" --source "$(as slate_src src)" --destination "$(as slate_dst lp_live)" \
		--poll-interval 1 --log-format=text 2>"$BATS_TEST_TMPDIR/replicator.log" 3>&- &
	REPLICATOR=$!
	bg_track "$REPLICATOR"
	for _ in $(seq 100); do
		[ "$(events_count pg lp_live)" = 600 ] && break
		sleep 0.1
	done
	assert_equal "$(events_count pg lp_live)" 600
	# a second writer is refused, named, as the same least-privilege role
	run --separate-stderr slate-load --lock-wait 1 --log-format=text "$(as slate_dst lp_live)" \
		<"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 4
	[[ $stderr == *"already being written by pid "[0-9]*" (slate-load as slate_dst from local, since "* ]]
	kill -TERM "$REPLICATOR"
	rc=0
	wait "$REPLICATOR" || rc=$?
	REPLICATOR=
	cat "$BATS_TEST_TMPDIR/replicator.log"
	assert_equal "$rc" 0
	assert_equal "$(events_md5 pg lp_live)" "$(events_md5 pg src)"

	# a holder of another role: its address and start are hidden from this one
	( psql -X -q -d "$(as postgres lp_live) application_name=admin" \
		-c "SELECT pg_advisory_lock(7236828674521412981)" -c "SELECT pg_sleep(3)" >/dev/null ) 3>&- &
	bg_track $!
	for _ in $(seq 50); do
		admin=$(psql_c pg postgres "SELECT pid FROM pg_stat_activity WHERE application_name = 'admin'")
		[ -n "$admin" ] && break
		sleep 0.1
	done
	run --separate-stderr slate-load --lock-wait 1 --log-format=text "$(as slate_dst lp_live)" \
		<"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 4
	echo "$stderr"
	[[ $stderr == *"already being written by pid $admin (admin as postgres); only one writer per destination"* ]]
}

# --- each missing grant: a clear error with the SQLSTATE, non-zero exit -----

@test "no SELECT on the source's events: permission denied, SQLSTATE 42501" {
	run --separate-stderr slate-extract --log-format=text "$(as src_noselect src)"
	assert_failure 1
	echo "$stderr"
	[[ $stderr == *"source could not read the first and last event ids: ERROR:  permission denied for table events (SQLSTATE 42501)"* ]]
	[ -z "$output" ]
	dest_for ns_pipe slate_dst "SELECT, INSERT"
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --source "$(as src_noselect src)" \
		--destination "$(as slate_dst ns_pipe)" --log-format=text
	echo "$stderr"
	assert_failure 2
	[[ $stderr == *"permission denied for table events (SQLSTATE 42501)"* ]]
	[[ $stderr == *"start-up check failed for the source"* ]]
	assert_equal "$(events_count pg ns_pipe)" 0
}

@test "no INSERT on the destination's events: permission denied, SQLSTATE 42501, nothing written" {
	dest_for ni slate_dst "SELECT"
	run --separate-stderr slate-load --log-format=text "$(as slate_dst ni)" <"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 1
	echo "$stderr"
	[[ $stderr == *"destination could not start COPY: ERROR:  permission denied for table events (SQLSTATE 42501)"* ]]
	# the start-up check cannot see it (it writes nothing); the first batch does
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --source "$(as slate_src src)" \
		--destination "$(as slate_dst ni)" --log-format=text
	echo "$stderr"
	assert_failure 1
	[[ $stderr == *"permission denied for table events (SQLSTATE 42501)"* ]]
	[[ $stderr == *"slate-load for destination 1 ("*") stopped with exit status 1"* ]]
	assert_equal "$(events_count pg ni)" 0
}

@test "no SELECT on the destination's events: permission denied, SQLSTATE 42501, nothing written" {
	dest_for nsd slate_dst "INSERT"
	run --separate-stderr slate-load --log-format=text "$(as slate_dst nsd)" <"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 1
	echo "$stderr"
	[[ $stderr == *"destination could not read the first and last event ids: ERROR:  permission denied for table events (SQLSTATE 42501)"* ]]
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" --source "$(as slate_src src)" \
		--destination "$(as slate_dst nsd)" --log-format=text
	echo "$stderr"
	assert_failure 2
	[[ $stderr == *"permission denied for table events (SQLSTATE 42501)"* ]]
	[[ $stderr == *"start-up check failed for destination 1"* ]]
	assert_equal "$(events_count pg nsd)" 0
}

@test "no CONNECT on a database: the connection is refused, exit 1" {
	run --separate-stderr slate-extract --log-format=text "$(as slate_dst src)"
	assert_failure 1
	[[ $stderr == *"could not connect to source"*'permission denied for database "src"'* ]]
}

# --- passwords --------------------------------------------------------------

# require_password: scram-sha-256 over TCP for the two password roles
require_password() {
	local hba=$pg_DIR/data/pg_hba.conf
	# rewrite in place: the file stays the server account's
	{ echo "host all slate_pwsrc,slate_pwdst 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$BATS_TEST_TMPDIR/hba"
	cat "$BATS_TEST_TMPDIR/hba" >"$hba"
	psql_c pg src "SET password_encryption = 'scram-sha-256';
		CREATE ROLE slate_pwsrc LOGIN PASSWORD 'Src-s3cret-4711';
		CREATE ROLE slate_pwdst LOGIN PASSWORD 'Dst:s3cret\\4712';
		GRANT CONNECT ON DATABASE src TO slate_pwsrc;
		GRANT USAGE ON SCHEMA public TO slate_pwsrc;
		GRANT SELECT ON events TO slate_pwsrc;
		SELECT pg_reload_conf()" >/dev/null
	dest_for pwdst slate_pwdst "SELECT, INSERT"
}

# write_config FILE SRC_PASSWORD DST_PASSWORD (JavaScript string bodies)
write_config() {
	cat >"$1" <<-EOF
		// the original replicator's configuration
		module.exports = {
		    maxEventsPerWrite: 10000,
		    eventSource: { host: '127.0.0.1:$pg_PORT', databaseName: 'src', user: 'slate_pwsrc', password: '$2' },
		    replicationDestinations: [
		        { host: '127.0.0.1:$pg_PORT', databaseName: 'pwdst', user: 'slate_pwdst', password: '$3' },
		    ],
		};
	EOF
}

@test "passwords from a config reach no argv and no log line; wrong ones fail clearly" {
	require_password
	# scram-sha-256 is really required: no password, no connection
	run psql -X -At -d "host=127.0.0.1 port=$pg_PORT dbname=src user=slate_pwsrc" -c "SELECT 1" </dev/null
	assert_failure
	write_config "$BATS_TEST_TMPDIR/config.js" 'Src-s3cret-4711' 'Dst:s3cret\\4712'
	mkdir "$BATS_TEST_TMPDIR/work"
	TMPDIR=$BATS_TEST_TMPDIR/work "$SLATE_ROOT/pipeline.sh" -c "$BATS_TEST_TMPDIR/config.js" \
		--poll-interval 1 --log-format=json 2>"$BATS_TEST_TMPDIR/replicator.log" 3>&- &
	REPLICATOR=$!
	bg_track "$REPLICATOR"
	# watch every process's argv from the start-up checks until caught up
	for _ in $(seq 200); do
		ps -eo args >>"$BATS_TEST_TMPDIR/ps.txt"
		[ "$(events_count pg pwdst)" = 600 ] && break
		sleep 0.05
	done
	assert_equal "$(events_count pg pwdst)" 600
	insert_events pg src 30 >/dev/null
	for _ in $(seq 100); do
		ps -eo args >>"$BATS_TEST_TMPDIR/ps.txt"
		[ "$(events_count pg pwdst)" = 630 ] && break
		sleep 0.05
	done
	kill -TERM "$REPLICATOR"
	rc=0
	wait "$REPLICATOR" || rc=$?
	REPLICATOR=
	assert_equal "$rc" 0
	assert_equal "$(events_md5 pg pwdst)" "$(events_md5 pg src)"
	# the scan did see the stages, with their conninfo but no password
	grep -q "slate-load .*user=slate_pwdst" "$BATS_TEST_TMPDIR/ps.txt"
	grep -q "slate-extract .*user=slate_pwsrc" "$BATS_TEST_TMPDIR/ps.txt"
	run grep -c -e s3cret "$BATS_TEST_TMPDIR/ps.txt" "$BATS_TEST_TMPDIR/replicator.log" "$pg_LOG"
	assert_output --partial "ps.txt:0"
	assert_output --partial "replicator.log:0"
	assert_output --partial "server.log:0"
	# the private pgpass file is gone with the replicator
	run ls -A "$BATS_TEST_TMPDIR/work"
	assert_output ""

	# a wrong password: a clear refusal at the start-up checks, without it
	write_config "$BATS_TEST_TMPDIR/wrong.js" 'Wrong-s3cret-0815' 'Dst:s3cret\\4712'
	run --separate-stderr "$SLATE_ROOT/pipeline.sh" -c "$BATS_TEST_TMPDIR/wrong.js" --log-format=text
	echo "$stderr"
	assert_failure 2
	[[ $stderr == *'could not connect to source (host=127.0.0.1 port='"$pg_PORT"' dbname=src user=slate_pwsrc): '*'password authentication failed for user "slate_pwsrc"'* ]]
	[[ $stderr == *"start-up check failed for the source"* ]]
	[[ $stderr != *s3cret* ]]
	# the same through PGPASSWORD, for the programs themselves
	run --separate-stderr env PGPASSWORD='Wrong-s3cret-0815' slate-load --log-format=json \
		"host=127.0.0.1 port=$pg_PORT dbname=pwdst user=slate_pwdst" <"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 1
	[[ $stderr == *'password authentication failed for user \"slate_pwdst\"'* ]]
	[[ $stderr != *s3cret* ]]
	run grep -c s3cret "$pg_LOG"
	assert_output 0
}

# --- TLS --------------------------------------------------------------------

# make_ca DIR NAME: a self-signed CA, DIR/NAME.key and DIR/NAME.crt
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=slate test $2" -keyout "$1/$2.key" -out "$1/$2.crt" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		2>/dev/null
}

@test "TLS with sslmode=verify-full passes through libpq; another CA is refused" {
	command -v openssl >/dev/null || skip "openssl is not installed"
	cluster_start tls
	d=$BATS_TEST_TMPDIR
	make_ca "$d" ca
	make_ca "$d" other
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\nbasicConstraints = CA:FALSE\n' >"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
	# the key must be the server account's and private to it
	install -m 600 "$d/server.key" "$d/server.crt" "$tls_DIR/"
	((EUID == 0)) && chown postgres: "$tls_DIR/server.key" "$tls_DIR/server.crt"
	cat >>"$tls_DIR/data/postgresql.conf" <<-EOF
		ssl = on
		ssl_cert_file = '$tls_DIR/server.crt'
		ssl_key_file = '$tls_DIR/server.key'
	EOF
	# TCP without TLS is refused, so a success below went through TLS
	hba=$tls_DIR/data/pg_hba.conf
	{ echo "hostnossl all all 127.0.0.1/32 reject"; cat "$hba"; } >"$d/hba"
	cat "$d/hba" >"$hba"
	psql_c tls postgres "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	assert_equal "$(psql_c tls postgres "SHOW ssl")" on
	db_create tls src source
	db_create tls dst destination
	insert_events tls src 300

	tcp="host=localhost port=$tls_PORT user=postgres"
	run psql -X -At -d "$tcp dbname=src sslmode=disable" -c "SELECT 1"
	assert_failure
	good="sslmode=verify-full sslrootcert=$d/ca.crt"
	run bash -c 'set -o pipefail; slate-extract "$1" | slate-load "$2"' _ \
		"$tcp dbname=src $good" "$tcp dbname=dst $good"
	assert_success
	assert_equal "$(events_md5 tls dst)" "$(events_md5 tls src)"
	# by IP address too (the certificate names it)
	run bash -c 'slate-extract --check "$1" >/dev/null' _ "host=127.0.0.1 port=$tls_PORT user=postgres dbname=src $good"
	assert_success

	wrong="sslmode=verify-full sslrootcert=$d/other.crt"
	run --separate-stderr slate-extract --log-format=text "$tcp dbname=src $wrong"
	echo "$stderr"
	assert_failure 1
	[[ $stderr == *"could not connect to source (host=localhost port=$tls_PORT dbname=src user=postgres): "*"certificate verify failed"* ]]
	[ -z "$output" ]
	run --separate-stderr slate-load --log-format=text "$tcp dbname=dst $wrong" <"$BATS_FILE_TMPDIR/all.mp"
	assert_failure 1
	[[ $stderr == *"could not connect to destination"*"certificate verify failed"* ]]
	# a name the certificate does not hold
	run --separate-stderr slate-extract --log-format=text \
		"host=127.0.0.2 hostaddr=127.0.0.1 port=$tls_PORT user=postgres dbname=src $good"
	echo "$stderr"
	assert_failure 1
	[[ $stderr == *"could not connect to source"*"does not match host name"* ]]
}
