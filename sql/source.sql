-- source.sql: what a source database adds to events.sql (load events.sql first).
--
-- Writers call insert_events(); it hands out ids under a lock held until
-- commit, so ids become visible in increasing order and a replicator that
-- copies "everything after the last id I have" never skips a row.

-- The next id to hand out; exactly one row.
CREATE TABLE id (
	id bigint PRIMARY KEY
);
INSERT INTO id (id) VALUES (1);

-- insert_events(rows): insert a batch of events and return how many.
--
-- rows is the text of a VALUES list whose k-th row is ($1[k], $2, '<json>'):
-- $1 stands for the ids this call assigns and $2 for its timestamp.  All rows
-- of one call share the transaction timestamp now().  The id table stays
-- locked until the caller's transaction ends, which serialises writers.
CREATE FUNCTION insert_events(rows text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	first_id bigint;
	bound int;
	n int;
BEGIN
	LOCK TABLE id IN ACCESS EXCLUSIVE MODE;
	SELECT id.id INTO first_id FROM id;

	-- Every row names its id as "$1[", so counting those gives the number
	-- of rows, or more if some JSON holds that text too: enough ids either
	-- way, without parsing the rows twice (that doubled the cost).
	bound := (length(rows) - length(replace(rows, '$1[', ''))) / 3;
	EXECUTE 'INSERT INTO events (id, ts, event) VALUES ' || rows
		USING ARRAY(SELECT generate_series(first_id, first_id + bound - 1)),
			now();
	GET DIAGNOSTICS n = ROW_COUNT;

	-- Rows written as $1[1] .. $1[n] used exactly the first n ids; any other
	-- numbering would collide with a later call, so refuse it now.
	-- (max() reads one index entry; a range test may get a generic seq scan.)
	IF (SELECT max(id) FROM events) >= first_id + n THEN
		RAISE EXCEPTION 'insert_events: rows must use $1[1] to $1[%] in order', n;
	END IF;

	UPDATE id SET id = first_id + n;
	RETURN n;
END;
$$;

-- Tell listeners about each new event.  The payload carries the whole event,
-- so an event near 8000 bytes makes the INSERT fail; notify-id-only.sql
-- replaces this function with one that sends the id only.
CREATE FUNCTION notify_event_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('eventsinsert',
		json_build_object('table', TG_TABLE_NAME, 'id', NEW.id,
			'event', NEW.event)::text);
	RETURN NEW;
END;
$$;

CREATE TRIGGER notify_insert
	AFTER INSERT ON events
	FOR EACH ROW EXECUTE FUNCTION notify_event_insert();

-- Events are history: refuse any statement that would rewrite it.
CREATE FUNCTION filter_sql_command() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'events are immutable: % on table "%" is not allowed',
		TG_OP, TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER check_sql_command
	BEFORE UPDATE OR DELETE OR TRUNCATE ON events
	FOR EACH STATEMENT EXECUTE FUNCTION filter_sql_command();
