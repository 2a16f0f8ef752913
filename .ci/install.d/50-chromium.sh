#!/usr/bin/env bash
# Debian's chromium, which the web console tests drive headless
# (internal/app/console_browser_test.go, through chromedp); they skip
# without it, except with CI=true.
set -euo pipefail
if command -v chromium >/dev/null; then
  echo "chromium already installed: $(chromium --version 2>/dev/null || true)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# A font, so that the screenshots the tests keep show text.
apt-get install -y --no-install-recommends chromium fonts-liberation
chromium --version
