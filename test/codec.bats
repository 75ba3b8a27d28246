#!/usr/bin/env bats
# The stream codec on its own: write -> read -> same; cuts and flipped bytes.

@test "stream codec unit tests" {
	run "$BATS_TEST_DIRNAME/bin/slate-codec"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"ok round trip"* ]]
	[[ $output == *"ok timestamps"* ]]
	[[ $output == *"ok cuts"* ]]
}
