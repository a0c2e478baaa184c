#!/usr/bin/env bash
# The README's run command: builds the extension and runs it, monitoring this machine.
#   - with desktop VS Code (`code` on PATH): opens a window with the extension under development;
#   - otherwise: packs the .vsix, installs it into a private code-server (from npm, cached in
#     .cache) and serves VS Code on http://127.0.0.1:${MODEL_PERF_PORT:-8080}/ with a password
#     printed here. Loopback only: reach it from elsewhere through an SSH tunnel.
# Usage: scripts/start.sh [WORKSPACE_FOLDER]   (default: the current folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
workspace=$(cd "${1:-$PWD}" && pwd)
cd "$root"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "start: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

if command -v code >/dev/null 2>&1 && [ -z "${MODEL_PERF_SERVE:-}" ]; then
  node esbuild.mjs
  echo "start: opening desktop VS Code with the extension from $root"
  exec code --extensionDevelopmentPath="$root" "$workspace"
fi

bash scripts/setup-test-host.sh --no-browser
node scripts/package.mjs >/dev/null
state="$root/.cache/start"
mkdir -p "$state/extensions" "$state/user-data/User"
[ -f "$state/user-data/User/settings.json" ] || printf '{\n  "security.workspace.trust.enabled": false\n}\n' >"$state/user-data/User/settings.json"
entry="$root/.cache/code-server-4.100.3/node_modules/code-server/out/node/entry.js"
node "$entry" --extensions-dir "$state/extensions" --user-data-dir "$state/user-data" \
  --install-extension "$root/dist-package/model-perf-monitor.vsix" --force >/dev/null
port=${MODEL_PERF_PORT:-8080}
password=${PASSWORD:-$(node -e "process.stdout.write(require('node:crypto').randomBytes(12).toString('base64url'))")}
echo "start: VS Code with Model Performance Monitor at http://127.0.0.1:$port/?folder=$workspace"
echo "start: password: $password   (Ctrl-C stops the server)"
PASSWORD="$password" exec node "$entry" --auth password --bind-addr "127.0.0.1:$port" \
  --disable-telemetry --disable-update-check --extensions-dir "$state/extensions" \
  --user-data-dir "$state/user-data" "$workspace"
