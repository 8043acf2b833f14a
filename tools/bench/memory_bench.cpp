// Guest writes into mapped HOST_VISIBLE memory, per host-memory strategy, against a plain memcpy
// into ordinary memory in the same run (docs/PERFORMANCE.md). Each strategy runs behind its own
// venus-server (VENUS_MEMORY_STRATEGY), reached through raw Venus bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "raw_guest.h"
#include "raw_workload.h"
#include "server_process.h"

namespace venus::bench {
namespace {

constexpr size_t kSize = 64 << 20;

struct Mapped {
    std::unique_ptr<test::ServerProcess> server;
    std::unique_ptr<test::RawGuest> guest;
    std::unique_ptr<test::RawDevice> device;
    test::RawDevice::Buffer buffer{};
    transport::VtestClient::Blob blob;
};

// One server and one mapped 64 MiB allocation per strategy, made on first use.
Mapped& mapped(const std::string& strategy) {
    static std::map<std::string, std::unique_ptr<Mapped>> all;
    auto& m = all[strategy];
    if (!m) {
        m = std::make_unique<Mapped>();
        m->server = std::make_unique<test::ServerProcess>(std::vector<std::string>{},
                                                          std::map<std::string, std::string>{{"VENUS_MEMORY_STRATEGY", strategy}});
        m->guest = std::make_unique<test::RawGuest>(m->server->socket_path(), "memory-bench");
        m->device = std::make_unique<test::RawDevice>(*m->guest);
        m->buffer = m->device->buffer(kSize, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, test::RawDevice::kAnyHostVisible);
        m->blob = m->guest->map_memory(m->buffer.memory, kSize);
        std::memset(m->blob.memory.data(), 1, kSize);  // fault every page in before timing
    }
    return *m;
}

std::vector<uint8_t>& source() {
    static std::vector<uint8_t> src = [] {
        std::vector<uint8_t> v(kSize);
        for (size_t i = 0; i < kSize; ++i) v[i] = static_cast<uint8_t>(i * 131);
        return v;
    }();
    return src;
}

void BM_MemcpyBaseline(benchmark::State& state) {
    auto& src = source();
    std::vector<uint8_t> dst(kSize, 1);
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), kSize);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kSize));
}

// The guest's memcpy into its mapping of the allocation.
void BM_MappedWrite(benchmark::State& state, const std::string& strategy) {
    auto& src = source();
    Mapped& m = mapped(strategy);
    for (auto _ : state) {
        std::memcpy(m.blob.memory.data(), src.data(), kSize);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kSize));
}

// Write, then make it visible to the device (vkFlushMappedMemoryRanges, a round trip): free for
// zero-copy strategies, a page-wise reconciliation for shadow copies.
void BM_MappedWriteFlush(benchmark::State& state, const std::string& strategy) {
    auto& src = source();
    Mapped& m = mapped(strategy);
    uint8_t salt = 0;
    for (auto _ : state) {
        std::memcpy(m.blob.memory.data(), src.data(), kSize);
        m.blob.memory.data()[0] = ++salt;  // every page was rewritten; make sure the data differs
        m.device->flush(m.buffer.memory);
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kSize));
}

BENCHMARK(BM_MemcpyBaseline)->Name("memory/memcpy_baseline")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MappedWrite, host_pointer, std::string("host-pointer"))
    ->Name("memory/mapped_write/host-pointer")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MappedWrite, shadow, std::string("shadow"))
    ->Name("memory/mapped_write/shadow")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MappedWriteFlush, host_pointer, std::string("host-pointer"))
    ->Name("memory/mapped_write_flush/host-pointer")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MappedWriteFlush, shadow, std::string("shadow"))
    ->Name("memory/mapped_write_flush/shadow")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace venus::bench
