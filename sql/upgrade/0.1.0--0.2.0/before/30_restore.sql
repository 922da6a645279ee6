-- Dump and restore (see sql/parts/10_settings.sql): the origin columns of
-- the rule tables, before the definitions (their COMMENTs name them); the
-- triggers and dump filters follow in after/30_restore.sql.

-- The rule tables remember where their rows came from.  A set still equal to
-- the defaults (0.1.0 and 0.2.0 have the same) counts as untouched: it is
-- not dumped and a restore's CREATE EXTENSION makes it again; any other set
-- is the DBA's, dumped whole.
ALTER TABLE hvc.tier_rules ADD COLUMN origin text CHECK (origin IN ('extension', 'user'));
WITH defaults (tier, tier_rank, customer_share, high_value) AS (VALUES
    ('top',    1, 0.05::float8, true),
    ('high',   2, 0.20::float8, true),
    ('medium', 3, 0.50::float8, false),
    ('low',    4, 1.00::float8, false))
UPDATE hvc.tier_rules
   SET origin = CASE WHEN NOT EXISTS (SELECT t.tier, t.tier_rank, t.customer_share, t.high_value FROM hvc.tier_rules t
                                      EXCEPT SELECT * FROM defaults)
                      AND NOT EXISTS (SELECT * FROM defaults
                                      EXCEPT SELECT t.tier, t.tier_rank, t.customer_share, t.high_value FROM hvc.tier_rules t)
                     THEN 'extension' ELSE 'user' END;
ALTER TABLE hvc.tier_rules ALTER COLUMN origin SET NOT NULL;

ALTER TABLE hvc.rfm_segments ADD COLUMN origin text CHECK (origin IN ('extension', 'user'));
WITH defaults (segment, priority, r_min, r_max, f_min, f_max, m_min, m_max) AS (VALUES
    ('Champions',           1, 4, 5, 4, 5, 4, 5),
    ('Can''t Lose Them',    2, 1, 1, 4, 5, 4, 5),
    ('New Customers',       3, 4, 5, 1, 1, 1, 1),
    ('Promising',           4, 3, 4, 1, 1, 1, 1),
    ('Loyal Customers',     5, 2, 5, 3, 5, 3, 5),
    ('Potential Loyalist',  6, 3, 5, 1, 3, 1, 3),
    ('Need Attention',      7, 2, 3, 2, 3, 2, 3),
    ('About To Sleep',      8, 2, 3, 1, 2, 1, 2),
    ('At Risk',             9, 1, 2, 2, 5, 2, 5),
    ('Lost',               10, 1, 2, 1, 2, 1, 2))
UPDATE hvc.rfm_segments
   SET origin = CASE WHEN NOT EXISTS (SELECT s.segment, s.priority, s.r_min, s.r_max, s.f_min, s.f_max, s.m_min, s.m_max
                                        FROM hvc.rfm_segments s
                                      EXCEPT SELECT * FROM defaults)
                      AND NOT EXISTS (SELECT * FROM defaults
                                      EXCEPT SELECT s.segment, s.priority, s.r_min, s.r_max, s.f_min, s.f_max, s.m_min, s.m_max
                                        FROM hvc.rfm_segments s)
                     THEN 'extension' ELSE 'user' END;
ALTER TABLE hvc.rfm_segments ALTER COLUMN origin SET NOT NULL;

-- Whether each set is the DBA's: an emptied set is too (dumped as such).
CREATE TABLE hvc.rule_sets (
    rule_table text    PRIMARY KEY CHECK (rule_table IN ('tier_rules', 'rfm_segments')),
    edited     boolean NOT NULL
);
INSERT INTO hvc.rule_sets
SELECT 'tier_rules', NOT EXISTS (SELECT FROM hvc.tier_rules t WHERE t.origin = 'extension')
UNION ALL
SELECT 'rfm_segments', NOT EXISTS (SELECT FROM hvc.rfm_segments s WHERE s.origin = 'extension');
