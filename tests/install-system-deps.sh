#!/usr/bin/env bash
# System packages the test suite drives for real, installed from Debian only when missing:
# headless Chromium (the dashboard's browser test; never a downloaded build), redis-server
# (shared rate limits and the channel layer), PostgreSQL (the several-workers tests) and nginx
# (the deploy/ site file, exercised in front of the gateway).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/nginx ] || missing+=(nginx)

if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
