// venus-server --wire-format 0: the experimental protocol generation of virglrenderer 0.10.x and
// Mesa <= 23.0 (wire-format-0-vs-1.md), driven by raw vtest + Venus bytes the way Mesa 22.3's
// venus driver sends them (§8 there): the capset, command 195 on the virtqueue, and one reply
// stream that the virtqueue sets and the rings write into.
#include <gtest/gtest.h>

#include <cstring>

#include "raw_guest.h"
#include "server_process.h"

namespace venus::test {
namespace {

using namespace protocol;

class WireFormat0 : public ::testing::Test {
protected:
    void SetUp() override {
        server_ = std::make_unique<ServerProcess>(std::vector<std::string>{"-v", "--wire-format", "0"});
    }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- server log ----\n" << server_->log();
    }

    // Venus commands on the virtqueue, then a CPU sync the renderer signals after them: the
    // synchronous virtqueue submission Mesa 22.3 makes for command 195.
    static void submit_and_wait(transport::VtestClient& c, const std::vector<uint8_t>& commands) {
        const uint32_t sync = c.sync_create(0);
        const transport::VtestClient::SyncWrite signal{sync, 1};
        c.submit(commands, {&signal, 1});
        const transport::VtestClient::SyncWrite wait{sync, 1};
        c.sync_wait({&wait, 1}, false, 10'000);
        EXPECT_EQ(c.sync_read(sync), 1u);
        c.sync_destroy(sync);
    }

    std::unique_ptr<ServerProcess> server_;
};

template <class F>
std::vector<uint8_t> encoded(size_t size, const WireCaps& caps, F&& f) {
    std::vector<uint8_t> out(size);
    Encoder e(out.data(), out.size(), &caps);
    f(e);
    EXPECT_EQ(e.size(), size);
    return out;
}

TEST_F(WireFormat0, CapsetIsTheExperimentalGeneration) {
    RawGuest g(server_->socket_path());
    const auto& c = g.client().capset();
    EXPECT_EQ(c.wire_format_version, 0u);
    EXPECT_EQ(c.vk_ext_command_serialization_spec_version, 0u);
    EXPECT_EQ(c.vk_mesa_venus_protocol_spec_version, 100000u);  // Mesa 22.3 asks for features only then
    EXPECT_EQ(c.supports_blob_id_0, 1u);
    EXPECT_EQ(c.vk_extension_mask1[0] & 1u, 1u);
    EXPECT_NE(server_->log().find("serving Venus wire format 0"), std::string::npos) << server_->log();
}

TEST_F(WireFormat0, ExperimentalFeaturesOnTheVirtqueueAsMesa22AsksForThem) {
    auto client = transport::VtestClient::connect(server_->socket_path(), "wire0-features");
    WireCaps caps;
    caps.wire_format = 0;
    // the reply pool first, set and sought through the virtqueue (there is no ring yet)
    auto reply = client->create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, 1 << 20, 0);
    std::memset(reply.memory.data(), 0xee, 256);
    VkCommandStreamDescriptionMESA stream{reply.res_id, 0, 1 << 20};
    auto set = encoded(guest::sizeof_vkSetReplyCommandStreamMESA(caps, &stream), caps,
                       [&](Encoder& e) { guest::encode_vkSetReplyCommandStreamMESA(e, 0, &stream); });
    client->submit(set);
    auto seek = encoded(guest::sizeof_vkSeekReplyCommandStreamMESA(caps, 0), caps,
                        [&](Encoder& e) { guest::encode_vkSeekReplyCommandStreamMESA(e, 0, 0); });
    client->submit(seek);

    // Mesa 22.3's struct: four VkBool32s
    size_t size = 16;
    uint32_t features[4] = {7, 7, 7, 7};
    auto query = encoded(guest::sizeof_vkGetVenusExperimentalFeatureData100000MESA(caps, &size, features), caps,
                         [&](Encoder& e) {
                             guest::encode_vkGetVenusExperimentalFeatureData100000MESA(
                                 e, VK_COMMAND_GENERATE_REPLY_BIT_EXT, &size, features);
                         });
    submit_and_wait(*client, query);
    Decoder d(reply.memory.data(), guest::sizeof_vkGetVenusExperimentalFeatureData100000MESA_reply(caps, &size, features));
    guest::decode_vkGetVenusExperimentalFeatureData100000MESA_reply(d, &size, features);
    EXPECT_EQ(size, 16u);
    // memoryResourceAllocationSize, globalFencing, largeRing, syncFdFencing
    EXPECT_EQ(std::vector<uint32_t>(features, features + 4), (std::vector<uint32_t>{1, 0, 1, 1}));

    // A guest that asks how big the renderer's struct is (pData NULL) learns all six fields.
    size_t full = 0;
    auto seek2 = encoded(guest::sizeof_vkSeekReplyCommandStreamMESA(caps, 0), caps,
                         [&](Encoder& e) { guest::encode_vkSeekReplyCommandStreamMESA(e, 0, 0); });
    client->submit(seek2);
    auto ask = encoded(guest::sizeof_vkGetVenusExperimentalFeatureData100000MESA(caps, &full, nullptr), caps,
                       [&](Encoder& e) {
                           guest::encode_vkGetVenusExperimentalFeatureData100000MESA(
                               e, VK_COMMAND_GENERATE_REPLY_BIT_EXT, &full, nullptr);
                       });
    submit_and_wait(*client, ask);
    Decoder d2(reply.memory.data(), 64);
    guest::decode_vkGetVenusExperimentalFeatureData100000MESA_reply(d2, &full, nullptr);
    EXPECT_EQ(full, 24u);
}

// Mesa 22.3 sets its reply pool through the virtqueue and then only seeks through the ring:
// the ring's replies land in the stream the virtqueue set.
TEST_F(WireFormat0, RingRepliesGoToTheStreamTheVirtqueueSet) {
    RawGuest g(server_->socket_path(), "wire0-shared-replies");
    auto reply = g.client().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, 4096, 0);
    std::memset(reply.memory.data(), 0xee, 64);
    const WireCaps& caps = g.caps();
    ASSERT_EQ(caps.wire_format, 0u);
    VkCommandStreamDescriptionMESA stream{reply.res_id, 0, 4096};
    // set on the virtqueue, synchronously (the ring must not run before it)
    submit_and_wait(g.client(), encoded(guest::sizeof_vkSetReplyCommandStreamMESA(caps, &stream), caps, [&](Encoder& e) {
                        guest::encode_vkSetReplyCommandStreamMESA(e, 0, &stream);
                    }));
    // on the ring: a seek and a command asking for a reply, no SetReply
    uint32_t version = 0;
    g.async([&](const WireCaps& c) {
                return guest::sizeof_vkSeekReplyCommandStreamMESA(c, 0) + guest::sizeof_vkEnumerateInstanceVersion(c, &version);
            },
            [&](Encoder& e, uint32_t) {
                guest::encode_vkSeekReplyCommandStreamMESA(e, 0, 0);
                guest::encode_vkEnumerateInstanceVersion(e, VK_COMMAND_GENERATE_REPLY_BIT_EXT, &version);
            });
    g.sync();
    Decoder d(reply.memory.data(), guest::sizeof_vkEnumerateInstanceVersion_reply(caps, &version));
    EXPECT_EQ(guest::decode_vkEnumerateInstanceVersion_reply(d, &version), VK_SUCCESS);
    EXPECT_GE(version, VK_API_VERSION_1_1);
}

// The same stream in wire format 1 is a clear error: there, every ring has a reply stream of
// its own, and this ring never set one.
TEST(WireFormat1, RingWithoutItsOwnReplyStreamIsFatalWithAReason) {
    ServerProcess server({"-v"});
    RawGuest g(server.socket_path(), "wire1-no-reply-stream");
    auto reply = g.client().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, 4096, 0);
    VkCommandStreamDescriptionMESA stream{reply.res_id, 0, 4096};
    g.control([&](const WireCaps& c) { return guest::sizeof_vkSetReplyCommandStreamMESA(c, &stream); },
              [&](Encoder& e, uint32_t f) { guest::encode_vkSetReplyCommandStreamMESA(e, f, &stream); });
    uint32_t version = 0;
    g.async([&](const WireCaps& c) { return guest::sizeof_vkEnumerateInstanceVersion(c, &version); },
            [&](Encoder& e, uint32_t) {
                guest::encode_vkEnumerateInstanceVersion(e, VK_COMMAND_GENERATE_REPLY_BIT_EXT, &version);
            });
    EXPECT_TRUE(server.wait_log("no reply stream is set", 5000)) << server.log();
}

TEST(WireFormat1, ExperimentalFeatureCommandIsRefusedWithAReason) {
    ServerProcess server({"-v"});
    auto client = transport::VtestClient::connect(server.socket_path(), "wire1-command-195");
    WireCaps caps;
    size_t size = 0;
    auto ask = encoded(guest::sizeof_vkGetVenusExperimentalFeatureData100000MESA(caps, &size, nullptr), caps,
                       [&](Encoder& e) { guest::encode_vkGetVenusExperimentalFeatureData100000MESA(e, 0, &size, nullptr); });
    client->submit(ask);
    EXPECT_TRUE(server.wait_log("exists only in wire format 0", 5000)) << server.log();
}

TEST(WireFormat0Option, OutOfRangeIsRefusedAtStartUp) {
    EXPECT_THROW(ServerProcess({"--wire-format", "2"}), std::runtime_error);
}

}  // namespace
}  // namespace venus::test
