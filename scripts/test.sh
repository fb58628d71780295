#!/usr/bin/env bash
# Installs what is missing (PostgreSQL, Redis, npm packages), builds, and runs every test
# against real servers started on loopback in temp dirs.
set -euo pipefail
source "$(dirname "$0")/lib/setup.sh"
echo "==> validate shipped runbooks" >&2
node dist/cli.js validate runbooks/*.yaml
echo "==> tests" >&2
npx vitest run "$@"
