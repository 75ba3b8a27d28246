-- destination.sql: a destination database holds only the events table.
--
-- Loaded with psql from the sql/ directory: psql -f sql/destination.sql
-- (the include is relative to this file).

\ir events.sql
