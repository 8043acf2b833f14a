#!/usr/bin/env bash
# Builds the Release binaries that scripts/gpu-run.sh runs on the NVIDIA GPU machine and copies
# them into .gpu/build-gpu/ (git ignores .gpu/; pass it to the device tool's `carry`).
# .gpu/debs/ and .gpu/mesa/ are made once by hand (docs GPU.md, tests/mesa/README).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build-gpu venus-server venus_cpp_icd venus-doctor venus-bench venus_raw_tests venus_icd_tests \
  venus-compute venus-triangle venus-cube
for f in src/server/venus-server src/icd/libvulkan_venus_cpp.so src/icd/venus_cpp_icd.json tools/venus-doctor \
         tools/venus-bench tests/venus_raw_tests tests/icd/venus_icd_tests demos/venus-compute \
         demos/venus-triangle demos/venus-cube; do
  mkdir -p ".gpu/build-gpu/$(dirname "$f")"
  cp "build-gpu/$f" ".gpu/build-gpu/$f"
  case $f in *.json) ;; *) strip --strip-debug ".gpu/build-gpu/$f";; esac
done
du -sh .gpu/build-gpu
