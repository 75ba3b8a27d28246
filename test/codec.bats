#!/usr/bin/env bats
# The stream codec on its own: CRC-32C known answers and the instruction
# against the table; write -> read -> same; cuts and flipped bytes.

@test "stream codec unit tests" {
	run "$BATS_TEST_DIRNAME/bin/slate-codec"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"ok crc32c"* ]]
	[[ $output == *"ok round trip"* ]]
	[[ $output == *"ok timestamps"* ]]
	[[ $output == *"ok cuts"* ]]
}
