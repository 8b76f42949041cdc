#!/usr/bin/env bash
# Install (as root) or name (as anyone else) the Debian packages a make target needs.
#   scripts/system-packages.sh run|test
# "run" needs nothing that a Debian 12 machine with Python 3.11 lacks, except
# python3-venv for Debian's own interpreter; libsystemd-dev lets systemd-python
# build (journal fields; sd_notify needs nothing), and without it the daemon logs
# plain lines to stderr instead.
# "test" adds what the tests run for real: libvirt's schemas (libvirt0),
# systemd-analyze, OpenSSH's sshd, an MIT Kerberos KDC, and Debian's own libvirt
# clients (virsh, and python3-libvirt for /usr/bin/python3) for the libvirt front-end,
# with the nc their ssh transport runs on the remote side and Cyrus SASL's GSSAPI plugin.
set -euo pipefail

want=(pkg-config libsystemd-dev)
if [ "${1:-run}" = test ]; then
  want+=(libvirt0 systemd openssh-server openssh-client krb5-kdc krb5-admin-server krb5-user libkrb5-dev
    libvirt-clients python3-libvirt netcat-openbsd libsasl2-modules-gssapi-mit)
fi
python=${PYTHON:-python3}
if [ "$(command -v "$python")" = /usr/bin/python3 ] || [ "$(command -v "$python")" = /usr/bin/python3.11 ]; then
  want+=(python3-venv python3-dev)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the packaged sshd and KDC from starting: the tests run their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

if [ "${1:-run}" = run ] && [ "${missing[*]}" = "pkg-config libsystemd-dev" -o "${missing[*]}" = "libsystemd-dev" ]; then
  echo "note: libsystemd-dev is not installed, so systemd-python is left out and openvzd logs to stderr" >&2
  echo "      (as root: apt-get install pkg-config libsystemd-dev)" >&2
  exit 3
fi
echo "These Debian packages are needed and missing. As root, run:" >&2
echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
exit 1
