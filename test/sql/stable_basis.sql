-- A stable value basis (issue 8 item 2): a refresh never switches the value
-- basis or the model on its own.  24 nightly refreshes of a shop whose fit
-- fails every third night (the registered view then shows 9 customers, too
-- few to fit): the failing sb_nights predict with the last good fit of the same
-- source and time unit, the basis stays predicted_clv, and the tier moves
-- of those sb_nights are recorded as 'fallback' and raise no tier_drop alert.
-- Then a DBA's change of basis and of model, and a new source without fits.
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
SET client_min_messages = warning;
CREATE FUNCTION sb_u(i int, j int) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT (('x' || substr(md5(i || ':' || j), 1, 8))::bit(32)::bigint + 0.5) / 4294967296.0 $$;
CREATE TABLE sb_sales AS
WITH steps AS (
    SELECT c, k,
           date '2024-01-01' + floor(300 * sb_u(c, 0))::int AS first_day,
           -ln(sb_u(c, 10 + k)) / (-ln(sb_u(c, 1)) * 0.05) AS gap,
           sb_u(c, 200 + k) < 0.05 + 0.25 * sb_u(c, 2) AS dies_after
      FROM generate_series(1, 400) c, generate_series(0, 40) k
), walk AS (
    SELECT c, k, first_day,
           coalesce(sum(gap) OVER w - gap, 0) AS t,
           coalesce(bool_or(dies_after) OVER (PARTITION BY c ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS dead
      FROM steps
    WINDOW w AS (PARTITION BY c ORDER BY k)
)
SELECT c AS customer_id, first_day + floor(CASE WHEN k = 0 THEN 0 ELSE t END)::int AS ordered_at,
       round((15 + 60 * sb_u(c, 3) * (0.7 + 0.6 * sb_u(c, 300 + k)))::numeric, 2) AS amount
  FROM walk
 WHERE NOT dead AND first_day + floor(CASE WHEN k = 0 THEN 0 ELSE t END)::int < date '2025-03-01';
CREATE TABLE sb_ctl (broken boolean NOT NULL);
INSERT INTO sb_ctl VALUES (false);
CREATE VIEW sb_shop AS SELECT s.* FROM sb_sales s, sb_ctl WHERE NOT sb_ctl.broken OR s.customer_id <= 9;
SELECT hvc.register_source('public.sb_shop', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
UPDATE hvc.config SET history_refreshes = 1000;
CREATE TABLE sb_nights (night integer, broken boolean, refresh_id bigint, model text, value_basis text,
                     own_fit boolean, fallback text, churn_risks bigint, at_risk bigint);
CREATE FUNCTION sb_record_night(n integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO sb_nights
    SELECT n, (SELECT broken FROM sb_ctl), i.refresh_id, i.model, i.value_basis,
           (SELECT f.refresh_id = i.refresh_id FROM hvc.model_fit f WHERE f.fit_id = i.purchase_fit_id),
           regexp_replace(i.fallback, '(fit|refresh) [0-9]+', '\1 N', 'g'),
           (SELECT count(churn_risk) FROM hvc.customer_snapshot),
           (SELECT count(*) FROM hvc.at_risk)
      FROM hvc.snapshot_info i
$$;
SELECT format('UPDATE sb_ctl SET broken = %L', n % 3 = 1),
       format('CALL hvc.refresh(as_of => %L)', date '2025-01-02' + n),
       format('SELECT sb_record_night(%s)', n)
  FROM generate_series(0, 23) n \gexec

-- Every night: the same model and basis; the broken sb_nights predict (every
-- customer has a churn_risk) with the last good fit.
SELECT night, broken, model, value_basis, own_fit, churn_risks, fallback
  FROM sb_nights ORDER BY night;
SELECT count(DISTINCT value_basis) AS bases, count(DISTINCT model) AS models,
       count(*) FILTER (WHERE broken) AS broken_nights,
       count(*) FILTER (WHERE broken AND NOT own_fit) AS broken_nights_on_an_older_fit
  FROM sb_nights;

-- The tier moves, by reason: the moves of a night on an older fit, and of the
-- night after it, are 'fallback'; only 'activity' moves raise tier_drop.
SELECT h.reason, h.direction, count(*) AS moves,
       count(*) FILTER (WHERE h.direction = 'down' AND t.high_value) AS high_value_drops
  FROM hvc.tier_history h JOIN sb_nights n USING (refresh_id)
  LEFT JOIN hvc.tier_rules t ON t.tier = h.from_tier
 GROUP BY 1, 2 ORDER BY 1, 2;
-- every tier_drop alert counts exactly the activity drops of its refresh
SELECT count(*) AS tier_drop_alerts,
       count(*) FILTER (WHERE a.customers <> (SELECT count(*) FROM hvc.tier_history h
                                               WHERE h.refresh_id = a.refresh_id AND h.direction = 'down'
                                                 AND h.reason = 'activity'
                                                 AND EXISTS (SELECT 1 FROM hvc.tier_rules t
                                                              WHERE t.tier = h.from_tier AND t.high_value)))
           AS alerts_not_matching_activity_drops,
       (SELECT count(*) FROM hvc.tier_history h JOIN sb_nights n USING (refresh_id)
         WHERE h.direction = 'down' AND h.reason <> 'activity'
           AND EXISTS (SELECT 1 FROM hvc.tier_rules t WHERE t.tier = h.from_tier AND t.high_value))
           AS high_value_drops_without_alert
  FROM hvc.alerts a JOIN sb_nights n USING (refresh_id)
 WHERE a.kind = 'tier_drop';

-- The NOTICE of a broken night names the fit it predicts with and its age
-- (ids masked).
UPDATE sb_ctl SET broken = true;
\setenv PGDATABASE :DBNAME
\! psql -X -q -c 'CALL hvc.refresh(as_of => $$2025-01-26$$)' 2>&1 | grep -v 'refresh succeeded' | sed -E -e 's/(fit|refresh) [0-9]+/\1 N/g'
UPDATE sb_ctl SET broken = false;
CALL hvc.refresh(as_of => '2025-01-27');

-- ---------------------------------------------------------------------------
-- A DBA's change of basis: every move is 'basis_change', no tier_drop alert.
-- ---------------------------------------------------------------------------
UPDATE hvc.config SET value_basis = 'revenue';
CALL hvc.refresh(as_of => '2025-01-28');
SELECT i.value_basis, h.reason, count(*) AS moves,
       (SELECT count(*) FROM hvc.alerts a WHERE a.refresh_id = i.refresh_id AND a.kind = 'tier_drop') AS tier_drop_alerts
  FROM hvc.snapshot_info i JOIN hvc.tier_history h USING (refresh_id)
 WHERE h.direction IN ('up', 'down') GROUP BY i.refresh_id, 1, 2;
UPDATE hvc.config SET value_basis = 'predicted_clv';
CALL hvc.refresh(as_of => '2025-01-29');
SELECT i.value_basis, h.reason, count(*) AS moves
  FROM hvc.snapshot_info i JOIN hvc.tier_history h USING (refresh_id)
 WHERE h.direction IN ('up', 'down') GROUP BY 1, 2;

-- ---------------------------------------------------------------------------
-- A DBA's change of model on a broken night, the new model never fitted:
-- the refresh keeps predicting with the previous snapshot's fit (bgnbd).
-- The next good night fits pareto_nbd: its moves are 'model_change'.
-- ---------------------------------------------------------------------------
UPDATE hvc.config SET model = 'pareto_nbd';
UPDATE sb_ctl SET broken = true;
CALL hvc.refresh(as_of => '2025-01-30');
SELECT model, value_basis, regexp_replace(fallback, '(fit|refresh) [0-9]+', '\1 N', 'g') AS fallback,
       (SELECT count(churn_risk) FROM hvc.customer_snapshot) AS churn_risks
  FROM hvc.snapshot_info;
UPDATE sb_ctl SET broken = false;
CALL hvc.refresh(as_of => '2025-01-31');
SELECT i.model, i.value_basis, i.fallback, h.reason, count(*) AS moves
  FROM hvc.snapshot_info i JOIN hvc.tier_history h USING (refresh_id)
 WHERE h.direction IN ('up', 'down') GROUP BY 1, 2, 3, 4;

-- ---------------------------------------------------------------------------
-- A new source whose fit fails at once: register_source starts a new
-- snapshot and no fit of this source exists (the fits of public.sb_shop are not
-- used), so the basis is historic_clv and snapshot_info says why; the first
-- good night ranks by predicted_clv ('basis_change' moves, no alert).
-- ---------------------------------------------------------------------------
CREATE VIEW sb_shop2 AS SELECT * FROM sb_shop;
SELECT hvc.register_source('public.sb_shop2', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
UPDATE sb_ctl SET broken = true;
CALL hvc.refresh(as_of => '2025-02-01');
SELECT model, value_basis, fallback, purchase_fit_id FROM hvc.snapshot_info;
UPDATE sb_ctl SET broken = false;
CALL hvc.refresh(as_of => '2025-02-02');
SELECT i.model, i.value_basis, i.fallback, h.reason, count(*) AS moves
  FROM hvc.snapshot_info i JOIN hvc.tier_history h USING (refresh_id)
 WHERE h.direction IN ('up', 'down') GROUP BY 1, 2, 3, 4;
-- with a broken night next, it predicts with this source's fit of last night
UPDATE sb_ctl SET broken = true;
CALL hvc.refresh(as_of => '2025-02-03');
SELECT model, value_basis, (SELECT f.source FROM hvc.model_fit f WHERE f.fit_id = i.purchase_fit_id) AS fit_source,
       (SELECT f.as_of::date FROM hvc.refresh_log f JOIN hvc.model_fit m USING (refresh_id) WHERE m.fit_id = i.purchase_fit_id) AS fit_as_of
  FROM hvc.snapshot_info i;

RESET client_min_messages;
UPDATE hvc.config SET model = 'bgnbd', history_refreshes = 24;
