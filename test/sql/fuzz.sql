-- Fuzz test (issue 7): thousands of random and mutated inputs thrown at every
-- function that takes bytes or a composite.  Every call must return or raise
-- a clean SQL error: the test counts calls and errors by SQLSTATE per target
-- and fails on an internal error (XX000), a lost connection (the output
-- stops) or a hang (statement_timeout, 57014, which no handler here catches).
-- The PRNG is seeded (hvc_fuzz.seed, default 20261202; test/fuzz/run.sh runs
-- this file with other seeds), so every run is reproducible.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hvc;
RESET client_min_messages;
SET datestyle = 'ISO, YMD';
SET timezone = 'UTC';
SET statement_timeout = '60s';
\set SHOW_CONTEXT never
\if :{?seed}
\else
\set seed 20261202
\endif
SELECT set_config('hvc_fuzz.seed', :'seed', false) IS NOT NULL AS seeded;
SELECT setseed(((current_setting('hvc_fuzz.seed')::bigint % 2000000) - 1000000) / 1000000.0) IS NULL AS seed_set;
CREATE TEMP TABLE fuzz_log (target text, state text);

-- ---------------------------------------------------------------------------
-- Random values
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.ri(lo int, hi int) RETURNS int LANGUAGE sql AS
$$ SELECT lo + floor(random() * (hi - lo + 1))::int $$;
CREATE FUNCTION pg_temp.pick(a anyarray) RETURNS anyelement LANGUAGE sql AS
$$ SELECT a[pg_temp.ri(1, array_length(a, 1))] $$;
-- a float8: special values, tiny, huge, ordinary, NULL
CREATE FUNCTION pg_temp.rf() RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
    CASE pg_temp.ri(1, 4)
        WHEN 1 THEN RETURN pg_temp.pick(ARRAY['NaN', 'Infinity', '-Infinity', '0', '-0', '-1', '5e-324',
                                              '1e-300', '1e-12', '1e12', '1e300', '1.7976931348623157e308']::float8[]);
        WHEN 2 THEN RETURN CASE WHEN random() < 0.1 THEN NULL ELSE pg_temp.ri(0, 50)::float8 END;
        ELSE RETURN random() * 10 ^ pg_temp.ri(-4, 4);
    END CASE;
END $$;
CREATE FUNCTION pg_temp.rfreq() RETURNS int LANGUAGE sql AS $$
    SELECT CASE WHEN random() < 0.7 THEN pg_temp.ri(0, 30)
                ELSE pg_temp.pick(ARRAY[-1, 2147483647, -2147483648, 1000000, NULL]) END $$;
CREATE FUNCTION pg_temp.random_bytes(n int) RETURNS bytea LANGUAGE sql AS $$
    SELECT coalesce(string_agg(set_byte('\x00'::bytea, 0, pg_temp.ri(0, 255)), ''::bytea), ''::bytea)
      FROM generate_series(1, n) $$;
-- an int64 / float8 field in little-endian byte order
CREATE FUNCTION pg_temp.le(b bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT string_agg(substr(b, length(b) + 1 - i, 1), ''::bytea ORDER BY i) FROM generate_series(1, length(b)) i $$;
CREATE FUNCTION pg_temp.interesting8() RETURNS bytea LANGUAGE plpgsql AS $$
BEGIN
    IF random() < 0.5 THEN
        RETURN pg_temp.le(int8send(pg_temp.pick(ARRAY[0, 1, -1, 2, 100, 9223372036854775807, -9223372036854775808,
                                                     4611686018427387904, 100000000000000000, 788918400000000,
                                                     -211813488000000000, 9223371331200000000]::bigint[])));
    END IF;
    RETURN pg_temp.le(float8send(coalesce(pg_temp.rf(), 0)));
END $$;
CREATE FUNCTION pg_temp.interesting4() RETURNS bytea LANGUAGE sql AS $$
    SELECT pg_temp.le(int4send(pg_temp.pick(ARRAY[0, 1, -1, 2, 3, 100, 2147483647, -2147483648, 67108864,
                                                  9131, 268435455]))) $$;
-- one to three mutations of a byte string
CREATE FUNCTION pg_temp.mutate(b bytea) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
    k int;
    pos int;
    len int;
BEGIN
    FOR k IN 1..pg_temp.ri(1, 3) LOOP
        len := length(b);
        CASE pg_temp.ri(1, 9)
            WHEN 1 THEN          -- bit flips
                IF len > 0 THEN
                    FOR pos IN 1..pg_temp.ri(1, 3) LOOP
                        b := set_bit(b, pg_temp.ri(0, len * 8 - 1), pg_temp.ri(0, 1));
                    END LOOP;
                END IF;
            WHEN 2 THEN b := substr(b, 1, pg_temp.ri(0, greatest(len - 1, 0)));       -- truncation
            WHEN 3 THEN b := b || pg_temp.random_bytes(pg_temp.ri(1, 16));             -- extension
            WHEN 4 THEN          -- an 8-byte field after the version byte
                pos := 2 + 8 * pg_temp.ri(0, greatest((len - 9) / 8, 0));
                IF pos + 7 <= len THEN b := overlay(b placing pg_temp.interesting8() from pos for 8); END IF;
            WHEN 5 THEN          -- a 4-byte field (set sizes and first day of a customer state)
                pos := pg_temp.pick(ARRAY[90, 94, 98, 102, 106]);
                IF pos + 3 <= len THEN b := overlay(b placing pg_temp.interesting4() from pos for 4); END IF;
            WHEN 6 THEN          -- a random byte
                IF len > 0 THEN b := set_byte(b, pg_temp.ri(0, len - 1), pg_temp.ri(0, 255)); END IF;
            WHEN 7 THEN          -- a slice repeated
                pos := pg_temp.ri(1, greatest(len, 1));
                b := overlay(b placing substr(b, pos, pg_temp.ri(1, 24)) from pos for 0);
            WHEN 8 THEN b := pg_temp.random_bytes(pg_temp.ri(0, 160));                 -- garbage
            ELSE                 -- an 8-byte field anywhere
                IF len >= 8 THEN
                    b := overlay(b placing pg_temp.interesting8() from pg_temp.ri(1, len - 7) for 8);
                END IF;
        END CASE;
    END LOOP;
    RETURN b;
END $$;

-- ---------------------------------------------------------------------------
-- Valid states to mutate
-- ---------------------------------------------------------------------------
CREATE TABLE fuzz_sales AS
SELECT c AS customer_id,
       '2024-01-01'::timestamptz + (hashint4(c * 7919 + i) & 1023) * interval '7 hours' AS ordered_at,
       CASE WHEN i % 7 = 3 THEN -((hashint4(c + i) & 255) / 10.0) ELSE (hashint4(c * 31 + i) & 4095) / 100.0 END AS amount,
       CASE WHEN i % 3 = 0 THEN NULL ELSE (hashint4(c - i) & 255) / 10.0 END AS margin,
       CASE WHEN i % 5 = 0 THEN NULL ELSE c * 100 + i / 2 END AS order_id
  FROM generate_series(1, 40) c, generate_series(1, 1 + c % 9) i;
CREATE TEMP TABLE fuzz_states AS
SELECT customer_id, hvc.customer_state(ordered_at, amount, margin, order_id, '2025-07-01', 'Europe/Paris') AS s
  FROM fuzz_sales GROUP BY 1;
CREATE TEMP TABLE fuzz_model_states AS
SELECT 'btyd' AS kind, hvc._btyd_state(f, r, a) AS s
  FROM (SELECT i % 6 AS f, CASE WHEN i % 6 = 0 THEN 0 ELSE (i % 13) * 1.5 END AS r, 20 + (i % 13) * 1.5 AS a
          FROM generate_series(1, 30) i) x
UNION ALL
SELECT 'gg', hvc._gamma_gamma_state(1 + i % 4, 5 + (i % 11) * 2.5) FROM generate_series(1, 20) i;

-- ---------------------------------------------------------------------------
-- 1. hvc.customer_state_summary(bytea): the customer-state deserialiser
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.fuzz_customer_state(n int) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    -- the states of format 3, and one of format 1 (what 0.1.0 wrote; still read)
    pool bytea[] := ARRAY(SELECT s FROM fuzz_states ORDER BY customer_id)
                    || '\x01030000000000000000000000000000000300000000000000000000000000000000000000000000003057050000000000000000000000000000000000000000000080d47e98cd0200000032f6e8cd0200a086010000000000ac2300000200000002000000ac230000b023000001000000000000000200000000000000'::bytea;
    b bytea;
    o bytea;
    i int;
BEGIN
    FOR i IN 1..n LOOP
        b := pg_temp.mutate(pool[pg_temp.ri(1, array_length(pool, 1))]);
        IF random() < 0.05 THEN        -- splice two states at random points
            o := pool[pg_temp.ri(1, array_length(pool, 1))];
            b := substr(b, 1, pg_temp.ri(1, length(b))) || substr(o, pg_temp.ri(1, length(o)));
        END IF;
        BEGIN
            PERFORM hvc.customer_state_summary(b);
            RETURN NEXT 'ok';
        EXCEPTION WHEN OTHERS THEN
            RETURN NEXT SQLSTATE;
        END;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT 'customer_state_summary', s FROM pg_temp.fuzz_customer_state(3000) s;

-- ---------------------------------------------------------------------------
-- 2. hvc._btyd_state_check / hvc._gamma_gamma_state_check: the model-fit
-- state deserialisers
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.fuzz_model_states(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    kinds text[] := ARRAY['btyd', 'gg'];
    k text;
    b bytea;
    i int;
BEGIN
    FOR i IN 1..n LOOP
        k := kinds[1 + i % 2];
        SELECT m.s INTO b FROM fuzz_model_states m WHERE m.kind = (CASE WHEN random() < 0.9 THEN k ELSE 'btyd' END);
        b := pg_temp.mutate(b);
        target := k || '_state_check';
        BEGIN
            IF k = 'btyd' THEN
                PERFORM hvc._btyd_state_check(b);
            ELSE
                PERFORM hvc._gamma_gamma_state_check(b);
            END IF;
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_model_states(2000);

-- ---------------------------------------------------------------------------
-- 3. The prediction functions with random model composites and arguments
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.fuzz_predictions(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    bg hvc.bgnbd;
    pn hvc.pareto_nbd;
    gg hvc.gamma_gamma;
    i int;
    fn int;
BEGIN
    FOR i IN 1..n LOOP
        bg := CASE WHEN random() < 0.03 THEN NULL
                   ELSE ROW(pg_temp.rf(), pg_temp.rf(), pg_temp.rf(), pg_temp.rf(), pg_temp.rf(), 10, true, 3, 'fuzz', NULL, NULL, NULL, NULL, NULL)::hvc.bgnbd END;
        pn := CASE WHEN random() < 0.03 THEN NULL
                   ELSE ROW(pg_temp.rf(), pg_temp.rf(), pg_temp.rf(), pg_temp.rf(), pg_temp.rf(), 10, true, 3, 'fuzz', NULL, NULL, NULL, NULL, NULL)::hvc.pareto_nbd END;
        gg := CASE WHEN random() < 0.03 THEN NULL
                   ELSE ROW(pg_temp.rf(), pg_temp.rf(), pg_temp.rf(), pg_temp.rf(), 10, true, 3, 'fuzz', NULL, NULL, NULL, NULL)::hvc.gamma_gamma END;
        fn := pg_temp.ri(1, 11);
        target := (ARRAY['p_alive', 'p_alive', 'expected_purchases', 'expected_purchases',
                         'expected_purchases_new', 'expected_purchases_new', 'time_to_next_purchase',
                         'time_to_next_purchase', 'customer_lifetime_value', 'customer_lifetime_value',
                         'expected_order_value'])[fn];
        BEGIN
            CASE fn
                WHEN 1 THEN PERFORM hvc.p_alive(bg, pg_temp.rfreq(), pg_temp.rf(), pg_temp.rf());
                WHEN 2 THEN PERFORM hvc.p_alive(pn, pg_temp.rfreq(), pg_temp.rf(), pg_temp.rf());
                WHEN 3 THEN PERFORM hvc.expected_purchases(bg, pg_temp.rf(), pg_temp.rfreq(), pg_temp.rf(), pg_temp.rf());
                WHEN 4 THEN PERFORM hvc.expected_purchases(pn, pg_temp.rf(), pg_temp.rfreq(), pg_temp.rf(), pg_temp.rf());
                WHEN 5 THEN PERFORM hvc.expected_purchases_new(bg, pg_temp.rf());
                WHEN 6 THEN PERFORM hvc.expected_purchases_new(pn, pg_temp.rf());
                WHEN 7 THEN PERFORM hvc.time_to_next_purchase(bg, pg_temp.rfreq(), pg_temp.rf());
                WHEN 8 THEN PERFORM hvc.time_to_next_purchase(pn, pg_temp.rfreq(), pg_temp.rf());
                WHEN 9 THEN PERFORM hvc.customer_lifetime_value(bg, gg, pg_temp.rfreq(), pg_temp.rf(), pg_temp.rf(), pg_temp.rf(),
                                                                pg_temp.pick(ARRAY[0, 1, 12, 240, 1200, 1201, -1, 2147483647]),
                                                                pg_temp.rf(), pg_temp.rf());
                WHEN 10 THEN PERFORM hvc.customer_lifetime_value(pn, gg, pg_temp.rfreq(), pg_temp.rf(), pg_temp.rf(), pg_temp.rf(),
                                                                 pg_temp.pick(ARRAY[0, 1, 12, 240, 1200, 1201, -1, 2147483647]),
                                                                 pg_temp.rf(), pg_temp.rf());
                ELSE PERFORM hvc.expected_order_value(gg, pg_temp.rfreq(), pg_temp.rf());
            END CASE;
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_predictions(3000);

-- ---------------------------------------------------------------------------
-- 4. hvc._fit_models with random configurations, and with hostile stages
-- ---------------------------------------------------------------------------
SELECT hvc.register_source('public.fuzz_sales', 'customer_id', 'ordered_at', 'amount',
                           margin => 'margin', order_id => 'order_id') IS NOT NULL AS registered;
CREATE TEMP TABLE _hvc_stage AS SELECT customer_id, s AS state FROM fuzz_states;
CREATE FUNCTION pg_temp.fuzz_fit(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    c hvc.config;
    i int;
BEGIN
    target := '_fit_models';
    FOR i IN 1..n LOOP
        SELECT * INTO c FROM hvc.config;
        -- (no Pareto/NBD: fitting it on these synthetic days takes about a minute)
        c.model := pg_temp.pick(ARRAY['bgnbd', 'none', 'none', 'none', 'none', 'magic', NULL]);
        c.time_unit := pg_temp.pick(ARRAY['day', 'week', 'week', 'week', 'hour', NULL]);
        c.horizon_months := CASE WHEN random() < 0.7 THEN pg_temp.ri(1, 240)
                                 ELSE pg_temp.pick(ARRAY[0, -1, 241, 2147483647, NULL]) END;
        c.monthly_discount_rate := CASE WHEN random() < 0.7 THEN random()
                                        ELSE pg_temp.pick(ARRAY[1, -0.5, 'NaN', 'Infinity', NULL]::float8[]) END;
        BEGIN
            PERFORM hvc._fit_models(c, pg_temp.pick(ARRAY['2025-07-01', '2025-07-01', '2025-07-01', '2024-01-02',
                                                          'infinity', '-infinity', '294276-12-31', '4713-01-01 BC']::date[]));
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_fit(150);

-- ---------------------------------------------------------------------------
-- 5. hvc._build_snapshot with random model parameters and arrays
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.bgnbd_weeks() RETURNS hvc.config LANGUAGE plpgsql AS $$
DECLARE c hvc.config;
BEGIN
    SELECT * INTO c FROM hvc.config;
    c.model := 'bgnbd';
    c.time_unit := 'week';
    RETURN c;
END $$;
CREATE TEMP TABLE fuzz_params AS SELECT hvc._fit_models(pg_temp.bgnbd_weeks(), '2025-07-01') AS p;
CREATE TEMP TABLE fuzz_cells AS SELECT array_agg(segment ORDER BY r, f, m) AS seg FROM hvc._segment_cells();
CREATE FUNCTION pg_temp.fuzz_build(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    p hvc._model_params;
    seg text[];
    lo bigint[];
    name text[];
    rnk int[];
    high boolean[];
    k int;
    i int;
BEGIN
    target := '_build_snapshot';
    FOR i IN 1..n LOOP
        p := (SELECT f.p FROM fuzz_params f);
        seg := (SELECT c.seg FROM fuzz_cells c);
        -- each field: a valid value most of the time, anything else sometimes
        p.model := pg_temp.pick(ARRAY['bgnbd', 'bgnbd', 'pareto_nbd', 'none', 'magic', NULL]);
        p.usable := pg_temp.pick(ARRAY[true, true, false, NULL]);
        p.spend_usable := pg_temp.pick(ARRAY[true, true, false, NULL]);
        IF random() < 0.7 THEN
            p.r := 0.5 + random(); p.alpha := 1 + random() * 10; p.a := random() + 0.1; p.b := random() * 3 + 0.1;
            p.s := 0.5 + random(); p.beta := 1 + random() * 10;
            p.p := 1 + random() * 5; p.q := 2 + random() * 5; p.v := 1 + random() * 20;
        ELSE
            p.r := pg_temp.rf(); p.alpha := pg_temp.rf(); p.a := pg_temp.rf(); p.b := pg_temp.rf();
            p.s := pg_temp.rf(); p.beta := pg_temp.rf(); p.p := pg_temp.rf(); p.q := pg_temp.rf(); p.v := pg_temp.rf();
        END IF;
        IF random() < 0.3 THEN
            p.horizon_months := pg_temp.pick(ARRAY[1, 240, 0, -5, 241, 2147483647, NULL]);
            p.monthly_discount_rate := pg_temp.pick(ARRAY[0, 0.5, 1, -1, 'NaN', NULL]::float8[]);
            p.units_per_month := pg_temp.pick(ARRAY[4.345, 30, 7, 0, 'NaN', NULL]::float8[]);
        END IF;
        IF random() < 0.1 THEN seg[pg_temp.ri(1, 125)] := NULL; END IF;
        IF random() < 0.05 THEN seg := seg[1:pg_temp.ri(0, 130)]; END IF;
        k := pg_temp.pick(ARRAY[0, 1, 2, 4, 4, 4, 50]);
        lo := ARRAY(SELECT CASE WHEN j = 1 THEN 1 ELSE j * pg_temp.ri(0, 10) END::bigint FROM generate_series(1, k) j ORDER BY 1);
        name := ARRAY(SELECT 't' || j FROM generate_series(1, k) j);
        rnk := ARRAY(SELECT j FROM generate_series(1, k) j);
        high := ARRAY(SELECT j = 1 FROM generate_series(1, k) j);
        CASE pg_temp.ri(1, 16)
            WHEN 1 THEN lo[pg_temp.ri(1, greatest(k, 1))] := pg_temp.pick(ARRAY[NULL, -1, 0, 9223372036854775807]::bigint[]);
            WHEN 2 THEN name[pg_temp.ri(1, greatest(k, 1))] := pg_temp.pick(ARRAY[NULL, '']);
            WHEN 3 THEN rnk[pg_temp.ri(1, greatest(k, 1))] := pg_temp.pick(ARRAY[NULL, 0, -1, 2147483647]);
            WHEN 4 THEN high := high[1:greatest(k - 1, 0)];
            WHEN 5 THEN high[pg_temp.ri(1, greatest(k, 1))] := NULL;
            ELSE NULL;
        END CASE;
        BEGIN
            CASE pg_temp.ri(1, 12)
                WHEN 1 THEN PERFORM count(*) FROM hvc._build_snapshot(NULL::text, p, '2025-07-01', 'UTC', true, 'revenue',
                                                                      seg, lo, name, rnk, high, now(), 1);
                WHEN 2 THEN PERFORM count(*) FROM hvc._build_snapshot(NULL::bigint, p, '2025-07-01', 'UTC', true, 'margin',
                                                                      seg, lo, name, rnk, high, now(), 1);
                WHEN 3 THEN PERFORM count(*) FROM hvc._build_snapshot(NULL::integer, p,
                        pg_temp.pick(ARRAY['2024-01-02', 'infinity', '294276-12-31', '4713-01-01 BC', NULL]::date[]),
                        pg_temp.pick(ARRAY['UTC', 'Europe/Paris', 'Asia/Kolkata', 'PDT', '', NULL]),
                        pg_temp.pick(ARRAY[true, false, NULL]),
                        pg_temp.pick(ARRAY['predicted_clv', 'historic_clv', 'revenue', 'margin', 'magic', NULL]),
                        seg, lo, name, rnk, high,
                        pg_temp.pick(ARRAY[now(), 'infinity', NULL]::timestamptz[]), pg_temp.pick(ARRAY[1, NULL]));
                ELSE PERFORM count(*) FROM hvc._build_snapshot(NULL::integer, p, '2025-07-01',
                        pg_temp.pick(ARRAY['UTC', 'Europe/Paris', 'Asia/Kolkata', 'America/St_Johns']),
                        pg_temp.pick(ARRAY[true, false]),
                        pg_temp.pick(ARRAY['predicted_clv', 'historic_clv', 'revenue', 'margin']),
                        seg, lo, name, rnk, high, now(), 1);
            END CASE;
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_build(600);

-- hostile stages: mutated states, NULL keys and states, duplicate keys
CREATE FUNCTION pg_temp.fuzz_stage(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    i int;
    cfg hvc.config := pg_temp.bgnbd_weeks();
BEGIN
    FOR i IN 1..n LOOP
        TRUNCATE _hvc_stage;
        INSERT INTO _hvc_stage
        SELECT CASE WHEN random() < 0.05 THEN NULL WHEN random() < 0.05 THEN 1 ELSE customer_id END,
               CASE WHEN random() < 0.01 THEN NULL WHEN random() < 0.015 THEN pg_temp.mutate(s) ELSE s END
          FROM fuzz_states;
        target := '_fit_models (hostile stage)';
        BEGIN
            PERFORM hvc._fit_models(cfg, '2025-07-01');
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
        target := '_build_snapshot (hostile stage)';
        BEGIN
            PERFORM count(*) FROM fuzz_params f, fuzz_cells c,
                    hvc._build_snapshot(NULL::integer, f.p, '2025-07-01', 'UTC', true, 'revenue', c.seg,
                                        '{1,3}', '{a,b}', '{1,2}', '{t,f}', now(), 1);
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_stage(20);

-- the row-wise predictions of the Citus path: mutated states, hostile models
-- and as_of days
CREATE FUNCTION pg_temp.fuzz_citus_predict(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    p hvc._model_params;
    b bytea;
    i int;
BEGIN
    target := '_citus_predict';
    FOR i IN 1..n LOOP
        -- the fitted models, usable (else the state is not even read)
        p := (SELECT f.p FROM fuzz_params f);
        p.usable := true;
        IF random() < 0.3 THEN
            p.model := pg_temp.pick(ARRAY['bgnbd', 'pareto_nbd', 'mbgnbd', 'none', 'magic', NULL]);
            p.usable := pg_temp.pick(ARRAY[true, false, NULL]);
            p.r := pg_temp.rf(); p.alpha := pg_temp.rf(); p.a := pg_temp.rf(); p.b := pg_temp.rf();
            p.s := pg_temp.rf(); p.beta := pg_temp.rf(); p.p := pg_temp.rf(); p.q := pg_temp.rf(); p.v := pg_temp.rf();
            p.horizon_months := pg_temp.pick(ARRAY[1, 12, 240, 0, -5, 241, NULL]);
            p.monthly_discount_rate := pg_temp.pick(ARRAY[0, 0.01, 1, -1, 'NaN', NULL]::float8[]);
            p.units_per_month := pg_temp.pick(ARRAY[4.345, 30, 7, 0, 'NaN', NULL]::float8[]);
        END IF;
        b := (SELECT f.s FROM fuzz_states f ORDER BY random() LIMIT 1);
        IF random() < 0.5 THEN
            b := pg_temp.mutate(b);
        END IF;
        BEGIN
            PERFORM hvc._citus_predict(b, p,
                pg_temp.pick(ARRAY['2025-07-01', '2025-07-01', '2024-01-02', 'infinity', '-infinity',
                                   '294276-12-31', '4713-01-01 BC', NULL]::date[]));
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_citus_predict(1500);

-- the snapshot built on the Citus workers: hvc._citus_score on mutated
-- states and hostile models; hvc._citus_snapshot_row with mutated globals
-- (a segment of hvc.citus_globals, as each worker holds them)
CREATE FUNCTION pg_temp.fuzz_citus_snapshot(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    p hvc._model_params := (SELECT f.p FROM fuzz_params f);
    good bytea;
    b bytea;
    i int;
BEGIN
    target := '_citus_score';
    FOR i IN 1..n LOOP
        b := (SELECT f.s FROM fuzz_states f ORDER BY random() LIMIT 1);
        IF random() < 0.6 THEN
            b := pg_temp.mutate(b);
        END IF;
        BEGIN
            PERFORM hvc._citus_score(b, p, pg_temp.pick(ARRAY['2025-07-01', '2025-07-01', '2024-01-02', 'infinity', NULL]::date[]),
                                     pg_temp.pick(ARRAY['predicted_clv', 'revenue', 'margin', 'historic_clv', 'score', 'x', NULL]),
                                     pg_temp.pick(ARRAY[true, false, NULL]));
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
    -- valid globals of the fuzz states, one segment
    CREATE TABLE hvc.citus_scored AS
    SELECT f.customer_id, x.*, hashint4(f.customer_id) AS shard_hash
      FROM fuzz_states f CROSS JOIN LATERAL hvc._citus_score(f.s, p, '2025-07-01', 'predicted_clv', true) x
     WHERE x.value_cents IS NOT NULL;
    good := (SELECT g.globals[1] FROM hvc._citus_globals(NULL::integer, '2025-07-01', 1, '{-2147483648}') g);
    target := '_citus_snapshot_row (globals)';
    FOR i IN 1..n LOOP
        DELETE FROM hvc.citus_globals;
        INSERT INTO hvc.citus_globals VALUES (1, -2147483648, 2147483647,
            CASE WHEN random() < 0.1 THEN good WHEN random() < 0.5 THEN pg_temp.mutate(good)
                 ELSE pg_temp.mutate(substring(good FROM 1 FOR 300)) END);
        BEGIN
            PERFORM r.value_rank
               FROM (SELECT f.customer_id, f.s, c.value_cents, c.prediction, c.shard_hash
                       FROM fuzz_states f JOIN hvc.citus_scored c USING (customer_id)
                      ORDER BY random() LIMIT 3) f
              CROSS JOIN LATERAL hvc._citus_snapshot_row(NULL::integer, p, '2025-07-01', 'UTC', true, 'predicted_clv',
                    (SELECT seg FROM fuzz_cells), '{1,3,10}', '{top,mid,low}', '{1,2,3}', '{t,f,f}',
                    '2025-07-01 12:00+00', 1, NULL, f.customer_id, f.s, f.value_cents, f.prediction,
                    NULL, NULL, NULL, NULL, f.shard_hash) r;
            state := 'ok';
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
    DELETE FROM hvc.citus_globals;
    DROP TABLE hvc.citus_scored;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_citus_snapshot(600);

-- The functions of trigger mode's row log on two states, both sides
-- mutated or spliced: hvc._state_merge (a stored state and the state of
-- logged rows), hvc._state_retract (mostly a state merged with another and
-- that other taken out again, or two unrelated states) and
-- hvc._state_same_shape.  A merge of two valid states must itself be a
-- valid state, a retraction NULL or a valid state.
CREATE FUNCTION pg_temp.fuzz_state_pair(fn text, n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    pool bytea[] := ARRAY(SELECT s FROM fuzz_states ORDER BY customer_id);
    a bytea;
    b bytea;
    r bytea;
    i int;
BEGIN
    target := fn;
    FOR i IN 1..n LOOP
        a := pool[pg_temp.ri(1, array_length(pool, 1))];
        b := pool[pg_temp.ri(1, array_length(pool, 1))];
        IF fn <> '_state_merge' AND random() < 0.7 THEN
            a := hvc._state_merge(a, b);
        END IF;
        IF random() < 0.5 THEN
            a := pg_temp.mutate(a);
        END IF;
        IF random() < 0.5 THEN
            b := pg_temp.mutate(b);
        END IF;
        BEGIN
            IF fn = '_state_same_shape' THEN
                state := CASE WHEN hvc._state_same_shape(a, b) THEN 'same' ELSE 'ok' END;
            ELSE
                EXECUTE format('SELECT hvc.%I($1, $2)', fn) INTO r USING a, b;
                IF r IS NOT NULL THEN
                    PERFORM hvc.customer_state_summary(r);
                END IF;
                state := CASE WHEN r IS NULL THEN 'null' ELSE 'ok' END;
            END IF;
        EXCEPTION WHEN OTHERS THEN
            state := SQLSTATE;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_state_pair('_state_merge', 1500);
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_state_pair('_state_retract', 1500);
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_state_pair('_state_same_shape', 600);

-- The states' fixed fields alone (hvc._state_rows, hvc._state_skipped: the
-- reader a refresh with model none and the stored-state table use): a state
-- the deserialiser accepts must be accepted (outcome 'peek rejects a valid
-- state' otherwise); the retention readers: hvc._purchase_period_mask with
-- mutated states and random bounds, hvc._cohort_rows with mutated cohort
-- counts (16-byte entries: key = month << 32 | offset, customers).
-- the outcome of one call: 'ok' or the SQLSTATE of its error
CREATE FUNCTION pg_temp.outcome_of(q text, b bytea, bounds date[] DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q USING b, bounds;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
CREATE FUNCTION pg_temp.fuzz_retention(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    pool bytea[] := ARRAY(SELECT s FROM fuzz_states ORDER BY customer_id);
    b bytea;
    whole boolean;
    bounds date[];
    i int;
BEGIN
    FOR i IN 1..n LOOP
        b := pg_temp.mutate(pool[pg_temp.ri(1, array_length(pool, 1))]);
        whole := pg_temp.outcome_of('SELECT hvc.customer_state_summary($1)', b) = 'ok';
        target := '_state_rows';
        state := pg_temp.outcome_of('SELECT hvc._state_rows($1), hvc._state_skipped($1)', b);
        IF whole AND state <> 'ok' THEN
            state := 'peek rejects a valid state';
        END IF;
        RETURN NEXT;
        target := '_purchase_period_mask';
        bounds := ARRAY(SELECT '2024-01-01'::date + pg_temp.ri(-400, 800) FROM generate_series(1, pg_temp.ri(0, 66)));
        IF random() < 0.7 THEN
            bounds := ARRAY(SELECT DISTINCT unnest(bounds) ORDER BY 1);
        END IF;
        IF random() < 0.05 THEN
            bounds := bounds || pg_temp.pick(ARRAY[NULL, 'infinity', '-infinity']::date[]);
        END IF;
        IF random() < 0.5 THEN
            b := pool[pg_temp.ri(1, array_length(pool, 1))];
        END IF;
        state := pg_temp.outcome_of('SELECT hvc._purchase_period_mask($1, $2)', b, bounds);
        RETURN NEXT;
        target := '_cohort_rows';
        b := (SELECT coalesce(string_agg(pg_temp.le(int8send((pg_temp.ri(24000, 24400)::bigint << 32) | pg_temp.ri(0, 40)))
                                         || pg_temp.le(int8send(pg_temp.ri(0, 1000)::bigint)), ''::bytea), ''::bytea)
                FROM generate_series(1, pg_temp.ri(0, 6)));
        IF random() < 0.7 THEN
            b := pg_temp.mutate(b);
        END IF;
        state := pg_temp.outcome_of('SELECT count(*) FROM hvc._cohort_rows($1)', b);
        RETURN NEXT;
        -- the workers' cohort keys of a mutated state, packed with counts
        target := '_cohort_keys';
        b := pg_temp.mutate(pool[pg_temp.ri(1, array_length(pool, 1))]);
        state := pg_temp.outcome_of('SELECT hvc._cohort_counts_from(k, array_fill(1::bigint, ARRAY[cardinality(k)])) FROM hvc._cohort_keys($1) k', b);
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_retention(1000);

-- the scores packed one bytea per shard on the Citus workers: mutated packs
-- through the combine function (in an aggregate, as Citus calls it)
CREATE AGGREGATE public.fuzz_pack_combine(bytea) (SFUNC = hvc._citus_pack_combine, STYPE = bytea);
CREATE FUNCTION pg_temp.fuzz_packs(n int) RETURNS TABLE (target text, state text) LANGUAGE plpgsql AS $$
DECLARE
    good bytea;
    i int;
BEGIN
    good := (SELECT hvc._citus_pack_scored(hvc._citus_key_bytes(f.customer_id), 100 * f.customer_id, 20000, 20100,
                                           3, 2, 5000, CASE WHEN f.customer_id % 3 = 0 THEN 0.5 END, hashint4(f.customer_id))
               FROM fuzz_states f);
    target := '_citus_pack_combine';
    FOR i IN 1..n LOOP
        state := pg_temp.outcome_of('SELECT public.fuzz_pack_combine(x) FROM (VALUES ($1), ($1)) v(x)',
                                    CASE WHEN random() < 0.1 THEN good
                                         WHEN random() < 0.5 THEN pg_temp.mutate(good)
                                         ELSE pg_temp.mutate(substring(good FROM 1 FOR 200)) END);
        RETURN NEXT;
    END LOOP;
END $$;
INSERT INTO fuzz_log SELECT * FROM pg_temp.fuzz_packs(400);
DROP AGGREGATE public.fuzz_pack_combine(bytea);

-- ---------------------------------------------------------------------------
-- Verdict: per target, whether enough calls were made and none was an
-- internal error, and the SQLSTATEs seen (psql -v verbose=1: with counts).
-- ---------------------------------------------------------------------------
SELECT CASE WHEN count(*) FILTER (WHERE state = 'XX000') = 0 AND count(*) >= 20 THEN 'ok' ELSE 'not ok' END
       || ' - ' || target AS result,
       count(*) FILTER (WHERE state = 'XX000') AS internal_errors,
       string_agg(DISTINCT state, ' ') AS outcomes
  FROM fuzz_log GROUP BY target ORDER BY target;
SELECT count(*) >= 8000 AS thousands_of_calls, count(*) FILTER (WHERE state = 'XX000') AS internal_errors
  FROM fuzz_log;
\if :{?verbose}
SELECT current_setting('hvc_fuzz.seed') AS seed, target, state, count(*) AS calls
  FROM fuzz_log GROUP BY 2, 3 ORDER BY 2, 3;
\endif
DROP TABLE _hvc_stage;
