// Real work through venus-server with raw Venus bytes: buffers and shared mappings, a compute
// dispatch, timelines and vtest syncs, many clients at once, and hostile clients.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "raw_compute_spv.h"
#include "raw_guest.h"
#include "raw_workload.h"
#include "server_process.h"

namespace venus::test {
namespace {

using namespace protocol;

class RawWorkload : public ::testing::Test {
protected:
    void SetUp() override { server_ = std::make_unique<ServerProcess>(std::vector<std::string>{"-v"}); }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- server log ----\n" << server_->log();
    }
    std::unique_ptr<ServerProcess> server_;
};

TEST_F(RawWorkload, SharedMemoryBlobs) {
    RawGuest g(server_->socket_path());
    auto blob = g.client().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, 1 << 16, 0);
    EXPECT_NE(blob.res_id, 0u);
    std::memset(blob.memory.data(), 0x5a, blob.memory.size());
    // blob ids that name no VkDeviceMemory are refused, and the server says why
    EXPECT_THROW(g.client().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, 4096, 424242),
                 transport::VtestRefused);
    EXPECT_THROW(g.client().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE | vtest::BLOB_FLAG_SHAREABLE,
                                        4096, 0),
                 transport::VtestRefused);
    g.client().destroy_blob(blob.res_id);
    g.sync();
    EXPECT_FALSE(g.ring().fatal());
    EXPECT_NE(server_->log().find("names no VkDeviceMemory"), std::string::npos);
}

TEST_F(RawWorkload, WriteAndReadThroughSharedMappings) {
    RawGuest g(server_->socket_path());
    RawDevice d(g);
    constexpr VkDeviceSize kSize = 256 << 10;
    auto src = d.buffer(kSize, VK_BUFFER_USAGE_TRANSFER_SRC_BIT);
    auto dst = d.buffer(kSize, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    auto src_map = g.map_memory(src.memory, kSize);
    auto dst_map = g.map_memory(dst.memory, kSize);
    auto* in = reinterpret_cast<uint32_t*>(src_map.memory.data());
    for (uint32_t i = 0; i < kSize / 4; ++i) in[i] = i * 2654435761u;
    std::memset(dst_map.memory.data(), 0, kSize);
    d.run([&](VkCommandBuffer cmd) {
        VkBufferCopy region{0, 0, kSize};
        RAW_ASYNC(g, vkCmdCopyBuffer, cmd, src.buffer, dst.buffer, 1, &region);
    });
    // the GPU's copy is visible through the guest's own mapping: zero copies in between
    EXPECT_EQ(std::memcmp(src_map.memory.data(), dst_map.memory.data(), kSize), 0);
    EXPECT_FALSE(g.ring().fatal());
}

TEST_F(RawWorkload, ComputeDispatch) {
    RawGuest g(server_->socket_path());
    RawDevice d(g);
    constexpr uint32_t kCount = 100000;
    constexpr VkDeviceSize kSize = kCount * 4;
    auto in = d.buffer(kSize, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
    auto out = d.buffer(kSize, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
    auto in_map = g.map_memory(in.memory, kSize);
    auto out_map = g.map_memory(out.memory, kSize);
    auto* iv = reinterpret_cast<uint32_t*>(in_map.memory.data());
    for (uint32_t i = 0; i < kCount; ++i) iv[i] = i ^ 0x9e3779b9u;

    VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, nullptr, 0, sizeof(raw_compute_spv),
                                  raw_compute_spv};
    auto module = g.handle<VkShaderModule>();
    ASSERT_EQ(RAW_CALL(g, vkCreateShaderModule, d.device, &smci, nullptr, &module), VK_SUCCESS);
    VkDescriptorSetLayoutBinding bindings[2] = {
        {0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr},
        {1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr}};
    VkDescriptorSetLayoutCreateInfo dslci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, nullptr, 0, 2, bindings};
    auto set_layout = g.handle<VkDescriptorSetLayout>();
    ASSERT_EQ(RAW_CALL(g, vkCreateDescriptorSetLayout, d.device, &dslci, nullptr, &set_layout), VK_SUCCESS);
    VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, 4};
    VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, nullptr, 0, 1, &set_layout, 1, &pcr};
    auto layout = g.handle<VkPipelineLayout>();
    ASSERT_EQ(RAW_CALL(g, vkCreatePipelineLayout, d.device, &plci, nullptr, &layout), VK_SUCCESS);
    VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT, module,
                  "main", nullptr};
    cpci.layout = layout;
    auto pipeline = g.handle<VkPipeline>();
    ASSERT_EQ(RAW_CALL(g, vkCreateComputePipelines, d.device, VK_NULL_HANDLE, 1, &cpci, nullptr, &pipeline), VK_SUCCESS);
    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2};
    VkDescriptorPoolCreateInfo dpci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, nullptr, 0, 1, 1, &ps};
    auto pool = g.handle<VkDescriptorPool>();
    ASSERT_EQ(RAW_CALL(g, vkCreateDescriptorPool, d.device, &dpci, nullptr, &pool), VK_SUCCESS);
    VkDescriptorSetAllocateInfo dsai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, nullptr, pool, 1, &set_layout};
    auto set = g.handle<VkDescriptorSet>();
    ASSERT_EQ(RAW_CALL(g, vkAllocateDescriptorSets, d.device, &dsai, &set), VK_SUCCESS);
    VkDescriptorBufferInfo infos[2] = {{in.buffer, 0, VK_WHOLE_SIZE}, {out.buffer, 0, VK_WHOLE_SIZE}};
    VkWriteDescriptorSet writes[2] = {
        {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, set, 0, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, nullptr, &infos[0], nullptr},
        {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, set, 1, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, nullptr, &infos[1], nullptr}};
    RAW_ASYNC(g, vkUpdateDescriptorSets, d.device, 2, writes, 0, nullptr);
    d.run([&](VkCommandBuffer cmd) {
        RAW_ASYNC(g, vkCmdBindPipeline, cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
        RAW_ASYNC(g, vkCmdBindDescriptorSets, cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, nullptr);
        const uint32_t count = kCount;
        RAW_ASYNC(g, vkCmdPushConstants, cmd, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, 4, &count);
        RAW_ASYNC(g, vkCmdDispatch, cmd, (kCount + 63) / 64, 1, 1);
    });
    const auto* ov = reinterpret_cast<const uint32_t*>(out_map.memory.data());
    uint32_t bad = 0;
    for (uint32_t i = 0; i < kCount; ++i) bad += ov[i] != (iv[i] * 3u + i);
    EXPECT_EQ(bad, 0u);
    EXPECT_FALSE(g.ring().fatal());
}

TEST_F(RawWorkload, TimelinesDriveVtestSyncs) {
    RawGuest g(server_->socket_path());
    RawDevice d(g, /*ring_idx=*/1);
    g.sync();  // the queue is bound to timeline 1 once the ring has run vkGetDeviceQueue2
    const uint32_t sync = g.client().sync_create(0);
    transport::VtestClient::SyncWrite w{sync, 5};
    g.client().submit({}, std::span(&w, 1), /*ring_idx=*/1);
    transport::UniqueFd fd = g.client().sync_wait(std::span(&w, 1), false, 5000);
    pollfd p{fd.get(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1) << "the timeline fence never retired";
    EXPECT_EQ(g.client().sync_read(sync), 5u);
    // the CPU timeline (no ring_idx) writes at once
    transport::VtestClient::SyncWrite w2{sync, 9};
    g.client().submit({}, std::span(&w2, 1));
    EXPECT_EQ(g.client().sync_read(sync), 9u);
    // a wait on a value already reached is signaled at once
    transport::UniqueFd fd2 = g.client().sync_wait(std::span(&w, 1), false, 0);
    pollfd p2{fd2.get(), POLLIN, 0};
    EXPECT_EQ(poll(&p2, 1, 0), 1);
    g.client().sync_destroy(sync);
}

TEST_F(RawWorkload, GarbageMakesOnlyItsContextFatal) {
    RawGuest good(server_->socket_path(), "good");
    RawDevice d(good);
    {
        RawGuest bad(server_->socket_path(), "bad");
        std::vector<uint8_t> junk(64);
        for (size_t i = 0; i < junk.size(); i += 4) {
            const uint32_t v = i == 0 ? 9999u : 0xdeadbeefu;  // an unknown command id, then noise
            std::memcpy(junk.data() + i, &v, 4);
        }
        const uint32_t seqno = bad.ring().write(junk);
        EXPECT_THROW(bad.ring().wait(seqno), transport::DeviceLost);
        EXPECT_TRUE(bad.ring().fatal());
    }
    // the other context goes on
    auto b = d.buffer(4096, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    d.run([&](VkCommandBuffer cmd) { RAW_ASYNC(good, vkCmdFillBuffer, cmd, b.buffer, 0, 4096, 0x01020304u); });
    auto map = good.map_memory(b.memory, 4096);
    EXPECT_EQ(reinterpret_cast<uint32_t*>(map.memory.data())[1023], 0x01020304u);
    EXPECT_FALSE(good.ring().fatal());
    EXPECT_TRUE(server_->running());
    const std::string log = server_->log();
    EXPECT_NE(log.find("fatal: ring"), std::string::npos) << log;
    EXPECT_NE(log.find("unknown command id 9999"), std::string::npos) << log;
}

TEST_F(RawWorkload, ReusedIdIsFatalWithAReason) {
    RawGuest g(server_->socket_path());
    RawDevice d(g);
    auto buffer = g.handle<VkBuffer>();
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = 64;
    bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    ASSERT_EQ(RAW_CALL(g, vkCreateBuffer, d.device, &bci, nullptr, &buffer), VK_SUCCESS);
    const uint32_t seqno = RAW_ASYNC(g, vkCreateBuffer, d.device, &bci, nullptr, &buffer);  // same id again
    EXPECT_THROW(g.ring().wait(seqno), transport::DeviceLost);
    EXPECT_NE(server_->log().find("is already used by a VkBuffer"), std::string::npos);
}

TEST_F(RawWorkload, DisconnectFreesEverything) {
    {
        RawGuest g(server_->socket_path(), "leaky");
        RawDevice d(g);
        for (int i = 0; i < 10; ++i) d.buffer(4096, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
        g.sync();
    }  // gone without destroying anything
    for (int i = 0; i < 500 && server_->log().find("(leaky): destroyed") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::string log = server_->log();
    EXPECT_NE(log.find("freed 20 objects the guest left"), std::string::npos) << log;
    EXPECT_EQ(log.find("objects were left after teardown"), std::string::npos) << log;
}

TEST_F(RawWorkload, EightClientsOneHostile) {
    std::atomic<int> ok{0}, lost{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < 8; ++c) {
        threads.emplace_back([&, c] {
            try {
                RawGuest g(server_->socket_path(), "client" + std::to_string(c));
                if (c == 5) {
                    std::mt19937 rng(c);
                    std::vector<uint8_t> junk(4096);
                    for (auto& b : junk) b = static_cast<uint8_t>(rng());
                    try {
                        g.ring().wait(g.ring().write(junk));
                    } catch (const transport::DeviceLost&) {
                        ++lost;
                    }
                    return;
                }
                RawDevice d(g);
                auto b = d.buffer(1 << 16, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
                const uint32_t value = 0x1000u + static_cast<uint32_t>(c);
                for (int round = 0; round < 5; ++round)
                    d.run([&](VkCommandBuffer cmd) { RAW_ASYNC(g, vkCmdFillBuffer, cmd, b.buffer, 0, VK_WHOLE_SIZE, value); });
                auto map = g.map_memory(b.memory, 1 << 16);
                const auto* v = reinterpret_cast<const uint32_t*>(map.memory.data());
                bool good = true;
                for (uint32_t i = 0; i < (1 << 14); ++i) good &= v[i] == value;
                if (good && !g.ring().fatal()) ++ok;
            } catch (const std::exception& e) {
                ADD_FAILURE() << "client " << c << ": " << e.what();
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 7);
    EXPECT_EQ(lost.load(), 1);
    EXPECT_TRUE(server_->running());
}

// Regression: exporting a blob once closed a descriptor the renderer still owned; when that
// allocation was freed, the renderer closed the number again — by then another allocation's
// memfd — and that allocation could no longer be mapped ("dup of its memfd failed").
TEST_F(RawWorkload, ManyMappingsComeAndGo) {
    RawGuest g(server_->socket_path(), "mapper");
    RawDevice d(g);
    auto prev = d.buffer(8192, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    auto prev_map = g.map_memory(prev.memory, 8192);
    for (uint32_t round = 0; round < 8; ++round) {
        auto next = d.buffer(8192, VK_BUFFER_USAGE_TRANSFER_DST_BIT);  // its memfd may reuse a number
        g.client().destroy_blob(prev_map.res_id);
        RAW_ASYNC(g, vkDestroyBuffer, d.device, prev.buffer, nullptr);
        RAW_ASYNC(g, vkFreeMemory, d.device, prev.memory, nullptr);
        g.sync();
        transport::VtestClient::Blob next_map;
        ASSERT_NO_THROW(next_map = g.map_memory(next.memory, 8192)) << "round " << round << "\n" << server_->log();
        d.run([&](VkCommandBuffer cmd) { RAW_ASYNC(g, vkCmdFillBuffer, cmd, next.buffer, 0, VK_WHOLE_SIZE, round + 7); });
        EXPECT_EQ(reinterpret_cast<const uint32_t*>(next_map.memory.data())[2047], round + 7);
        prev = next;
        prev_map = std::move(next_map);
    }
    EXPECT_FALSE(g.ring().fatal());
    const std::string log = server_->log();
    EXPECT_EQ(log.find("Bad file descriptor"), std::string::npos) << log;
    EXPECT_EQ(log.find("refused"), std::string::npos) << log;
}

TEST_F(RawWorkload, CleanShutdownOnSigterm) {
    {
        RawGuest g(server_->socket_path());
        RawDevice d(g);
        g.sync();
        EXPECT_EQ(server_->stop(), 0);
    }
}

}  // namespace
}  // namespace venus::test
