#!/usr/bin/env bash
# fuzz/run.sh HARNESS... - run each libFuzzer harness for FUZZ_SECONDS
#
# Each harness build/fuzz/NAME starts from the seed corpus fuzz/corpus/NAME
# (stream_reader: fuzz/corpus/stream, config_reader: fuzz/corpus/config),
# copied to a scratch directory so the repository's seeds stay small and
# reviewed.  A crash leaves its input in build/fuzz/findings/NAME/; add it to
# the seeds and to a test once fixed.  Exit status: 0 when every harness ran
# its time without a finding, 1 otherwise.
set -u

seconds=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0

for harness in "$@"; do
	name=$(basename "$harness")
	case $name in
	stream_reader) seeds=$root/fuzz/corpus/stream max_len=65536 ;;
	config_reader) seeds=$root/fuzz/corpus/config max_len=16384 ;;
	*) echo "fuzz/run.sh: no seed corpus for $name" >&2; exit 2 ;;
	esac
	work=$root/build/fuzz/corpus/$name
	findings=$root/build/fuzz/findings/$name
	mkdir -p "$work" "$findings"
	cp -n "$seeds"/* "$work"/
	log=$root/build/fuzz/$name.log
	echo "fuzz: $name for ${seconds}s (log: $log)"
	if "$harness" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
		"$work" >"$log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tail -2
	else
		status=1
		echo "fuzz: $name found something, input in $findings/:" >&2
		grep -E 'ERROR|harness:|SUMMARY' "$log" | head -5 >&2
	fi
done
exit $status
