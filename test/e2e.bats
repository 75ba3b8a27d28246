#!/usr/bin/env bats
# The original's test procedure, automated: several slate-loadgen writers at
# once, the replicator running, then slate-diff --validate and slate-diff.

bats_require_minimum_version 1.5.0
load test_helper

setup_file() {
	cluster_start src
	cluster_start dst
	db_create src app source
	db_create dst r1 destination
	db_create dst r2 destination
}

teardown_file() {
	clusters_stop_all
}

teardown() {
	kill_background
}

@test "loadgen x3 -> pipeline -> slate-diff --validate reports no problems" {
	SRC=$(cluster_conninfo src app)
	log=$BATS_TEST_TMPDIR/replicator.log
	# a backlog first (3 events per person, 50 deletions by default, the
	# fillers), then writers while the replicator runs
	slate-loadgen --log-format=json --count-person 200 --count-filler 1000 "$SRC" 2>/dev/null
	bg_start REPLICATOR "$SLATE_ROOT/pipeline.sh" --source "$SRC" \
		--destination "$(cluster_conninfo dst r1)" --destination "$(cluster_conninfo dst r2)" \
		--poll-interval 1 --log-format=json 2>"$log"
	local writers=() seed pid
	for seed in 1 2 3; do
		slate-loadgen --log-format=json --seed "$seed" --count-person 500 --count-filler 3000 \
			--count-person-delete 20 "$SRC" 2>"$BATS_TEST_TMPDIR/writer$seed.log" 3>&- &
		writers+=($!)
		bg_track $!
	done
	# each writer must have written all it planned
	seed=0
	for pid in "${writers[@]}"; do
		seed=$((seed + 1))
		wait "$pid" || fail "writer $seed exited $?: $(cat "$BATS_TEST_TMPDIR/writer$seed.log")"
	done
	target=$((3 * 200 + 50 + 1000 + 3 * (3 * 500 + 20 + 3000)))
	assert_equal "$(psql_c src app "SELECT count(*), max(id) FROM events")" "$target|$target"
	wait_until 30 eval '[[ $(events_maxid dst r1) == "$target" && $(events_maxid dst r2) == "$target" ]]' ||
		fail "the destinations did not catch up: $(tail -n 8 "$log")"
	kill -TERM "$REPLICATOR"
	wait_exit "$REPLICATOR" 5 || fail "SIGTERM did not stop the replicator: $(tail -n 8 "$log")"
	[[ $STATUS == 0 ]] || fail "the replicator exited $STATUS: $(tail -n 8 "$log")"

	run slate-diff --validate --log-format=json "$SRC" "$(cluster_conninfo dst r1)"
	assert_success
	assert_line --partial "validate A: ok"
	assert_line --partial "validate B: ok"
	assert_line --regexp '^(valid|equal)$'
	run slate-diff --log-format=json "$SRC" "$(cluster_conninfo dst r2)"
	assert_success
	assert_line "equal"
}
