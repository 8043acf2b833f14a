// Codec throughput: guest-side encoding and host-side decode + dispatch of small commands.
#include <benchmark/benchmark.h>

#include <unordered_map>
#include <vector>

#include "protocol/guest_codec.h"
#include "protocol/host_dispatch.h"
#include "renderer/deferred_executor.h"
#include "renderer/fast_path.h"
#include "renderer/object_table.h"

namespace venus::bench {
namespace {

using protocol::Decoder;
using protocol::Encoder;
using protocol::WireCaps;

protocol::GuestDispatchable g_cmd{nullptr, 0x100};
const auto kCmd = reinterpret_cast<VkCommandBuffer>(&g_cmd);

// Object lookups as a renderer does them: a hash table from id to object.
class MapResolver : public protocol::HandleResolver {
public:
    void add(uint64_t id, VkObjectType type) { refs_[id] = {id, id * 16, type}; }
    const protocol::ObjectRef* find(uint64_t id) override {
        auto it = refs_.find(id);
        return it == refs_.end() ? nullptr : &it->second;
    }
    uint64_t id_of(VkObjectType, uint64_t handle) override { return handle / 16; }

private:
    std::unordered_map<uint64_t, protocol::ObjectRef> refs_;
};

struct Draw {
    static size_t size(const WireCaps& c) { return protocol::guest::sizeof_vkCmdDraw(c, kCmd, 3, 1, 0, 0); }
    static void encode(Encoder& e) { protocol::guest::encode_vkCmdDraw(e, 0, kCmd, 3, 1, 0, 0); }
};

struct BindVertexBuffers {
    static inline const VkBuffer buffers[2] = {protocol::to_handle<VkBuffer>(0x200), protocol::to_handle<VkBuffer>(0x201)};
    static inline const VkDeviceSize offsets[2] = {0, 256};
    static size_t size(const WireCaps& c) {
        return protocol::guest::sizeof_vkCmdBindVertexBuffers(c, kCmd, 0, 2, buffers, offsets);
    }
    static void encode(Encoder& e) { protocol::guest::encode_vkCmdBindVertexBuffers(e, 0, kCmd, 0, 2, buffers, offsets); }
};

struct PipelineBarrier {
    static inline const VkImageMemoryBarrier barrier = {
        VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_SHADER_READ_BIT,
        VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL, VK_QUEUE_FAMILY_IGNORED,
        VK_QUEUE_FAMILY_IGNORED, protocol::to_handle<VkImage>(0x300), {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    static size_t size(const WireCaps& c) {
        return protocol::guest::sizeof_vkCmdPipelineBarrier(c, kCmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                                            VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0,
                                                            nullptr, 1, &barrier);
    }
    static void encode(Encoder& e) {
        protocol::guest::encode_vkCmdPipelineBarrier(e, 0, kCmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                                     VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0, nullptr,
                                                     1, &barrier);
    }
};

// Encoding as a guest driver does it: compute the size, reserve it, write.
template <class Cmd>
void BM_Encode(benchmark::State& state) {
    const WireCaps caps = WireCaps::everything();
    std::vector<uint8_t> buf(1 << 20);
    Encoder e(buf.data(), buf.size(), &caps);
    size_t bytes = 0;
    for (auto _ : state) {
        const size_t n = Cmd::size(caps);
        if (e.remaining() < n) e.reset(buf.data(), buf.size());
        Cmd::encode(e);
        bytes += n;
    }
    benchmark::DoNotOptimize(buf.data());
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// A stream of 4096 commands decoded and dispatched to a no-op dispatcher.
template <class Cmd>
void BM_DecodeDispatch(benchmark::State& state) {
    const WireCaps caps = WireCaps::everything();
    const size_t one = Cmd::size(caps);
    constexpr size_t kCount = 4096;
    std::vector<uint8_t> buf(one * kCount);
    Encoder e(buf.data(), buf.size(), &caps);
    for (size_t i = 0; i < kCount; ++i) Cmd::encode(e);
    MapResolver objects;
    objects.add(0x100, VK_OBJECT_TYPE_COMMAND_BUFFER);
    objects.add(0x200, VK_OBJECT_TYPE_BUFFER);
    objects.add(0x201, VK_OBJECT_TYPE_BUFFER);
    objects.add(0x300, VK_OBJECT_TYPE_IMAGE);
    protocol::TempArena arena;
    protocol::host::NullDispatcher null;
    for (auto _ : state) {
        Decoder d(buf.data(), buf.size(), &arena, &objects);
        while (!d.at_end()) {
            arena.reset();
            protocol::host::dispatch_command(d, null);
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kCount));
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(buf.size()));
}

// A host driver whose vkCmdDraw costs `work` steps of a dependent loop (0: free).
int64_t g_draw_work = 0;
void VKAPI_CALL busy_draw(VkCommandBuffer, uint32_t vertex_count, uint32_t, uint32_t, uint32_t) {
    uint64_t x = vertex_count;
    for (int64_t i = 0; i < g_draw_work; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
    benchmark::DoNotOptimize(x);
}
class BusyDriver : public protocol::host::NullDispatcher {
public:
    explicit BusyDriver(int64_t work) { g_draw_work = work; }
    void vkCmdDraw(protocol::host::vkCmdDraw_args& a) override {
        busy_draw(a.commandBuffer, a.vertexCount, a.instanceCount, a.firstVertex, a.firstInstance);
    }
};

// The renderer's object table with one device whose vkCmdDraw is busy_draw and one command
// buffer, id 0x100, looked up through a dispatch path's cache.
struct RendererObjects {
    RendererObjects() {
        auto dev = std::make_unique<renderer::DeviceObject>();
        dev->id = 0x10;
        dev->type = VK_OBJECT_TYPE_DEVICE;
        dev->handle = 0x1000;
        dev->fn.CmdDraw = busy_draw;
        dev->device = dev.get();
        auto* device = static_cast<renderer::DeviceObject*>(table.insert(std::move(dev)));
        auto cb = std::make_unique<renderer::Object>();
        cb->id = 0x100;
        cb->type = VK_OBJECT_TYPE_COMMAND_BUFFER;
        cb->handle = 0x1100;
        cb->device = device;
        table.insert(std::move(cb));
    }
    renderer::ObjectTable table;
    renderer::CachedResolver cached{table};
};

// 16384 draws decoded and run against a driver of a given cost per draw:
//   Serial    decode, call, decode, call ... (what a dispatch path does)
//   Deferred  decode here, call on the renderer's DeferredExecutor thread
//   Inline    decode into batches of 256 as for the executor, run each batch on this thread
//   Fast      the renderer's fast path (FastPath): arguments straight from the wire into the call
enum class Mode { Serial, Deferred, Inline, Fast };

template <Mode kMode>
void BM_Pipeline(benchmark::State& state) {
    const WireCaps caps = WireCaps::everything();
    constexpr size_t kCount = 16384;
    std::vector<uint8_t> buf(Draw::size(caps) * kCount);
    Encoder e(buf.data(), buf.size(), &caps);
    for (size_t i = 0; i < kCount; ++i) Draw::encode(e);
    RendererObjects objects;
    renderer::FastPath fast(objects.cached);
    protocol::TempArena arena;
    BusyDriver driver(state.range(0));
    renderer::DeferredExecutor executor(driver, size_t{1} << 30, "bench-exec");
    const std::function<void(size_t)> progress;
    std::vector<protocol::host::DeferredCommand> batch;
    for (auto _ : state) {
        Decoder d(buf.data(), buf.size(), &arena, &objects.cached);
        while (!d.at_end()) {
            if constexpr (kMode == Mode::Fast) {
                uint64_t ran = 0;
                const size_t used = fast.run_all(d.position(), d.remaining(), ran);
                if (used != d.remaining()) throw std::logic_error("vkCmdDraw left the fast path");
                d.skip(used);
            } else if constexpr (kMode == Mode::Deferred) {
                d.set_arena(&executor.arena());
                executor.push(protocol::host::decode_deferred(d), d.offset(), progress);
            } else if constexpr (kMode == Mode::Inline) {
                batch.push_back(protocol::host::decode_deferred(d));
                if (batch.size() == renderer::DeferredExecutor::kBatchCommands || d.at_end()) {
                    for (auto& c : batch) c.exec(driver, c.args);
                    batch.clear();
                    arena.reset();
                }
            } else {
                arena.reset();
                protocol::host::dispatch_command(d, driver);
            }
        }
        if constexpr (kMode == Mode::Deferred) executor.drain(progress);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kCount));
}

BENCHMARK_TEMPLATE(BM_Pipeline, Mode::Serial)->Name("renderer/serial/vkCmdDraw")->Arg(0)->Arg(20)->Arg(60);
BENCHMARK_TEMPLATE(BM_Pipeline, Mode::Deferred)->Name("renderer/deferred/vkCmdDraw")->Arg(0)->Arg(20)->Arg(60);
BENCHMARK_TEMPLATE(BM_Pipeline, Mode::Inline)->Name("renderer/inline/vkCmdDraw")->Arg(0)->Arg(20)->Arg(60);
BENCHMARK_TEMPLATE(BM_Pipeline, Mode::Fast)->Name("renderer/fast/vkCmdDraw")->Arg(0)->Arg(20)->Arg(60);

BENCHMARK_TEMPLATE(BM_Encode, Draw)->Name("codec/encode/vkCmdDraw");
BENCHMARK_TEMPLATE(BM_Encode, BindVertexBuffers)->Name("codec/encode/vkCmdBindVertexBuffers");
BENCHMARK_TEMPLATE(BM_Encode, PipelineBarrier)->Name("codec/encode/vkCmdPipelineBarrier");
BENCHMARK_TEMPLATE(BM_DecodeDispatch, Draw)->Name("codec/decode_dispatch/vkCmdDraw");
BENCHMARK_TEMPLATE(BM_DecodeDispatch, BindVertexBuffers)->Name("codec/decode_dispatch/vkCmdBindVertexBuffers");
BENCHMARK_TEMPLATE(BM_DecodeDispatch, PipelineBarrier)->Name("codec/decode_dispatch/vkCmdPipelineBarrier");

}  // namespace
}  // namespace venus::bench
