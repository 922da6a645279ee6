-- ---------------------------------------------------------------------------
-- bench/generate_signals.sql — deterministic signals for the synthetic shop
-- of bench/generate_sales.sql (run it first):
--
--   psql -v signal_events=100000 -v end_date=2025-06-30 -f bench/generate_signals.sql
--
-- (Re)creates four tables with about :signal_events rows in all, consistent
-- with each customer's purchases in public.sales:
--   public.nps_answers (customer_id, answered_at, score)       10 % of the rows
--   public.referrals   (customer_id, referred_on, referred_id)  5 %
--   public.app_events  (customer_id, happened_at, weight)      70 %
--   public.contacts    (customer_id, opened_at, resolved_at, first_contact_resolved)  15 %
-- How a customer looks: loyalty = orders (up to 8 count), value = revenue
-- percentile; "lapsing" = no purchase in the last 120 days.
--   * NPS answers (more from frequent buyers): score ~ 4 + 3.5 value +
--     2.5 loyalty - 3 if lapsing, plus noise, rounded into 0..10: promoters
--     are mostly loyal high-value customers, detractors mostly lapsing ones;
--   * referrals, from customers with value^2 x loyalty weight (so mostly
--     loyal high-value ones): 60 % name an existing customer (converted),
--     40 % someone who never bought;
--   * engagement events from first purchase until 30 days after the last
--     (until :end_date for customers still buying); a lapsing customer's
--     events thin out toward the end (density falling linearly to 0), an
--     active customer's grow: engagement falls before customers stop buying;
--   * service contacts, resolved after a lognormal time (median 8 hours),
--     70 % at the first contact; 3 % stay open, 25 % for lapsing customers.
-- Deterministic (hashint8extended of ids, like generate_sales.sql).
-- ---------------------------------------------------------------------------
\set ON_ERROR_STOP on
\if :{?signal_events}
\else
  \set signal_events 100000
\endif
\if :{?end_date}
\else
  \set end_date 2025-06-30
\endif
\set QUIET on

BEGIN;
SET LOCAL work_mem = '512MB';
SET LOCAL client_min_messages = warning;
SET LOCAL max_parallel_workers_per_gather = 0;

CREATE FUNCTION pg_temp.u(k bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (((hashint8extended(k, s) >> 11) & 9007199254740991)::float8 + 0.5) / 9007199254740992.0 $$;
CREATE FUNCTION pg_temp.u2(k1 bigint, k2 bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (((hashint8extended(k2, hashint8extended(k1, s)) >> 11) & 9007199254740991)::float8 + 0.5) / 9007199254740992.0 $$;
-- standard normal from two uniforms (Box-Muller)
CREATE FUNCTION pg_temp.n2(k1 bigint, k2 bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT sqrt(-2 * ln(pg_temp.u2(k1, k2, s))) * cos(2 * pi() * pg_temp.u2(k1, k2, s + 1)) $$;

CREATE TEMP TABLE _sig_cust ON COMMIT DROP AS
SELECT c.*, percent_rank() OVER (ORDER BY c.revenue, c.cid) AS value,
       least(c.orders, 8) / 8.0 AS loyalty,
       c.last_at < :'end_date'::date::timestamptz - interval '120 days' AS lapsing,
       least(c.last_at + interval '30 days', :'end_date'::date::timestamptz - interval '1 second') AS stop_at
  FROM (SELECT customer_id AS cid, count(DISTINCT order_id) AS orders, sum(amount) AS revenue,
               min(ordered_at) AS first_at, max(ordered_at) AS last_at
          FROM public.sales WHERE customer_id IS NOT NULL GROUP BY 1) c;
SELECT sum(orders) AS w_orders, sum(value * value * loyalty) AS w_ref, max(cid) AS max_cid FROM _sig_cust \gset

-- n rows of a kind for customer c: share x total x weight / total weight,
-- randomly rounded.  t(u) spreads a row over [first_at, stop_at]: growing
-- density for active customers, falling for lapsing ones.
DROP TABLE IF EXISTS public.nps_answers, public.referrals, public.app_events, public.contacts;

CREATE TABLE public.nps_answers AS
SELECT c.cid AS customer_id,
       c.first_at + (c.stop_at - c.first_at) * pg_temp.u2(c.cid, i, 11) AS answered_at,
       greatest(0, least(10, round(4 + 3.5 * c.value + 2.5 * c.loyalty - CASE WHEN c.lapsing THEN 3 ELSE 0 END
                                   + 1.5 * pg_temp.n2(c.cid, i, 12))))::smallint AS score
  FROM _sig_cust c,
       generate_series(1, floor(0.10 * :signal_events * c.orders / :w_orders + pg_temp.u(c.cid, 10))::integer) i;

CREATE TABLE public.referrals AS
SELECT c.cid AS customer_id,
       (c.first_at + (:'end_date'::date::timestamptz - c.first_at) * pg_temp.u2(c.cid, i, 21))::date AS referred_on,
       CASE WHEN pg_temp.u2(c.cid, i, 22) < 0.6 THEN 1 + floor(pg_temp.u2(c.cid, i, 23) * :max_cid)::bigint
            ELSE :max_cid + c.cid * 16 + i END AS referred_id
  FROM _sig_cust c,
       generate_series(1, floor(0.05 * :signal_events * c.value * c.value * c.loyalty / :w_ref + pg_temp.u(c.cid, 20))::integer) i;

CREATE TABLE public.app_events AS
SELECT c.cid AS customer_id,
       c.first_at + (c.stop_at - c.first_at)
                    * CASE WHEN c.lapsing THEN 1 - sqrt(pg_temp.u2(c.cid, i, 31)) ELSE sqrt(pg_temp.u2(c.cid, i, 31)) END
         AS happened_at,
       (1 + floor(3 * pg_temp.u2(c.cid, i, 32)))::smallint AS weight
  FROM _sig_cust c,
       generate_series(1, floor(0.70 * :signal_events * c.orders / :w_orders + pg_temp.u(c.cid, 30))::integer) i;

CREATE TABLE public.contacts AS
SELECT x.customer_id, x.opened_at,
       CASE WHEN x.stays_open THEN NULL
            ELSE x.opened_at + exp(ln(8) + 1.2 * pg_temp.n2(x.customer_id, x.i, 43)) * interval '1 hour' END AS resolved_at,
       CASE WHEN x.stays_open THEN NULL ELSE pg_temp.u2(x.customer_id, x.i, 44) < 0.7 END AS first_contact_resolved
  FROM (SELECT c.cid AS customer_id, i,
               c.first_at + (c.stop_at - c.first_at) * pg_temp.u2(c.cid, i, 41) AS opened_at,
               pg_temp.u2(c.cid, i, 42) < CASE WHEN c.lapsing THEN 0.25 ELSE 0.03 END AS stays_open
          FROM _sig_cust c,
               generate_series(1, floor(0.15 * :signal_events * c.orders / :w_orders + pg_temp.u(c.cid, 40))::integer) i) x;
COMMIT;
ANALYZE public.nps_answers, public.referrals, public.app_events, public.contacts;

\unset QUIET
SELECT format('generate_signals: %s NPS answers, %s referrals, %s engagement events, %s service contacts (%s in all)',
              (SELECT count(*) FROM public.nps_answers), (SELECT count(*) FROM public.referrals),
              (SELECT count(*) FROM public.app_events), (SELECT count(*) FROM public.contacts),
              (SELECT count(*) FROM public.nps_answers) + (SELECT count(*) FROM public.referrals)
              + (SELECT count(*) FROM public.app_events) + (SELECT count(*) FROM public.contacts)) AS summary \gset
\echo :summary
