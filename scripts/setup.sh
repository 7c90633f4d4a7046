#!/usr/bin/env bash
# The one install script, used by ./demo.sh (the README's run command) and ./test.sh (the test
# command and CI). It checks each component it is asked for and, when one is missing, installs
# it on Debian/Ubuntu with apt-get when run as root — or says exactly what to install and stops.
# Nothing is ever downloaded by hubdeck itself at run time.
#
#   scripts/setup.sh [--dry-run] COMPONENT...
#
# Components:
#   pg      PostgreSQL server binaries (initdb, postgres): the demo cluster and the test harness
#           (apt: postgresql postgresql-contrib). Found where hubdeck looks: $HUBDECK_PG_BINDIR
#           (only there, when set), `pg_config --bindir`, PATH, /usr/lib/postgresql/*/bin.
#           As root the server runs as the `postgres` account, which must exist.
#   tmux    end-to-end tests of the real binary (apt: tmux)
#   zsh     the zsh completion test, `zsh -n` (apt: zsh)
#   sudo    the shared-bastion test: an operator account runs hubdeck through a service
#           account with `sudo -u` (apt: sudo)
#   mandoc  the man page lint test, `mandoc -T lint` (apt: mandoc)
#   faketime  the clock-skew tests: the real binary with its clock moved (apt: faketime)
#   moto    the Cognito emulator: a virtualenv at .venv with moto[server,cognitoidp]==5.2.5
#           (apt: python3 python3-venv when python3 cannot create one); skipped when
#           HUBDECK_MOTO_SERVER is set
#   cargo   the Rust toolchain (checked only: install it with rustup)
#
# --dry-run (or HUBDECK_SETUP_DRY_RUN=1) installs nothing: it reports what is present and what
# it would install. Exit status: 0 everything present (or installed), 1 something is missing
# and must be installed by you (the message says what), 3 dry run with something to install.
#
# HUBDECK_PG_ROOT (default /usr/lib/postgresql) is the versioned server directory searched
# last; tests point it elsewhere to play a fresh machine.
#
# The script can also be sourced (`. scripts/setup.sh`) for its functions; setup_main runs it.

MOTO_SPEC='moto[server,cognitoidp]==5.2.5'

setup_say() { printf 'setup: %s\n' "$*" >&2; }

# The directory holding initdb and postgres, printed; non-zero when there is none.
setup_find_pg() {
  local d
  if [ -n "${HUBDECK_PG_BINDIR:-}" ]; then
    [ -x "$HUBDECK_PG_BINDIR/initdb" ] && [ -x "$HUBDECK_PG_BINDIR/postgres" ] && { printf '%s\n' "$HUBDECK_PG_BINDIR"; return 0; }
    return 1
  fi
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { printf '%s\n' "$d"; return 0; }
  fi
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    d=$(command -v initdb); printf '%s\n' "${d%/*}"; return 0
  fi
  for d in "${HUBDECK_PG_ROOT:-/usr/lib/postgresql}"/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { printf '%s\n' "$d"; return 0; }
  done
  return 1
}

setup_can_apt() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; }

SETUP_APT_UPDATED=
# setup_apt WHAT PACKAGE...: installs with apt-get as root, reports the dry run, or says what
# the user must install. Returns 0 when installed, 1 when the user must act, 3 on a dry run.
setup_apt() {
  local what=$1; shift
  if ! setup_can_apt; then
    setup_say "missing: $what. Install it: sudo apt-get install $* (Debian/Ubuntu; or your system's package)"
    return 1
  fi
  if [ -n "$SETUP_DRY_RUN" ]; then
    setup_say "missing: $what; would install with apt-get: $*"
    return 3
  fi
  setup_say "missing: $what; installing with apt-get: $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$SETUP_APT_UPDATED" ]; then
    apt-get update -qq >/dev/null || true
    SETUP_APT_UPDATED=1
  fi
  if ! apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
    setup_say "apt-get install $* failed"
    return 1
  fi
  return 0
}

setup_pg() {
  local d rc
  if d=$(setup_find_pg); then
    setup_say "ok: PostgreSQL server binaries in $d"
  elif [ -n "${HUBDECK_PG_BINDIR:-}" ]; then
    setup_say "missing: initdb and postgres in HUBDECK_PG_BINDIR=$HUBDECK_PG_BINDIR (only that directory is searched when it is set). Point it at the server's bin directory or unset it."
    return 1
  else
    setup_apt "PostgreSQL server binaries (initdb, postgres)" postgresql postgresql-contrib; rc=$?
    [ $rc -eq 0 ] || return $rc
    if ! d=$(setup_find_pg); then
      setup_say "PostgreSQL server binaries still not found after installing; set HUBDECK_PG_BINDIR to the directory holding initdb and postgres."
      return 1
    fi
    setup_say "ok: PostgreSQL server binaries in $d"
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    setup_say "running as root: PostgreSQL must run as an unprivileged account, and 'postgres' does not exist (apt-get install postgresql creates it)."
    return 1
  fi
  return 0
}

setup_tool() {
  local tool=$1 pkg=$2 rc
  if command -v "$tool" >/dev/null 2>&1; then
    setup_say "ok: $tool"
    return 0
  fi
  setup_apt "$tool" "$pkg"; rc=$?
  [ $rc -eq 0 ] || return $rc
  command -v "$tool" >/dev/null 2>&1 || { setup_say "$tool still not found after installing $pkg"; return 1; }
  setup_say "ok: $tool"
}

setup_moto() {
  local rc
  if [ -n "${HUBDECK_MOTO_SERVER:-}" ]; then
    [ -x "$HUBDECK_MOTO_SERVER" ] || { setup_say "missing: HUBDECK_MOTO_SERVER=$HUBDECK_MOTO_SERVER is not an executable"; return 1; }
    setup_say "ok: Cognito emulator $HUBDECK_MOTO_SERVER"
    return 0
  fi
  if .venv/bin/python -c 'import moto, sys; sys.exit(0 if moto.__version__ == "5.2.5" else 1)' >/dev/null 2>&1; then
    setup_say "ok: Cognito emulator in .venv ($MOTO_SPEC)"
    return 0
  fi
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    setup_apt "python3 with venv (for the Cognito emulator)" python3 python3-venv; rc=$?
    [ $rc -eq 0 ] || return $rc
  fi
  if [ -n "$SETUP_DRY_RUN" ]; then
    setup_say "missing: Cognito emulator; would create .venv and pip install $MOTO_SPEC"
    return 3
  fi
  setup_say "missing: Cognito emulator; creating .venv with $MOTO_SPEC (pip)"
  rm -rf .venv
  python3 -m venv .venv || { setup_say "python3 -m venv .venv failed"; return 1; }
  .venv/bin/pip install --quiet --disable-pip-version-check "$MOTO_SPEC" || { setup_say "pip install $MOTO_SPEC failed"; return 1; }
  setup_say "ok: Cognito emulator in .venv ($MOTO_SPEC)"
}

setup_cargo() {
  if command -v cargo >/dev/null 2>&1; then
    setup_say "ok: cargo"
    return 0
  fi
  setup_say "missing: cargo. Install Rust with rustup (https://rustup.rs), then run this again."
  return 1
}

setup_main() {
  SETUP_DRY_RUN=${HUBDECK_SETUP_DRY_RUN:-}
  local worst=0 rc c
  for c in "$@"; do
    case "$c" in
      --dry-run) SETUP_DRY_RUN=1; continue ;;
      pg) setup_pg; rc=$? ;;
      tmux) setup_tool tmux tmux; rc=$? ;;
      zsh) setup_tool zsh zsh; rc=$? ;;
      sudo) setup_tool sudo sudo; rc=$? ;;
      mandoc) setup_tool mandoc mandoc; rc=$? ;;
      faketime) setup_tool faketime faketime; rc=$? ;;
      moto) setup_moto; rc=$? ;;
      cargo) setup_cargo; rc=$? ;;
      *) setup_say "unknown component '$c' (pg, tmux, zsh, sudo, mandoc, faketime, moto, cargo)"; return 2 ;;
    esac
    # A component the user must install wins over a dry run's "would install".
    if [ $rc -eq 1 ] || { [ $rc -ne 0 ] && [ $worst -eq 0 ]; }; then worst=$rc; fi
  done
  return $worst
}

# Executed (not sourced): run from the repository root, so .venv lands there.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  cd "$(dirname "$0")/.." || exit 1
  setup_main "$@"
  exit $?
fi
