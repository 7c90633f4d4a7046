#!/usr/bin/env bash
# The README's run command: installs what the demo needs exactly as ./test.sh does (one shared
# script, scripts/setup.sh: the PostgreSQL server binaries via apt-get when root, otherwise it
# says what to install), then builds and opens the demo. Arguments go to `hubdeck demo`
# (e.g. ./demo.sh --no-console, ./demo.sh --fresh).
# HUBDECK_SETUP_DRY_RUN=1 reports what would be installed and run, and changes nothing.
set -uo pipefail
cd "$(dirname "$0")" || exit 1

scripts/setup.sh pg cargo
rc=$?
if [ $rc -ne 0 ]; then
  [ $rc -eq 3 ] && printf 'demo.sh: dry run: would then run: cargo run --release -- demo %s\n' "$*" >&2
  exit $rc
fi
if [ -n "${HUBDECK_SETUP_DRY_RUN:-}" ]; then
  printf 'demo.sh: dry run: nothing to install; would run: cargo run --release -- demo %s\n' "$*" >&2
  exit 0
fi
exec cargo run --release -- demo "$@"
