#!/usr/bin/env bash
# Build the medaid binary and smoke-test it. The container recipe
# (Dockerfile) builds with exactly this script, and .ci/run runs it too, so
# the image's build steps are tested on every CI run even where no image
# can be built.
#
#   deploy/build.sh OUT_DIR [PROFILE]     (PROFILE: release, the default)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: deploy/build.sh OUT_DIR [PROFILE]}"
profile="${2:-release}"

cargo build --locked --profile "$profile" --bin medaid
case "$profile" in
  dev) dir=target/debug ;;
  *) dir="target/$profile" ;;
esac
mkdir -p "$out"
install -m 0755 "$dir/medaid" "$out/medaid"
bin="$(cd "$out" && pwd)/medaid"

# Smoke test: the binary starts from an empty folder, serves, and passes
# the health check the image uses.
tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
"$bin" --version
(cd "$tmp" && exec "$bin" serve --demo --listen 127.0.0.1:0 >serve.out 2>serve.err) &
pid=$!
addr=""
for _ in $(seq 1 100); do
  addr="$(sed -n 's|^medaid listening on http://\([^ ]*\).*|\1|p' "$tmp/serve.out" 2>/dev/null | head -n1)"
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.err" >&2; echo "build: medaid serve exited" >&2; exit 1; }
  sleep 0.2
done
[ -n "$addr" ] || { cat "$tmp/serve.err" >&2; echo "build: medaid serve did not start" >&2; exit 1; }
"$bin" healthcheck --listen "$addr"
echo "build: $out/medaid ($profile) built and healthy"
