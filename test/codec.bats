#!/usr/bin/env bats
# The stream codec on its own: CRC-32C known answers and the instruction
# against the table; write -> read -> same; cuts and flipped bytes.

bats_require_minimum_version 1.5.0
load test_helper

@test "stream codec unit tests" {
	run --separate-stderr "$BATS_TEST_DIRNAME/bin/slate-codec"
	[[ $status == 0 ]] || fail "slate-codec exited $status: $stderr"
	assert_line "ok crc32c"
	assert_line "ok round trip"
	assert_line "ok timestamps"
	# every flipped byte of an event is reported: N of N
	assert_line --regexp '^ok cuts \([0-9]+ of [0-9]+ reported\) and flips in events \(([0-9]+) of \1 reported\)$'
	assert_equal "$stderr" ""
}
