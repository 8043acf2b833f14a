#!/usr/bin/env bash
# Runs the stack's tests and benchmarks on the NVIDIA GPU machine (docs GPU.md), from a bundle in
# .gpu/ made on the Debian build machine:
#   .gpu/debs/       Debian libraries the GPU machine lacks (Vulkan loader, glvnd, vulkan-tools, fmt, spdlog ...)
#   .gpu/build-gpu/  Release binaries (server, guest driver, demos, test and bench executables)
#   .gpu/mesa/       Mesa's venus driver (libvulkan_virtio.so) and its manifest
# Results go to $OUT (one file per step); the exit status is that of the tests.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/venus-gpu-out}
mkdir -p "$OUT" /tmp/r
ulimit -n 65536 2>/dev/null || ulimit -n 4096
for f in .gpu/debs/*.deb; do dpkg -x "$f" /tmp/r; done
export LD_LIBRARY_PATH=/tmp/r/usr/lib/x86_64-linux-gnu
export PATH=/tmp/r/usr/bin:$PATH
ln -sf /tmp/r/usr/bin/vulkaninfo /usr/local/bin/vulkaninfo 2>/dev/null
NV=/usr/share/vulkan/icd.d/nvidia_icd.json
[ -f "$NV" ] || NV=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
ln -sf "$NV" /tmp/native_icd.json
export VK_DRIVER_FILES=$NV
# the binaries carry their build paths: /work/main/build-gpu/...
mkdir -p /work && ln -sfn "$PWD" /work/main && ln -sfn "$PWD/.gpu/build-gpu" "$PWD/build-gpu"
B=build-gpu
status=0
step() { echo "== $1"; shift; "$@" >"$OUT/$STEP.txt" 2>&1; local rc=$?; tail -3 "$OUT/$STEP.txt"; [ $rc = 0 ] || status=1; }

STEP=vulkaninfo step "native vulkaninfo" vulkaninfo --summary
STEP=doctor step "venus-doctor (host)" $B/tools/venus-doctor --no-server
STEP=raw-tests step "raw-protocol tests" $B/tests/venus_raw_tests
for mode in vulkaninfo compute triangle cube; do
  demo=()
  [ $mode = vulkaninfo ] || demo=(--demo "$PWD/$B/demos/venus-$mode")
  STEP=mesa-$mode step "Mesa venus: $mode" python3 tests/mesa/mesa_client_test.py $mode --server "$PWD/$B/src/server/venus-server" \
    --mesa-icd /work/main/.gpu/mesa/venus_mesa_icd.json --native-icd "$NV" "${demo[@]}" --out /tmp/mesa-$mode
done
STEP=mesa-seed step "Mesa venus, fd export hidden: compute" python3 tests/mesa/mesa_client_test.py compute \
  --server "$PWD/$B/src/server/venus-server" --mesa-icd /work/main/.gpu/mesa/venus_mesa_icd.json --native-icd "$NV" \
  --demo "$PWD/$B/demos/venus-compute" --server-env VENUS_HIDE_EXTENSIONS=VK_KHR_external_memory_fd,VK_EXT_external_memory_dma_buf \
  --out /tmp/mesa-seed
# one process per test, as ctest runs them (gtest_discover_tests); Loader.Install* needs the
# build tree's cmake_install scripts, which the bundle does not carry
icd_tests() {
  local rc=0 t
  for t in $($B/tests/icd/venus_icd_tests --gtest_list_tests | awk '/^[^ ]/{s=$1} /^  /{print s $1}'); do
    case $t in Loader.Install*) echo "not run here: $t"; continue;; esac
    VK_LOADER_DEBUG=error $B/tests/icd/venus_icd_tests --gtest_filter="$t" || rc=1
  done
  return $rc
}
STEP=icd-tests step "guest-driver tests" icd_tests
STEP=bench step "venus-bench" env VENUS_BENCH_NATIVE_ICD="$NV" $B/tools/venus-bench --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_filter=-side_by_side
# native and venus recordings alternately in one benchmark: the ratio over the same seconds
STEP=bench-side step "venus-bench, recording side by side" env VENUS_BENCH_NATIVE_ICD="$NV" $B/tools/venus-bench \
  --benchmark_filter=side_by_side --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
# the recording benchmarks with every command through the general decoder (fast path off)
STEP=bench-general step "venus-bench, VENUS_FAST_PATH=off" env VENUS_BENCH_NATIVE_ICD="$NV" \
  VENUS_FAST_PATH=off $B/tools/venus-bench --benchmark_filter=Record --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true
# the same recording benchmarks with the renderer's executor thread on (off by default)
STEP=bench-deferred step "venus-bench, VENUS_DEFERRED_EXECUTION=on" env VENUS_BENCH_NATIVE_ICD="$NV" \
  VENUS_DEFERRED_EXECUTION=on $B/tools/venus-bench --benchmark_filter=Record --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true
{ nvidia-smi -L; nproc; lscpu | grep -E "Model name|^CPU\(s\)"; } > "$OUT/gpu.txt" 2>&1
exit $status
