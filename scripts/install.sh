#!/usr/bin/env bash
# `make install` and `make uninstall`: openvzd on a real host, as root.
#   scripts/install.sh install|uninstall
# Settings come from the environment (the Makefile passes its variables):
#   DESTDIR      a staging root (packagers, tests); empty = the live system
#   PREFIX       the virtualenv that holds openvzd and its dependencies (/opt/openvzd)
#   PYTHON       the interpreter the virtualenv is made from (3.11 or later)
#   EXTRAS       pip extras to add, e.g. "systemd" (journal fields; needs libsystemd-dev)
#   BINDIR, SBINDIR, MANDIR, DOCDIR, COMPLETIONDIR, UNITDIR, TMPFILESDIR, SYSCONFDIR
# The package goes into its own virtualenv, so no distribution Python package is
# touched; links in BINDIR and SBINDIR put ovzsh, openvzd-ssh-helper and openvzd
# on PATH. Uninstall leaves the configuration and /var/lib/openvzd (the journal) in
# place, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

verb=${1:?usage: scripts/install.sh install|uninstall}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/openvzd}
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-}
BINDIR=${BINDIR:-/usr/local/bin}
SBINDIR=${SBINDIR:-/usr/local/sbin}
MANDIR=${MANDIR:-/usr/local/share/man}
DOCDIR=${DOCDIR:-/usr/local/share/doc/openvzd}
COMPLETIONDIR=${COMPLETIONDIR:-/usr/local/share/bash-completion/completions}
UNITDIR=${UNITDIR:-/etc/systemd/system}
TMPFILESDIR=${TMPFILESDIR:-/etc/tmpfiles.d}
SYSCONFDIR=${SYSCONFDIR:-/etc}

# Every path lands in sed expressions and file names: plain absolute paths only.
for dir in "$PREFIX" "$BINDIR" "$SBINDIR" "$MANDIR" "$DOCDIR" "$COMPLETIONDIR" "$UNITDIR" \
    "$TMPFILESDIR" "$SYSCONFDIR"; do
  if [[ ! $dir =~ ^/[A-Za-z0-9._+/-]*$ ]]; then
    echo "install.sh: $dir: give an absolute path of letters, digits and . _ + - /" >&2
    exit 2
  fi
done
if [[ -n $DESTDIR && ! $DESTDIR =~ ^/[A-Za-z0-9._+/-]*$ ]]; then
  echo "install.sh: DESTDIR=$DESTDIR: give an absolute path of letters, digits and . _ + - /" >&2
  exit 2
fi
if [[ -n $EXTRAS && ! $EXTRAS =~ ^[a-z][a-z,-]*$ ]]; then
  echo "install.sh: EXTRAS=$EXTRAS: give extras' names, such as systemd or systemd,kerberos" >&2
  exit 2
fi

if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: $verb on the live system needs root: sudo make $verb" >&2
  echo "  (or stage it under another root: make $verb DESTDIR=/tmp/stage)" >&2
  exit 1
fi

root=$DESTDIR
venv=$root$PREFIX
config=$root$SYSCONFDIR/openvzd/openvzd.toml
commands=(ovzsh openvzd-ssh-helper)

install_all() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11) and "openvzd needs Python 3.11 or later")'
  echo "Installing openvzd into the virtualenv $PREFIX"
  "$PYTHON" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install -qq --upgrade pip
  local target=.
  [ -z "$EXTRAS" ] || target=".[$EXTRAS]"
  # A real (not editable) install from a copy, so the source tree gets no build/ or egg-info.
  local source
  source=$(mktemp -d)
  cp -r pyproject.toml README.md LICENSE daemon client vzsim "$source"/
  (cd "$source" && "$venv/bin/python" -m pip install -qq "$target" 2>&1 | grep -v 'is ignored' || true)
  rm -rf "$source"
  # Nothing of openvzd's needs setuptools at run time (Python 3.12's venvs leave it
  # out); Python 3.11's venv brings it, and its distutils-precedence.pth costs every
  # openvzd and ovzsh start ~1.2 ms (ovzsh exec may add 20 ms to vzctl exec2 in all).
  "$venv/bin/python" -m pip uninstall -qq -y setuptools 2>/dev/null || true
  "$venv/bin/python" -c 'import openvzd, openvz, grpc'
  if [ -n "$DESTDIR" ]; then
    # Staged: the virtualenv's scripts must name where it will live, not the stage.
    grep -rlI --null -F "$venv" "$venv/bin" | xargs -0 -r sed -i "s|$venv|$PREFIX|g"
  fi

  install -d "$root$BINDIR" "$root$SBINDIR"
  for command in "${commands[@]}"; do
    ln -sfn "$PREFIX/bin/$command" "$root$BINDIR/$command"
  done
  ln -sfn "$PREFIX/bin/openvzd" "$root$SBINDIR/openvzd"

  local built
  built=$(mktemp -d)
  "$venv/bin/python" scripts/build_manpages.py "$built" >/dev/null
  install -D -m 0644 "$built/man8/openvzd.8" "$root$MANDIR/man8/openvzd.8"
  install -D -m 0644 "$built/man1/ovzsh.1" "$root$MANDIR/man1/ovzsh.1"
  install -D -m 0644 "$built/man5/openvzd.toml.5" "$root$MANDIR/man5/openvzd.toml.5"
  install -D -m 0644 "$built/bash-completion/ovzsh" "$root$COMPLETIONDIR/ovzsh"
  rm -rf "$built"

  install -d "$root$DOCDIR"
  install -m 0644 README.md CHANGELOG.md LICENSE docs/*.md "$root$DOCDIR/"

  # The unit runs what was just installed.
  install -d "$root$UNITDIR"
  sed -e "s|^ExecStart=.*|ExecStart=$PREFIX/bin/openvzd|" systemd/openvzd.service \
    >"$root$UNITDIR/openvzd.service"
  chmod 0644 "$root$UNITDIR/openvzd.service"
  install -D -m 0644 systemd/openvzd.tmpfiles "$root$TMPFILESDIR/openvzd.conf"

  install -d -m 0755 "$root$SYSCONFDIR/openvzd"
  if [ -e "$config" ]; then
    echo "Kept the existing $SYSCONFDIR/openvzd/openvzd.toml (the defaults: openvzd --print-default-config)"
  else
    "$venv/bin/python" -m openvzd.main --print-default-config >"$config.tmp"
    chmod 0644 "$config.tmp"
    mv "$config.tmp" "$config"
  fi

  cat <<EOF
openvzd is installed in $PREFIX. As root, next:
  systemctl daemon-reload && systemd-tmpfiles --create $TMPFILESDIR/openvzd.conf
  $SBINDIR/openvzd check          # is this host ready?
  systemctl enable --now openvzd
EOF
}

uninstall_all() {
  rm -f "$root$UNITDIR/openvzd.service" "$root$TMPFILESDIR/openvzd.conf"
  rm -f "$root$MANDIR/man8/openvzd.8" "$root$MANDIR/man1/ovzsh.1" \
    "$root$MANDIR/man5/openvzd.toml.5" "$root$COMPLETIONDIR/ovzsh"
  for command in "${commands[@]}"; do
    rm -f "$root$BINDIR/$command"
  done
  rm -f "$root$SBINDIR/openvzd"
  rm -rf "$root$DOCDIR"
  # Only ever a virtualenv of ours: never rm -rf a PREFIX that is something else.
  if [ -e "$venv" ]; then
    if [ -f "$venv/pyvenv.cfg" ] && [ -e "$venv/bin/openvzd" ]; then
      rm -rf "$venv"
    else
      echo "install.sh: $PREFIX is not openvzd's virtualenv; left alone" >&2
    fi
  fi
  echo "Kept $SYSCONFDIR/openvzd (your configuration) and /var/lib/openvzd (the job journal);"
  echo "remove them by hand if you no longer want them."
}

case $verb in
  install) install_all ;;
  uninstall) uninstall_all ;;
  *) echo "usage: scripts/install.sh install|uninstall" >&2; exit 2 ;;
esac
