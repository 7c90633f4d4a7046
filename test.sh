#!/usr/bin/env bash
# The one test command: installs what is missing on a fresh Debian machine, then runs
# cargo fmt --check, cargo clippy (-D warnings) and every test.
#   - PostgreSQL server binaries (apt-get install postgresql when root; otherwise says what to install)
#   - tmux (end-to-end TUI tests)
#   - a Python virtualenv at .venv with the Cognito emulator moto[server,cognitoidp]==5.2.5
set -euo pipefail
cd "$(dirname "$0")"

MOTO_SPEC='moto[server,cognitoidp]==5.2.5'
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

have_pg_server() {
  local d
  if [ -n "${HUBDECK_PG_BINDIR:-}" ] && [ -x "$HUBDECK_PG_BINDIR/initdb" ]; then return 0; fi
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
  fi
  command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1 && return 0
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0; done
  return 1
}

apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  say "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. PostgreSQL server (the harness starts its own ephemeral cluster; no system service needed).
if ! have_pg_server; then
  apt_install postgresql postgresql-contrib || die "PostgreSQL server binaries (initdb, postgres) not found. Install the server package (Debian/Ubuntu: sudo apt-get install postgresql) or set HUBDECK_PG_BINDIR."
  have_pg_server || die "PostgreSQL server still not found after installing; set HUBDECK_PG_BINDIR to the directory holding initdb and postgres."
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  die "running as root: PostgreSQL must run as an unprivileged account, and 'postgres' does not exist (apt-get install postgresql creates it, or set HUBDECK_PG_USER)."
fi

# 2. tmux for the end-to-end tests of the real binary.
if ! command -v tmux >/dev/null 2>&1; then
  apt_install tmux || die "tmux not found. Install it (Debian/Ubuntu: sudo apt-get install tmux)."
fi

# 3. The Cognito emulator in a pinned virtualenv.
if [ -z "${HUBDECK_MOTO_SERVER:-}" ]; then
  if ! .venv/bin/python -c 'import moto, sys; sys.exit(0 if moto.__version__ == "5.2.5" else 1)' >/dev/null 2>&1; then
    command -v python3 >/dev/null 2>&1 || die "python3 not found; it is needed for the Cognito emulator (moto)."
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      apt_install python3-venv || die "python3 cannot create virtualenvs; install python3-venv."
    fi
    say "creating .venv with $MOTO_SPEC"
    rm -rf .venv
    python3 -m venv .venv || die "python3 -m venv .venv failed"
    .venv/bin/pip install --quiet --disable-pip-version-check "$MOTO_SPEC" || die "pip install $MOTO_SPEC failed"
  fi
  export HUBDECK_MOTO_SERVER="$PWD/.venv/bin/moto_server"
fi
[ -x "$HUBDECK_MOTO_SERVER" ] || die "moto_server not found at $HUBDECK_MOTO_SERVER"

command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust (rustup) first."

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
say "cargo test"
CI="${CI:-true}" cargo test --all-targets -- "$@"
say "all green"
