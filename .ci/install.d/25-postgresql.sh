#!/usr/bin/env bash
# PostgreSQL server binaries for the store/postgres tests and the
# multi-node test. The tests run their own clusters from temp dirs
# (store/postgres/pgtest, as the postgres user the package creates); the
# package's own cluster is not used, so it is stopped if the package
# started one.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null \
  && id postgres >/dev/null 2>&1; then
  echo "postgresql already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends postgresql
# No systemd on CI machines; if an init script started a cluster, stop it.
if command -v service >/dev/null 2>&1; then
  service postgresql stop >/dev/null 2>&1 || true
fi
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | while read -r ver name _; do
    pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
  done
fi
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || { echo "initdb missing under /usr/lib/postgresql" >&2; exit 1; }
id postgres >/dev/null || { echo "the postgresql package did not create the postgres user" >&2; exit 1; }
