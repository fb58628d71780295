# Sourced: start/stop a throwaway PostgreSQL cluster in a temp dir on a free loopback port.
# As root the server runs as the postgres user (PostgreSQL refuses to run as root).
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# pg_cluster_start DIR PORT PASSWORD [extra postgresql.conf lines...]
pg_cluster_start() {
  local dir=$1 port=$2 pw=$3; shift 3
  mkdir -p "$dir"; chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  printf '%s\n' "$pw" > "$dir/pwfile"; [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pwfile"
  as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$dir/pwfile" -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  {
    echo "port = $port"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$dir'"
    for line in "$@"; do echo "$line"; done
  } >> "$dir/data/postgresql.conf"
  as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
}

pg_cluster_stop() {
  local dir=$1
  [ -d "$dir/data" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}
