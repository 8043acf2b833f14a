// venus-bench's main: Google Benchmark's, plus releasing the drivers the benchmarks opened while
// the program is still running (NVIDIA's driver crashes when Vulkan objects outlive main).
//
// VENUS_BENCH_KEEP_FREED_HEAP=1 gives this process venus-server's malloc settings
// (venus::keep_freed_heap), so that native runs of a malloc-heavy driver (lavapipe) compare with
// the server on equal terms; by default it runs as an application would.
#include <benchmark/benchmark.h>

#include "util/env.h"
#include "util/malloc_tuning.h"

namespace venus::bench {
void release_drivers();
}

int main(int argc, char** argv) {
    if (venus::env::flag("VENUS_BENCH_KEEP_FREED_HEAP")) venus::keep_freed_heap();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    venus::bench::release_drivers();
    benchmark::Shutdown();
    return 0;
}
