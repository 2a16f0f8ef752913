#!/usr/bin/env bash
# Installs the real Pterodactyl client library (pterodactyl.js, pinned in
# legacyapi/pterodactyl/testdata/package.json) that the pterodactyl tests
# drive with node. Idempotent: npm skips what is already installed.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../.." && pwd)/legacyapi/pterodactyl/testdata"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
fi
if [ -f "$dir/node_modules/pterodactyl.js/package.json" ]; then
  exit 0
fi
cd "$dir"
npm install --no-audit --no-fund --no-package-lock --loglevel=error
