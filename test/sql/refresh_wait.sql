-- A refresh that must wait for another says whom it waits for (NOTICE: the
-- refresh id, or an uncommitted refresh_now / register_source; its DETAIL
-- gives the pid and lock_timeout, hidden here by VERBOSITY terse) and
-- honours lock_timeout (55P03; the procedure logs it as failed, with a
-- hint).  A second session (dblink) holds the lock.
-- a fresh extension (refresh ids from 1; objects of earlier tests that use
-- hvc types go with the old one)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS hvc CASCADE;
CREATE EXTENSION hvc;
RESET client_min_messages;
CREATE EXTENSION IF NOT EXISTS dblink;
SET client_min_messages = warning;
UPDATE hvc.config SET model = 'none';
CREATE TABLE wait_sales (customer_id int, ordered_at date, amount numeric);
INSERT INTO wait_sales VALUES (1, '2025-01-10', 100), (2, '2025-02-10', 50);
SELECT hvc.register_source('public.wait_sales', 'customer_id', 'ordered_at', 'amount') IS NOT NULL AS registered;
CALL hvc.refresh(as_of => '2025-07-01');
SET client_min_messages = notice;
\set VERBOSITY terse
SELECT dblink_connect('holder', format('dbname=%s port=%s host=%s', current_database(),
                      current_setting('port'), split_part(current_setting('unix_socket_directories'), ',', 1)));

-- an uncommitted refresh_now in the other session holds the lock
SELECT dblink_exec('holder', 'BEGIN');
SELECT * FROM dblink('holder', $$SELECT hvc.refresh_now('2025-07-01')$$) AS t(refresh_id bigint);
SET lock_timeout = '300ms';
CALL hvc.refresh(as_of => '2025-07-01');
SELECT hvc.refresh_now(as_of => '2025-07-01');
SELECT hvc.register_source('public.wait_sales', 'customer_id', 'ordered_at', 'amount');
SELECT dblink_exec('holder', 'ROLLBACK');

-- a running procedure refresh (its 'running' row committed) is named by id:
-- the holder session plays one by taking the lock after logging a refresh
SELECT dblink_exec('holder', $$INSERT INTO hvc.refresh_log (started_at, as_of, status, backend_pid)
                               VALUES (now(), now(), 'running', pg_backend_pid())$$);
SELECT dblink_exec('holder', 'BEGIN');
SELECT * FROM dblink('holder', $$SELECT true FROM hvc.refresh_lock FOR UPDATE$$) AS t(locked boolean);
SELECT max(refresh_id) AS held_by FROM hvc.refresh_log WHERE status = 'running';
CALL hvc.refresh(as_of => '2025-07-01');
SELECT status, message FROM hvc.refresh_log ORDER BY refresh_id DESC LIMIT 1;
-- the NOTICE's DETAIL names the holder's pid
SELECT set_config('hvc_test.holder_pid', pid::text, false) IS NOT NULL AS noted
  FROM dblink('holder', 'SELECT pg_backend_pid()') AS t(pid integer);
SELECT h.holder, h.pid = current_setting('hvc_test.holder_pid')::integer AS names_the_holder_pid
  FROM hvc._refresh_lock_holder() h;
SELECT dblink_exec('holder', 'ROLLBACK');
SELECT dblink_exec('holder', 'DELETE FROM hvc.refresh_log WHERE backend_pid = pg_backend_pid()');
SELECT dblink_disconnect('holder');
RESET lock_timeout;

-- free again: refreshes run
CALL hvc.refresh(as_of => '2025-07-01');
SELECT status, count(*) FROM hvc.refresh_log GROUP BY 1 ORDER BY 1;

\set VERBOSITY default
SET client_min_messages = warning;
DROP EXTENSION hvc CASCADE;
CREATE EXTENSION hvc;
DROP EXTENSION dblink;
DROP TABLE wait_sales;
