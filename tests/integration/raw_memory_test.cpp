// The host-memory fallback chain (docs/memory.md) through raw Venus bytes: every strategy this
// machine can reach, forced or chosen after hiding extensions, with data checked both ways
// through the guest's mapping; the refusals name their cause; blob sizes honour the alignment.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <map>

#include "raw_guest.h"
#include "raw_workload.h"
#include "server_process.h"

namespace venus::test {
namespace {

using Env = std::map<std::string, std::string>;

struct StrategyCase {
    const char* name;
    Env env;
    const char* expect_plan;  // what the server's memory plan must say for type 0
};

class RawMemoryStrategies : public ::testing::TestWithParam<StrategyCase> {
protected:
    void SetUp() override { server_ = std::make_unique<ServerProcess>(std::vector<std::string>{"-v"}, GetParam().env); }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- server log ----\n" << server_->log();
    }
    std::unique_ptr<ServerProcess> server_;
};

// Guest writes reach the GPU and GPU writes reach the guest, through the mapping alone.
TEST_P(RawMemoryStrategies, DataFlowsBothWays) {
    RawGuest g(server_->socket_path());
    RawDevice d(g);
    constexpr VkDeviceSize kSize = 192 << 10;
    auto src = d.buffer(kSize, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, RawDevice::kAnyHostVisible);
    auto dst = d.buffer(kSize, VK_BUFFER_USAGE_TRANSFER_DST_BIT, RawDevice::kAnyHostVisible);
    auto src_map = g.map_memory(src.memory, kSize);
    auto dst_map = g.map_memory(dst.memory, kSize);
    for (int round = 0; round < 3; ++round) {
        auto* in = reinterpret_cast<uint32_t*>(src_map.memory.data());
        for (uint32_t i = 0; i < kSize / 4; ++i) in[i] = i * 7919u + static_cast<uint32_t>(round);
        d.flush(src.memory);  // what an application does for non-coherent memory
        d.run([&](VkCommandBuffer cmd) {
            VkBufferCopy region{0, 0, kSize};
            RAW_ASYNC(g, vkCmdCopyBuffer, cmd, src.buffer, dst.buffer, 1, &region);
            RAW_ASYNC(g, vkCmdFillBuffer, cmd, src.buffer, 0, 4096, 0xfeedf00du);
        });
        d.invalidate(src.memory);
        d.invalidate(dst.memory);
        ASSERT_EQ(std::memcmp(reinterpret_cast<uint8_t*>(src_map.memory.data()) + 4096,
                              reinterpret_cast<uint8_t*>(dst_map.memory.data()) + 4096, kSize - 4096), 0)
            << "round " << round;
        EXPECT_EQ(reinterpret_cast<uint32_t*>(dst_map.memory.data())[0], static_cast<uint32_t>(round));
        EXPECT_EQ(reinterpret_cast<uint32_t*>(src_map.memory.data())[1023], 0xfeedf00du) << "GPU write lost";
    }
    EXPECT_FALSE(g.ring().fatal());
    EXPECT_NE(server_->log().find(GetParam().expect_plan), std::string::npos) << "plan: " << GetParam().expect_plan;
}

const char* kNoFd = "VK_KHR_external_memory_fd,VK_EXT_external_memory_dma_buf";
const char* kNoImport = "VK_KHR_external_memory_fd,VK_EXT_external_memory_dma_buf,VK_EXT_external_memory_host";

INSTANTIATE_TEST_SUITE_P(
    Strategies, RawMemoryStrategies,
    // lavapipe and NVIDIA both import host pointers into their (system-memory) coherent types
    ::testing::Values(StrategyCase{"chosen", {}, ": host-pointer"},
                      StrategyCase{"no_fd_export", {{"VENUS_HIDE_EXTENSIONS", kNoFd}}, ": host-pointer"},
                      StrategyCase{"forced_host_pointer", {{"VENUS_MEMORY_STRATEGY", "host-pointer"}}, ": host-pointer"},
                      StrategyCase{"forced_shadow", {{"VENUS_MEMORY_STRATEGY", "shadow"}}, ": shadow"},
                      StrategyCase{"nothing_to_import", {{"VENUS_HIDE_EXTENSIONS", kNoImport}}, ": shadow"},
                      StrategyCase{"align_4k", {{"VENUS_BLOB_ALIGNMENT", "4K"}}, ": host-pointer"}),
    [](const auto& info) { return std::string(info.param.name); });

class RawMemoryFailures : public ::testing::Test {
protected:
    void TearDown() override {
        if (HasFailure() && server_) std::cerr << "---- server log ----\n" << server_->log();
    }
    // Maps a fresh host-visible allocation; returns the refusal's message, or "" if it mapped.
    std::string try_map(Env env) {
        server_ = std::make_unique<ServerProcess>(std::vector<std::string>{"-v"}, std::move(env));
        RawGuest g(server_->socket_path());
        RawDevice d(g);
        auto b = d.buffer(4096, VK_BUFFER_USAGE_TRANSFER_DST_BIT, RawDevice::kAnyHostVisible);
        try {
            g.map_memory(b.memory, 4096);
        } catch (const transport::VtestRefused& e) {
            EXPECT_FALSE(g.ring().fatal()) << "a refused blob is not a protocol violation";
            return e.what();
        }
        return {};
    }
    std::unique_ptr<ServerProcess> server_;
};

TEST_F(RawMemoryFailures, EveryStrategyDisabledIsExplained) {
    EXPECT_NE(try_map({{"VENUS_MEMORY_STRATEGY", "none"}}), "");
    EXPECT_NE(server_->log().find("every strategy is disabled (VENUS_MEMORY_STRATEGY=none)"), std::string::npos);
}

TEST_F(RawMemoryFailures, OpaqueFdIsExplained) {
    // Neither host here exports a mappable opaque fd, and the log says why: lavapipe's memfd holds
    // the allocation a page into the file (a guest maps blobs from offset 0); NVIDIA's fd is a
    // /dev/nvidiactl fd that cannot be mapped.
    EXPECT_NE(try_map({{"VENUS_MEMORY_STRATEGY", "opaque-fd"}}), "");
    const std::string log = server_->log();
    if (log.find("llvmpipe") != std::string::npos)
        EXPECT_NE(log.find("opaque-fd: the allocation starts 4096 bytes into the exported fd"), std::string::npos) << log;
    else
        EXPECT_NE(log.find("opaque-fd: "), std::string::npos) << log;
    EXPECT_NE(log.find("cannot be shared with the guest"), std::string::npos) << log;
}

TEST_F(RawMemoryFailures, DmaBufNotOfferedIsExplained) {
    EXPECT_NE(try_map({{"VENUS_MEMORY_STRATEGY", "dma-buf"}}), "");
    EXPECT_NE(server_->log().find("dma-buf: VK_EXT_external_memory_dma_buf is not offered"), std::string::npos);
}

// Blob sizes honour max(page, import alignment, VENUS_BLOB_ALIGNMENT).
class RawBlobAlignment : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RawBlobAlignment, AllocationsAreRounded) {
    const uint64_t align = GetParam();
    ServerProcess server({}, {{"VENUS_BLOB_ALIGNMENT", std::to_string(align)}});
    RawGuest g(server.socket_path());
    RawDevice d(g);
    auto b = d.buffer(100, VK_BUFFER_USAGE_TRANSFER_DST_BIT, RawDevice::kAnyHostVisible);
    const uint64_t ring = g.ring().id(), seqno = g.ring().tail();
    g.control([&](const protocol::WireCaps& c) { return protocol::guest::sizeof_vkWaitRingSeqnoMESA(c, ring, seqno); },
              [&](protocol::Encoder& e, uint32_t f) { protocol::guest::encode_vkWaitRingSeqnoMESA(e, f, ring, seqno); });
    auto blob = g.client().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, 100,
                                       reinterpret_cast<uint64_t>(b.memory), /*map=*/false);
    struct stat st {};
    ASSERT_EQ(fstat(blob.fd.get(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size) % align, 0u);
    EXPECT_GE(static_cast<uint64_t>(st.st_size), align);
}

INSTANTIATE_TEST_SUITE_P(Sizes, RawBlobAlignment, ::testing::Values(4096u, 16384u, 65536u));

}  // namespace
}  // namespace venus::test
