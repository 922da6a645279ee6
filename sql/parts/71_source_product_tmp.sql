-- ---------------------------------------------------------------------------
-- TEMPORARY until h13-incr merges: the optional product column of the sales
-- source (API §6, register_source(..., product text DEFAULT NULL)); h13 adds
-- it to hvc.source and register_source.  The early_adopter profile
-- (73_profiles.sql) reads hvc.source.product.  Drop this file and
-- sql/upgrade/0.1.0--0.2.0/before/71_source_product_tmp.sql when merging h13.
-- ---------------------------------------------------------------------------
ALTER TABLE hvc.source ADD COLUMN product text;
COMMENT ON COLUMN hvc.source.product IS 'Column holding the product of the line, or NULL (early adopters need it).';
