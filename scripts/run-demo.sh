#!/usr/bin/env bash
# The main job: installs dependencies, builds venus-cpp, starts venus-server on this host's
# Vulkan driver, runs the demos through our guest driver (libvulkan_venus_cpp.so), compares
# every result with the same program on the native driver, and prints what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD=${VENUS_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD"

WORK=$(mktemp -d /tmp/venus-demo-XXXXXX)
SOCKET="$WORK/vtest.sock"
NATIVE_ICD=${VENUS_NATIVE_ICD:-/usr/share/vulkan/icd.d/lvp_icd.x86_64.json}
OUR_ICD="$PWD/$BUILD/src/icd/venus_cpp_icd.json"

echo
echo "== host"
"$BUILD/tools/venus-doctor" --no-server | sed -n '1,/^MEMORY/p' | head -20 || true

echo
echo "== venus-server on $SOCKET"
"$BUILD/src/server/venus-server" --socket-path "$SOCKET" -v >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 200); do [ -S "$SOCKET" ] && break; sleep 0.05; done
[ -S "$SOCKET" ] || { cat "$WORK/server.log"; echo "venus-server did not start"; exit 1; }

status=0
for demo in venus-compute venus-triangle venus-cube; do
  echo
  echo "== $demo: native driver"
  VK_DRIVER_FILES=$NATIVE_ICD "$BUILD/demos/$demo" --out "$WORK/$demo.native" | sed 's/^/   /'
  echo "== $demo: through libvulkan_venus_cpp.so + venus-server"
  VK_DRIVER_FILES=$OUR_ICD VTEST_SOCKET_NAME=$SOCKET "$BUILD/demos/$demo" --out "$WORK/$demo.venus" | sed 's/^/   /'
  if cmp -s "$WORK/$demo.native" "$WORK/$demo.venus"; then
    echo "   => identical output ($(stat -c %s "$WORK/$demo.venus") bytes)"
  else
    echo "   => OUTPUTS DIFFER"
    status=1
  fi
done

echo
echo "== what venus-server did"
grep -E "capset|memory plan|created|freed|fatal|disconnected" "$WORK/server.log" | sed 's/^[^ ]* [^ ]* /   /' | head -40
exit $status
