#!/usr/bin/env bash
# The one test command: installs what is missing on a fresh Debian machine (scripts/setup.sh,
# shared with ./demo.sh), then runs cargo fmt --check, cargo clippy (-D warnings) and every test.
#   - PostgreSQL server binaries (apt-get install postgresql when root; otherwise says what to install)
#   - tmux (end-to-end TUI tests), zsh and mandoc (completion and man page checks), faketime
#     (the real binary with a skewed clock)
#   - a Python virtualenv at .venv with the Cognito emulator moto[server,cognitoidp]==5.2.5
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# What the tests need, installed (or named) by the same script the demo command uses.
#   pg: the harness's ephemeral clusters; tmux: end-to-end tests of the real binary;
#   zsh and mandoc: the completion and man page checks; sudo: the shared-bastion test;
#   faketime: the clock-skew tests; moto: the Cognito emulator.
say "checking what the tests need (scripts/setup.sh)"
scripts/setup.sh pg tmux zsh sudo mandoc faketime moto cargo || exit 1
export HUBDECK_MOTO_SERVER="${HUBDECK_MOTO_SERVER:-$PWD/.venv/bin/moto_server}"

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
say "cargo test"
CI="${CI:-true}" cargo test --all-targets -- "$@"
say "all green"
