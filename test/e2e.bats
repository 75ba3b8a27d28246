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
	[[ -n ${REPLICATOR:-} ]] && kill -TERM "$REPLICATOR" 2>/dev/null
	clusters_stop_all
}

maxid() {
	psql_c "$1" "$2" "SELECT coalesce(max(id), 0) FROM events"
}

@test "loadgen x3 -> pipeline -> slate-diff --validate reports no problems" {
	SRC=$(cluster_conninfo src app)
	# a backlog first, then writers while the replicator runs
	slate-loadgen --log-format=json --count-person 200 --count-filler 1000 "$SRC" 2>/dev/null
	"$SLATE_ROOT/pipeline.sh" --source "$SRC" --destination "$(cluster_conninfo dst r1)" \
		--destination "$(cluster_conninfo dst r2)" --poll-interval 1 --log-format=json \
		2>"$BATS_TEST_TMPDIR/replicator.log" 3>&- &
	REPLICATOR=$!
	for seed in 1 2 3; do
		slate-loadgen --log-format=json --seed "$seed" --count-person 500 --count-filler 3000 \
			--count-person-delete 20 "$SRC" 2>/dev/null 3>&- &
	done
	wait %2 %3 %4
	target=$(maxid src app)
	[ "$target" -gt 13000 ]
	for _ in $(seq 300); do
		[[ $(maxid dst r1) == "$target" && $(maxid dst r2) == "$target" ]] && break
		sleep 0.1
	done
	kill -TERM "$REPLICATOR"
	rc=0
	wait "$REPLICATOR" || rc=$?
	REPLICATOR=
	cat "$BATS_TEST_TMPDIR/replicator.log" | tail -n 8
	assert_equal "$rc" 0

	run slate-diff --validate --log-format=json "$SRC" "$(cluster_conninfo dst r1)"
	echo "$output"
	assert_success
	assert_line --partial "validate A: ok"
	assert_line --partial "validate B: ok"
	assert_line --regexp '^(valid|equal)$'
	run slate-diff --log-format=json "$SRC" "$(cluster_conninfo dst r2)"
	assert_success
	assert_line "equal"
}
