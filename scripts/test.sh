#!/usr/bin/env bash
# Installs what is missing (PostgreSQL, Redis, npm packages), builds, and runs every test
# against real servers started on loopback in temp dirs. Ends with "N passed, N failed".
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
echo "==> validate shipped runbooks" >&2
node dist/cli.js validate runbooks/*.yaml
echo "==> tests" >&2
results=$(mktemp /tmp/drctl-vitest-XXXXXX.json)
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
code=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || true
rm -f "$results"
exit $code
