-- Twenty nightly refreshes of a shop whose BG/NBD fit alternates between the
-- interior and the edge a -> 0 (issue 8: "data whose fit alternates between
-- the interior and the edge: the value basis never changes and no tier_drop
-- alert comes from a change of basis").
--
-- 400 steady customers buy every 3 + (37 c mod 60) days from 2024 on and
-- never stop: alone they put the optimum at the edge (nobody drops out).
-- 300 early customers bought every 4 days in January–February 2024 and then
-- stopped: with them the data shows dropout and the optimum is inside.  The
-- early customers are visible on odd nights only (a switch the view reads),
-- so the fit alternates.  0.1.0 left every prediction NULL at the edge and
-- fell back from predicted_clv to historic_clv, moving tiers and raising
-- tier_drop alerts for customers who had done nothing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
\set SHOW_CONTEXT never
UPDATE hvc.config SET model = 'bgnbd', time_unit = 'day', horizon_months = 12,
                      value_basis = 'predicted_clv', validation_days = 0;

CREATE TABLE en_sales (customer_id int, ordered_at date, amount numeric(10,2));
INSERT INTO en_sales
SELECT c, date '2024-01-01' + d, 20 + (7 * c) % 50 + (d % 5) * 3
  FROM generate_series(1, 400) c,
       LATERAL (SELECT 3 + (37 * c) % 60 AS period) p,
       LATERAL generate_series((13 * c) % p.period, date '2025-06-30' - date '2024-01-01', p.period) d;
INSERT INTO en_sales
SELECT c, date '2024-01-01' + d, 30 + c % 40
  FROM generate_series(1001, 1300) c,
       LATERAL generate_series(c % 4, 59, 4) d;
CREATE TABLE en_switch (early_visible boolean NOT NULL);
INSERT INTO en_switch VALUES (true);
CREATE VIEW en_night_sales AS
SELECT s.* FROM en_sales s
 WHERE s.customer_id <= 1000 OR (SELECT early_visible FROM en_switch);

SELECT hvc.register_source(source => 'public.en_night_sales', customer => 'customer_id',
                           ordered_at => 'ordered_at', amount => 'amount') IS NOT NULL AS registered;

CREATE TABLE en_nights (night int, refresh_id bigint, early_visible boolean, edge text,
                        converged boolean, value_basis text, model text,
                        customers bigint, unpredicted bigint);
DO $$
DECLARE
    n int;
BEGIN
    FOR n IN 1..20 LOOP
        UPDATE en_switch SET early_visible = (n % 2 = 1);
        PERFORM hvc.refresh_now(timestamptz '2025-07-01 00:00+00' + make_interval(days => n));
        INSERT INTO en_nights
        SELECT n, i.refresh_id, n % 2 = 1, f.edge, f.converged, i.value_basis, i.model, i.customers,
               (SELECT count(*) FROM hvc.customers c
                 WHERE c.predicted_clv IS NULL OR c.churn_risk IS NULL OR c.p_alive IS NULL)
          FROM hvc.snapshot_info i
          JOIN hvc.model_fit f ON f.refresh_id = i.refresh_id AND f.model = 'bgnbd';
    END LOOP;
END $$;

-- Each night: the early customers' nights fit inside, the others at the
-- edge; every night converges and predicts every customer.
SELECT early_visible, coalesce(edge, '(interior)') AS edge, count(*) AS nights,
       bool_and(converged) AS converged, min(customers) AS customers, sum(unpredicted) AS unpredicted
  FROM en_nights GROUP BY 1, 2 ORDER BY 1, 2;

-- The value basis and the model never change.
SELECT count(DISTINCT value_basis) AS bases, min(value_basis) AS basis,
       count(DISTINCT model) AS models, min(model) AS model
  FROM en_nights;

-- Tier moves: only activity (customers coming and going, predictions of the
-- refitted model); none is recorded as a change of basis or model.
SELECT h.reason, count(*) AS moves
  FROM hvc.tier_history h JOIN en_nights n USING (refresh_id)
 GROUP BY 1 ORDER BY 1;

-- Every tier_drop alert counts exactly the activity drops of high-value
-- customers of its refresh, and there is no drop for any other reason.
SELECT count(*) FILTER (WHERE a.customers <> (SELECT count(*) FROM hvc.tier_history h
                                               WHERE h.refresh_id = a.refresh_id AND h.direction = 'down'
                                                 AND h.reason = 'activity'
                                                 AND EXISTS (SELECT 1 FROM hvc.tier_rules t
                                                              WHERE t.tier = h.from_tier AND t.high_value)))
           AS alerts_not_matching_activity_drops,
       (SELECT count(*) FROM hvc.tier_history h JOIN en_nights n USING (refresh_id)
         WHERE h.direction = 'down' AND h.reason <> 'activity') AS drops_for_another_reason
  FROM hvc.alerts a JOIN en_nights n USING (refresh_id)
 WHERE a.kind = 'tier_drop';

-- The steady customers' predictions at the edge nights are the NBD limit's
-- closed form, E[Y(360 days)] = (r + x) 360 / (alpha + T).
SELECT count(*) AS steady_customers,
       count(*) FILTER (WHERE abs(c.predicted_orders - (f.r + c.frequency) * 360 / (f.alpha + c.age)) > 1e-9)
           AS not_closed_form
  FROM hvc.customers c
  JOIN hvc.snapshot_info i ON true
  JOIN hvc.model_fit f ON f.refresh_id = i.refresh_id AND f.model = 'bgnbd'
 WHERE c.customer_id <= 1000 AND f.edge = 'a->0';

UPDATE hvc.config SET validation_days = NULL;
