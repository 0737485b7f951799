#!/usr/bin/env bash
# The main job end to end on the local emulator: build novactl, start moto on 127.0.0.1:4566,
# plan, apply, and plan again (which must say "No changes."). Leaves moto running when
# KEEP=1 so you can explore with `novactl -e environments/local.yaml plan`.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/target-dir.sh
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_EC2_METADATA_DISABLED=true
spec=environments/local.yaml
port=4566

echo "== build"
cargo build --locked
bin="$CARGO_TARGET_DIR/debug/novactl"

echo "== emulator on 127.0.0.1:$port"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "port $port is taken: stop whatever listens there (a previous demo with KEEP=1?)" >&2
  exit 1
fi
mkfifo_dir=$(mktemp -d)
python3 tests/emulator/moto_launcher.py --port "$port" --no-stdin-watch >"$mkfifo_dir/ready" 2>"$mkfifo_dir/log" &
moto=$!
cleanup() { if [ "${KEEP:-0}" != 1 ]; then kill "$moto" 2>/dev/null || true; fi; rm -rf "$mkfifo_dir"; }
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q READY "$mkfifo_dir/ready" 2>/dev/null && break
  kill -0 "$moto" 2>/dev/null || { cat "$mkfifo_dir/log" >&2; exit 1; }
  sleep 0.2
done

echo "== novactl validate"
"$bin" validate -e "$spec"
echo "== novactl plan"
set +e; "$bin" plan -e "$spec" --detailed-exitcode; code=$?; set -e
[ "$code" = 2 ] || { echo "expected a plan with changes (exit 2), got $code" >&2; exit 1; }
echo "== novactl apply"
"$bin" apply -e "$spec" --auto-approve
echo "== novactl plan (again)"
"$bin" plan -e "$spec" --detailed-exitcode
echo "== done: live state matches $spec"
