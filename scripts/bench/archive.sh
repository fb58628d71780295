#!/usr/bin/env bash
# Benchmark (not a test): does WAL archiving keep up? One throwaway cluster, pgbench -i -s $SCALE
# (default 50) loaded with archive_command = 'true' (the load's WAL is not what is measured), then
# twice DURATION seconds (default 60) of pgbench -c 4:
#   1. archive_command = drctl wal-push %p           (file:// repository, not encrypted)
#   2. archive_command = pgbackrest archive-push %p  (synchronous; compress-type=zst level 3)
# Between the two, the backlog is cleared and a checkpoint taken, so both start from an empty
# archive_status on the same data. At the end of each run it counts pg_wal/archive_status/*.ready
# (target: drctl's count <= pgBackRest's), with the WAL each run generated and pgbench's tps
# (archiving competes with pgbench for the same 2 cores).
# Then the per-segment cost of wal-push: the median of PUSHES (default 7) timed pushes of one real
# 16 MB segment, each into a fresh repository (so each is a first push, not an "already archived"
# answer), plain and encrypted (an encrypted wal-push unlocks the repository with scrypt on every
# call), beside bare `node -e 0`.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
source scripts/lib/pg-cluster.sh
command -v pgbackrest >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbackrest >/dev/null; }
SCALE=${SCALE:-50}
DURATION=${DURATION:-60}
PUSHES=${PUSHES:-7}

work=$(mktemp -d /tmp/drctl-archive-bench-XXXXXX); chmod 755 "$work"
mkdir -p "$work/pgbr" "$work/pgbr-lock" "$work/pgbr-spool" "$work/drctl-repo" "$work/seg"
chown postgres: "$work/pgbr" "$work/pgbr-lock" "$work/pgbr-spool" "$work/drctl-repo" 2>/dev/null || true
port=$(free_port); pw=bench
cleanup() { pg_cluster_stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
cat > "$work/pgbackrest.conf" <<CONF
[global]
repo1-path=$work/pgbr
log-level-console=warn
log-level-file=off
lock-path=$work/pgbr-lock
spool-path=$work/pgbr-spool
compress-type=zst
compress-level=3
[bench]
pg1-path=$work/pg/data
pg1-port=$port
pg1-socket-path=$work/pg
pg1-user=postgres
CONF
chmod 644 "$work/pgbackrest.conf"
repo="file://$work/drctl-repo"
pg_cluster_start "$work/pg" "$port" "$pw" "archive_mode = on" "archive_command = 'true'" \
  "shared_buffers = 256MB" "max_wal_size = 1GB"
url() { echo "postgres://postgres:$pw@127.0.0.1:$port/$1"; }
export PGPASSWORD=$pw
sql() { "$PG_BIN/psql" -X -A -t -q -d "$(url bench)" -c "$1"; }
as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
"$PG_BIN/psql" -X -q -d "$(url postgres)" -c 'create database bench'
echo "==> pgbench -i -s $SCALE (not archived)" >&2
"$PG_BIN/pgbench" -i -q -s "$SCALE" "$(url bench)" >/dev/null 2>&1

ready() { find "$work/pg/data/pg_wal/archive_status" -name '*.ready' | wc -l; }
set_archive_command() { sql "alter system set archive_command = '$1'" >/dev/null; sql 'select pg_reload_conf()' >/dev/null; }
clear_backlog() {
  set_archive_command true
  for _ in $(seq 600); do [ "$(ready)" -eq 0 ] && break; sleep 0.2; done
  sql checkpoint >/dev/null
}
# run NAME ARCHIVE_COMMAND: sets ready_NAME, wal_NAME (segments generated), tps_NAME
run() {
  local name=$1 cmd=$2 lsn0 lsn1 out
  clear_backlog
  set_archive_command "$cmd"
  echo "==> $DURATION s of pgbench -c 4, archive_command: $name" >&2
  lsn0=$(sql 'select pg_current_wal_lsn()')
  out=$("$PG_BIN/pgbench" -c 4 -T "$DURATION" "$(url bench)" 2>/dev/null)
  printf -v "ready_$name" '%s' "$(ready)"
  lsn1=$(sql 'select pg_current_wal_lsn()')
  printf -v "wal_$name" '%s' "$(sql "select round(pg_wal_lsn_diff('$lsn1', '$lsn0') / 16777216.0)")"
  printf -v "tps_$name" '%s' "$(echo "$out" | awk '/^tps/ { printf "%.0f", $3 }')"
}

load_before=$(uptime | sed 's/.*load average: //')
run drctl "DRCTL_REPO=$repo $(command -v node) $PWD/dist/cli.js wal-push %p"
# Keep one real segment that drctl archived, for the per-push timing below.
seg=$(sql 'select last_archived_wal from pg_stat_archiver')
if ! cp "$work/pg/data/pg_wal/$seg" "$work/seg/$seg" 2>/dev/null; then # recycled meanwhile
  seg=$(cd "$work/pg/data/pg_wal/archive_status" && ls -- *.done | sed 's/\.done$//' | while read -r f; do [ -f "../$f" ] && echo "$f"; done | tail -1)
  cp "$work/pg/data/pg_wal/$seg" "$work/seg/$seg"
fi
run pgbackrest "pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p"
clear_backlog
pg_cluster_stop "$work/pg"

median() { sort -n | awk '{ a[NR] = $1 } END { printf "%.0f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
drctl() { node dist/cli.js --log-format json --log-level error "$@"; }
echo "==> $PUSHES timed wal-push of $seg, plain and encrypted" >&2
key=bench-passphrase-not-a-secret
for i in $(seq "$PUSHES"); do
  ms node -e 0 >> "$work/t-node"
  drctl repo init --repo "file://$work/plain-$i" >/dev/null
  DRCTL_REPO="file://$work/plain-$i" ms node dist/cli.js wal-push "$work/seg/$seg" >> "$work/t-plain"
  DRCTL_ENCRYPTION_KEY=$key drctl repo init --encrypt --repo "file://$work/enc-$i" >/dev/null
  DRCTL_ENCRYPTION_KEY=$key DRCTL_REPO="file://$work/enc-$i" ms node dist/cli.js wal-push "$work/seg/$seg" >> "$work/t-enc"
done
plain_bytes=$(du -sb "$work/plain-1/wal" | cut -f1)
load_after=$(uptime | sed 's/.*load average: //')
verdict() { [ "$1" -le "$2" ] && echo met || echo MISSED; }

cat <<OUT

WAL archiving — pgbench scale $SCALE, ${DURATION}s of pgbench -c 4 each, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')
pgBackRest $(pgbackrest version | awk '{print $2}'): archive-push synchronous, compress-type=zst compress-level=3
load average (1, 5, 15 min): before $load_before, after $load_after
  .ready at the end   drctl wal-push ${ready_drctl}   pgBackRest archive-push ${ready_pgbackrest}   (target: drctl <= pgBackRest: $(verdict "$ready_drctl" "$ready_pgbackrest"))
  WAL generated       drctl run ${wal_drctl} segments at ${tps_drctl} tps   pgBackRest run ${wal_pgbackrest} segments at ${tps_pgbackrest} tps
  wal-push of one 16 MB segment (median of $PUSHES, fresh repository each, $(awk -v b="$plain_bytes" 'BEGIN { printf "%.1f MB", b / 1048576 }') stored)
                      plain $(median < "$work/t-plain") ms   encrypted $(median < "$work/t-enc") ms   bare node -e 0 $(median < "$work/t-node") ms
OUT
