// What an application sees when the renderer is missing, incompatible, gone or fatal: a
// specific VkResult and one line on stderr that says what met what; never an empty device list
// without a word, a hang, a spin or an abort.
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "icd_test_support.h"
#include "transport/socket.h"
#include "transport/vtest_connection.h"
#include "transport/vtest_protocol.h"

namespace venus::icd_test {
namespace {

using namespace std::chrono_literals;

// A vtest server that answers the handshake with a capset of our choosing, then hangs up.
class FakeServer {
public:
    explicit FakeServer(vtest::CapsetVenus capset, uint32_t protocol = 4) : capset_(capset), protocol_(protocol) {
        listener_ = transport::UnixListener::listen(dir_.file("fake.sock"));
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeServer() {
        listener_.wake();
        thread_.join();
    }
    std::string socket() const { return dir_.file("fake.sock"); }
    std::atomic<int> clients{0};

private:
    void serve() {
        for (;;) {
            transport::UnixSocket s = listener_.accept();
            if (!s.valid()) return;
            ++clients;
            try {
                handle(vtest::Connection(std::move(s)));
            } catch (const std::exception&) {
                // the client hung up: that is what it should do
            }
        }
    }
    void handle(vtest::Connection c) {
        for (;;) {
            const vtest::Header h = c.read_header();
            if (h.command == vtest::CREATE_RENDERER) {
                c.skip(h.length);
                continue;
            }
            std::vector<uint32_t> p = c.read_payload(h.length, 1 << 16);
            switch (h.command) {
            case vtest::PING_PROTOCOL_VERSION:
                c.send(vtest::PING_PROTOCOL_VERSION, {});
                break;
            case vtest::RESOURCE_BUSY_WAIT: {
                const uint32_t busy[1] = {0};
                c.send(vtest::RESOURCE_BUSY_WAIT, busy);
                break;
            }
            case vtest::PROTOCOL_VERSION: {
                const uint32_t v[1] = {protocol_};
                c.send(vtest::PROTOCOL_VERSION, v);
                break;
            }
            case vtest::GET_PARAM: {
                const uint32_t v[2] = {1, 64};
                c.send(vtest::GET_PARAM, v);
                break;
            }
            case vtest::GET_CAPSET: {
                std::vector<uint32_t> v(1 + sizeof(capset_) / 4);
                v[0] = 1;
                std::memcpy(v.data() + 1, &capset_, sizeof(capset_));
                c.send(vtest::GET_CAPSET, v);
                break;
            }
            case vtest::CONTEXT_INIT:
                break;
            default:
                return;  // anything beyond the handshake: hang up
            }
        }
    }

    TempDir dir_;
    vtest::CapsetVenus capset_;
    uint32_t protocol_;
    transport::UnixListener listener_;
    std::thread thread_;
};

vtest::CapsetVenus good_capset() {
    vtest::CapsetVenus c{};
    c.wire_format_version = 1;
    c.vk_xml_version = VK_MAKE_API_VERSION(0, 1, 3, 239);
    c.vk_ext_command_serialization_spec_version = 1;
    c.vk_mesa_venus_protocol_spec_version = 2;
    c.supports_blob_id_0 = 1;
    c.allow_vk_wait_syncs = 1;
    c.supports_multiple_timelines = 1;
    return c;
}

DriverEnv env_for_socket(const std::string& socket) { return {"venus", kIcdManifest, socket}; }

TEST(Errors, NoServerIsIncompatibleDriverWithAReason) {
    TempDir dir;
    const std::string nowhere = dir.file("nobody-listens.sock");
    const ProcessResult r = run_process({"vulkaninfo", "--summary"}, env_for_socket(nowhere).vars(), "", 60);
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("venus-cpp: no usable Venus renderer at " + nowhere), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("ERROR_INCOMPATIBLE_DRIVER"), std::string::npos) << r.err;
}

TEST(Errors, WireFormatMismatchSaysWhichVersionsMet) {
    // the driver speaks wire formats 0 and 1; a later generation is refused by name
    vtest::CapsetVenus future = good_capset();
    future.wire_format_version = 2;
    FakeServer fake(future);
    const ProcessResult r = run_process({"vulkaninfo", "--summary"}, env_for_socket(fake.socket()).vars(), "", 60);
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("venus-cpp: renderer wire format 2, driver 1 and 0"), std::string::npos) << r.err;
    EXPECT_GE(fake.clients.load(), 1);
}

TEST(Errors, OldVtestProtocolIsRefusedWithAReason) {
    FakeServer fake(good_capset(), 2);
    const ProcessResult r = run_process({"vulkaninfo", "--summary"}, env_for_socket(fake.socket()).vars(), "", 60);
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("protocol 2; Venus needs 3"), std::string::npos) << r.err;
}

TEST(Errors, RendererWithoutBlockingWaitsIsRefusedWithAReason) {
    vtest::CapsetVenus c = good_capset();
    c.allow_vk_wait_syncs = 0;
    FakeServer fake(c);
    const ProcessResult r = run_process({"vulkaninfo", "--summary"}, env_for_socket(fake.socket()).vars(), "", 60);
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("allow_vk_wait_syncs"), std::string::npos) << r.err;
}

VkSemaphore timeline(VkDevice d) {
    VkSemaphoreTypeCreateInfo t{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, 0};
    VkSemaphoreCreateInfo i{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &t};
    VkSemaphore s = VK_NULL_HANDLE;
    vkCreateSemaphore(d, &i, nullptr, &s);
    return s;
}

TEST(Errors, ServerGoneDuringAWaitIsDeviceLost) {
    Server server({"--no-fork"});
    Vk vk(venus_env(server));
    VkSemaphore s = timeline(vk.device);
    std::atomic<VkResult> result{VK_SUCCESS};
    std::atomic<bool> done{false};
    std::thread waiter([&] {
        const uint64_t value = 1;
        VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
        wi.semaphoreCount = 1;
        wi.pSemaphores = &s;
        wi.pValues = &value;
        result = vkWaitSemaphores(vk.device, &wi, UINT64_MAX);  // never signalled
        done = true;
    });
    std::this_thread::sleep_for(300ms);  // the wait is on its own ring by now
    EXPECT_FALSE(done.load());
    kill(server.pid(), SIGKILL);
    const auto start = std::chrono::steady_clock::now();
    while (!done && std::chrono::steady_clock::now() - start < 20s) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(done.load()) << "vkWaitSemaphores still blocked 20 s after the server died";
    waiter.join();
    EXPECT_EQ(result.load(), VK_ERROR_DEVICE_LOST);
    // from then on: device lost, at once
    VkFence fence;
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    EXPECT_EQ(vkCreateFence(vk.device, &fi, nullptr, &fence), VK_ERROR_DEVICE_LOST);
    EXPECT_EQ(vkQueueSubmit(vk.queue, 0, nullptr, VK_NULL_HANDLE), VK_ERROR_DEVICE_LOST);
    EXPECT_EQ(vkDeviceWaitIdle(vk.device), VK_ERROR_DEVICE_LOST);
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, 4096, 0};
    VkDeviceMemory mem;
    EXPECT_EQ(vkAllocateMemory(vk.device, &ai, nullptr, &mem), VK_ERROR_DEVICE_LOST);
    vkDestroySemaphore(vk.device, s, nullptr);
}

TEST(Errors, ServerGoneBeforeASubmitIsDeviceLost) {
    Server server({"--no-fork"});
    Vk vk(venus_env(server));
    VkFence fence;
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_OK(vkCreateFence(vk.device, &fi, nullptr, &fence));
    kill(server.pid(), SIGKILL);
    server.stop();
    const auto start = std::chrono::steady_clock::now();
    VkResult r = vkQueueSubmit(vk.queue, 0, nullptr, fence);
    if (r == VK_SUCCESS) r = vkWaitForFences(vk.device, 1, &fence, VK_TRUE, UINT64_MAX);
    EXPECT_EQ(r, VK_ERROR_DEVICE_LOST);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(Errors, FatalRingIsDeviceLostNotAnAbort) {
    Server server;
    Vk vk(venus_env(server));
    // invalid usage on purpose: an id the renderer never saw makes the context fatal
    vkDestroyBuffer(vk.device, reinterpret_cast<VkBuffer>(uintptr_t{0x7fffffff0001}), nullptr);
    EXPECT_EQ(vkDeviceWaitIdle(vk.device), VK_ERROR_DEVICE_LOST);
    VkBuffer b;
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = 16;
    bi.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
    EXPECT_EQ(vkCreateBuffer(vk.device, &bi, nullptr, &b), VK_ERROR_DEVICE_LOST);
    const std::string log = server.log();
    EXPECT_NE(log.find("fatal"), std::string::npos) << log;
}

TEST(Errors, RefusedMappingIsMemoryMapFailedWithAReason) {
    // the renderer cannot share memory when every strategy is hidden from it
    Server server({}, {{"VENUS_HIDE_EXTENSIONS", "VK_EXT_external_memory_host,VK_KHR_external_memory_fd,"
                                                              "VK_EXT_external_memory_dma_buf"},
                                    {"VENUS_MEMORY_STRATEGY", "opaque-fd"}});
    Vk vk(venus_env(server));
    // a memory type the renderer still calls host-visible, if any
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < vk.memory.memoryTypeCount; ++i)
        if (vk.memory.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) type = i;
    if (type == UINT32_MAX) {
        // the renderer took HOST_VISIBLE away: mapping must fail cleanly for every type
        type = 0;
    }
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, 65536, type};
    VkDeviceMemory mem;
    VK_OK(vkAllocateMemory(vk.device, &ai, nullptr, &mem));
    void* p = nullptr;
    EXPECT_EQ(vkMapMemory(vk.device, mem, 0, VK_WHOLE_SIZE, 0, &p), VK_ERROR_MEMORY_MAP_FAILED);
    EXPECT_EQ(p, nullptr);
    vkFreeMemory(vk.device, mem, nullptr);
    // and the device still works
    VkFence fence;
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_OK(vkCreateFence(vk.device, &fi, nullptr, &fence));
    VK_OK(vkQueueSubmit(vk.queue, 0, nullptr, fence));
    VK_OK(vkWaitForFences(vk.device, 1, &fence, VK_TRUE, UINT64_MAX));
    vkDestroyFence(vk.device, fence, nullptr);
}

}  // namespace
}  // namespace venus::icd_test
