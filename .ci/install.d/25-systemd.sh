#!/usr/bin/env bash
# systemd-analyze, for the test that verifies README's systemd unit
# (cmd/scimbridge TestREADMESystemdUnit), and curl for the one that runs
# README's curl session. Debian's systemd package is about 10 MB; nothing
# is started (CI machines do not boot systemd).
set -euo pipefail
need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -eq 0 ]; then
  echo "systemd-analyze and curl already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${need[@]}"
