#!/usr/bin/env bash
# Benchmark (not a test): drctl backup/restore against raw pg_dump/pg_restore on the same
# throwaway cluster, from the same run. pgbench -i -s 50 (or -s 200 with --large).
#   raw pg_dump -Fc -f        vs drctl backup to a file:// repo, and to a local S3 (moto)
#   raw pg_restore -d         vs drctl restore
# and drctl's peak RSS (GNU time). Prints wall-time ratios and the bytes ratio (what the backup
# occupies in the file:// repository vs the raw pg_dump -Fc file) against the targets:
# backup <= 0.90x time and <= 0.5x bytes, S3 backup <= 1.0x, restore <= 1.00x, peak RSS <= 150 MB.
# RUNS=3 runs the backups and the restores three times each and reports medians.
# The machine's load (uptime) is printed with the figures: on a shared machine it moves them.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
source scripts/lib/pg-cluster.sh
SCALE=50
[ "${1:-}" = "--large" ] && SCALE=200
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

work=$(mktemp -d /tmp/drctl-bench-XXXXXX); chmod 755 "$work"
port=$(free_port); s3port=$(free_port); pw=bench
cleanup() { pg_cluster_stop "$work/pg"; [ -n "${moto:-}" ] && kill "$moto" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
pg_cluster_start "$work/pg" "$port" "$pw" "shared_buffers = 256MB" "max_wal_size = 2GB"
url() { echo "postgres://postgres:$pw@127.0.0.1:$port/$1"; }
export PGPASSWORD=$pw
"$PG_BIN/psql" -X -q -d "$(url postgres)" -c 'create database bench'
echo "==> pgbench -i -s $SCALE" >&2
"$PG_BIN/pgbench" -i -q -s "$SCALE" "$(url bench)" >/dev/null 2>&1

python3 -m moto.server -H 127.0.0.1 -p "$s3port" >/dev/null 2>&1 & moto=$!
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3port"
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $s3port))" 2>/dev/null && break; sleep 0.2; done
node -e "
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED='true';
const { S3Client, CreateBucketCommand } = require('@aws-sdk/client-s3');
new S3Client({ endpoint: process.env.AWS_ENDPOINT_URL_S3, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'bench' })).catch((e) => { console.error(e.message); process.exit(1); });"

secs() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }; e=$(date +%s%N); awk -v a="$s" -v b="$e" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
rss() { /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }; echo $(( $(cat "$work/rss") / 1024 )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
drctl() { node dist/cli.js --log-format json --log-level error "$@"; }

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

load_before=$(uptime | sed 's/.*load average: //')
# RUNS=n repeats the three backups n times, interleaved, and reports each one's median.
RUNS=${RUNS:-1}
echo "==> backups ($RUNS run(s))" >&2
: > "$work/t.raw"; : > "$work/t.file"; : > "$work/t.s3"; : > "$work/t.pipe"; : > "$work/t.bound"; : > "$work/t.par"
# The pipeline drctl runs, in a shell without drctl: what is left of drctl's ratio after its
# own cost (start, connections, stats, hashing, the manifest) is the pipeline's.
pipeline_dump() { "$PG_BIN/pg_dump" -Fc -Z0 -d "$(url bench)" | zstd -q -c -3 -T1 --check > "$work/pipe.zst"; }
# Two floors for any dump on this machine, beside the targets: pg_dump with no compression into
# /dev/null (the server's one COPY of the largest table bounds every pg_dump-based tool), and the
# largest table read by two connections at once, each half by ctid, through zstd (what a
# parallel dump could at best reach on these cores; the rest of the dump, and any tool's own
# cost, come on top).
bound_dump() { "$PG_BIN/pg_dump" -Fc -Z0 -d "$(url bench)" > /dev/null; }
largest=$("$PG_BIN/psql" -X -At -d "$(url bench)" -c "select relname || ' ' || relpages from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace order by relpages desc limit 1")
half_copy() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$(url bench)" -c "copy (select * from ${largest% *} where ctid $1 '(${2},0)') to stdout" | zstd -q -c -3 -T1 > "$work/half$3.zst"; }
# Either half failing fails the measurement (secs runs it inside ||, where set -e is off).
bound_parallel() {
  local mid=$(( ${largest#* } / 2 )) first rc=0
  [ "$mid" -gt 0 ] || { echo "${largest% *}: no pages counted (run VACUUM ANALYZE first)" >&2; return 1; }
  half_copy '<' "$mid" 1 & first=$!
  half_copy '>=' "$mid" 2 || rc=$?
  wait "$first" || rc=$?
  return $rc
}
pipeline_restore() { zstd -q -dc "$work/pipe.zst" | "$PG_BIN/pg_restore" -d "$(url pipe_restore)" --single-transaction; }
for run in $(seq "$RUNS"); do
  secs "$PG_BIN/pg_dump" -Fc -f "$work/raw.dump" -d "$(url bench)" >> "$work/t.raw"; echo >> "$work/t.raw"
  secs pipeline_dump >> "$work/t.pipe"; echo >> "$work/t.pipe"
  secs bound_dump >> "$work/t.bound"; echo >> "$work/t.bound"
  secs bound_parallel >> "$work/t.par"; echo >> "$work/t.par"
  rm -rf "$work/repo"
  secs drctl backup --source "$(url bench)" --repo "file://$work/repo" >> "$work/t.file"; echo >> "$work/t.file"
  secs drctl backup --source "$(url bench)" --repo "s3://bench/run$run" >> "$work/t.s3"; echo >> "$work/t.s3"
done
raw_dump=$(median < "$work/t.raw"); file_backup=$(median < "$work/t.file"); s3_backup=$(median < "$work/t.s3"); pipe_dump=$(median < "$work/t.pipe")
bound=$(median < "$work/t.bound"); par=$(median < "$work/t.par")
# Only the last backup is in the repository: its objects, manifest and the repository file.
raw_bytes=$(stat -c %s "$work/raw.dump")
repo_bytes=$(du -sb "$work/repo" | cut -f1)
compressor=$(command -v zstd >/dev/null && echo "zstd binary" || echo "zstd-napi (no zstd binary)")
echo "==> restores ($RUNS run(s))" >&2
# Each restore starts after a checkpoint, so that none pays for flushing what the one before it
# wrote (~1 GB of WAL and data at -s 50: a checkpoint it triggers lands on the next one's time).
: > "$work/t.rraw"; : > "$work/t.rfile"; : > "$work/t.rpipe"
for run in $(seq "$RUNS"); do
  "$PG_BIN/psql" -X -q -d "$(url postgres)" -c 'drop database if exists raw_restore' -c 'drop database if exists drctl_restore' -c 'drop database if exists pipe_restore' -c 'create database raw_restore' -c 'create database pipe_restore' -c 'checkpoint'
  secs "$PG_BIN/pg_restore" -d "$(url raw_restore)" --single-transaction "$work/raw.dump" >> "$work/t.rraw"; echo >> "$work/t.rraw"
  "$PG_BIN/psql" -X -q -d "$(url postgres)" -c 'checkpoint'
  secs pipeline_restore >> "$work/t.rpipe"; echo >> "$work/t.rpipe"
  "$PG_BIN/psql" -X -q -d "$(url postgres)" -c 'checkpoint'
  secs drctl restore --target "$(url drctl_restore)" --repo "file://$work/repo" >> "$work/t.rfile"; echo >> "$work/t.rfile"
done
raw_restore=$(median < "$work/t.rraw"); file_restore=$(median < "$work/t.rfile"); pipe_restore=$(median < "$work/t.rpipe")
echo "==> peak RSS" >&2
rss_backup=$(rss node dist/cli.js --log-format json --log-level error backup --source "$(url bench)" --repo "file://$work/repo")
rss_restore=$(rss node dist/cli.js --log-format json --log-level error restore --target "$(url rss_restore)" --repo "file://$work/repo")
load_after=$(uptime | sed 's/.*load average: //')
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "met" : "MISSED" }'; }
r_backup=$(ratio "$file_backup" "$raw_dump"); r_bytes=$(ratio "$repo_bytes" "$raw_bytes")
r_s3=$(ratio "$s3_backup" "$raw_dump"); r_restore=$(ratio "$file_restore" "$raw_restore")
r_pipe=$(ratio "$pipe_dump" "$raw_dump"); r_bound=$(ratio "$bound" "$raw_dump"); r_par=$(ratio "$par" "$raw_dump"); r_rpipe=$(ratio "$pipe_restore" "$raw_restore")
rss_max=$(( rss_backup > rss_restore ? rss_backup : rss_restore ))

cat <<OUT

drctl backup/restore benchmark — pgbench scale $SCALE, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')
load average (1, 5, 15 min): before $load_before, after $load_after
backups: median of $RUNS run(s) (raw $(paste -sd' ' "$work/t.raw"); shell pipeline $(paste -sd' ' "$work/t.pipe"); pg_dump -Z0 > /dev/null $(paste -sd' ' "$work/t.bound"); two COPY halves $(paste -sd' ' "$work/t.par"); file $(paste -sd' ' "$work/t.file"); S3 $(paste -sd' ' "$work/t.s3")); compressor: $compressor
restores: median of $RUNS run(s), each after a checkpoint (raw $(paste -sd' ' "$work/t.rraw"); shell pipeline $(paste -sd' ' "$work/t.rpipe"); drctl $(paste -sd' ' "$work/t.rfile"))
  backup   raw pg_dump -Fc      ${raw_dump}s  $(mb "$raw_bytes")
           pg_dump -Z0 | zstd   ${pipe_dump}s   ratio ${r_pipe}x   (drctl's pipeline in a shell, without drctl)
           pg_dump -Z0 > /dev/null ${bound}s   ratio ${r_bound}x   (the server's one COPY: no pg_dump-based tool is faster)
           2 COPY halves | zstd ${par}s   ratio ${r_par}x   (${largest% *} only, two connections: a parallel dump's floor here)
           drctl → file://      ${file_backup}s   ratio ${r_backup}x   (target <= 0.90x: $(verdict "$r_backup" 0.90))
             repository bytes   $(mb "$repo_bytes")   ratio ${r_bytes}x   (target <= 0.5x: $(verdict "$r_bytes" 0.5))
           drctl → S3 (moto)    ${s3_backup}s   ratio ${r_s3}x   (target <= 1.0x: $(verdict "$r_s3" 1.0))
  restore  raw pg_restore -1    ${raw_restore}s
           zstd -d | pg_restore ${pipe_restore}s   ratio ${r_rpipe}x   (drctl's pipeline in a shell, without drctl)
           drctl restore        ${file_restore}s   ratio ${r_restore}x   (target <= 1.00x: $(verdict "$r_restore" 1.00))
  peak RSS drctl backup ${rss_backup} MB, drctl restore ${rss_restore} MB   (target <= 150 MB: $(verdict "$rss_max" 150))
OUT
