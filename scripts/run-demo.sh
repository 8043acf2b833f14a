#!/usr/bin/env bash
# Installs dependencies, builds venus-cpp and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD=${VENUS_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD"
echo "== what the protocol generator produced from $(ls /usr/share/vulkan/registry/vk.xml)"
python3 codegen/venus_gen.py --protocol protocol --summary
