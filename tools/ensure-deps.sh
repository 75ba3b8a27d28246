#!/bin/sh
# ensure-deps.sh: check that what building, testing or demonstrating slate needs is installed.
#
# Usage: tools/ensure-deps.sh [build|test|demo|ci]
#        (default: test; ci adds valgrind, and clang with libFuzzer for
#        building the fuzz harnesses)
#
# Silent and quick when everything is there.  Otherwise, as root it runs
# apt-get update and apt-get install -y for the missing Debian packages; as
# anyone else it prints the one command that would install them, on stderr,
# and exits 1.  Exit 2 on a usage error.

set -u

purpose=${1:-test}
case $purpose in
build | test | demo | ci) ;;
*)
	echo "usage: tools/ensure-deps.sh [build|test|demo|ci]" >&2
	exit 2
	;;
esac

missing=

# need PACKAGE: note a Debian package to install (once).
need() {
	case " $missing " in
	*" $1 "*) ;;
	*) missing="${missing:+$missing }$1" ;;
	esac
}

have_command() {
	command -v "$1" >/dev/null 2>&1
}

# have_pkgconfig NAME...: true if pkg-config knows one of the modules.
have_pkgconfig() {
	have_command pkg-config || return 1
	for module in "$@"; do
		pkg-config --exists "$module" 2>/dev/null && return 0
	done
	return 1
}

# have_file PATTERN: true if the glob PATTERN matches an existing file.
have_file() {
	for file in $1; do
		[ -e "$file" ] && return 0
	done
	return 1
}

# have_fuzzer_runtime: true if clang finds its libFuzzer library (it prints
# the bare name when it does not).
have_fuzzer_runtime() {
	have_command clang || return 1
	case $(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a") in
	/*) return 0 ;;
	*) return 1 ;;
	esac
}

# msgpack_package: Debian 12 calls the C library's -dev package
# libmsgpack-dev; later releases split it out as libmsgpack-c-dev.
msgpack_package() {
	if have_command apt-cache &&
		apt-cache show libmsgpack-c-dev >/dev/null 2>&1; then
		echo libmsgpack-c-dev
	else
		echo libmsgpack-dev
	fi
}

check() {
	missing=
	have_command cc || need gcc
	have_command make || need make
	have_command pkg-config || need pkg-config
	have_pkgconfig libpq || [ -e /usr/include/postgresql/libpq-fe.h ] ||
		need libpq-dev
	have_pkgconfig msgpack-c msgpack || [ -e /usr/include/msgpack.h ] ||
		need "$(msgpack_package)"
	# the NATS C client, for slate-publish and slate-consume only
	have_pkgconfig libnats || [ -e /usr/include/nats/nats.h ] ||
		need libnats-dev

	[ "$purpose" = build ] && return 0

	# test and demo: a PostgreSQL server to run throwaway clusters, its
	# client, and bats with the libraries test_helper.bash loads
	have_file '/usr/lib/postgresql/*/bin/initdb' || have_command initdb ||
		need postgresql
	have_command psql || need postgresql-client
	have_command runuser && have_command setsid || need util-linux
	have_command bats || need bats
	for lib in bats-support bats-assert; do
		[ -e "/usr/lib/bats/$lib/load.bash" ] || need "$lib"
	done
	# slate-status's tests parse its JSON with jq and its Prometheus output
	# with python3; the manual pages are checked with groff and man
	have_command jq || need jq
	have_command python3 || need python3
	have_command groff || need groff-base
	have_command man || need man-db
	# pgrep and ps for the process tests, openssl for the TLS test
	have_command pgrep && have_command ps || need procps
	have_command openssl || need openssl
	# jq reads slate-cat's JSON lines in the tests; zstd compresses in the README's examples
	have_command jq || need jq
	have_command zstd || need zstd
	# strace to see every execve (test/argv.bats: no password in any argv)
	have_command strace || need strace
	# a throwaway NATS server with JetStream for test/broker.bats
	have_command nats-server || [ -x /usr/sbin/nats-server ] || need nats-server
	[ "$purpose" = ci ] || return 0
	have_command valgrind || need valgrind
	# the fuzz harnesses: clang, and its libFuzzer runtime, which clang
	# only recommends (libclang-rt-dev holds it on Debian 12)
	have_command clang || need clang
	have_fuzzer_runtime || need libclang-rt-dev
	return 0
}

check
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "sudo apt-get install -y $missing" >&2
	exit 1
fi

echo "ensure-deps: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
# wait for a concurrent apt or unattended-upgrades rather than fail at once
lock="-o DPkg::Lock::Timeout=300"
# shellcheck disable=SC2086 # one word per option and package
apt-get $lock update -qq >&2 && apt-get $lock install -y -qq $missing >&2 || {
	echo "ensure-deps: apt-get install failed for: $missing" >&2
	exit 1
}

check
if [ -n "$missing" ]; then
	echo "ensure-deps: still missing after install: $missing" >&2
	exit 1
fi
exit 0
