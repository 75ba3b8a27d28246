-- events.sql: the events table, identical in source and destination databases.
--
-- The columns and types match databases made by the original slate-init-db, so
-- slate can replicate from and into them unchanged.  The expression indexes
-- serve the usual lookups by entity, operation and property.

CREATE TABLE events (
	id bigint PRIMARY KEY,
	ts timestamptz NOT NULL,
	event jsonb NOT NULL
);

CREATE INDEX events_entity_name_idx ON events ((event #>> '{entityName}'));
CREATE INDEX events_operation_idx ON events ((event #>> '{operation}'));
CREATE INDEX events_property_name_idx ON events ((event #>> '{propertyName}'));
CREATE INDEX events_entity_id_idx ON events ((event #>> '{entityId}'));
CREATE INDEX events_ts_idx ON events (ts);
