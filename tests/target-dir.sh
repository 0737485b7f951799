# Sourced by tests/run.sh, tests/emulator/demo.sh and .ci/run: one build directory outside the
# clone, shared by every checkout (the AWS SDK crates take minutes to build cold).
#
# Cargo judges novactl's own artifacts fresh when they are newer than this checkout's sources,
# so after another checkout built into the same directory, an older checkout could run the
# other one's binaries. Touching the sources when the last build came from elsewhere makes
# cargo rebuild novactl (seconds), never the SDK.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/novactl/target}"
mkdir -p "$CARGO_TARGET_DIR"
_novactl_stamp="$CARGO_TARGET_DIR/.novactl-checkout"
if [ "$(cat "$_novactl_stamp" 2>/dev/null)" != "$PWD" ]; then
  git ls-files -z -- '*.rs' '*.tera' '*.yaml' 2>/dev/null | xargs -0 -r touch
  printf '%s\n' "$PWD" >"$_novactl_stamp"
fi
