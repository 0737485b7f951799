#!/usr/bin/env bash
# Build once: on an empty target directory, `cargo build --locked`, then
# `cargo test --locked --no-run`, and report what the second step compiled. It should be
# novactl's own targets only: the SDK crates are shared by the two builds (see Cargo.toml,
# "Build once"). Usage: bench/build-once.sh [EMPTY_DIR] (default: a new temporary directory,
# removed afterwards). Takes one cold build of the SDK (minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then dir="$1"; keep=1; else dir="$(mktemp -d)"; keep=0; fi
if [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then echo "$dir is not empty" >&2; exit 1; fi
export CARGO_TARGET_DIR="$dir"
compiled() {
  python3 -c '
import json, sys
names = []
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and not m.get("fresh"):
        names.append(m["package_id"].split("#")[-1])
print(len(names), " ".join(sorted(set(names))))
'
}
t0=$(date +%s)
read -r n1 _ < <(cargo build --locked --message-format=json 2>/dev/null | compiled)
t1=$(date +%s)
read -r n2 list2 < <(cargo test --locked --no-run --message-format=json 2>/dev/null | compiled)
t2=$(date +%s)
sdk=$(tr ' ' '\n' <<<"$list2" | grep -c '^aws-sdk-' || true)
echo "cargo build --locked:           $n1 artifacts compiled in $((t1 - t0)) s"
echo "cargo test --locked --no-run:   $n2 artifacts compiled in $((t2 - t1)) s: $list2"
echo "aws-sdk crates compiled by the second step: $sdk"
[ "$keep" = 1 ] || rm -rf "$dir"
[ "$sdk" = 0 ]
