#!/usr/bin/env bash
# The main job, end to end, on a throwaway local PostgreSQL that archives its WAL into a
# file:// repository: base backup, new data, a disaster (a dropped table, deleted rows),
# point-in-time recovery to the moment before it, proof that the data came back, and a report
# of every step's time against its budget, the RTO and the RPO.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
source scripts/lib/pg-cluster.sh

work=$(mktemp -d /tmp/drctl-demo-XXXXXX)
chmod 755 "$work"
port=$(free_port)
password="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
scratch_port=$(free_port)
cleanup() { pg_cluster_stop "$work/pg"; pg_cluster_stop "$work/scratch"; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/repo" "$work/scratch"
[ "$(id -u)" -eq 0 ] && chown postgres: "$work/repo" "$work/scratch"
repo="file://$work/repo"
echo "==> throwaway PostgreSQL on 127.0.0.1:$port archiving WAL with drctl wal-push (in $work)" >&2
pg_cluster_start "$work/pg" "$port" "$password" \
  "archive_mode = on" \
  "archive_command = 'DRCTL_REPO=$repo $(command -v node) $PWD/dist/cli.js wal-push %p'"
db="postgres://postgres:${password}@127.0.0.1:${port}/bookings"
"$PG_BIN/psql" -X -q -d "postgres://postgres:${password}@127.0.0.1:${port}/postgres" -c 'create database bookings'
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -f scripts/demo-data.sql

export DRCTL_STATE_DIR="$work/state"
echo "==> DR drill (runbooks/demo-drill.yaml)" >&2
set +e
node dist/cli.js --log-format pretty --yes run runbooks/demo-drill.yaml \
  --var "db=$db" --var "repo=$repo" \
  --var "scratchDir=$work/scratch/data" --var "scratchPort=$scratch_port" \
  --var "scratchDb=postgres://postgres:${password}@127.0.0.1:${scratch_port}/bookings" \
  --report "$work/report.md" --report "$work/report.json" --report "$work/report.xml"
code=$?
set -e
echo
echo "==> backups in $repo" >&2
node dist/cli.js backups list --repo "$repo"
echo
echo "==> report ($work/report.md)" >&2
cat "$work/report.md"
exit $code
