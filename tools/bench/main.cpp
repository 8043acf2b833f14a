// venus-bench's main: Google Benchmark's, plus releasing the drivers the benchmarks opened while
// the program is still running (NVIDIA's driver crashes when Vulkan objects outlive main).
#include <benchmark/benchmark.h>

namespace venus::bench {
void release_drivers();
}

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    venus::bench::release_drivers();
    benchmark::Shutdown();
    return 0;
}
