#!/usr/bin/env bash
# The test suite: the emulator's own tests (its patches, through boto3 and raw CBOR), then
# every Rust test (unit, mock and integration against the emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/target-dir.sh
python3 tests/emulator/moto_launcher.py --install-only
venv="${NOVACTL_MOTO_VENV:-.moto-venv}"
echo "== emulator self-test"
"$venv/bin/python" -m unittest tests/emulator/test_launcher.py 2>&1 | tail -n 3
echo "== cargo test"
cargo test --locked
