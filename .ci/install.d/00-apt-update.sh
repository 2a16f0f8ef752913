#!/usr/bin/env bash
# Refresh the package lists once, only when something is to be installed.
set -euo pipefail
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq || true
fi
