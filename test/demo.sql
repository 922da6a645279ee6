-- test/demo.sql — the README quick-start (run by test/demo.sh inside a
-- throwaway pg_virtualenv cluster; works in any empty database too:
--   psql -X -f test/demo.sql).
\set ON_ERROR_STOP on
\pset null '-'
\pset footer off

\echo
\echo '=== 1. CREATE EXTENSION hvc ==='
CREATE EXTENSION hvc;

\echo
\echo '=== 2. A synthetic shop: 20 000 customers, ~200 000 sales lines over two years (bench/generate_sales.sql) ==='
\set customers 20000
\set lines 200000
\set end_date 2025-06-30
\ir ../bench/generate_sales.sql
\pset footer off
\d public.sales

\echo
\echo '=== 3. Point hvc at the sales table ==='
SELECT hvc.register_source(source     => 'public.sales',
                           customer   => 'customer_id',
                           ordered_at => 'ordered_at',
                           amount     => 'amount',
                           margin     => 'margin',
                           order_id   => 'order_id');

\echo
\echo '=== 4. Refresh: CALL hvc.refresh(as_of => ''2025-06-30'') ==='
CALL hvc.refresh(as_of => '2025-06-30');
SELECT status, rows_read, rows_skipped, customers,
       round(extract(epoch FROM finished_at - started_at)::numeric, 2) AS seconds,
       message
  FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;

\echo
\echo '=== 5. Tiers (hvc.tier_summary): the top 20 % are the high-value customers ==='
SELECT tier, tier_rank, customers,
       round(100 * customer_share::numeric, 1) AS "customers %",
       revenue,
       round(100 * revenue_share::numeric, 1)  AS "revenue %",
       margin, predicted_clv,
       round(avg_churn_risk::numeric, 3)       AS avg_churn_risk
  FROM hvc.tier_summary
 ORDER BY tier_rank;

\echo
\echo '=== 6. RFM segments (hvc.segment_summary) ==='
SELECT segment, customers, orders, revenue, avg_order_value,
       round(avg_recency_days::numeric, 1) AS avg_recency_days
  FROM hvc.segment_summary
 ORDER BY revenue DESC;

\echo
\echo '=== 7. The ten most valuable customers (hvc.customers ORDER BY value_rank) ==='
SELECT value_rank AS rank, customer_id, tier, segment, rfm_cell AS rfm,
       orders, revenue, margin,
       first_order_at::date AS first_order, recency_days AS recency,
       round(p_alive::numeric, 3) AS p_alive,
       round(predicted_orders::numeric, 1) AS pred_orders,
       predicted_clv,
       round(100 * cumulative_value_share::numeric, 2) AS "cum value %"
  FROM hvc.customers
 ORDER BY value_rank
 LIMIT 10;

\echo
\echo '=== 8. Model fits (hvc.model_fit) ==='
SELECT count(*) > 0 AS has_fits FROM hvc.model_fit \gset
\if :has_fits
SELECT model, round(r::numeric, 4) AS r, round(alpha::numeric, 4) AS alpha,
       round(a::numeric, 4) AS a, round(b::numeric, 4) AS b,
       round(s::numeric, 4) AS s, round(beta::numeric, 4) AS beta,
       round(p::numeric, 4) AS p, round(q::numeric, 4) AS q, round(v::numeric, 4) AS v,
       round(log_likelihood::numeric, 1) AS log_likelihood, customers, converged, iterations
  FROM hvc.model_fit
 ORDER BY fit_id;
\else
\echo '(no model fitted yet: hvc.model_fit is empty, so predictions are NULL and tiers rank by historic_clv)'
\endif
SELECT model, value_basis, customers, as_of FROM hvc.snapshot_info;

\echo
\echo '=== 9. Beyond purchases: NPS answers, referrals, app events and service contacts (bench/generate_signals.sql) ==='
\set signal_events 100000
\ir ../bench/generate_signals.sql
\pset footer off
SELECT hvc.register_signal('nps', 'public.nps_answers', 'customer_id', 'answered_at', 'score', 'nps');
SELECT hvc.register_signal('referrals', 'public.referrals', 'customer_id', 'referred_on', 'referred_id', 'referral');
SELECT hvc.register_signal('app', 'public.app_events', 'customer_id', 'happened_at', 'weight', 'engagement');
SELECT hvc.register_signal(name => 'contacts', source => 'public.contacts', customer => 'customer_id',
                           observed_at => 'opened_at', value => NULL, kind => 'service',
                           resolved_at => 'resolved_at', first_contact_resolved => 'first_contact_resolved');
-- ambassadors: promoters (NPS 9-10) or customers who brought at least one
-- buyer: the default rule of hvc.profile_rules
SELECT profile, kind, priority, min_nps, min_converted_referrals FROM hvc.profile_rules WHERE kind = 'ambassador';
CALL hvc.refresh(as_of => '2025-06-30');
SELECT name, kind, rows_read, rows_skipped FROM hvc.signal ORDER BY name;

\echo
\echo '=== 10. Ambassadors by tier (hvc.customer_profiles): mostly loyal high-value customers ==='
SELECT c.tier, count(*) AS customers,
       count(p.customer_id) AS ambassadors,
       round(100.0 * count(p.customer_id) / count(*), 1) AS "ambassadors %"
  FROM hvc.customers c
  LEFT JOIN hvc.customer_profiles p ON p.customer_id = c.customer_id AND p.profile = 'ambassador'
 GROUP BY c.tier, c.tier_rank ORDER BY c.tier_rank;
\echo 'The ten most valuable ambassadors:'
SELECT c.value_rank AS rank, c.customer_id, c.tier, c.orders, c.revenue,
       s.nps_score AS nps, s.referrals, s.converted_referrals AS converted
  FROM hvc.customers c
  JOIN hvc.customer_signals s USING (customer_id)
 WHERE s.profiles LIKE '%ambassador%'
 ORDER BY c.value_rank LIMIT 10;

\echo
\echo '=== 11. Silently unhappy high-value customers (hvc.at_risk with reasons from signals) ==='
SELECT count(*) AS at_risk,
       count(*) FILTER (WHERE reasons ~ 'engagement_falling|detractor|open_contact') AS with_signal_reasons,
       count(*) FILTER (WHERE reasons !~ 'churn_risk|overdue') AS only_signal_reasons
  FROM hvc.at_risk;
\echo 'The ten most valuable of them whose purchases do not show it yet (no churn reason):'
SELECT at_risk_rank AS rank, customer_id, tier, value_at_stake, recency_days AS recency,
       round(churn_risk::numeric, 2) AS churn_risk, reasons, reason
  FROM hvc.at_risk
 WHERE reasons !~ 'churn_risk|overdue'
 ORDER BY at_risk_rank LIMIT 10;
