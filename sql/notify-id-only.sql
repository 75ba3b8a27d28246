-- notify-id-only.sql: make the source's insert notification carry {table, id}.
--
-- NOTIFY payloads are limited to 8000 bytes, so with the full-event payload
-- of source.sql a large event cannot be inserted at all.  With this variant
-- listeners read the event from the table by id instead.

CREATE OR REPLACE FUNCTION notify_event_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('eventsinsert',
		json_build_object('table', TG_TABLE_NAME, 'id', NEW.id)::text);
	RETURN NEW;
END;
$$;
