#!/usr/bin/env bash
# Samba (AD DC) for the ldapsync write-back test against a real AD
# (ldapsync/adtest). The test provisions a throwaway domain in a temp dir and
# runs samba itself inside a network namespace of its own; the package's own
# daemons are not used, so they are stopped if the package started any.
set -euo pipefail
if command -v samba-tool >/dev/null && [ -x /usr/sbin/samba ] && [ -d /usr/share/samba/setup/ad-schema ]; then
  echo "samba and samba-tool already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# samba-ad-dc pulls in the AD DC parts (samba, winbind, python3-samba);
# samba-ad-provision holds the AD schema that samba-tool domain provision
# loads (only a Recommends, so named here);
# no krb5-user: the test talks LDAP only.
apt-get install -y --no-install-recommends samba samba-ad-dc samba-ad-provision
# No systemd on CI machines; if an init script started a daemon, stop it.
if command -v service >/dev/null 2>&1; then
  for s in samba-ad-dc smbd nmbd winbind; do
    service "$s" stop >/dev/null 2>&1 || true
  done
fi
command -v samba-tool >/dev/null || { echo "samba-tool missing after install" >&2; exit 1; }
[ -x /usr/sbin/samba ] || { echo "/usr/sbin/samba missing after install" >&2; exit 1; }
