#!/usr/bin/env bash
# Installs, once, what the extension-host and browser tests need and caches it:
#   - Debian packages: chromium (the browser that drives the workbench), ripgrep (code-server's
#     search, which would otherwise download rg), libkrb5-dev and a C++ toolchain (native modules),
#     gcc and libc6-dev (the unit tests build a stand-in NVML library with `cc`);
#   - code-server from npm (the real VS Code workbench and extension host, served to a browser)
#     into .cache/code-server-<version>, with its native modules built offline.
# Usage: scripts/setup-test-host.sh [--no-browser]   (--no-browser skips chromium, for `npm start`)
set -euo pipefail

CS_VERSION=4.100.3
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/code-server-$CS_VERSION"
log="$root/.cache/code-server-$CS_VERSION.log"
want_browser=1
[ "${1:-}" = "--no-browser" ] && want_browser=0

fail() { echo "setup: $*" >&2; exit 1; }

# --- Debian packages ---------------------------------------------------------------------------
missing=()
[ "$want_browser" = 1 ] && ! command -v chromium >/dev/null 2>&1 && missing+=(chromium)
command -v rg >/dev/null 2>&1 || missing+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v cc >/dev/null 2>&1 || missing+=(gcc)            # builds the stand-in NVML library (test/fixtures/nvml)
dpkg -s libc6-dev >/dev/null 2>&1 || missing+=(libc6-dev)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)  # promtool checks `model-perf serve`'s exposition; prometheus runs the cluster test
for p in python3-tqdm python3-rich; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done  # real progress bars: re-recording test/fixtures/progress (capture.py)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    fail "missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}"
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  mkdir -p "$root/.cache"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$root/.cache/apt.log" 2>&1; then
    fail "could not install ${missing[*]} with apt-get (log: .cache/apt.log). Install them by hand: apt-get install -y ${missing[*]}"
  fi
fi

# --- Node version ------------------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo none)
[ "$node_major" = 20 ] || fail "code-server $CS_VERSION needs Node 20 exactly; this machine has Node $node_major."

# --- code-server -------------------------------------------------------------------------------
if [ -f "$cache/.complete" ]; then exit 0; fi
echo "setup: installing code-server $CS_VERSION into .cache (about 3 minutes, once; log: ${log#$root/})"
rm -rf "$cache"
mkdir -p "$cache"
step() {
  local what=$1; shift
  echo "== $what" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    fail "code-server install failed while $what (see ${log#$root/}). Remove .cache/code-server-$CS_VERSION and run again."
  fi
}
: >"$log"
export npm_config_unsafe_perm=true npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
step "downloading code-server from npm" npm install --prefix "$cache" "code-server@$CS_VERSION" --ignore-scripts --no-save
cs="$cache/node_modules/code-server"
vs="$cs/lib/vscode"
step "installing VS Code's dependencies" npm --prefix "$vs" install --omit=dev --ignore-scripts
# @vscode/ripgrep's install script downloads rg from GitHub; it skips that when bin/ exists.
mkdir -p "$vs/node_modules/@vscode/ripgrep/bin"
ln -sfn "$(command -v rg)" "$vs/node_modules/@vscode/ripgrep/bin/rg"
# node-pty's post-install step (compile_commands.json) fails offline after pty.node is built,
# so the rebuild's exit status is not trusted: each native module is checked below instead.
(cd "$vs" && npm rebuild >>"$log" 2>&1) || true
for mod in node-pty/build/Release/pty.node @vscode/spdlog/build/Release/spdlog.node \
           native-watchdog/build/Release/watchdog.node kerberos/build/Release/kerberos.node; do
  [ -f "$vs/node_modules/$mod" ] || fail "code-server install failed: native module $mod was not built (see ${log#$root/})."
done
ln -sfn node_modules "$vs/node_modules.asar"
ln -sfn code-linux.sh "$vs/bin/remote-cli/code-server"
ln -sfn browser-linux.sh "$vs/bin/helpers/browser.sh"
step "installing the built-in extensions' dependencies" npm --prefix "$vs/extensions" install --omit=dev --ignore-scripts
step "building argon2" npm --prefix "$cache" rebuild argon2
touch "$cache/.complete"
echo "setup: code-server $CS_VERSION ready"
