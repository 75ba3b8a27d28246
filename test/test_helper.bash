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
