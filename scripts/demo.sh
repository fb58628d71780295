#!/usr/bin/env bash
# The main job, end to end, on a throwaway local PostgreSQL and a file:// repository:
# back up, break the database (a dropped table, deleted rows), restore, prove the data came
# back, and report every step's time against its budget and the RTO.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
source scripts/lib/pg-cluster.sh

work=$(mktemp -d /tmp/drctl-demo-XXXXXX)
chmod 755 "$work"
port=$(free_port)
password="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() { pg_cluster_stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT

echo "==> throwaway PostgreSQL on 127.0.0.1:$port (in $work)" >&2
pg_cluster_start "$work/pg" "$port" "$password"
db="postgres://postgres:${password}@127.0.0.1:${port}/bookings"
"$PG_BIN/psql" -X -q -d "postgres://postgres:${password}@127.0.0.1:${port}/postgres" -c 'create database bookings'
"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -f scripts/demo-data.sql

export DRCTL_STATE_DIR="$work/state"
repo="file://$work/repo"
echo "==> DR drill (runbooks/demo-drill.yaml)" >&2
set +e
node dist/cli.js --log-format pretty --yes run runbooks/demo-drill.yaml \
  --var "db=$db" --var "repo=$repo" \
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
