# bench/cluster.sh — sourced by bench/scale.sh and bench/bench.sh (with
# PG_CONFIG set): a throwaway cluster of $PG_CONFIG's PostgreSQL in a
# temporary directory, removed on exit.  cluster_start [postgres.conf lines]
# sets $tmp, $port and the array psql=(psql -X ... connected to it).
bin=$($PG_CONFIG --bindir)
run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cluster_start() {
    tmp=$(mktemp -d /tmp/hvc-bench.XXXXXX)
    chmod 755 "$tmp"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$tmp"; fi
    port=$(( 20000 + RANDOM % 20000 ))
    trap 'run "$bin/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
    run "$bin/initdb" -D "$tmp/data" -A trust -U postgres >/dev/null
    {
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$tmp'"
        echo "max_wal_size = 8GB"
        echo "checkpoint_timeout = 30min"
        for line in "$@"; do echo "$line"; done
    } >> "$tmp/data/postgresql.conf"
    run "$bin/pg_ctl" -D "$tmp/data" -l "$tmp/log" -w start >/dev/null
    psql=("$bin/psql" -X -h "$tmp" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
}
