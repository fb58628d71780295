#!/usr/bin/env bash
# Start-up time of `drctl --help` and `drctl validate runbooks/*.yaml` against bare `node -e 0`,
# averaged over N runs (default 20). Target: --help within 40 ms of bare node.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f dist/cli.js ] || npm run --silent build
N=${N:-20}
avg_ms() {
  local start end
  start=$(date +%s%N)
  for _ in $(seq "$N"); do "$@" >/dev/null 2>&1 || true; done
  end=$(date +%s%N)
  echo $(( (end - start) / N / 1000000 ))
}
base=$(avg_ms node -e 0)
help=$(avg_ms node dist/cli.js --help)
validate=$(avg_ms node dist/cli.js validate runbooks/*.yaml)
printf 'node -e 0                        %4d ms\n' "$base"
printf 'drctl --help                     %4d ms  (+%d ms over node; target <= 40)\n' "$help" $((help - base))
printf 'drctl validate runbooks/*.yaml   %4d ms  (+%d ms over node)\n' "$validate" $((validate - base))
