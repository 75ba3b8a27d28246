#!/usr/bin/env bats
# make install: programs, manual pages and systemd units where they belong;
# the pages render without warnings and name every option --help names; the
# units parse (systemd-analyze verify) and keep the hardening they promise.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	PREFIX_DIR=$BATS_FILE_TMPDIR/prefix
	export PREFIX_DIR
	# what make install copies (install-files: the same recipe, without
	# rebuilding bin/ under the other tests, e.g. without the sanitizers)
	make -C "$SLATE_ROOT" -s install-files PREFIX="$PREFIX_DIR" >/dev/null
}

# render PAGE: the page as plain text, one paragraph per line, no hyphenation
render() {
	groff -man -Tascii -P-cbu -rLL=2000n -rHY=0 "$1" 2>&1
}

# groff_check PAGE: format PAGE with every warning on (-ww: -wall leaves out
# undefined macros); the warnings on stderr
groff_check() {
	groff -ww -man -Tutf8 "$1" >/dev/null
}

@test "make install puts every program, its manual page and the units under PREFIX" {
	local prog
	for prog in slate-listen slate-extract slate-load slate-config slate-diff slate-status slate-cat \
		slate-publish slate-consume slate-replicator; do
		[[ -f $PREFIX_DIR/bin/$prog && -x $PREFIX_DIR/bin/$prog ]] || fail "$prog: not installed as a program"
	done
	# a page for every program installed, present and future
	for prog in "$PREFIX_DIR"/bin/*; do
		[[ -f $PREFIX_DIR/share/man/man1/${prog##*/}.1 ]] || fail "${prog##*/}: no manual page"
	done
	[[ -f $PREFIX_DIR/share/man/man5/slate-stream.5 ]] || fail "slate-stream.5 not installed"
	for unit in slate-replicator@.service slate-status@.service slate-status@.timer; do
		[[ -f $PREFIX_DIR/lib/systemd/system/$unit ]] || fail "$unit not installed"
	done
	run grep -h '^ExecStart=' "$PREFIX_DIR"/lib/systemd/system/*.service
	assert_line "ExecStart=$PREFIX_DIR/bin/slate-replicator -c /etc/slate/%i.js --restart --log-format=json"
	assert_line --partial "ExecStart=$PREFIX_DIR/bin/slate-status -c /etc/slate/%i.js --format=prometheus --output="
	refute_output --partial "@BINDIR@"
	# the installed replicator finds its stages beside it
	run "$PREFIX_DIR/bin/slate-replicator" --version
	assert_success
}

@test "every manual page renders without a warning (man --warnings and groff -ww)" {
	local page
	for page in "$PREFIX_DIR"/share/man/man*/*; do
		run --separate-stderr env LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page"
		assert_success
		[[ -z $stderr ]] || fail "man warns about $page: $stderr"
		[[ $output == *NAME* && $output == *DESCRIPTION* ]] || fail "$page renders empty"
		run --separate-stderr groff_check "$page"
		assert_success
		[[ -z $stderr ]] || fail "groff warns about $page: $stderr"
	done
	# the check can fail: a page with an unknown macro warns
	printf '.TH X 1\n.SH NAME\nx \\- y\n.XY z\n' >"$BATS_TEST_TMPDIR/bad.1"
	run --separate-stderr groff_check "$BATS_TEST_TMPDIR/bad.1"
	[[ $stderr == *warning* ]]
}

@test "every option --help names is in the manual page" {
	local prog help page opt missing=()
	for prog in $(ls "$PREFIX_DIR/bin"); do
		help=$("$PREFIX_DIR/bin/$prog" --help)
		page=$(render "$PREFIX_DIR/share/man/man1/$prog.1")
		# long options anywhere in --help, short ones where options are listed
		for opt in $(grep -oE -- '--[a-z][a-z-]*[a-z]' <<<"$help" | sort -u) \
			$(grep -oE -- '^ +-[a-zA-Z?],' <<<"$help" | tr -d ' ,'); do
			[[ $page == *"$opt"* ]] || missing+=("$prog $opt")
		done
	done
	((${#missing[@]} == 0)) || fail "options missing from the manual: ${missing[*]}"
}

@test "the units parse (systemd-analyze verify) and keep their hardening" {
	local dir=$PREFIX_DIR/lib/systemd/system
	if command -v systemd-analyze >/dev/null; then
		# an instance of each template; the pages they cite are found in PREFIX
		run --separate-stderr env -C "$dir" MANPATH="$PREFIX_DIR/share/man" systemd-analyze verify \
			slate-replicator@config.service slate-status@config.service slate-status@config.timer
		assert_success
		[[ -z $stderr ]] || fail "systemd-analyze: $stderr"
	else
		skip "no systemd-analyze"
	fi
	run cat "$dir/slate-replicator@.service"
	assert_line "User=slate"
	assert_line "Restart=on-failure"
	assert_line "RestartPreventExitStatus=2"
	assert_line "NoNewPrivileges=yes"
	assert_line "ProtectSystem=strict"
	assert_line "PrivateTmp=yes"
	run cat "$dir/slate-status@.service"
	assert_line "SuccessExitStatus=1 2 3"
	assert_line "ReadWritePaths=/var/lib/prometheus/node-exporter"
}
