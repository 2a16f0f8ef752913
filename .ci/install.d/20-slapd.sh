#!/usr/bin/env bash
# OpenLDAP slapd and ldap-utils for the ldapsync tests. The tests run slapd
# themselves from a temp dir (ldapsync/ldaptest); the package's own daemon
# is not used, so it is stopped if the package started one.
set -euo pipefail
if [ -x /usr/sbin/slapd ] && [ -x /usr/sbin/slapadd ] && command -v ldapmodify >/dev/null; then
  echo "slapd and ldap-utils already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends slapd ldap-utils
# No systemd on CI machines; if an init script started slapd, stop it.
if command -v service >/dev/null 2>&1; then
  service slapd stop >/dev/null 2>&1 || true
fi
for m in back_mdb syncprov memberof; do
  [ -e "/usr/lib/ldap/$m.so" ] || { echo "slapd module $m missing in /usr/lib/ldap" >&2; exit 1; }
done
