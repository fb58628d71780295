#!/usr/bin/env bash
# Benchmark (not a test): does WAL archiving keep up, and what does wal-push's look-ahead buy?
# One throwaway cluster, pgbench -i -s $SCALE (default 50) loaded with archive_command = 'true'
# (the load's WAL is not what is measured), then DURATION seconds (default 60) of traffic per run:
#   drctl            archive_command = drctl wal-push %p (file:// repository, look-ahead on)
#   drctl-no-ahead   the same with DRCTL_WAL_AHEAD=0 (one segment per call, as before)
#   pgbackrest       pgbackrest archive-push %p (synchronous; compress-type=zst level 3)
#   with --encrypted also drctl-enc and drctl-enc-no-ahead (encrypted repository: scrypt per unlock)
# Before each run the backlog is cleared and a checkpoint taken, so all start from an empty
# archive_status on the same data. At the end of each run it counts pg_wal/archive_status/*.ready
# (target: drctl's count <= pgBackRest's), with the WAL the run generated and the traffic's tps.
# Options: --clients N (default 4), --duration S, --encrypted, --heavy (traffic that writes WAL
# fast: each transaction inserts 5000 rows of 200 bytes, instead of pgbench's TPC-B).
# Then the per-segment cost: the median of PUSHES (default 7) timed pushes of one real 16 MB
# segment into a fresh repository (a first push each), plain and encrypted, beside `node -e 0`;
# and a backlog of 9 real segments archived the way PostgreSQL does (one wal-push per segment,
# oldest first, each marked done after it) with the look-ahead and without, plain and encrypted.
set -euo pipefail
CLIENTS=4; ENCRYPTED=0; HEAVY=0
DURATION=${DURATION:-60}
while [ $# -gt 0 ]; do
  case $1 in
    --clients) CLIENTS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --encrypted) ENCRYPTED=1; shift ;;
    --heavy) HEAVY=1; shift ;;
    *) echo "usage: $0 [--clients N] [--duration S] [--encrypted] [--heavy]" >&2; exit 2 ;;
  esac
done
source "$(dirname "$0")/../lib/bench.sh"
SCALE=${SCALE:-50}
PUSHES=${PUSHES:-7}
KEY=bench-passphrase-not-a-secret

bench_work drctl-archive-bench repo-plain repo-plain0 repo-enc repo-enc0 seg
pgbr_conf
pg_cluster_start "$work/pg" "$port" "$pw" "archive_mode = on" "archive_command = 'true'" \
  "shared_buffers = 256MB" "max_wal_size = 1GB"
as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
"$PG_BIN/psql" -X -q -d "$(url postgres)" -c 'create database bench'
echo "==> pgbench -i -s $SCALE (not archived)" >&2
"$PG_BIN/pgbench" -i -q -s "$SCALE" "$(url bench)" >/dev/null 2>&1
if [ "$HEAVY" = 1 ]; then
  sql 'create table wal_heavy (id bigint, pad text)' >/dev/null
  echo "insert into wal_heavy select g, repeat('x', 200) from generate_series(1, 5000) g;" > "$work/heavy.sql"
  chmod 644 "$work/heavy.sql"
fi
DRCTL_ENCRYPTION_KEY=$KEY drctl repo init --encrypt --repo "file://$work/repo-enc" >/dev/null
DRCTL_ENCRYPTION_KEY=$KEY drctl repo init --encrypt --repo "file://$work/repo-enc0" >/dev/null
chown -R postgres: "$work/repo-enc" "$work/repo-enc0" 2>/dev/null || true

ready() { find "$work/pg/data/pg_wal/archive_status" -name '*.ready' | wc -l; }
set_archive_command() { sql "alter system set archive_command = '$1'" >/dev/null; sql 'select pg_reload_conf()' >/dev/null; }
clear_backlog() {
  set_archive_command true
  for _ in $(seq 600); do [ "$(ready)" -eq 0 ] && break; sleep 0.2; done
  sql checkpoint >/dev/null
}
# run NAME ARCHIVE_COMMAND: sets ready_NAME, wal_NAME (segments generated), tps_NAME
runs=()
run() {
  local name=$1 cmd=$2 lsn0 lsn1 out key
  key=${name//-/_}
  clear_backlog
  set_archive_command "$cmd"
  echo "==> $DURATION s of pgbench -c $CLIENTS$([ "$HEAVY" = 1 ] && echo ' (heavy)'), archive_command: $name" >&2
  lsn0=$(sql 'select pg_current_wal_lsn()')
  if [ "$HEAVY" = 1 ]; then out=$("$PG_BIN/pgbench" -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$work/heavy.sql" "$(url bench)" 2>/dev/null)
  else out=$("$PG_BIN/pgbench" -c "$CLIENTS" -j 2 -T "$DURATION" "$(url bench)" 2>/dev/null); fi
  printf -v "ready_$key" '%s' "$(ready)"
  lsn1=$(sql 'select pg_current_wal_lsn()')
  printf -v "wal_$key" '%s' "$(sql "select round(pg_wal_lsn_diff('$lsn1', '$lsn0') / 16777216.0)")"
  printf -v "tps_$key" '%s' "$(echo "$out" | awk '/^tps/ { printf "%.0f", $3 }')"
  runs+=("$name")
}
node_bin=$(command -v node)
push_cmd() { echo "DRCTL_REPO=file://$work/$1 $2 $node_bin $PWD/dist/cli.js wal-push %p"; }

load_before=$(load_avg)
run drctl "$(push_cmd repo-plain '')"
run drctl-no-ahead "$(push_cmd repo-plain0 DRCTL_WAL_AHEAD=0)"
if [ "$ENCRYPTED" = 1 ]; then
  run drctl-enc "$(push_cmd repo-enc "DRCTL_ENCRYPTION_KEY=$KEY")"
  run drctl-enc-no-ahead "$(push_cmd repo-enc0 "DRCTL_ENCRYPTION_KEY=$KEY DRCTL_WAL_AHEAD=0")"
fi
run pgbackrest "pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p"
clear_backlog
# Real segments for the timings below: whatever full segment files pg_wal holds (recycled ones
# hold real WAL too), renamed into one timeline's order.
i=0
for f in $(ls "$work/pg/data/pg_wal" | grep -E '^[0-9A-F]{24}$' | head -9); do
  i=$((i + 1)); cp "$work/pg/data/pg_wal/$f" "$work/seg/$(printf '0000000100000000000000%02X' "$i")"
done
pg_cluster_stop "$work/pg"
segs=($(ls "$work/seg"))
seg=${segs[0]}

echo "==> $PUSHES timed wal-push of one segment, plain and encrypted" >&2
for i in $(seq "$PUSHES"); do
  ms node -e 0 >> "$work/t-node"
  drctl repo init --repo "file://$work/plain-$i" >/dev/null
  DRCTL_WAL_AHEAD=0 DRCTL_REPO="file://$work/plain-$i" ms node dist/cli.js wal-push "$work/seg/$seg" >> "$work/t-plain"
  DRCTL_ENCRYPTION_KEY=$KEY drctl repo init --encrypt --repo "file://$work/enc-$i" >/dev/null
  DRCTL_WAL_AHEAD=0 DRCTL_ENCRYPTION_KEY=$KEY DRCTL_REPO="file://$work/enc-$i" ms node dist/cli.js wal-push "$work/seg/$seg" >> "$work/t-enc"
done
plain_bytes=$(du -sb "$work/plain-1/wal" | cut -f1)

# backlog NAME AHEAD [KEY]: ms to archive the 9 segments as PostgreSQL would, one call each
backlog() {
  local dir="$work/backlog-$1/pg_wal" repo="file://$work/backlog-$1/repo" s t0 t1
  mkdir -p "$dir/archive_status"
  for s in "${segs[@]}"; do cp "$work/seg/$s" "$dir/$s"; touch "$dir/archive_status/$s.ready"; done
  t0=$(date +%s%N)
  for s in "${segs[@]}"; do
    DRCTL_WAL_AHEAD=$2 DRCTL_ENCRYPTION_KEY=${3:-} DRCTL_REPO=$repo node dist/cli.js wal-push "$dir/$s" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }
    mv "$dir/archive_status/$s.ready" "$dir/archive_status/$s.done"
  done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
echo "==> a backlog of ${#segs[@]} segments, with and without look-ahead, plain and encrypted" >&2
b_plain=$(backlog plain 8); b_plain0=$(backlog plain0 0)
b_enc=$(backlog enc 8 "$KEY"); b_enc0=$(backlog enc0 0 "$KEY")
load_after=$(load_avg)
verdict() { [ "$1" -le "$2" ] && echo met || echo MISSED; }

cat <<OUT

WAL archiving — pgbench scale $SCALE, ${DURATION}s of pgbench -c $CLIENTS$([ "$HEAVY" = 1 ] && echo ' (heavy: 5000-row inserts)') per run, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')
pgBackRest $(pgbackrest version | awk '{print $2}'): archive-push synchronous, compress-type=zst compress-level=3
load average (1, 5, 15 min): before $load_before, after $load_after
  .ready left at the end of each run (target: drctl <= pgBackRest: $(verdict "$ready_drctl" "$ready_pgbackrest"))
OUT
for name in "${runs[@]}"; do
  key=${name//-/_}; r=ready_$key; w=wal_$key; t=tps_$key
  printf '    %-20s %4s .ready   %4s segments generated at %s tps\n' "$name" "${!r}" "${!w}" "${!t}"
done
cat <<OUT
  wal-push of one 16 MB segment (median of $PUSHES, fresh repository each, $(mb "$plain_bytes") stored)
                      plain $(median < "$work/t-plain") ms   encrypted $(median < "$work/t-enc") ms   bare node -e 0 $(median < "$work/t-node") ms
  a backlog of ${#segs[@]} segments, one wal-push each as PostgreSQL runs them
                      plain: look-ahead $b_plain ms, without $b_plain0 ms ($(ratio "$b_plain" "$b_plain0")x)
                      encrypted: look-ahead $b_enc ms, without $b_enc0 ms ($(ratio "$b_enc" "$b_enc0")x)
OUT
