#!/usr/bin/env bash
# The main job end to end on the local emulator: build novactl, start moto on 127.0.0.1:4566,
# plan, apply (the models bucket first, then the model artifact, then everything, the DR stack
# in us-west-2 included), plan again (which must say "No changes."), and a DR drill that
# measures RPO and RTO (replication takes 1 s, endpoint transitions 1 s here). Leaves moto
# running when KEEP=1 so you can explore with `novactl -e environments/local.yaml plan`.
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
python3 tests/emulator/moto_launcher.py --port "$port" --no-stdin-watch \
  --replication-delay 1 --endpoint-delay 1 >"$mkfifo_dir/ready" 2>"$mkfifo_dir/log" &
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
echo "== novactl apply --target s3.models (the bucket the model artifact goes into)"
"$bin" apply -e "$spec" --auto-approve --target s3.models
echo "== upload the model artifact (the DR model is made from a verified copy of it)"
"${NOVACTL_MOTO_VENV:-.moto-venv}/bin/python" - "$port" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
s3.put_object(Bucket="novamind-local-models", Key="models/mentallama-packaged.tar.gz",
              Body=b"stand-in for the packaged MentaLLaMA model", ChecksumAlgorithm="SHA256")
PY
echo "== novactl apply"
"$bin" apply -e "$spec" --auto-approve
echo "== novactl plan (again)"
"$bin" plan -e "$spec" --detailed-exitcode
echo "== novactl dr drill (report in $mkfifo_dir/drill.json and .md)"
"$bin" dr drill -e "$spec" --report "$mkfifo_dir/drill.json" --teardown
echo "== done: live state matches $spec; the drill met both objectives"
