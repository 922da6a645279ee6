CREATE FUNCTION hvc._refresh_fit_models(id bigint, cfg hvc.config, unit float8) RETURNS hvc._model_params
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE m hvc._model_params;
BEGIN
    m.usable := false; m.model := cfg.model; m.message := 'model none: predictions not computed';
    RETURN m;
END $$;
CREATE FUNCTION hvc._predict(m hvc._model_params, frequency integer, recency float8, age float8, monetary float8)
RETURNS hvc._prediction LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT NULL::hvc._prediction $$;
CREATE FUNCTION hvc._after_refresh(id bigint) RETURNS void LANGUAGE sql AS $$ SELECT $$;
