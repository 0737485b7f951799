#!/usr/bin/env bash
# The benchmark (see bench/bench.py and docs/performance.md): builds the release binary (the
# one `cargo install --locked --path .` installs), makes sure the emulator venv exists, then
# runs bench/bench.py with the venv's python. Prints the report on stdout. Not a test: nothing
# here passes or fails on a timing. Takes about 10 minutes on 2 cores (plus the release build).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/target-dir.sh
export AWS_EC2_METADATA_DISABLED=true
cargo build --release --locked >&2
python3 tests/emulator/moto_launcher.py --install-only
venv="${NOVACTL_MOTO_VENV:-.moto-venv}"
export NOVACTL_BIN="${NOVACTL_BIN:-$CARGO_TARGET_DIR/release/novactl}"
exec "$venv/bin/python" bench/bench.py "$@"
