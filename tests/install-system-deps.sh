#!/usr/bin/env bash
# System packages the test suite drives for real, installed from Debian only when missing:
# headless Chromium (the dashboard's browser test; never a downloaded build), redis-server
# (shared rate limits and the channel layer), PostgreSQL (the several-workers tests), nginx
# (the deploy/ site file, exercised in front of the gateway) and Node.js with npm, which install
# the pinned coding-agent CLIs that tests/clients/ drive.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# The CLIs, exactly as tests/clients/package-lock.json pins them, into tests/clients/node_modules,
# skipped when that lockfile is already installed. `npm install` (which keeps to the lockfile)
# rather than `npm ci`: the registry lacks some platforms' optional binaries that ci insists on.
# Install scripts run only for the two packages that place their binary with one; the others'
# would try to download or compile native add-ons the CLIs do not need.
cd "$(dirname "$0")/clients"
stamp=node_modules/.installed-lock
if ! cmp -s package-lock.json "$stamp"; then
  npm install --ignore-scripts --no-audit --no-fund --loglevel=error
  npm rebuild @anthropic-ai/claude-code opencode-ai --loglevel=error
  cp package-lock.json "$stamp"
fi
