#!/usr/bin/env bats
# slate-diff --validate on what slate-loadgen really writes: an insert group
# is one transaction, so its events share one ts; a group with two ts values
# is invalid.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start pg
	# 20 people (3 events each, in groups) and 100 filler events
	slate-loadgen --seed 3 --count-person 20 --count-filler 100 --output "$BATS_FILE_TMPDIR/lg.mp" 2>/dev/null
	slate-load "$(fresh_dest pg good)" <"$BATS_FILE_TMPDIR/lg.mp" 2>/dev/null
	slate-load "$(fresh_dest pg twots)" <"$BATS_FILE_TMPDIR/lg.mp" 2>/dev/null
}

teardown_file() {
	clusters_stop_all
}

@test "--validate: an insert group whose last event has another ts is invalid, by id and group" {
	local id op
	run --separate-stderr slate-diff --validate "$(cluster_conninfo pg twots)"
	assert_success
	assert_output "validate A: ok
valid"

	# the last event of the first group of two events or more
	read -r id op < <(psql_c pg twots "SELECT id, event #>> '{testingStats,dbOperationId}' FROM events
		WHERE (event #>> '{testingStats,dbOperationEventCount}')::int >= 2
		AND event #>> '{testingStats,dbOperationEventNum}' = event #>> '{testingStats,dbOperationEventCount}'
		ORDER BY id LIMIT 1" | tr '|' ' ')
	[[ -n $id && -n $op ]] || fail "no group of two events or more"
	# one microsecond later: still before the next group, so only the group is wrong
	psql_c pg twots "UPDATE events SET ts = ts + interval '1 microsecond' WHERE id = $id"
	assert_equal "$(psql_c pg twots "SELECT count(DISTINCT ts) FROM events
		WHERE event #>> '{testingStats,dbOperationId}' = '$op'")" 2

	run --separate-stderr slate-diff --validate "$(cluster_conninfo pg twots)"
	assert_failure 1
	assert_output "validate A: id $id: group $op has more than one ts
validate A: 1 problem
1 problem"

	# beside an untouched copy: B is valid, and the row differs
	run --separate-stderr slate-diff --validate "$(cluster_conninfo pg twots)" "$(cluster_conninfo pg good)"
	assert_failure 1
	assert_line "validate A: id $id: group $op has more than one ts"
	assert_line "validate B: ok"
	assert_line "id $id: ts differs"
	assert_equal "${lines[-1]}" "1 difference"
}
