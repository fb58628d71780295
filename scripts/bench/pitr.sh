#!/usr/bin/env bash
# Benchmark (not a test): drctl against pgBackRest on one throwaway cluster that archives its
# WAL to both (archive_command runs pgbackrest archive-push, then drctl wal-push).
# Scenario: pgbench -i -s $SCALE (default 50), a base backup by each tool, SECONDS_OF_TRAFFIC
# (default 15) of pgbench -c 4 traffic, then a point-in-time recovery to a time in the middle
# of that traffic (not the end of the archive), timed until the server is promoted.
#   base backup time        pgbackrest backup --type=full   vs  drctl backup --type base
#   PITR until promoted     pgbackrest restore --type=time + pg_ctl start
#                           vs  drctl restore --pitr <time> --start
#   repository bytes        pgBackRest repo (backup + archive)  vs  drctl repo (base + wal)
# Targets: base backup <= 1.0x pgBackRest, PITR <= 0.90x, repository bytes <= 1.2x.
# pgBackRest runs with settings comparable to drctl's defaults: compress-type=zst,
# compress-level=3 (drctl: zstd level 3 for WAL and for its base backup, pg_basebackup's tar
# split into parts), process-max=2 (backup and restore use both cores; archive-push stays
# synchronous).
set -euo pipefail
source "$(dirname "$0")/../lib/bench.sh"
# drctl compresses base backup parts with the zstd binary and extracts them with bsdtar (GNU tar
# and zstd without bsdtar, in-process without zstd).
command -v zstd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd >/dev/null; }
SCALE=${SCALE:-50}
TRAFFIC=${SECONDS_OF_TRAFFIC:-15}

bench_work drctl-pitr-bench drctl-repo r1 r2
bench_cleanup_extra() {
  for d in "$work/pg" "$work/r1" "$work/r2"; do [ -f "$d/data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$d/data" -m immediate stop >/dev/null 2>&1; done
  return 0
}
pgbr_conf start-fast=y process-max=2
pgbr() { as_pg pgbackrest --config="$work/pgbackrest.conf" --stanza=bench "$@"; }
repo="file://$work/drctl-repo"
pg_cluster_start "$work/pg" "$port" "$pw" "archive_mode = on" "shared_buffers = 256MB" "max_wal_size = 1GB" \
  "archive_command = 'pgbackrest --config=$work/pgbackrest.conf --stanza=bench archive-push %p && DRCTL_REPO=$repo $(command -v node) $PWD/dist/cli.js wal-push %p'"
pgbr stanza-create >/dev/null
"$PG_BIN/psql" -X -q -d "$(url postgres)" -c 'create database bench'
echo "==> pgbench -i -s $SCALE" >&2
"$PG_BIN/pgbench" -i -q -s "$SCALE" "$(url bench)" >/dev/null 2>&1

# Until the archiver has caught up (both tools hold every segment), not a fixed sleep.
wait_archived() {
  for _ in $(seq 2400); do
    [ -z "$(find "$work/pg/data/pg_wal/archive_status" -name '*.ready' -print -quit)" ] && return 0
    sleep 0.25
  done
  echo "archiving did not catch up in 10 minutes" >&2; exit 1
}
# The load's WAL is archived first: neither base backup should wait behind that backlog.
echo "==> waiting for the archiver to catch up with the load" >&2
wait_archived
load_before=$(load_avg)
echo "==> base backups" >&2
pgbr_backup=$(secs pgbr backup --type=full)
drctl_backup=$(secs drctl backup --type base --source "$(url bench)" --repo "$repo")
echo "==> $TRAFFIC s of pgbench traffic, archived by both; recovery target in the middle" >&2
"$PG_BIN/pgbench" -c 4 -T "$TRAFFIC" "$(url bench)" >/dev/null 2>&1 & bench=$!
sleep $(( TRAFFIC / 2 ))
target=$("$PG_BIN/psql" -X -A -t -d "$(url bench)" -c "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')")
wait "$bench"
"$PG_BIN/psql" -X -q -d "$(url bench)" -c 'select pg_switch_wal()' >/dev/null
wait_archived
wal_segments=$(find "$work/drctl-repo/wal" -name '0000000*' | wc -l)
pgbr_bytes=$(du -sb "$work/pgbr" | cut -f1)
drctl_bytes=$(du -sb "$work/drctl-repo" | cut -f1)
drctl_wal_bytes=$(du -sb "$work/drctl-repo/wal" | cut -f1)
pgbr_wal_bytes=$(du -sb "$work/pgbr/archive" | cut -f1)

wait_promoted() { # port
  for _ in $(seq 3000); do
    [ "$("$PG_BIN/psql" -X -A -t -h 127.0.0.1 -p "$1" -d "$(url bench | sed "s/:$port\//:$1\//")" -c 'select pg_is_in_recovery()' 2>/dev/null)" = "f" ] && return 0
    sleep 0.1
  done
  return 1
}
p1=$(free_port); p2=$(free_port)
pgbr_restore() { # set -e does not apply inside secs' `||`: each step fails the function itself
  pgbr restore --pg1-path="$work/r1/data" --type=time --target="$target+00" --target-action=promote >/dev/null || return 1
  printf 'port = %s\narchive_mode = off\n' "$p1" | as_pg tee -a "$work/r1/data/postgresql.auto.conf" >/dev/null || return 1
  as_pg "$PG_BIN/pg_ctl" -D "$work/r1/data" -l "$work/r1/log" -o "-c unix_socket_directories=$work/r1" start >/dev/null || return 1
  wait_promoted "$p1"
}
# Each restore starts on a quiet disk: nothing of the previous run still being written back
# (the server the first restore started is stopped once its rows are counted, then sync).
# PITR_ORDER=drctl-first runs drctl's restore first, to see that the order does not decide.
q='select count(*) from pgbench_history'
rows_at() { "$PG_BIN/psql" -X -A -t -d "$(url bench | sed "s/:$port\//:$1\//")" -c "$q"; }
# PITR_LOG=<file> keeps drctl restore's JSON log (each step with its time), to see where the time goes.
level=error; [ -n "${PITR_LOG:-}" ] && level=info
run_pgbr() {
  pgbr_pitr=$(secs pgbr_restore)
  rows1=$(rows_at "$p1")
}
run_drctl() {
  drctl_pitr=$(secs node dist/cli.js --log-format json --log-level "$level" --yes restore --repo "$repo" --target-dir "$work/r2/data" --pitr "${target/ /T}+00:00" --start --port "$p2" --no-archive)
  [ -n "${RECOVERY_LOG_COPY:-}" ] && cp "$work/r2/data/drctl-recovery.log" "$RECOVERY_LOG_COPY"; [ -n "${RECOVERY_LOG_COPY:-}" ] && cp "$work/r1/log" "$RECOVERY_LOG_COPY.pgbr"
  [ -n "${PITR_LOG:-}" ] && cp "$work/last.err" "$PITR_LOG"
  wait_promoted "$p2"
  rows2=$(rows_at "$p2")
}
echo "==> PITR restores to $target UTC (${PITR_ORDER:-pgbackrest-first})" >&2
sync
if [ "${PITR_ORDER:-}" = "drctl-first" ]; then
  run_drctl; as_pg "$PG_BIN/pg_ctl" -D "$work/r2/data" -m fast -w stop >/dev/null; sync; run_pgbr
else
  run_pgbr; as_pg "$PG_BIN/pg_ctl" -D "$work/r1/data" -m fast -w stop >/dev/null; sync; run_drctl
fi
# Both servers must have stopped at the same point: the same row count in pgbench_history.
load_after=$(load_avg)
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "met" : "MISSED" }'; }
r_backup=$(ratio "$drctl_backup" "$pgbr_backup"); r_pitr=$(ratio "$drctl_pitr" "$pgbr_pitr"); r_bytes=$(ratio "$drctl_bytes" "$pgbr_bytes")

cat <<OUT

drctl vs pgBackRest $(pgbackrest version | awk '{print $2}') — pgbench scale $SCALE + ${TRAFFIC}s traffic ($wal_segments WAL files), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')
pgBackRest settings: compress-type=zst compress-level=3 process-max=2, archive-push synchronous
load average (1, 5, 15 min): before $load_before, after $load_after
  base backup        pgBackRest ${pgbr_backup}s   drctl ${drctl_backup}s   ratio ${r_backup}x   (target <= 1.0x: $(verdict "$r_backup" 1.0))
  PITR to $target UTC, until promoted (${PITR_ORDER:-pgbackrest-first})
                     pgBackRest ${pgbr_pitr}s   drctl ${drctl_pitr}s   ratio ${r_pitr}x   (target <= 0.90x: $(verdict "$r_pitr" 0.90))
                     pgbench_history rows at the target: pgBackRest $rows1, drctl $rows2
  repository bytes   pgBackRest $(mb "$pgbr_bytes") (WAL $(mb "$pgbr_wal_bytes"))   drctl $(mb "$drctl_bytes") (WAL $(mb "$drctl_wal_bytes"))   ratio ${r_bytes}x   (target <= 1.2x: $(verdict "$r_bytes" 1.2))
OUT
