-- Refresh (sql/parts/59_refresh_lock.sql, 60_refresh.sql): the refresh lock
-- row that replaces the advisory lock, the recorded full argument, the
-- outcome type the procedure hands between its transactions; and the
-- procedure and its first step take a new parameter (full), so the old
-- signatures are dropped and the definitions create the new ones.
CREATE TABLE hvc.refresh_lock (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton)
);
INSERT INTO hvc.refresh_lock DEFAULT VALUES;

ALTER TABLE hvc.refresh_log ADD COLUMN full_requested boolean;
ALTER TABLE hvc.refresh_log ADD COLUMN timings text;

CREATE TYPE hvc._refresh_outcome AS (
    refresh_id bigint,
    sqlstate   text,
    message    text,
    detail     text,
    hint       text
);

DROP PROCEDURE hvc.refresh(timestamptz);
DROP FUNCTION hvc._refresh_start(timestamptz);

