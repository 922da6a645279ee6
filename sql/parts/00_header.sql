-- hvc 0.2.0 — high-value customers inside PostgreSQL.
-- Assembled from sql/parts/*.sql by the Makefile; edit the parts, not the result.

\echo Use "CREATE EXTENSION hvc" to load this file. \quit

