-- promote.sql: turn a destination into the event source, in place (after the
-- source is lost), instead of restoring a fresh source from it.
--
-- Stop every replicator writing this database first.  Then, in one
-- transaction, from the sql/ directory:
--	psql -1 -v ON_ERROR_STOP=1 -d "dbname=replica" -f sql/promote.sql
-- It adds what source.sql adds (the id table, insert_events(), the notify and
-- immutability triggers) and sets the id table past the last event, so that
-- insert_events() continues at max(id) + 1.  Add notify-id-only.sql after it
-- if the old source used the id-only notification.

\ir source.sql

-- the table is locked so that no event can arrive between reading max(id) and setting id
LOCK TABLE events IN SHARE MODE;
UPDATE id SET id = (SELECT coalesce(max(events.id), 0) + 1 FROM events);
