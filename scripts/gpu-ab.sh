#!/usr/bin/env bash
# A/B of the recording benchmarks on the NVIDIA GPU machine: two Release trees, each with its
# own native column, run alternately in one call (GPU VMs differ between calls, so only numbers
# from one call compare), then a perf profile of the new venus-server while it records.
#   .gpu/base/       the baseline: src/server/venus-server, src/icd/*, tools/venus-bench
#   .gpu/build-gpu/  the tree under test (scripts/gpu-bundle.sh)
#   .gpu/perf.tar.xz optional: perf and the libraries it needs (perf/perf, perf/lib/)
#   TREES            the trees to compare, in order (default ".gpu/base .gpu/build-gpu")
# Usage (device tool, carry .gpu): OUT=$OUT scripts/gpu-ab.sh [rounds] [benchmark filter]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/venus-gpu-out}
ROUNDS=${1:-2}
FILTER=${2:-Record}
mkdir -p "$OUT" /tmp/r
for f in .gpu/debs/*.deb; do dpkg -x "$f" /tmp/r; done
export LD_LIBRARY_PATH=/tmp/r/usr/lib/x86_64-linux-gnu
NV=/usr/share/vulkan/icd.d/nvidia_icd.json
[ -f "$NV" ] || NV=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export VK_DRIVER_FILES=$NV VENUS_BENCH_NATIVE_ICD=$NV
mkdir -p /work && ln -sfn "$PWD" /work/main
bench() {
  ln -sfn "$PWD/$1" "$PWD/build-gpu"
  echo "== $2 ($1)" >>"$OUT/bench.txt"
  build-gpu/tools/venus-bench --benchmark_filter="$FILTER" --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true >"/tmp/bench-$2.txt" 2>&1
  cat "/tmp/bench-$2.txt" >>"$OUT/bench.txt"
  echo "== $2 ($1)"
  grep -E "_median" "/tmp/bench-$2.txt" | awk '{print $1, $NF, $(NF-1)}'
}
TREES=${TREES:-.gpu/base .gpu/build-gpu}
for i in $(seq "$ROUNDS"); do
  for tree in $TREES; do bench "$tree" "$(basename "$tree")-$i"; done
done
[ -f .gpu/perf.tar.xz ] || exit 0
tar -C /tmp -xJf .gpu/perf.tar.xz
PERF() { LD_LIBRARY_PATH=/tmp/perf/lib:$LD_LIBRARY_PATH /tmp/perf/perf "$@"; }
for tree in .gpu/build-gpu; do
  name=$(basename "$tree")
  ln -sfn "$PWD/$tree" "$PWD/build-gpu"
  rm -f /tmp/vs.sock
  PERF record -F 15000 -o "/tmp/perf-$name.data" -- build-gpu/src/server/venus-server --socket-path /tmp/vs.sock \
    >"/tmp/perf-server-$name.txt" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -S /tmp/vs.sock ] && break; sleep 0.1; done
  VENUS_BENCH_SOCKET=/tmp/vs.sock build-gpu/tools/venus-bench --benchmark_filter='RecordLineWidth/venus' \
    --benchmark_min_time=2 >"/tmp/perf-bench-$name.txt" 2>&1
  kill -TERM $(pgrep -f "venus-server --socket-path /tmp/vs.sock" | grep -v "^$pid$") 2>/dev/null
  wait $pid
  PERF report -i "/tmp/perf-$name.data" --no-children --sort sym --stdio 2>/dev/null | grep -v "^$" | head -60 \
    >"$OUT/perf-report-$name.txt"
  PERF report -i "/tmp/perf-$name.data" --no-children --sort dso --stdio 2>/dev/null | grep -v "^$" | head -20 \
    >>"$OUT/perf-report-$name.txt"
  for sym in venus::renderer::FastPath::run_all venus::renderer::DispatchPath::run_stream \
             "venus::renderer::(anonymous namespace)::fast_vkCmdSetLineWidth"; do
    PERF annotate -i "/tmp/perf-$name.data" --stdio -s "$sym" 2>/dev/null | grep -v "^\s*0.00 *:" | head -120
  done >>"$OUT/perf-report-$name.txt"
  cat "/tmp/perf-bench-$name.txt" >>"$OUT/perf-report-$name.txt"
  echo "== perf $name"; head -25 "$OUT/perf-report-$name.txt"
done
