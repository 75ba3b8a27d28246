/* validate.c - check a table as slate-loadgen writes it: ids from 1, whole insert groups, ts order */
#include <inttypes.h>
#include <stdio.h>

#include "diff.h"
#include "pgcopy.h"

/*
 * One ordered pass (window functions over the primary key) inside the server
 * returns only the rows with a problem, the first problem of each row.  An
 * insert group is the events sharing testingStats.dbOperationId: numbered
 * 1..dbOperationEventCount at consecutive ids, all with one ts.  Groups of
 * one program (testingStats.programId) are in ts order.  Across programs ts
 * may go back: insert_events() stamps the transaction's start, and a writer
 * that started earlier can get the id lock later.
 */
static const char *validate_sql =
	"SELECT id, problem FROM (SELECT id, CASE "
	"WHEN op IS NULL OR num IS NULL OR cnt IS NULL THEN "
	"  'no testingStats with dbOperationId, dbOperationEventNum and dbOperationEventCount' "
	"WHEN prev_id IS NULL AND id <> 1 THEN format('the first id is %s, not 1', id) "
	"WHEN prev_id IS NOT NULL AND id <> prev_id + 1 THEN "
	"  format('ids jump from %s to %s (%s missing)', prev_id, id, id - prev_id - 1) "
	"WHEN num < 1 OR num > cnt OR num <> trunc(num) THEN "
	"  format('event number %s is not in 1..%s (group %s)', num, cnt, op) "
	"WHEN num > 1 AND (prev_op IS DISTINCT FROM op OR prev_num <> num - 1) THEN "
	"  format('event %s of %s in group %s does not follow event %s of the group', num, cnt, op, num - 1) "
	"WHEN num > 1 AND prev_cnt <> cnt THEN "
	"  format('group %s changes its event count from %s to %s', op, prev_cnt, cnt) "
	"WHEN num = 1 AND prev_op = op THEN format('group %s starts again', op) "
	"WHEN num < cnt AND next_op IS DISTINCT FROM op THEN "
	"  format('group %s is incomplete: it ends at event %s of %s', op, num, cnt) "
	"WHEN num > 1 AND prev_ts <> ts THEN format('group %s has more than one ts', op) "
	"WHEN prog_prev_ts > ts THEN format('ts %s is before the ts %s of id %s of the same program', "
	"  ts, prog_prev_ts, prog_prev_id) "
	"END AS problem "
	"FROM (SELECT id, ts, op, num, cnt, "
	"  lag(ts) OVER p AS prog_prev_ts, lag(id) OVER p AS prog_prev_id, "
	"  lag(id) OVER w AS prev_id, lag(ts) OVER w AS prev_ts, lag(op) OVER w AS prev_op, "
	"  lag(num) OVER w AS prev_num, lag(cnt) OVER w AS prev_cnt, lead(op) OVER w AS next_op "
	"  FROM (SELECT id, ts, s ->> 'dbOperationId' AS op, s ->> 'programId' AS prog, "
	"    CASE WHEN jsonb_typeof(s -> 'dbOperationEventNum') = 'number' "
	"      THEN (s ->> 'dbOperationEventNum')::numeric END AS num, "
	"    CASE WHEN jsonb_typeof(s -> 'dbOperationEventCount') = 'number' "
	"      THEN (s ->> 'dbOperationEventCount')::numeric END AS cnt "
	"    FROM (SELECT id, ts, event -> 'testingStats' AS s FROM events) AS e) AS f "
	"  WINDOW w AS (ORDER BY id), p AS (PARTITION BY prog ORDER BY id)) AS g "
	"  ) AS h WHERE problem IS NOT NULL ORDER BY id LIMIT $1";

bool
validate_tables(side *const *sides, int n, int64_t limit, uint64_t *problems)
{
	PGresult   *res[2];
	char		plimit[24];
	const char *params[1] = {plimit};

	/* one row more than shown says whether there are more */
	snprintf(plimit, sizeof(plimit), "%" PRId64, limit + 1);
	if (!pair_query(sides, n, "could not validate", validate_sql, 1, params, res))
		return false;
	*problems = 0;
	for (int i = 0; i < n; i++)
	{
		int			rows = PQntuples(res[i]);

		for (int r = 0; r < rows && r < limit; r++)
			printf("validate %s: id %" PRId64 ": %s\n", sides[i]->name,
				   pg_get_int64(PQgetvalue(res[i], r, 0)), PQgetvalue(res[i], r, 1));
		if (rows == 0)
			printf("validate %s: ok\n", sides[i]->name);
		else if (rows > limit)
			printf("validate %s: more than %" PRId64 " problems, first %" PRId64 " shown\n",
				   sides[i]->name, limit, limit);
		else
			printf("validate %s: %d problem%s\n", sides[i]->name, rows, rows == 1 ? "" : "s");
		*problems += (uint64_t) (rows > limit ? limit : rows);
		PQclear(res[i]);
	}
	return true;
}
