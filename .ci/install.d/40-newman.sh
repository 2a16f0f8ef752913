#!/usr/bin/env bash
# newman 6 runs Microsoft's SCIM Postman collection in internal/app/ms_postman_test.go.
# Installed project-locally (git-ignored .cache/newman), where the test looks.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
fi
want=6
have=$(.cache/newman/node_modules/.bin/newman --version 2>/dev/null || true)
if [ "${have%%.*}" != "$want" ]; then
  npm install --prefix .cache/newman --no-audit --no-fund --loglevel=error "newman@$want"
fi
.cache/newman/node_modules/.bin/newman --version
