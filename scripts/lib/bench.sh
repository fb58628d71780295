# Sourced by scripts/bench/archive.sh and scripts/bench/pitr.sh: what both benchmarks set up the
# same way. Builds drctl (setup.sh), installs pgBackRest when missing, and gives:
#   bench_work PREFIX DIR...   $work (removed on exit with the cluster in $work/pg), the given
#                              subdirectories owned by postgres, $port and $pw for the cluster
#   pgbr_conf [LINE...]        $work/pgbackrest.conf for stanza "bench" on that cluster (zst level 3,
#                              spool and lock in $work), extra [global] lines appended
#   url DB, sql SQL            the cluster's URL and a one-value query against database bench
#   drctl ARGS                 drctl with JSON logs at error level
#   secs CMD / ms CMD          wall time of a command that must succeed (its stderr shown if not)
#   ratio A B, median, mb BYTES, load_avg
# A script may define bench_cleanup_extra, run on exit before the cluster is stopped.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
source scripts/lib/pg-cluster.sh
command -v pgbackrest >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbackrest >/dev/null; }

bench_work() {
  local prefix=$1; shift
  work=$(mktemp -d "/tmp/$prefix-XXXXXX"); chmod 755 "$work"
  mkdir -p "$work/pgbr" "$work/pgbr-lock" "$work/pgbr-spool"
  for d in "$@"; do mkdir -p "$work/$d"; done
  chown postgres: "$work/pgbr" "$work/pgbr-lock" "$work/pgbr-spool" 2>/dev/null || true
  for d in "$@"; do chown postgres: "$work/$d" 2>/dev/null || true; done
  port=$(free_port); pw=bench
  export PGPASSWORD=$pw
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra; fi
  pg_cluster_stop "$work/pg"; rm -rf "$work"
}

pgbr_conf() {
  {
    echo '[global]'
    echo "repo1-path=$work/pgbr"
    echo 'log-level-console=warn'
    echo 'log-level-file=off'
    echo "lock-path=$work/pgbr-lock"
    echo "spool-path=$work/pgbr-spool"
    echo 'compress-type=zst'
    echo 'compress-level=3'
    for line in "$@"; do echo "$line"; done
    echo '[bench]'
    echo "pg1-path=$work/pg/data"
    echo "pg1-port=$port"
    echo "pg1-socket-path=$work/pg"
    echo 'pg1-user=postgres'
  } > "$work/pgbackrest.conf"
  chmod 644 "$work/pgbackrest.conf"
}

url() { echo "postgres://postgres:$pw@127.0.0.1:$port/$1"; }
sql() { "$PG_BIN/psql" -X -A -t -q -d "$(url bench)" -c "$1"; }
drctl() { node dist/cli.js --log-format json --log-level error "$@"; }
secs() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }; e=$(date +%s%N); awk -v a="$s" -v b="$e" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { printf "%.0f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }
load_avg() { uptime | sed 's/.*load average: //'; }
