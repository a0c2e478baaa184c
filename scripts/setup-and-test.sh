#!/usr/bin/env bash
# The README's test command: installs what the tests need (npm packages, Debian packages, the
# code-server test host, all cached after the first run) and runs every test layer.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/setup-test-host.sh
exec node scripts/test.mjs "$@"
