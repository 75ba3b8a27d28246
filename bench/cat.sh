#!/usr/bin/env bash
# bench/cat.sh: slate-cat (print, --encode, --info) against cat(1) and what a
# user would otherwise run (psql's COPY of row_to_json), and slate-extract
# --entity-id on a big source against a --contains scan of the same events.
#
# Usage: bench/cat.sh [ROUNDS [EVENTS...]]    (default: 3 rounds; 100000 1000000 events)
#
# Rounds alternate the order of the commands; each number printed is the
# median of the rounds, the worst round beside it.  Files are read from the
# page cache (each is read once before timing).

set -euo pipefail
source "$(dirname "$0")/lib.bash"
cp "$ROOT/bin/slate-cat" "$BIN/"

rounds=${1:-3}
shift || true
sizes=("$@")
((${#sizes[@]})) || sizes=(100000 1000000)

# t VAR CMD: run CMD (a shell string), add its wall seconds to the list VAR
# and its CPU seconds (user + system, the server's not included) to VAR_CPU
t() {
	local var=$1 cpu=${1}_CPU wall u s
	/usr/bin/time -f '%e %U %S' -o "$TMP/time" bash -c "$2"
	read -r wall u s <"$TMP/time"
	printf -v "$var" '%s %s' "${!var:-}" "$wall"
	printf -v "$cpu" '%s %s' "${!cpu:-}" "$(calc "$u + $s")"
}

# med LIST: "median (worst)" of the numbers
med() {
	tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f (worst %.3f)", v[int((NR + 1) / 2)], v[NR] }'
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

machine
CLUSTER_SETTINGS=$BENCH_SETTINGS cluster_start src
for n in "${sizes[@]}"; do
	f=$TMP/e$n.mp
	j=$TMP/e$n.jsonl
	slate-loadgen --seed 7 --count-person $((n / 10)) --count-filler $((n * 7 / 10)) \
		--count-person-delete 0 --output "$f" 2>/dev/null
	db_create src "e$n" destination
	conn=$(cluster_conninfo src "e$n")
	slate-load "$conn" <"$f" 2>/dev/null
	psql_c src "e$n" "VACUUM ANALYZE events" >/dev/null
	slate-cat "$f" >"$j"
	events=$(psql_c src "e$n" "SELECT count(*) FROM events")
	cat "$f" "$j" >/dev/null
	unset T_CAT T_OUT T_PRINT T_ENC T_INFO T_COPY T_ENT T_CONT
	unset T_CAT_CPU T_OUT_CPU T_PRINT_CPU T_ENC_CPU T_INFO_CPU T_COPY_CPU T_ENT_CPU T_CONT_CPU
	copy="psql -X -q -d '$conn' -c 'COPY (SELECT row_to_json(e) FROM events e ORDER BY id) TO STDOUT' >/dev/null"
	eid=$(psql_c src "e$n" "SELECT event #>> '{entityId}' FROM events WHERE id = $((events / 2))")
	hits=$(psql_c src "e$n" "SELECT count(*) FROM events WHERE event #>> '{entityId}' = '$eid'")
	for ((r = 1; r <= rounds; r++)); do
		cmds=(
			"T_CAT|cat '$f' >/dev/null"
			"T_OUT|cat '$j' >/dev/null"
			"T_PRINT|slate-cat '$f' >/dev/null"
			"T_ENC|slate-cat --encode '$j' >/dev/null"
			"T_INFO|slate-cat --info '$f' >/dev/null"
			"T_COPY|$copy"
			"T_ENT|slate-extract --entity-id '$eid' '$conn' 2>/dev/null | slate-cat >/dev/null"
			"T_CONT|slate-extract --contains '{\"entityId\": \"$eid\"}' '$conn' 2>/dev/null | slate-cat >/dev/null"
		)
		if ((r % 2 == 0)); then
			for ((i = ${#cmds[@]} - 1; i >= 0; i--)); do t "${cmds[i]%%|*}" "${cmds[i]#*|}"; done
		else
			for c in "${cmds[@]}"; do t "${c%%|*}" "${c#*|}"; done
		fi
	done
	rss=$( { /usr/bin/time -f %M slate-cat "$f" >/dev/null; } 2>&1 | tail -1)
	rss_enc=$( { /usr/bin/time -f %M slate-cat --encode "$j" >/dev/null; } 2>&1 | tail -1)
	# the server's own time for the --entity-id query (EXPLAIN ANALYZE of the same SQL)
	ent_ms=$(psql_c src "e$n" "EXPLAIN (ANALYZE, TIMING OFF) SELECT id, ts, event FROM events
		WHERE id > 0 AND (event #>> '{entityId}') = '$eid' ORDER BY id" | sed -n 's/^Execution Time: //p')
	ent_plan=$(psql_c src "e$n" "EXPLAIN SELECT id, ts, event FROM events
		WHERE id > 0 AND (event #>> '{entityId}') = '$eid' ORDER BY id" | grep -o 'events_entity_id_idx' | head -1)
	row() { # row LABEL VAR [NOTE [norate]]: wall median (worst), CPU median, events/s by wall and by CPU
		local w c
		w=$(median "${!2}")
		c=$(median "$(eval echo "\${${2}_CPU}")")
		if [[ ${4:-} == norate ]]; then
			printf '%-34s %s s, CPU %.3f s%s\n' "$1" "$(med "${!2}")" "$c" "${3:-}"
			return
		fi
		printf '%-34s %s s, CPU %.3f s, %s events/s (by CPU %s)%s\n' "$1" "$(med "${!2}")" "$c" \
			"$(calc "$events / $w" | cut -d. -f1)" "$(calc "$events / ($c > 0 ? $c : 0.001)" | cut -d. -f1)" "${3:-}"
	}
	echo "== $events events: stream $(($(stat -c %s "$f") / 1048576)) MB, JSON lines $(($(stat -c %s "$j") / 1048576)) MB; load $(loadavg)"
	row "cat FILE >/dev/null" T_CAT
	row "cat JSONL >/dev/null" T_OUT " (the output's size)"
	row "slate-cat FILE >/dev/null" T_PRINT ", max RSS $(calc "$rss / 1024" | cut -c1-4) MB"
	echo "  slate-cat / (cat FILE + cat JSONL): wall $(calc "$(median "$T_PRINT") / ($(median "$T_CAT") + $(median "$T_OUT"))" | cut -c1-4)"
	row "psql COPY row_to_json" T_COPY " (CPU: psql only)"
	row "slate-cat --encode JSONL" T_ENC ", max RSS $(calc "$rss_enc / 1024" | cut -c1-4) MB"
	row "slate-cat --info FILE" T_INFO
	row "extract --entity-id | slate-cat" T_ENT " ($hits events; server: $ent_ms, ${ent_plan:-NO INDEX})" norate
	row "extract --contains | slate-cat" T_CONT " (the same events, a scan)" norate
	echo
	psql_c src "e$n" "DROP TABLE events" >/dev/null
	rm -f "$f" "$j"
done
