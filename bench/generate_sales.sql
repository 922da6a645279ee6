-- ---------------------------------------------------------------------------
-- bench/generate_sales.sql — a deterministic synthetic shop for hvc.
--
--   psql -v customers=20000 -v lines=200000 -v end_date=2025-06-30 [-v basket=1] -f bench/generate_sales.sql
--
-- (Re)creates public.sales (line_id, order_id, customer_id, ordered_at,
-- amount, margin) with about :lines rows (±5 %) over the two years before
-- :end_date (every row is strictly before :end_date 00:00 UTC, so
-- CALL hvc.refresh(as_of => :end_date) sees all of them).
--
-- Deterministic: every number comes from hashint8extended() of ids (no
-- random()); the hash works on integer values (not bytes) and timestamps are
-- built in UTC, so the rows are the same on every run, in every session time
-- zone and on every IEEE-754 machine (the float maths - ln, exp, cos - is
-- rounded to cents at the end).  Set-based: a few generate_series / window
-- statements; about 20 s for 5 M lines on 2 cores.  Then ANALYZE.
--
-- The shop (a BG/NBD world, so the BTYD models have something to find):
--   * customers arrive over the two years, more of them lately (a growing
--     shop); their first purchase is on arrival;
--   * purchase rate lambda ~ Gamma(r = 0.55, alpha) (heterogeneous buyers),
--     dropout probability p ~ Beta(a = 1.2, b = 3.5) (mean 0.26): after each
--     repeat purchase the customer becomes inactive with probability p; repeat
--     purchases follow a Poisson process while active (at most 200).  alpha
--     is calibrated so that the line count comes out near :lines, and
--     printed (in weeks) with the summary, so model fits can be checked
--     against the truth (roughly: hvc counts purchase days, not orders);
--   * spend: per-customer typical line value lognormal x Pareto(2) (a few
--     big spenders), lines of 1-3 items with lognormal price noise;
--   * orders of 1-5 lines (one order_id, one timestamp), daytime-heavy;
--     with :basket = k (default 1) every order has k times as many lines
--     (a grocery shop: long histories, 50 M lines of 500 000 customers need
--     k = 5, as customers drop out after about a dozen orders);
--   * ~3 % refund lines: some orders are returned (one line or the whole
--     order, 20 % of returns only half refunded) 1-30 days later, under a
--     new order id, negative amount and margin;
--   * margin 20-45 % of the line amount;
--   * ~0.5 % guest rows (customer_id NULL, one-off orders, no refunds).
-- order_id and line_id are dense and increase with time, like a real shop.
-- ---------------------------------------------------------------------------
\set ON_ERROR_STOP on
\if :{?customers}
\else
  \set customers 20000
\endif
\if :{?lines}
\else
  \set lines 200000
\endif
\if :{?end_date}
\else
  \set end_date 2025-06-30
\endif
\if :{?basket}
\else
  \set basket 1
\endif
\set QUIET on

BEGIN;
SET LOCAL work_mem = '512MB';          -- the window sorts stay in memory
SET LOCAL client_min_messages = warning;
SET LOCAL max_parallel_workers_per_gather = 0;  -- temp tables: serial anyway

-- Uniform (0,1) from one 64-bit hash: 53 bits -> float8, never 0 or 1.
CREATE FUNCTION pg_temp.u(k bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (((hashint8extended(k, s) >> 11) & 9007199254740991)::float8 + 0.5) / 9007199254740992.0 $$;
-- The same for a pair of keys (hash chained through the seed: no collisions).
CREATE FUNCTION pg_temp.u2(k1 bigint, k2 bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (((hashint8extended(k2, hashint8extended(k1, s)) >> 11) & 9007199254740991)::float8 + 0.5) / 9007199254740992.0 $$;

-- Gamma(shape, 1) from four uniforms of (k, s..s+3): Wilson-Hilferty for
-- shape + 2, boosted down twice (Gamma(x) = Gamma(x + 1) * U^(1/x)).
CREATE FUNCTION pg_temp.gam(shape float8, k bigint, s bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (shape + 2)
          * power(greatest(1 - 1 / (9 * (shape + 2))
                           + sqrt(-2 * ln(pg_temp.u(k, s))) * cos(2 * pi() * pg_temp.u(k, s + 1))
                             * sqrt(1 / (9 * (shape + 2))), 0), 3)
          * power(pg_temp.u(k, s + 2), 1 / (shape + 1))
          * power(pg_temp.u(k, s + 3), 1 / shape) $$;

-- Shape constants (see the header).  Lines per order: :basket x 1..5 with
-- probabilities .45 .25 .15 .10 .05 (mean el = 2.05 x :basket).  A refunded
-- order gives 1 refund line (70 %) or one per line (30 %): 0.7 + 0.3 * el
-- refund lines (1.315 at basket 1).  q = share of purchase orders with a
-- refund, set so refund lines are 3 % of all lines.
SELECT (:basket::integer >= 1 AND :basket::integer <= 40) AS basket_ok \gset g_
\if :g_basket_ok
\else
  \echo 'generate_sales: basket must be an integer from 1 to 40'
  SELECT 1 / 0;
\endif
SELECT (2.05 * :basket)::float8                                  AS el,
       (0.03 * 2.05 * :basket / (0.97 * (0.7 + 0.3 * 2.05 * :basket)))::float8 AS q,
       round(0.005 * :lines / 2.05)::bigint   AS guest_orders,
       -- customer purchase orders wanted: the rest of the lines / (lines per order incl. refunds)
       greatest(round((:lines - 0.005 * :lines) * 0.97 / (2.05 * :basket))::bigint, 0) AS target_orders,
       (:'end_date'::date - 730)::timestamp AT TIME ZONE 'UTC' AS start_ts,
       :'end_date'::date::timestamp AT TIME ZONE 'UTC' AS end_ts
\gset g_

-- 1. Customers ---------------------------------------------------------------
CREATE TEMP TABLE _gen_cust ON COMMIT DROP AS
SELECT c AS cid,
       -- arrival day in [0, 730): density growing linearly (a growing shop)
       730 * sqrt(pg_temp.u(c, 1)) AS arrive,
       -- purchase propensity ~ Gamma(r = 0.55, 1); the rate is g * scale per day
       pg_temp.gam(0.55, c, 100) AS g,
       -- repeat purchases before dropping out: as in BG/NBD the dropout coin
       -- is tossed after each repeat purchase (never after the first), so
       -- J = 1 + Geometric(p), p ~ Beta(a = 1.2, b = 3.5)
       least(1 + floor(ln(pg_temp.u(c, 6)) / ln(1 - greatest(x.ga / (x.ga + x.gb), 1e-9))), 200)::integer AS j,
       -- typical line value: lognormal (median 16, sigma 0.8) x Pareto(alpha 2) big-spender factor
       16 * exp(0.8 * sqrt(-2 * ln(pg_temp.u(c, 7))) * cos(2 * pi() * pg_temp.u(c, 8)))
          * power(pg_temp.u(c, 9), -1 / 2.0) AS unit
  FROM generate_series(1::bigint, :customers::bigint) c,
       LATERAL (SELECT pg_temp.gam(1.2, c, 200) AS ga, pg_temp.gam(3.5, c, 300) AS gb OFFSET 0) x;

-- 2. Calibrate the rate scale on (up to) 50 000 customers: a repeat purchase k
-- of customer c happens within the window iff the sum of its k exponential
-- gaps E_1..E_k <= scale * g * (730 - arrive), i.e. iff scale >= s_k; the
-- scale is the quantile of s_k that gives the wanted number of repeats.
SELECT least(:customers, 50000) AS n,
       round(greatest(:g_target_orders - :customers, 0)::float8
             * least(:customers, 50000) / greatest(:customers, 1))::bigint AS repeats
\gset cal_
WITH cand AS (
    SELECT sum(-ln(pg_temp.u2(c.cid, k, 20))) OVER (PARTITION BY c.cid ORDER BY k)
           / (c.g * (730 - c.arrive)) AS s_k
      FROM _gen_cust c, generate_series(1, c.j) k
     WHERE c.cid <= :cal_n AND c.g > 0)
SELECT coalesce((SELECT s_k FROM cand ORDER BY s_k OFFSET greatest(:cal_repeats - 1, 0) LIMIT 1),
                1e6)::float8 AS scale,
       (:cal_repeats = 0) AS none,
       (SELECT count(*) FROM cand) < :cal_repeats AS short
\gset cal_
\if :cal_short
  \echo 'generate_sales: warning: too many lines per customer for this shop (customers drop out, at most 201 orders each); there will be fewer lines than asked'
\endif
\if :cal_none
  \set cal_scale 0
\endif
SELECT :g_target_orders < :customers AS too_few_lines \gset cal_
\if :cal_too_few_lines
  \echo 'generate_sales: warning: fewer lines than one order per customer needs; every customer still gets a first order, so there will be more lines than asked'
\endif

-- 3. Purchase orders of customers (k = 0: the first purchase on arrival) ----
CREATE TEMP TABLE _gen_orders ON COMMIT DROP AS
SELECT cid, 0 AS k, arrive AS t, unit FROM _gen_cust
UNION ALL
-- (the calibrating purchase lies exactly on the window's end: keep it inside)
SELECT cid, k, least(arrive + cum / lambda, 729.9999), unit
  FROM (SELECT c.cid, k, c.arrive, c.unit, c.g * :cal_scale AS lambda,
               730 - c.arrive AS horizon,
               sum(-ln(pg_temp.u2(c.cid, k, 20))) OVER (PARTITION BY c.cid ORDER BY k) AS cum
          FROM _gen_cust c,
               LATERAL (SELECT c.g * :cal_scale * (730 - c.arrive) AS mu) m,
               generate_series(1, least(c.j, ceil(m.mu + 6 * sqrt(m.mu) + 6))::integer) k
         WHERE c.g * :cal_scale > 0) x
 WHERE cum <= lambda * horizon;

-- 4. Order headers: purchases, refunds and guest orders, numbered by time.
-- ok = order key for the hashes: cid * 1024 + k (k <= 200), guests -g.
CREATE TEMP TABLE _gen_hdr ON COMMIT DROP AS
WITH purchase AS (
    SELECT o.cid, o.cid * 1024 + o.k AS ok, o.unit,
           :'g_start_ts'::timestamptz
             + (floor(o.t) * 86400
                -- time of day: 90 % between 07:00 and 23:00, the rest any time
                + CASE WHEN pg_temp.u(o.cid * 1024 + o.k, 31) < 0.9
                       THEN 25200 + 57600 * pg_temp.u(o.cid * 1024 + o.k, 32)
                       ELSE 86400 * pg_temp.u(o.cid * 1024 + o.k, 32) END
               )::bigint * interval '1 second' AS ts
      FROM _gen_orders o
), guest AS (
    SELECT NULL::bigint AS cid, -g AS ok,
           16 * exp(0.6 * sqrt(-2 * ln(pg_temp.u(-g, 51))) * cos(2 * pi() * pg_temp.u(-g, 52))) AS unit,
           :'g_start_ts'::timestamptz
             + (floor(730 * sqrt(pg_temp.u(-g, 50))) * 86400 + 25200 + 57600 * pg_temp.u(-g, 32)
               )::bigint * interval '1 second' AS ts
      FROM generate_series(1::bigint, :g_guest_orders::bigint) g
), bought AS (
    SELECT p.*, 'p'::"char" AS kind,
           CASE WHEN x < 0.45 THEN 1 WHEN x < 0.70 THEN 2 WHEN x < 0.85 THEN 3
                WHEN x < 0.95 THEN 4 ELSE 5 END * CASE WHEN p.cid IS NULL THEN 1 ELSE :basket END AS n_lines
      FROM (SELECT * FROM purchase UNION ALL SELECT * FROM guest) p,
           LATERAL (SELECT pg_temp.u(p.ok, 33) AS x) l
), hdr AS (
    SELECT cid, ok, unit, ts, kind, n_lines, n_lines AS n_bought, 1.0::float8 AS refund_share FROM bought
    UNION ALL
    -- returns: 1-30 days later (within the window), whole order (30 %) or one line
    SELECT b.cid, b.ok, b.unit,
           CASE WHEN b.ts + d.delay < :'g_end_ts'::timestamptz THEN b.ts + d.delay
                ELSE b.ts + (:'g_end_ts'::timestamptz - b.ts) * pg_temp.u(b.ok, 43) END,
           'r', CASE WHEN pg_temp.u(b.ok, 41) < 0.3 THEN b.n_lines ELSE 1 END, b.n_lines,
           CASE WHEN pg_temp.u(b.ok, 44) < 0.2 THEN 0.5 ELSE 1.0 END
      FROM bought b,
           LATERAL (SELECT ((1 + 29 * pg_temp.u(b.ok, 42)) * 86400)::bigint * interval '1 second' AS delay) d
     WHERE b.cid IS NOT NULL AND pg_temp.u(b.ok, 40) < :g_q
)
SELECT h.*,
       row_number() OVER w AS order_id,
       sum(h.n_lines) OVER w - h.n_lines AS line_base
  FROM hdr h
WINDOW w AS (ORDER BY h.ts, h.kind, h.ok ROWS UNBOUNDED PRECEDING);  -- written in order_id order

-- 5. The lines.  A refund line repeats the amount of the purchase line it
-- returns (line i of a whole-order return, or one chosen line), negated.
-- (OFFSET 0 keeps each level's values computed once per line instead of
-- being substituted into every later use.)
DROP TABLE IF EXISTS public.sales;
CREATE TABLE public.sales AS
SELECT line_id, order_id, customer_id, ordered_at,
       -- cents as bigint: int8 -> numeric is cheap, float8 -> numeric is not
       (sgn * amount_c * 0.01)::numeric(12,2) AS amount,
       (sgn * round(amount_c * margin_rate)::bigint * 0.01)::numeric(12,2) AS margin
  FROM (SELECT l.*, round(l.bought_c * l.refund_share)::bigint AS amount_c
          FROM (-- line value in cents: typical value x items (1-3) x lognormal price noise
                SELECT k.*,
                       greatest(50, round(100 * k.unit
                                          * CASE WHEN k.u_qty < 0.72 THEN 1 WHEN k.u_qty < 0.92 THEN 2 ELSE 3 END
                                          * exp(0.5 * sqrt(-2 * ln(pg_temp.u2(k.ok, k.li, 62)))
                                                    * cos(2 * pi() * pg_temp.u2(k.ok, k.li, 63)) - 0.125))) AS bought_c,
                       0.20 + 0.25 * pg_temp.u2(k.ok, k.li, 64) AS margin_rate
                  FROM (SELECT j.*, pg_temp.u2(j.ok, j.li, 61) AS u_qty
                          FROM (SELECT (h.line_base + x.i)::bigint AS line_id,
                                       h.order_id::bigint AS order_id,
                                       h.cid::bigint AS customer_id,
                                       h.ts::timestamptz AS ordered_at,
                                       h.ok, h.unit, h.refund_share,
                                       CASE WHEN h.kind = 'r' THEN -1 ELSE 1 END AS sgn,
                                       -- the purchase line this line is (or returns)
                                       CASE WHEN h.kind <> 'r' OR h.n_lines > 1 THEN x.i
                                            ELSE 1 + floor(pg_temp.u(h.ok, 45) * h.n_bought)::integer END AS li
                                  FROM _gen_hdr h
                                  JOIN (SELECT n, i FROM generate_series(1, 5 * :basket) n, generate_series(1, n) i) x
                                    ON x.n = h.n_lines
                                OFFSET 0) j
                        OFFSET 0) k
                OFFSET 0) l
        OFFSET 0) m;

DROP FUNCTION pg_temp.gam(float8, bigint, bigint);
DROP FUNCTION pg_temp.u(bigint, bigint);
DROP FUNCTION pg_temp.u2(bigint, bigint, bigint);
COMMIT;

ANALYZE public.sales;

\unset QUIET
SELECT CASE WHEN :cal_scale > 0 AND NOT :'cal_short'::boolean
            THEN format('generate_sales: simulated truth (time unit week): r = 0.55, alpha = %s, a = 1.2, b = 3.5',
                        round((1 / (7 * :cal_scale))::numeric, 3))
            ELSE 'generate_sales: no repeat purchases were calibrated' END AS truth \gset
\echo :truth
SELECT format('generate_sales: %s lines (target %s), %s customers, %s orders (%s refund lines, %s guest lines), %s .. %s UTC',
              count(*), :lines, count(DISTINCT customer_id), count(DISTINCT order_id),
              count(*) FILTER (WHERE amount < 0), count(*) FILTER (WHERE customer_id IS NULL),
              to_char(min(ordered_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
              to_char(max(ordered_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')) AS summary
  FROM public.sales \gset
\echo :summary
