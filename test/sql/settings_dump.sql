-- hvc.tier_rules and hvc.rfm_segments remember where their rows came from,
-- so that pg_dump leaves out an untouched default set (CREATE EXTENSION
-- makes it again) and a restored edited set replaces the defaults the
-- restore's CREATE EXTENSION inserted (test/restore/run.sh runs the real
-- dump and restore in every mode).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hvc CASCADE;
CREATE EXTENSION hvc;

-- what pg_dump dumps of each settings table
SELECT c.relname, x.condition
  FROM pg_extension e,
       unnest(e.extconfig, e.extcondition) x(tab, condition)
  JOIN pg_class c ON c.oid = x.tab
 WHERE e.extname = 'hvc' AND c.relname IN ('config', 'tier_rules', 'rfm_segments', 'snapshot_info', 'pareto_points')
 ORDER BY 1;

-- fresh: every row is a default, no set is edited
SELECT origin, count(*) FROM hvc.tier_rules GROUP BY 1;
SELECT origin, count(*) FROM hvc.rfm_segments GROUP BY 1;
SELECT * FROM hvc.rule_sets ORDER BY 1;

-- a statement that changes no row changes nothing
UPDATE hvc.tier_rules SET customer_share = 0.1 WHERE tier = 'nonexistent';
DELETE FROM hvc.rfm_segments WHERE segment = 'nonexistent';
SELECT origin, count(*) FROM hvc.tier_rules GROUP BY 1;
SELECT origin, count(*) FROM hvc.rfm_segments GROUP BY 1;
SELECT * FROM hvc.rule_sets ORDER BY 1;

-- one changed row makes the whole set the DBA's (and dumped)
UPDATE hvc.tier_rules SET customer_share = 0.10 WHERE tier = 'top';
SELECT tier, customer_share, origin FROM hvc.tier_rules ORDER BY tier_rank;
SELECT * FROM hvc.rule_sets ORDER BY 1;
-- origin cannot be set back by hand
UPDATE hvc.tier_rules SET origin = 'extension' WHERE tier = 'low';
SELECT tier, origin FROM hvc.tier_rules WHERE tier = 'low';

-- a DBA's INSERT (origin left out) adds a rule next to the defaults
INSERT INTO hvc.rfm_segments VALUES ('Whales', 0, 1, 5, 1, 5, 5, 5);
SELECT origin, count(*) FROM hvc.rfm_segments GROUP BY 1;
SELECT count(*) FILTER (WHERE segment = 'Whales') AS whales, count(*) AS segments FROM hvc.rfm_segments;

-- a restored row (it comes with its origin, as COPY and INSERT of a dump
-- write it) replaces the untouched defaults, whatever order the rows come in
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
COPY hvc.tier_rules (tier, tier_rank, customer_share, high_value, origin) FROM stdin;
low	4	1	f	user
platinum	1	0.05	t	user
\.
INSERT INTO hvc.tier_rules (tier, tier_rank, customer_share, high_value, origin) VALUES ('high', 2, 0.25, true, 'user');
SELECT tier, tier_rank, customer_share, high_value, origin FROM hvc.tier_rules ORDER BY tier_rank;
-- an empty restored set (the untouched defaults were not dumped) keeps the defaults
COPY hvc.rfm_segments (segment, priority, r_min, r_max, f_min, f_max, m_min, m_max, origin) FROM stdin;
\.
SELECT origin, count(*) FROM hvc.rfm_segments GROUP BY 1;

-- a restored edited mark of an emptied set removes the defaults, in either
-- order with the set's rows, and stays one row
INSERT INTO hvc.rule_sets VALUES ('rfm_segments', true);
SELECT count(*) AS segments FROM hvc.rfm_segments;
SELECT * FROM hvc.rule_sets ORDER BY 1;
INSERT INTO hvc.rule_sets VALUES ('tier_rules', true);
SELECT tier, origin FROM hvc.tier_rules ORDER BY tier_rank;
-- a mark that says "not edited" changes nothing
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
INSERT INTO hvc.rule_sets VALUES ('rfm_segments', false);
SELECT origin, count(*) FROM hvc.rfm_segments GROUP BY 1;
SELECT * FROM hvc.rule_sets ORDER BY 1;
\set VERBOSITY sqlstate
INSERT INTO hvc.rule_sets VALUES ('config', true);
INSERT INTO hvc.rule_sets VALUES ('rfm_segments', NULL);
\set VERBOSITY default

-- TRUNCATE empties a set: it is the DBA's (dumped as an edited, empty set)
TRUNCATE hvc.rfm_segments;
SELECT * FROM hvc.rule_sets ORDER BY 1;

-- origin is checked
\set VERBOSITY sqlstate
UPDATE hvc.tier_rules SET origin = NULL;
UPDATE hvc.tier_rules SET origin = 'mine';
\set VERBOSITY default
-- the trigger functions refuse to run anywhere else
CREATE TABLE settings_other (origin text);
CREATE TRIGGER t BEFORE INSERT ON settings_other FOR EACH ROW EXECUTE FUNCTION hvc._settings_row_origin();
\set VERBOSITY sqlstate
INSERT INTO settings_other VALUES ('user');
\set VERBOSITY default
DROP TABLE settings_other;

-- back to a fresh install for the tests that follow
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
