#!/usr/bin/env bash
# Benchmark (not a test): drctl against pgBackRest on one throwaway cluster that archives its
# WAL to both (archive_command runs pgbackrest archive-push, then drctl wal-push).
#   base backup time            pgbackrest backup --type=full   vs  drctl backup --type base
#   PITR restore to the end     pgbackrest restore + pg_ctl start until promoted
#                               vs  drctl restore --pitr latest --start (until promoted)
# Data: pgbench -i -s 50 plus SECONDS_OF_TRAFFIC (default 60) of pgbench traffic.
# Targets: PITR restore <= 1.0x pgBackRest, base backup <= 1.2x. Both tools with defaults
# except compression: gzip level 1 for both, so the comparison is of the tools, not of zlib.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
source scripts/lib/pg-cluster.sh
command -v pgbackrest >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbackrest >/dev/null; }
SCALE=${SCALE:-50}
TRAFFIC=${SECONDS_OF_TRAFFIC:-60}

work=$(mktemp -d /tmp/drctl-pitr-bench-XXXXXX); chmod 755 "$work"
mkdir -p "$work/pgbr" "$work/pgbr-lock" "$work/pgbr-spool" "$work/drctl-repo" "$work/r1" "$work/r2"
chown postgres: "$work/pgbr" "$work/pgbr-lock" "$work/pgbr-spool" "$work/drctl-repo" "$work/r1" "$work/r2" 2>/dev/null || true
port=$(free_port); pw=bench
cleanup() {
  for d in "$work/pg" "$work/r1" "$work/r2"; do [ -f "$d/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$d/data" -m immediate stop >/dev/null 2>&1; done
  pg_cluster_stop "$work/pg"; rm -rf "$work"
}
trap cleanup EXIT
cat > "$work/pgbackrest.conf" <<CONF
[global]
repo1-path=$work/pgbr
log-level-console=warn
log-level-file=off
lock-path=$work/pgbr-lock
spool-path=$work/pgbr-spool
start-fast=y
compress-type=gz
compress-level=1
[bench]
pg1-path=$work/pg/data
pg1-port=$port
pg1-socket-path=$work/pg
pg1-user=postgres
CONF
chmod 644 "$work/pgbackrest.conf"
pgbr() { as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench "$@"; }
repo="file://$work/drctl-repo"
pg_cluster_start "$work/pg" "$port" "$pw" "archive_mode = on" "shared_buffers = 256MB" "max_wal_size = 1GB" \
  "archive_command = 'pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p && DRCTL_REPO=$repo $(command -v node) $PWD/dist/cli.js wal-push %p'"
url() { echo "postgres://postgres:$pw@127.0.0.1:$port/$1"; }
export PGPASSWORD=$pw
pgbr stanza-create >/dev/null
"$PG_BIN/psql" -X -q -d "$(url postgres)" -c 'create database bench'
echo "==> pgbench -i -s $SCALE" >&2
"$PG_BIN/pgbench" -i -q -s "$SCALE" "$(url bench)" >/dev/null 2>&1

secs() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }; e=$(date +%s%N); awk -v a="$s" -v b="$e" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
drctl() { node dist/cli.js --log-format json --log-level error "$@"; }

echo "==> base backups" >&2
pgbr_backup=$(secs pgbr backup --type=full)
drctl_backup=$(secs drctl backup --type base --source "$(url bench)" --repo "$repo")
echo "==> $TRAFFIC s of pgbench traffic, archived by both" >&2
"$PG_BIN/pgbench" -c 4 -T "$TRAFFIC" "$(url bench)" >/dev/null 2>&1
"$PG_BIN/psql" -X -q -d "$(url bench)" -c 'select pg_switch_wal()' >/dev/null
sleep 5
wal_segments=$(find "$work/drctl-repo/wal" -name '0000000*' | wc -l)

wait_promoted() { # port
  for _ in $(seq 3000); do
    [ "$("$PG_BIN/psql" -X -A -t -h 127.0.0.1 -p "$1" -d "$(url bench | sed "s/:$port\//:$1\//")" -c 'select pg_is_in_recovery()' 2>/dev/null)" = "f" ] && return 0
    sleep 0.1
  done
  return 1
}
p1=$(free_port); p2=$(free_port)
pgbr_restore() {
  pgbr restore --pg1-path="$work/r1/data" --type=default >/dev/null
  echo "port = $p1" | as_pg tee -a "$work/r1/data/postgresql.auto.conf" >/dev/null
  echo "archive_mode = off" | as_pg tee -a "$work/r1/data/postgresql.auto.conf" >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$work/r1/data" -l "$work/r1/log" -o "-c unix_socket_directories=$work/r1" start >/dev/null
  wait_promoted "$p1"
}
echo "==> PITR restores to the end of the archive" >&2
pgbr_pitr=$(secs pgbr_restore)
drctl_pitr=$(secs drctl --yes restore --repo "$repo" --target-dir "$work/r2/data" --pitr latest --start --port "$p2" --no-archive)
wait_promoted "$p2"

cat <<OUT

drctl vs pgBackRest $(pgbackrest version | awk '{print $2}') — pgbench scale $SCALE + ${TRAFFIC}s traffic ($wal_segments WAL files), $(nproc) cores ($(date -u +%Y-%m-%d))
  base backup      pgBackRest ${pgbr_backup}s   drctl ${drctl_backup}s   ratio $(ratio "$drctl_backup" "$pgbr_backup")x   (target <= 1.2x)
  PITR to the end  pgBackRest ${pgbr_pitr}s   drctl ${drctl_pitr}s   ratio $(ratio "$drctl_pitr" "$pgbr_pitr")x   (target <= 1.0x)
  (restore times run until the server accepts connections out of recovery)
OUT
