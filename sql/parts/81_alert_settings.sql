-- ---------------------------------------------------------------------------
-- What NOTIFY hvc_alerts tells.  Any role that may connect to the database
-- can LISTEN on a channel (and NOTIFY on it): the DBA chooses whether the
-- payload carries customer ids.  The ids always stay in hvc.alerts, which
-- only hvc's roles can write, so a listener can verify a notification there.
-- (A column of hvc.config, defined in 10_settings.sql; the same ALTER is in
-- sql/upgrade/0.1.0--0.2.0/before/40_operations.sql, where existing
-- installations keep 0.1.0's behaviour, 'ids'.)
-- ---------------------------------------------------------------------------

ALTER TABLE hvc.config
    ADD COLUMN alert_payload text NOT NULL DEFAULT 'counts'
        CHECK (alert_payload IN ('ids', 'counts', 'refresh_id'));
COMMENT ON COLUMN hvc.config.alert_payload IS
    'What the NOTIFY hvc_alerts payload carries (any role that may connect can LISTEN): counts (default: refresh_id, database, as_of and the counts), ids (counts and up to 10 customer ids of each kind, as hvc 0.1.0 sent) or refresh_id (refresh_id and database only). The ids are always in hvc.alerts.';
