# Sourced by scripts/test.sh and scripts/demo.sh: install what a fresh machine lacks, then build.
# Installs only what is missing, so a second run costs seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export PG_BIN

missing=()
[ -x "$PG_BIN/initdb" ] || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# zstd-napi builds its libzstd binding at npm ci when no prebuilt binary can be fetched.
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# A logical backup pipes pg_dump into the zstd binary when it is installed (else zstd-napi).
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
# A PITR restore extracts base backups with bsdtar when installed (it decompresses in-process).
command -v bsdtar >/dev/null 2>&1 || missing+=(libarchive-tools)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The HTML drill report's test renders it in a real headless browser (its test skips without one).
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing chromium" >&2
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
    || echo "warning: chromium did not install; the HTML report's browser test will be skipped" >&2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.drctl-installed ]; then
  echo "==> npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.drctl-installed
fi

echo "==> build" >&2
npm run --silent build
