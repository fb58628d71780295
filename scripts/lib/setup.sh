# Sourced by scripts/test.sh and scripts/demo.sh: install what a fresh machine lacks, then build.
# Installs only what is missing, so a second run costs seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
export PG_BIN

missing=()
[ -x "$PG_BIN/initdb" ] || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The HTML drill report is rendered in a real headless browser by its test.
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.drctl-installed ]; then
  echo "==> npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.drctl-installed
fi

echo "==> build" >&2
npm run --silent build
