// Hostile guests against a real venus-server: a realistic command sequence with random bytes
// flipped, sent by one client after another, while another client keeps working. Whatever the
// bytes do to a context (fatal, or even a crash inside the host driver in that client's own
// process), the server and the other client go on.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <span>
#include <thread>

#include "raw_guest.h"
#include "raw_workload.h"
#include "server_process.h"

namespace venus::test {
namespace {

using namespace protocol;

class Stream {
public:
    explicit Stream(const WireCaps& caps) : caps_(caps) {}
    template <class S, class E>
    void add(S&& size, E&& encode) {
        std::vector<uint8_t> cmd(size(caps_));
        Encoder e(cmd.data(), cmd.size(), &caps_);
        encode(e);
        bytes.insert(bytes.end(), cmd.begin(), cmd.end());
    }
    std::vector<uint8_t> bytes;

private:
    const WireCaps& caps_;
};

// Instance, device, buffer, memory, command buffer, a few commands: valid, asynchronous bytes.
std::vector<uint8_t> realistic_stream(RawGuest& g) {
    Stream s(g.caps());
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    auto instance = g.dispatchable<VkInstance>();
    s.add([&](auto& c) { return guest::sizeof_vkCreateInstance(c, &ici, nullptr, &instance); },
          [&](auto& e) { guest::encode_vkCreateInstance(e, 0, &ici, nullptr, &instance); });
    uint32_t count = 1;
    auto pd = g.dispatchable<VkPhysicalDevice>();
    s.add([&](auto& c) { return guest::sizeof_vkEnumeratePhysicalDevices(c, instance, &count, &pd); },
          [&](auto& e) { guest::encode_vkEnumeratePhysicalDevices(e, 0, instance, &count, &pd); });
    const float prio = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, 0, 1, &prio};
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    auto device = g.dispatchable<VkDevice>();
    s.add([&](auto& c) { return guest::sizeof_vkCreateDevice(c, pd, &dci, nullptr, &device); },
          [&](auto& e) { guest::encode_vkCreateDevice(e, 0, pd, &dci, nullptr, &device); });
    auto queue = g.dispatchable<VkQueue>();
    s.add([&](auto& c) { return guest::sizeof_vkGetDeviceQueue(c, device, 0, 0, &queue); },
          [&](auto& e) { guest::encode_vkGetDeviceQueue(e, 0, device, 0, 0, &queue); });
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = 65536;
    bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
    auto buffer = g.handle<VkBuffer>();
    s.add([&](auto& c) { return guest::sizeof_vkCreateBuffer(c, device, &bci, nullptr, &buffer); },
          [&](auto& e) { guest::encode_vkCreateBuffer(e, 0, device, &bci, nullptr, &buffer); });
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, 65536, 0};
    auto memory = g.handle<VkDeviceMemory>();
    s.add([&](auto& c) { return guest::sizeof_vkAllocateMemory(c, device, &mai, nullptr, &memory); },
          [&](auto& e) { guest::encode_vkAllocateMemory(e, 0, device, &mai, nullptr, &memory); });
    s.add([&](auto& c) { return guest::sizeof_vkBindBufferMemory(c, device, buffer, memory, 0); },
          [&](auto& e) { guest::encode_vkBindBufferMemory(e, 0, device, buffer, memory, 0); });
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr, 0, 0};
    auto pool = g.handle<VkCommandPool>();
    s.add([&](auto& c) { return guest::sizeof_vkCreateCommandPool(c, device, &pci, nullptr, &pool); },
          [&](auto& e) { guest::encode_vkCreateCommandPool(e, 0, device, &pci, nullptr, &pool); });
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool,
                                    VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
    auto cmd = g.dispatchable<VkCommandBuffer>();
    s.add([&](auto& c) { return guest::sizeof_vkAllocateCommandBuffers(c, device, &cai, &cmd); },
          [&](auto& e) { guest::encode_vkAllocateCommandBuffers(e, 0, device, &cai, &cmd); });
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    s.add([&](auto& c) { return guest::sizeof_vkBeginCommandBuffer(c, cmd, &begin); },
          [&](auto& e) { guest::encode_vkBeginCommandBuffer(e, 0, cmd, &begin); });
    s.add([&](auto& c) { return guest::sizeof_vkCmdFillBuffer(c, cmd, buffer, 0, 65536, 7); },
          [&](auto& e) { guest::encode_vkCmdFillBuffer(e, 0, cmd, buffer, 0, 65536, 7); });
    s.add([&](auto& c) { return guest::sizeof_vkEndCommandBuffer(c, cmd); },
          [&](auto& e) { guest::encode_vkEndCommandBuffer(e, 0, cmd); });
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    s.add([&](auto& c) { return guest::sizeof_vkQueueSubmit(c, queue, 1, &si, VK_NULL_HANDLE); },
          [&](auto& e) { guest::encode_vkQueueSubmit(e, 0, queue, 1, &si, VK_NULL_HANDLE); });
    s.add([&](auto& c) { return guest::sizeof_vkQueueWaitIdle(c, queue); },
          [&](auto& e) { guest::encode_vkQueueWaitIdle(e, 0, queue); });
    return s.bytes;
}

// Runs one hostile client: true if it ran to the end, false if it lost its context (FATAL, or
// its process went away).
template <class F>
bool runs_or_is_lost(F&& client) {
    try {
        client();
        return true;
    } catch (const transport::DeviceLost&) {
        return false;
    } catch (const transport::TransportError&) {
        return false;
    }
}

TEST(RawHostile, MutatedStreamsHurtNoOne) {
    ServerProcess server;
    std::atomic<bool> stop{false};
    std::atomic<int> victim_rounds{0};
    std::string victim_error;
    std::thread victim([&] {
        try {
            RawGuest g(server.socket_path(), "victim");
            RawDevice d(g);
            auto b = d.buffer(4096, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
            auto map = g.map_memory(b.memory, 4096);
            for (uint32_t round = 1; !stop; ++round) {
                d.run([&](VkCommandBuffer cmd) { RAW_ASYNC(g, vkCmdFillBuffer, cmd, b.buffer, 0, 4096, round); });
                if (reinterpret_cast<const uint32_t*>(map.memory.data())[512] != round) throw std::runtime_error("wrong data");
                ++victim_rounds;
            }
        } catch (const std::exception& e) {
            victim_error = e.what();
        }
    });

    std::mt19937_64 rng(20261126);
    int fatal = 0, survived = 0;
    for (int i = 0; i < 40; ++i) {  // round 0 sends the stream unmutated
        const bool ran = runs_or_is_lost([&] {
            RawGuest hostile(server.socket_path(), "hostile");
            std::vector<uint8_t> bytes = realistic_stream(hostile);
            const int flips = (i == 0) ? 0 : 1 + static_cast<int>(rng() % 8);
            for (int f = 0; f < flips; ++f) {
                const size_t at = rng() % bytes.size();
                switch (rng() % 3) {
                case 0: bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
                case 1: bytes[at] = static_cast<uint8_t>(rng()); break;
                default:  // a whole word of ones
                    for (size_t k = at & ~size_t{3}; k < bytes.size() && k < (at & ~size_t{3}) + 4; ++k) bytes[k] = 0xff;
                }
            }
            for (size_t off = 0; off < bytes.size(); off += 8192) {
                const size_t n = std::min<size_t>(8192, bytes.size() - off);
                hostile.ring().write(std::span(bytes.data() + off, n & ~size_t{3}));
            }
            hostile.sync();
        });
        ++(ran ? survived : fatal);
        ASSERT_TRUE(server.running()) << "mutation " << i << " took the server down\n" << server.log();
    }
    stop = true;
    victim.join();
    EXPECT_EQ(victim_error, "");
    EXPECT_GT(victim_rounds.load(), 0);
    EXPECT_GT(fatal, 0) << "no mutation was caught: the test is not testing anything";
    EXPECT_GE(survived, 1) << "even the unmutated stream (round 0) failed";
    // a fresh client still gets service
    RawGuest after(server.socket_path(), "after");
    RawDevice d(after);
    after.sync();
    EXPECT_FALSE(after.ring().fatal());
    std::cerr << "mutated streams: " << fatal << " made their context fatal, " << survived << " ran; victim ran "
              << victim_rounds.load() << " rounds\n";
}

// `count` fills, fill i writing i + 1 into word i of `buffer` (distinct words: transfers without
// a barrier between them may run in any order), encoded into `out` (an indirect stream); with a
// pipeline barrier (a command the fast path does not take) after fill number `barrier_after`.
size_t encode_fills(RawGuest& g, VkCommandBuffer cmd, VkBuffer buffer, uint32_t count, uint32_t barrier_after,
                    std::span<uint8_t> out) {
    Encoder e(out.data(), out.size(), &g.caps());
    const VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT,
                             VK_ACCESS_TRANSFER_WRITE_BIT};
    for (uint32_t v = 1; v <= count; ++v) {
        guest::encode_vkCmdFillBuffer(e, 0, cmd, buffer, (v - 1) * 4, 4, v);
        if (v == barrier_after)
            guest::encode_vkCmdPipelineBarrier(e, 0, cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                               0, 1, &mb, 0, nullptr, 0, nullptr);
    }
    return e.size();
}

// The renderer runs the leading plain recording commands of an indirect stream straight from the
// shared memory the guest wrote them into (FastPath), and the rest from a private copy. A guest
// that rewrites that memory while it runs must only hurt its own context: whatever the renderer
// read, each value is read once, checked and used as read.
TEST(RawHostile, StreamRewrittenWhileItRunsInPlace) {
    ServerProcess server;
    constexpr uint32_t kFills = 20000;
    constexpr size_t kStreamBytes = 1 << 20;
    // unmutated first: all fills in place; then a barrier in the middle (the rest from a copy)
    for (const uint32_t barrier_after : {0u, kFills / 2}) {
        RawGuest g(server.socket_path(), "in-place");
        RawDevice d(g);
        auto b = d.buffer(kFills * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
        auto map = g.map_memory(b.memory, kFills * 4);
        auto stream = g.client().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, kStreamBytes, 0);
        d.run([&](VkCommandBuffer cmd) {
            const size_t n = encode_fills(g, cmd, b.buffer, kFills, barrier_after, std::span<uint8_t>(stream.memory.data(), kStreamBytes));
            const VkCommandStreamDescriptionMESA desc{stream.res_id, 0, n};
            RAW_ASYNC(g, vkExecuteCommandStreamsMESA, 1, &desc, nullptr, 0, nullptr, 0);
        });
        const auto* words = reinterpret_cast<const uint32_t*>(map.memory.data());
        uint32_t wrong = 0;
        for (uint32_t i = 0; i < kFills; ++i) wrong += words[i] != i + 1;
        EXPECT_EQ(wrong, 0u) << "words not filled, barrier after fill " << barrier_after;
    }

    std::mt19937_64 rng(20261127);
    int fatal = 0, survived = 0;
    for (int round = 0; round < 12; ++round) {
        const bool ran = runs_or_is_lost([&] {
            RawGuest g(server.socket_path(), "rewriter");
            RawDevice d(g);
            auto b = d.buffer(kFills * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
            auto stream = g.client().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, kStreamBytes, 0);
            std::atomic<bool> stop{false};
            std::thread rewriter;
            struct Join {
                std::atomic<bool>& stop;
                std::thread& thread;
                ~Join() {
                    stop = true;
                    if (thread.joinable()) thread.join();
                }
            } join{stop, rewriter};
            d.run([&](VkCommandBuffer cmd) {
                std::span<uint8_t> mem = std::span<uint8_t>(stream.memory.data(), kStreamBytes);
                const size_t n = encode_fills(g, cmd, b.buffer, kFills, 0, mem);
                const uint64_t seed = rng();
                // Rewrites the words the renderer checks while it runs the stream: command ids,
                // flags, command-buffer and buffer ids, each 32-bit store racing with the
                // renderer's reads (the arguments go to the driver unchecked on every path:
                // damaging them would test the host driver). Odd rounds put each word back
                // right away (a value the renderer may or may not catch, between its check and
                // its use if it read twice); even rounds leave the damage.
                const bool transient = round % 2;
                if (!transient) {
                    // and one command id damaged before the renderer starts (the rewriter may not
                    // get a core before the renderer is done)
                    const size_t command = rng() % kFills;
                    std::memset(mem.data() + command * (n / kFills), 0xff, 4);
                }
                rewriter = std::thread([&stop, mem, n, seed, transient, commands = kFills] {
                    std::mt19937_64 r(seed);
                    auto* words = reinterpret_cast<std::atomic<uint32_t>*>(mem.data());
                    while (!stop.load(std::memory_order_relaxed)) {
                        const size_t at = (r() % commands) * (n / commands / 4) + r() % 6;
                        const uint32_t old = words[at].load(std::memory_order_relaxed);
                        words[at].store(r() % 4 ? old ^ (1u << (r() % 32)) : static_cast<uint32_t>(r()),
                                        std::memory_order_relaxed);
                        if (transient) words[at].store(old, std::memory_order_relaxed);
                    }
                });
                const VkCommandStreamDescriptionMESA desc{stream.res_id, 0, n};
                RAW_ASYNC(g, vkExecuteCommandStreamsMESA, 1, &desc, nullptr, 0, nullptr, 0);
            });
        });
        ++(ran ? survived : fatal);
        ASSERT_TRUE(server.running()) << "round " << round << " took the server down\n" << server.log();
    }
    EXPECT_GT(fatal, 0) << "no rewrite was caught: the test is not testing anything";
    RawGuest after(server.socket_path(), "after");
    RawDevice d(after);
    after.sync();
    EXPECT_FALSE(after.ring().fatal());
    std::cerr << "rewritten streams: " << fatal << " made their context fatal, " << survived << " ran\n";
}

}  // namespace
}  // namespace venus::test
