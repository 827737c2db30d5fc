#!/usr/bin/env bash
# System packages the test suite drives for real, installed from Debian only when missing:
# headless Chromium (the dashboard's browser test; never a downloaded build), redis-server
# (shared rate limits and the channel layer), PostgreSQL (the several-workers tests) and Node.js
# with npm, which install the pinned coding-agent CLIs that tests/clients/ drive.
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# The CLIs, exactly as tests/clients/package-lock.json pins them, into tests/clients/node_modules
# (skipped when that tree is already complete). Their install scripts are not run: each package
# ships its binary, and none may download anything else.
cd "$(dirname "$0")/clients"
npm ls --silent >/dev/null 2>&1 || npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
