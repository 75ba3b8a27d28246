#!/usr/bin/env bats
# config.bats - slate-config: reading config.js without running it, checks, output, passfile

bats_require_minimum_version 1.5.0
load test_helper

setup() {
	SLATE_CONFIG="$BATS_TEST_DIRNAME/../bin/slate-config"
	cd "$BATS_TEST_TMPDIR"
}

# the example config of the original replicator
write_example() {
	cat > config.js <<'EOF'
// replicator config
var config = {
    maxEventsPerWrite: 10000,   /* optional */
    connectTimeout: 15000,
    eventSource: { host: 'localhost:5433', databaseName: 'sourceDb', user: 'user1', password: 'pass1' },
    replicationDestinations: [
        { host: "localhost", databaseName: 'dest1', user: 'u', password: 'p', },
        { host: 'db2.example', databaseName: 'dest2' },
    ],
};
module.exports = config;
EOF
}

EXAMPLE_OUTPUT='max_events_per_write=10000
connect_timeout=15
source=host=localhost port=5433 dbname=sourceDb user=user1
destination=host=localhost dbname=dest1 user=u
destination=host=db2.example dbname=dest2'

# a config whose one destination is $1 (an object literal)
with_destination() {
	printf '{ eventSource: { host: "src", databaseName: "db" },\n  replicationDestinations: [ %s ] }\n' "$1" > c.js
}

# a config with these top-level members before the connections
with_settings() {
	printf '{ %s\n  eventSource: { host: "src", databaseName: "db" },\n  replicationDestinations: [ { host: "dst", databaseName: "db" } ] }\n' "$1" > c.js
}

# --- options -------------------------------------------------------------

@test "--help describes the usage and the output" {
	run "$SLATE_CONFIG" --help
	assert_success
	assert_line --partial 'Usage:'
	assert_line --partial '--passfile=FILE'
	assert_line --partial 'destination=CONNINFO'
}

@test "--version prints the slate version" {
	run "$SLATE_CONFIG" --version
	assert_success
	assert_output --regexp '^slate-config \(slate\) [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "an unknown option is a usage error" {
	run --separate-stderr "$SLATE_CONFIG" --frobnicate config.js
	assert_failure 2
	assert_equal "$output" ''
	assert_equal "${stderr_lines[0]}" "slate-config: unrecognized option '--frobnicate'"
	assert_equal "${stderr_lines[1]}" 'Try "slate-config --help" for more information.'
}

@test "--passfile without its argument is a usage error" {
	run --separate-stderr "$SLATE_CONFIG" --passfile
	assert_failure 2
	assert_equal "${stderr_lines[1]}" 'Try "slate-config --help" for more information.'
}

@test "no file, two files, a missing file, a directory: one line each, exit 2" {
	run --separate-stderr "$SLATE_CONFIG"
	assert_failure 2
	assert_equal "${stderr_lines[0]}" 'slate-config: no configuration file given'

	run --separate-stderr "$SLATE_CONFIG" a.js b.js
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "slate-config: too many command-line arguments, first extra is 'b.js'"

	run --separate-stderr "$SLATE_CONFIG" nothere.js
	assert_failure 2
	assert_equal "$stderr" 'slate-config: could not open configuration file "nothere.js": No such file or directory'

	mkdir adir
	run --separate-stderr "$SLATE_CONFIG" adir
	assert_failure 2
	assert_equal "$stderr" 'slate-config: could not read configuration file "adir": Is a directory'
}

@test "-c FILE works like the replicator's own option" {
	write_example
	run --separate-stderr "$SLATE_CONFIG" -c config.js
	assert_success
	assert_equal "$output" "$EXAMPLE_OUTPUT"
}

# --- accepted syntax -----------------------------------------------------

@test "the original example: var, comments, both quotes, trailing commas" {
	write_example
	run --separate-stderr "$SLATE_CONFIG" config.js
	assert_success
	assert_equal "$output" "$EXAMPLE_OUTPUT"
	assert_equal "$stderr" 'slate-config: warning: 2 passwords in "config.js" ignored; use --passfile FILE to pass them to libpq'
}

@test "module.exports = {...} without semicolons" {
	cat > config.js <<'EOF'
/* the whole file is one statement */
module.exports = {
  "eventSource": {"host": "localhost:5433", "databaseName": "sourceDb", "user": "user1"},
  replicationDestinations: [{host: 'localhost', databaseName: 'dest1', user: 'u'},
                            {host: 'db2.example', databaseName: 'dest2'}]
}
EOF
	run --separate-stderr "$SLATE_CONFIG" config.js
	assert_success
	assert_equal "$output" "$EXAMPLE_OUTPUT"
	assert_equal "$stderr" ''
}

@test "plain JSON" {
	cat > config.json <<'EOF'
{
  "maxEventsPerWrite": 10000,
  "connectTimeout": 15000,
  "eventSource": {"host": "localhost:5433", "databaseName": "sourceDb", "user": "user1"},
  "replicationDestinations": [
    {"host": "localhost", "databaseName": "dest1", "user": "u"},
    {"host": "db2.example", "databaseName": "dest2"}
  ]
}
EOF
	run --separate-stderr "$SLATE_CONFIG" config.json
	assert_success
	assert_equal "$output" "$EXAMPLE_OUTPUT"
}

@test "const and let declarations, CRLF line ends and a byte order mark" {
	printf '\xef\xbb\xbfconst cfg = {\r\n eventSource: {host: "a", databaseName: "b"},\r\n replicationDestinations: [{host: "c", databaseName: "d"}]\r\n}\r\nmodule . exports = cfg\r\n' > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_line 'source=host=a dbname=b'
	sed -i 's/const cfg/let cfg/' c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
}

@test "string escapes decode, including surrogate pairs" {
	with_destination "{ host: 'dst', databaseName: 'caf\\u00e9\\x21\\uD83D\\uDE00\\u{1F600}\\/\\'\\\"' }"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_line "destination=host=dst dbname='café!😀😀/\\'\"'"
}

@test "conninfo values with blanks, quotes or backslashes are quoted for libpq" {
	with_destination "{ host: 'dst', databaseName: 'my db', user: 'o\\'brien\\\\x' }"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_line "destination=host=dst dbname='my db' user='o\\'brien\\\\x'"
}

@test "true, false, null and nested values in unknown fields are read and ignored" {
	with_settings "extra: { a: [true, false, null, -1.5e3, [], {}], b: 'x', }, "
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_equal "$stderr" "slate-config: c.js:1:3: warning: unknown field 'extra' ignored"
}

# --- settings ------------------------------------------------------------

@test "defaults: 10000 events per write, 15 s connect timeout" {
	with_settings ""
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_equal "$output" 'max_events_per_write=10000
connect_timeout=15
source=host=src dbname=db
destination=host=dst dbname=db'
	assert_equal "$stderr" ''
}

@test "null settings mean the default" {
	with_settings "maxEventsPerWrite: null, connectTimeout: null,"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_line 'max_events_per_write=10000'
	assert_line 'connect_timeout=15'
}

@test "maxEventsPerWrite below 10000 is raised, above is kept" {
	with_settings "maxEventsPerWrite: 500,"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_line 'max_events_per_write=10000'
	assert_equal "$stderr" 'slate-config: maxEventsPerWrite 500 raised to the minimum 10000'

	with_settings "maxEventsPerWrite: 25000,"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_line 'max_events_per_write=25000'
	assert_equal "$stderr" ''
}

@test "connectTimeout is rounded up to whole seconds" {
	local ms s
	for pair in 1:1 999:1 1000:1 1001:2 1500:2 1e4:10 20000.0:20; do
		ms=${pair%%:*} s=${pair##*:}
		with_settings "connectTimeout: $ms,"
		run --separate-stderr "$SLATE_CONFIG" c.js
		assert_success
		assert_line "connect_timeout=$s"
	done
}

@test "settings that are not positive whole numbers are errors with their position" {
	with_settings "connectTimeout: 1.5,"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$output" ''
	assert_equal "$stderr" "slate-config: c.js:1:19: 'connectTimeout' must be a whole number"

	with_settings "connectTimeout: '1000',"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:1:19: 'connectTimeout' must be a number, not a string"

	with_settings "connectTimeout: 0,"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:1:19: 'connectTimeout' must be between 1 and 2147483647"

	with_settings "maxEventsPerWrite: -5,"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:1:22: 'maxEventsPerWrite' must be between 1 and 2147483647"

	with_settings "maxEventsPerWrite: 1e30,"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:1:22: 'maxEventsPerWrite' must be between 1 and 2147483647"
}

# --- hosts and ports -----------------------------------------------------

@test "host:port, bracketed IPv6 and socket directories" {
	with_destination "{ host: 'db.example:6543', databaseName: 'a' }, { host: '[::1]:5433', databaseName: 'b' },
	  { host: '[fe80::1]', databaseName: 'c' }, { host: '/var/run/postgresql', databaseName: 'd' }"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_line 'destination=host=db.example port=6543 dbname=a'
	assert_line 'destination=host=::1 port=5433 dbname=b'
	assert_line 'destination=host=fe80::1 dbname=c'
	assert_line 'destination=host=/var/run/postgresql dbname=d'
}

@test "bad hosts and ports are errors naming the host's position" {
	local host msg
	while IFS='|' read -r host msg; do
		with_destination "{ host: '$host', databaseName: 'a' }"
		run --separate-stderr "$SLATE_CONFIG" c.js
		assert_failure 2
		assert_equal "$stderr" "slate-config: c.js:2:38: 'replicationDestinations[0].host' $msg"
	done <<'EOF'
db:0|has a port that is not a number from 1 to 65535
db:65536|has a port that is not a number from 1 to 65535
db:99999999999999999999|has a port that is not a number from 1 to 65535
db:54x|has a port that is not a number from 1 to 65535
db:-1|has a port that is not a number from 1 to 65535
db:|has ':' without a port
:5432|has no host name
|must not be empty
::1|has more than one ':' (write an IPv6 address in brackets: [::1]:5432)
[::1|has '[' without ']'
[::1]5432|has something other than ':port' after ']'
[]:5432|has no host name
a,b|must name one server (no ',')
EOF
}

# --- unknown fields, missing fields, wrong types -------------------------

@test "unknown fields warn with their position and full name" {
	cat > c.js <<'EOF'
{
  maxEventPerWrite: 5,
  eventSource: { host: 'src', databaseName: 'db', port: 5433 },
  replicationDestinations: [ { host: 'dst', databaseName: 'db', 'pass word': 'x' } ],
}
EOF
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_equal "${stderr_lines[0]}" "slate-config: c.js:2:3: warning: unknown field 'maxEventPerWrite' ignored"
	assert_equal "${stderr_lines[1]}" "slate-config: c.js:3:51: warning: unknown field 'eventSource.port' ignored"
	assert_equal "${stderr_lines[2]}" "slate-config: c.js:4:65: warning: unknown field 'replicationDestinations[0].pass word' ignored"
	assert_equal "${#stderr_lines[@]}" 3
}

@test "thousands of unknown fields print 20 warnings and a count" {
	{
		printf '{ eventSource: { host: "src", databaseName: "db" }, replicationDestinations: [ { host: "dst", databaseName: "db" } ],\n'
		for i in $(seq 1 3000); do printf 'f%d: %d,\n' "$i" "$i"; done
		printf '}\n'
	} > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_equal "${#stderr_lines[@]}" 21
	assert_equal "${stderr_lines[20]}" 'slate-config: c.js: 2980 more warnings not shown'
}

@test "missing required fields are errors at the enclosing object" {
	printf '{\n  connectTimeout: 1000,\n}\n' > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$output" ''
	assert_equal "${stderr_lines[0]}" "slate-config: c.js:1:1: missing required field 'eventSource'"
	assert_equal "${stderr_lines[1]}" "slate-config: c.js:1:1: missing required field 'replicationDestinations'"

	printf '{ eventSource: { user: "u" },\n  replicationDestinations: [ { host: "dst" } ] }\n' > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "slate-config: c.js:1:16: missing required field 'eventSource.host'"
	assert_equal "${stderr_lines[1]}" "slate-config: c.js:1:16: missing required field 'eventSource.databaseName'"
	assert_equal "${stderr_lines[2]}" "slate-config: c.js:2:30: missing required field 'replicationDestinations[0].databaseName'"
}

@test "wrong types are errors with the value's position" {
	printf "{ eventSource: 'db',\n  replicationDestinations: {} }\n" > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "slate-config: c.js:1:16: 'eventSource' must be an object, not a string"
	assert_equal "${stderr_lines[1]}" "slate-config: c.js:2:28: 'replicationDestinations' must be an array, not an object"

	with_destination "{ host: 5432, databaseName: null, user: true }, 'dst'"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "slate-config: c.js:2:38: 'replicationDestinations[0].host' must be a string, not a number"
	assert_equal "${stderr_lines[1]}" "slate-config: c.js:2:58: 'replicationDestinations[0].databaseName' must be a string, not null"
	assert_equal "${stderr_lines[2]}" "slate-config: c.js:2:70: 'replicationDestinations[0].user' must be a string, not a boolean"
	assert_equal "${stderr_lines[3]}" "slate-config: c.js:2:78: 'replicationDestinations[1]' must be an object, not a string"
}

@test "an empty destination list is an error" {
	with_destination ""
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:2:28: 'replicationDestinations' must not be empty"
}

@test "a field given twice is an error" {
	with_destination "{ host: 'a', databaseName: 'b', host: 'c' }"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:2:62: duplicate field 'replicationDestinations[0].host' (first at 2:32)"
}

@test "a newline or other control character in a value is an error" {
	with_destination "{ host: 'dst', databaseName: 'a\\nb' }"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:2:59: 'replicationDestinations[0].databaseName' contains a control character (such as a newline)"
	assert_equal "$output" ''
}

# --- destinations must be distinct ---------------------------------------

@test "a destination given twice is an error, ignoring case and the default port" {
	with_destination "{ host: 'DB.example', databaseName: 'App' },
	  { host: 'other', databaseName: 'app' },
	  { host: 'db.EXAMPLE:5432', databaseName: 'aPP', user: 'someone' }"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:4:4: 'replicationDestinations[2]' duplicates 'replicationDestinations[0]' (at 2:30): same host, port and databaseName"
}

@test "a host without a port means PGPORT's port when it is set, as libpq does" {
	with_destination "{ host: 'db', databaseName: 'app' }, { host: 'db:5433', databaseName: 'app' }"
	run --separate-stderr env PGPORT=5433 "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:2:67: 'replicationDestinations[1]' duplicates 'replicationDestinations[0]' (at 2:30): same host, port and databaseName"
	# and then db:5432 is another database
	with_destination "{ host: 'db', databaseName: 'app' }, { host: 'db:5432', databaseName: 'app' }"
	run --separate-stderr env PGPORT=5433 "$SLATE_CONFIG" c.js
	assert_success
}

@test "another port or database is another destination" {
	with_destination "{ host: 'db', databaseName: 'app' }, { host: 'db:5433', databaseName: 'app' },
	  { host: 'db', databaseName: 'app2' }"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
	assert_equal "${#lines[@]}" 6
}

@test "a destination equal to the source is an error" {
	with_destination "{ host: 'SRC:5432', databaseName: 'DB' }"
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:2:30: 'replicationDestinations[0]' is the event source (eventSource at 1:16): same host, port and databaseName"
}

# --- passwords -----------------------------------------------------------

@test "--passfile writes a 0600 pgpass file; passwords appear nowhere else" {
	write_example
	run --separate-stderr "$SLATE_CONFIG" --passfile pgpass config.js
	assert_success
	assert_equal "$output" "$EXAMPLE_OUTPUT"
	assert_equal "$stderr" ''
	assert_equal "$(stat -c %a pgpass)" 600
	assert_equal "$(cat pgpass)" 'localhost:5433:sourceDb:user1:pass1
localhost:*:dest1:u:p'
}

@test "pgpass fields escape ':' and '\\'; no user is '*'; sockets are localhost" {
	cat > c.js <<'EOF'
{ eventSource: { host: '[::1]:5433', databaseName: 'a:b', user: 'me\\you', password: 'pa:ss\\wo"rd' },
  replicationDestinations: [ { host: 'dst', databaseName: 'db', password: "s3cr:t" },
                             { host: '/tmp:5433', databaseName: 'db', password: "x" } ] }
EOF
	run --separate-stderr "$SLATE_CONFIG" --passfile=pgpass c.js
	assert_success
	refute_output --partial 'pa:ss'
	refute_output --partial 's3cr'
	assert_equal "$stderr" ''
	assert_line "source=host=::1 port=5433 dbname=a:b user='me\\\\you'"
	assert_equal "$(cat pgpass)" '\:\:1:5433:a\:b:me\\you:pa\:ss\\wo"rd
dst:*:db:*:s3cr\:t
localhost:5433:db:*:x'
}

@test "--passfile truncates a private file the caller made, refuses others" {
	write_example
	(umask 077; echo old-content-that-is-longer-than-the-new-one > pgpass)
	run --separate-stderr "$SLATE_CONFIG" --passfile pgpass config.js
	assert_success
	assert_equal "$(head -n 1 pgpass)" 'localhost:5433:sourceDb:user1:pass1'
	assert_equal "$(wc -l < pgpass)" 2

	echo 'keep' > shared
	chmod 644 shared
	run --separate-stderr "$SLATE_CONFIG" --passfile shared config.js
	assert_failure 2
	assert_equal "$output" ''
	assert_equal "$stderr" 'slate-config: refusing to write passwords to "shared": group or others have access (it must have mode 0600)'
	assert_equal "$(cat shared)" keep

	ln -s pgpass link
	run --separate-stderr "$SLATE_CONFIG" --passfile link config.js
	assert_failure 2
	assert_output ''
}

@test "--passfile on a config without passwords writes an empty file" {
	with_settings ""
	run --separate-stderr "$SLATE_CONFIG" --passfile pgpass c.js
	assert_success
	assert_equal "$(stat -c %a:%s pgpass)" 600:0
}

@test "an invalid configuration writes no passfile" {
	with_destination ""
	run --separate-stderr "$SLATE_CONFIG" --passfile pgpass c.js
	assert_failure 2
	[ ! -e pgpass ]
}

@test "errors inside a password never show the password" {
	local pw
	for pw in "hunter2\\q" "hunter2\\u12" "hunter2\\uD800x" "hunter2" "hunter2\\n"; do
		printf "{ eventSource: { host: 'h', databaseName: 'd', password: '%s" "$pw" > c.js
		[[ $pw == hunter2 ]] || printf "' } }" >> c.js
		run --separate-stderr "$SLATE_CONFIG" --passfile pgpass c.js
		assert_failure 2
		[[ $stderr == "slate-config: c.js:1:"* ]]
		[[ $stderr != *hunter* ]]
		[[ $output != *hunter* ]]
	done
	printf "{ eventSource: { host: 'h', databaseName: 'd', password: hunter2 } }" > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" 'slate-config: c.js:1:58: expected a value'
}

# --- syntax errors: file:line:col and what was expected ------------------

@test "syntax errors name the position and what was expected" {
	local text want
	while IFS='|' read -r text want; do
		printf '%b' "$text" > c.js
		run --separate-stderr "$SLATE_CONFIG" c.js
		assert_failure 2
		assert_equal "$output" ''
		assert_equal "$stderr" "slate-config: c.js:$want"
	done <<'EOF'
{\n  a: 1\n  b: 2\n}|3:3: expected ',' or '}' after a value
{ a: [1 2] }|1:9: expected ',' or ']' after a value
{ a 1 }|1:5: expected ':' after a property name
{ 1: 2 }|1:3: expected a property name or '}'
{ a: 1,, }|1:8: expected a property name or '}'
{ a: [1,,2] }|1:9: expected a value
{ a: undefined }|1:6: expected a value
{ a: |1:6: expected a value, found the end of the file
{ a: 'abc\n}|1:6: unterminated string
{ a: 1 /* comment\n}|1:8: unterminated comment
{ a: 010 }|1:6: invalid number: leading zeros are not allowed
{ a: 0x10 }|1:6: invalid number
{ a: 1e }|1:6: invalid number: exponent without digits
{ a: - }|1:6: expected a value
{ a: 1 } x|1:10: expected the end of the file after the configuration
{ a: 1 }; {}|1:11: expected the end of the file after the configuration
[1, 2]|1:1: expected '{', 'var', 'let', 'const' or 'module.exports'
|1:1: expected '{', 'var', 'let', 'const' or 'module.exports', found the end of the file
var = {}|1:5: expected a variable name after 'var'
var c {}|1:7: expected '='
var c = [];|1:9: expected '{' to start the configuration object
var c = {};|1:12: expected 'module.exports = c;' after the object
var c = {};\nmodule.exports = d;|2:18: expected 'c' (the variable declared at 1:5)
var c = {};\nexports = c;|2:1: expected 'module.exports = ...'
module.export = {}|1:8: expected 'exports' after 'module.'
module.exports {}|1:16: expected '='
EOF
}

@test "columns count characters, not bytes" {
	printf "{ a: 'héé' b: 1 }" > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" "slate-config: c.js:1:12: expected ',' or '}' after a value"
}

@test "bad escapes are errors at the backslash" {
	local text want
	while IFS='|' read -r text want; do
		printf '%s' "$text" > c.js
		run --separate-stderr "$SLATE_CONFIG" c.js
		assert_failure 2
		assert_equal "$stderr" "slate-config: c.js:1:$want"
	done <<'EOF'
{ a: 'x\q' }|8: invalid escape sequence in string
{ a: 'x\08' }|8: NUL characters are not allowed in strings
{ a: 'x\u0000' }|8: NUL characters are not allowed in strings
{ a: 'x\x0' }|8: invalid \x escape: expected 2 hex digits
{ a: 'x\u12g4' }|8: invalid \u escape: expected 4 hex digits
{ a: 'x\uD800' }|8: unpaired surrogate in \u escape
{ a: 'x\uDC00\uD800' }|8: unpaired surrogate in \u escape
{ a: 'x\uD800\u0041' }|8: unpaired surrogate in \u escape
{ a: 'x\u{110000}' }|8: invalid \u{...} escape: expected hex digits up to 10FFFF and '}'
{ a: 'x\u{D800}' }|8: invalid \u{...} escape: a surrogate is not a character
EOF
}

# --- hostile input -------------------------------------------------------

# bytes N C: the character C, N times
bytes() {
	head -c "$1" /dev/zero | tr '\0' "$2"
}

@test "nesting deeper than 64 levels is an error, not a crash" {
	# (bytes N C: C written N times)
	{ printf '{a:'; bytes 100000 '['; bytes 100000 ']'; printf '}\n'; } > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" 'slate-config: c.js:1:67: nesting too deep (more than 64 levels)'

	# 64 levels are fine
	{ printf '{a:'; bytes 63 '['; bytes 63 ']'
	  printf ', eventSource: {host: "a", databaseName: "b"}, replicationDestinations: [{host: "c", databaseName: "d"}]}\n'
	} > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_success
}

@test "a string longer than 64 KiB is an error" {
	{ printf '{\n a: "'; bytes 65537 x; printf '"}\n'; } > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" 'slate-config: c.js:2:5: string too long (more than 65536 bytes)'
}

@test "a file larger than 1 MiB is refused" {
	head -c 1048577 /dev/zero | tr '\0' ' ' > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" 'slate-config: configuration file "c.js" is too large (more than 1048576 bytes)'
}

@test "a NUL byte is an error naming its position" {
	printf '{\n  a: "x",\0 }' > c.js
	run --separate-stderr "$SLATE_CONFIG" c.js
	assert_failure 2
	assert_equal "$stderr" 'slate-config: c.js:2:10: NUL byte in file'
}

@test "invalid UTF-8 in strings is an error" {
	local bytes
	# a stray continuation byte, overlong '/', an encoded surrogate, above U+10FFFF, cut short
	for bytes in '\x80' '\xc0\xaf' '\xed\xa0\x80' '\xf4\x90\x80\x80' '\xe2\x82'; do
		printf "{ a: 'x$bytes' }" > c.js
		run --separate-stderr "$SLATE_CONFIG" c.js
		assert_failure 2
		assert_equal "$stderr" 'slate-config: c.js:1:8: invalid UTF-8 in string'
	done
}

@test "the fuzz seed corpus reads without crashing" {
	local f seeds=0
	for f in "$SLATE_ROOT"/fuzz/corpus/config/*; do
		[[ -f $f ]] || continue
		seeds=$((seeds + 1))
		run --separate-stderr "$SLATE_CONFIG" "$f"
		[[ $stderr != *Sanitizer* && $stderr != *"runtime error"* ]] || fail "$f: $stderr"
		case $status in
		0)	# read to the end: the connections are printed
			[[ $output == *"source="*"destination="* ]] || fail "$f: exit 0 without connections: $output"
			;;
		2)	# read and refused: every line names its place in the file, and
			# one at least is an error, not a warning (the seeds of the
			# original's other tools lack the replicator's fields)
			local line errors=0
			for line in "${stderr_lines[@]}"; do
				[[ $line == "slate-config: $f:"[0-9]*:[0-9]*": "* ]] ||
					fail "$f: a line without file:line:col: $line"
				[[ $line == *": warning: "* ]] || errors=$((errors + 1))
			done
			((errors > 0)) || fail "$f: exit 2 without an error line: $stderr"
			;;
		*) fail "$f: exit $status: $stderr" ;;
		esac
	done
	((seeds > 0)) || fail "no seed found in $SLATE_ROOT/fuzz/corpus/config"
	echo "# $seeds seeds read" >&3
}
