-- TEMPORARY until h13-incr merges (see sql/parts/71_source_product_tmp.sql).
ALTER TABLE hvc.source ADD COLUMN product text;
