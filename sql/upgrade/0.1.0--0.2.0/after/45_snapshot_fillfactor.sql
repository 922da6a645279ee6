-- 0.2.0 keeps half of each page of hvc.customer_snapshot free (55_snapshot.sql:
-- a refresh updates the rows of customers who stay in their tier in place,
-- HOT when the page has room).  A registered 0.1.0 database's table gets the
-- same setting; its pages make room as refreshes rewrite them.
DO $$
BEGIN
    IF pg_catalog.to_regclass('hvc.customer_snapshot') IS NOT NULL THEN
        ALTER TABLE hvc.customer_snapshot SET (fillfactor = 50);
    END IF;
END $$;
