#!/usr/bin/env bash
# Installs dependencies, builds venus-cpp and runs every test:
#   1. the whole ctest suite (unit, integration, guest driver, Mesa's venus, apps, doctor)
#   2. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the fuzzers (libFuzzer, clang), each for VENUS_FUZZ_SECONDS (default 120) from the seed corpus:
#      the decoder, and the renderer's fast path against the general decoder (differential)
# VENUS_TEST_STAGES="main asan fuzz" selects stages (default: all three).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

STAGES=${VENUS_TEST_STAGES:-"main asan fuzz"}
BUILD=${VENUS_BUILD_DIR:-build}
JOBS=${VENUS_JOBS:-2}
summary=()

stage() { echo; echo "==== $* ===="; }

if [[ " $STAGES " == *" main "* ]]; then
  stage "build ($BUILD) and run the test suite"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVENUS_BUILD_TESTS=ON -DVENUS_BUILD_BENCH=ON
  cmake --build "$BUILD" -j "$JOBS"
  ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" --timeout 900
  summary+=("main suite: passed")
fi

if [[ " $STAGES " == *" asan "* ]]; then
  stage "build-asan: the test suite under AddressSanitizer and UndefinedBehaviorSanitizer"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVENUS_SANITIZE=ON -DVENUS_BUILD_BENCH=OFF
  cmake --build build-asan -j "$JOBS"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS" --timeout 1200
  summary+=("sanitizer suite: passed")
fi

if [[ " $STAGES " == *" fuzz "* ]]; then
  stage "build-fuzz: the decoder fuzzer and the fast-path differential fuzzer (libFuzzer + ASan/UBSan, clang)"
  CORPUS="$BUILD/tests/fuzz/corpus"
  if [ ! -d "$CORPUS" ] || [ -z "$(ls -A "$CORPUS")" ]; then
    cmake --build "$BUILD" --target venus_fuzz_seed_corpus
    mkdir -p "$CORPUS"
    "$BUILD/tests/fuzz/venus_fuzz_seed_corpus" "$CORPUS"
  fi
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVENUS_FUZZ=ON \
    -DVENUS_SANITIZE=ON -DVENUS_BUILD_BENCH=OFF
  cmake --build build-fuzz -j "$JOBS" --target venus_decode_fuzzer venus_fast_path_fuzzer
  mkdir -p build-fuzz/artifacts
  for fuzzer in decode fast_path; do
    # each fuzzer grows its own copy of the seed corpus
    mkdir -p "build-fuzz/corpus-$fuzzer"
    build-fuzz/tests/fuzz/venus_${fuzzer}_fuzzer -max_total_time="${VENUS_FUZZ_SECONDS:-120}" -max_len=8192 \
      -rss_limit_mb=2048 -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
      "build-fuzz/corpus-$fuzzer" "$CORPUS"
    summary+=("$fuzzer fuzzer: ${VENUS_FUZZ_SECONDS:-120} s, no crash")
  done
fi

echo
echo "==== summary ===="
printf '%s\n' "${summary[@]}"
