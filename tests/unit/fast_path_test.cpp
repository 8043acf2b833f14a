// FastPath: every plain recording command it covers makes exactly the driver call the general
// decoder would make from the same bytes, and everything the general decoder would refuse is
// left to it (declined, with no call made).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fast_path_support.h"
#include "protocol/venus_defs.h"
#include "renderer/fast_path.h"
#include "renderer/object_table.h"

namespace venus::renderer {
namespace {

using testgen::captured_calls;

using Objects = testgen::LazyObjects;

TEST(FastPath, CoversThePlainRecordingCommands) {
    EXPECT_EQ(FastPath::kCommandCount, testgen::kFastCaseCount);
    for (size_t i = 0; i < testgen::kFastCaseCount; ++i) EXPECT_TRUE(FastPath::covers(testgen::kFastCases[i].id));
    for (const uint32_t id : {protocol::cmd::vkCmdDraw, protocol::cmd::vkCmdDrawIndexed, protocol::cmd::vkCmdDispatch,
                              protocol::cmd::vkCmdSetLineWidth, protocol::cmd::vkCmdBindPipeline,
                              protocol::cmd::vkCmdBindIndexBuffer, protocol::cmd::vkCmdEndRenderPass})
        EXPECT_TRUE(FastPath::covers(id)) << "command " << id;
    // commands with arrays or structures take the general path
    for (const uint32_t id : {protocol::cmd::vkCmdBindVertexBuffers, protocol::cmd::vkCmdPipelineBarrier,
                              protocol::cmd::vkCmdBeginRenderPass, protocol::cmd::vkCreateBuffer})
        EXPECT_FALSE(FastPath::covers(id)) << "command " << id;
}

TEST(FastPath, MakesTheGeneralPathsCallForEveryCommand) {
    for (size_t c = 0; c < testgen::kFastCaseCount; ++c) {
        const testgen::FastCase& fc = testgen::kFastCases[c];
        SCOPED_TRACE(fc.name);
        for (uint64_t seed = 1; seed <= 24; ++seed) {
            testgen::Harness h(seed * 7919 + fc.id);
            std::vector<uint8_t> bytes;
            fc.request(h, bytes);
            Objects objects;
            fc.install(objects.device->fn);

            protocol::TempArena arena;
            protocol::Decoder d(bytes.data(), bytes.size(), &arena, &objects);
            ASSERT_EQ(d.u32(), fc.id);
            ASSERT_EQ(d.u32(), 0u);
            captured_calls().clear();
            fc.reference(d, objects.device->fn);
            ASSERT_TRUE(d.at_end());
            const std::vector<uint8_t> expected = captured_calls();
            ASSERT_FALSE(expected.empty());

            CachedResolver cached(objects.table);
            FastPath fast(cached);
            captured_calls().clear();
            EXPECT_EQ(fast.run(bytes.data(), bytes.size()), bytes.size());
            EXPECT_EQ(captured_calls(), expected) << "seed " << seed;
        }
    }
}

// vkCmdBindIndexBuffer as on the wire: id, flags, command buffer, buffer, offset, index type.
struct BindIndexBuffer {
    uint32_t id = protocol::cmd::vkCmdBindIndexBuffer;
    uint32_t flags = 0;
    uint64_t command_buffer = 0x10;
    uint64_t buffer = 0x20;
    uint64_t offset = 64;
    int32_t index_type = VK_INDEX_TYPE_UINT32;
    std::vector<uint8_t> bytes() const {
        std::vector<uint8_t> out(36);
        std::memcpy(&out[0], &id, 4);
        std::memcpy(&out[4], &flags, 4);
        std::memcpy(&out[8], &command_buffer, 8);
        std::memcpy(&out[16], &buffer, 8);
        std::memcpy(&out[24], &offset, 8);
        std::memcpy(&out[32], &index_type, 4);
        return out;
    }
};

class FastPathDeclines : public ::testing::Test {
protected:
    FastPathDeclines() {
        objects.add(0x10, VK_OBJECT_TYPE_COMMAND_BUFFER);
        objects.add(0x20, VK_OBJECT_TYPE_BUFFER);
        objects.device->fn.CmdBindIndexBuffer =
            &testgen::Capture<PFN_vkCmdBindIndexBuffer, protocol::cmd::vkCmdBindIndexBuffer>::call;
    }
    // bytes taken by the fast path; no call may be made when it declines
    size_t run(const std::vector<uint8_t>& bytes) {
        captured_calls().clear();
        const size_t used = fast.run(bytes.data(), bytes.size());
        if (!used) {
            EXPECT_TRUE(captured_calls().empty());
        }
        return used;
    }
    Objects objects;
    CachedResolver cached{objects.table};
    FastPath fast{cached};
};

TEST_F(FastPathDeclines, NothingWhenTheCommandIsValid) {
    EXPECT_EQ(run(BindIndexBuffer{}.bytes()), 36u);
    EXPECT_EQ(captured_calls().size(), 4u + 8 + 8 + 8 + 4);
}

TEST_F(FastPathDeclines, AReplyRequest) {
    BindIndexBuffer c;
    c.flags = VK_COMMAND_GENERATE_REPLY_BIT_EXT;
    EXPECT_EQ(run(c.bytes()), 0u);
}

TEST_F(FastPathDeclines, AShortStream) {
    auto bytes = BindIndexBuffer{}.bytes();
    for (size_t n = 0; n < bytes.size(); ++n) {
        captured_calls().clear();
        EXPECT_EQ(fast.run(bytes.data(), n), 0u) << n << " bytes";
        EXPECT_TRUE(captured_calls().empty());
    }
}

TEST_F(FastPathDeclines, UnknownOrMistypedObjects) {
    BindIndexBuffer c;
    c.command_buffer = 0x99;  // unknown
    EXPECT_EQ(run(c.bytes()), 0u);
    c.command_buffer = 0x20;  // a buffer
    EXPECT_EQ(run(c.bytes()), 0u);
    c = {};
    c.buffer = 0x10;  // a command buffer
    EXPECT_EQ(run(c.bytes()), 0u);
    c.buffer = 0;  // required
    EXPECT_EQ(run(c.bytes()), 0u);
}

TEST_F(FastPathDeclines, ANegativeEnum) {
    BindIndexBuffer c;
    c.index_type = -1;
    EXPECT_EQ(run(c.bytes()), 0u);
}

TEST_F(FastPathDeclines, AHostWithoutTheFunction) {
    objects.device->fn.CmdBindIndexBuffer = nullptr;
    EXPECT_EQ(run(BindIndexBuffer{}.bytes()), 0u);
}

TEST_F(FastPathDeclines, ACommandBufferOfNoDevice) {
    objects.table.insert([] {
        auto o = std::make_unique<Object>();
        o->id = 0x11;
        o->type = VK_OBJECT_TYPE_COMMAND_BUFFER;
        o->handle = 0x1111;
        return o;
    }());
    BindIndexBuffer c;
    c.command_buffer = 0x11;
    EXPECT_EQ(run(c.bytes()), 0u);
}

TEST_F(FastPathDeclines, OtherCommands) {
    BindIndexBuffer c;
    c.id = protocol::cmd::vkCreateBuffer;
    EXPECT_EQ(run(c.bytes()), 0u);
    c.id = 100000;
    EXPECT_EQ(run(c.bytes()), 0u);
}

TEST_F(FastPathDeclines, AnObjectDestroyedAfterItWasCached) {
    EXPECT_EQ(run(BindIndexBuffer{}.bytes()), 36u);
    objects.table.erase(0x20);
    EXPECT_EQ(run(BindIndexBuffer{}.bytes()), 0u);
    objects.table.erase(0x10);
    BindIndexBuffer c;
    c.buffer = 0;
    EXPECT_EQ(run(c.bytes()), 0u);
}

// run_all() takes commands up to the first one run() declines, and counts them.
TEST_F(FastPathDeclines, ARunStopsAtTheFirstDeclinedCommand) {
    BindIndexBuffer bad;
    bad.index_type = -1;
    std::vector<uint8_t> stream;
    for (int i = 0; i < 3; ++i) {
        const auto b = BindIndexBuffer{}.bytes();
        stream.insert(stream.end(), b.begin(), b.end());
    }
    const auto b = bad.bytes();
    stream.insert(stream.end(), b.begin(), b.end());
    const auto good = BindIndexBuffer{}.bytes();
    stream.insert(stream.end(), good.begin(), good.end());
    uint64_t count = 5;
    captured_calls().clear();
    EXPECT_EQ(fast.run_all(stream.data(), stream.size(), count), 3 * 36u);
    EXPECT_EQ(count, 8u);
    EXPECT_EQ(captured_calls().size(), 3 * (4u + 8 + 8 + 8 + 4));
    // all of it, and a cut-off last command
    stream.resize(3 * 36);
    EXPECT_EQ(fast.run_all(stream.data(), stream.size(), count), 3 * 36u);
    EXPECT_EQ(fast.run_all(stream.data(), stream.size() - 1, count), 2 * 36u);
    EXPECT_EQ(fast.run_all(stream.data(), 0, count), 0u);
    EXPECT_EQ(count, 13u);
}

}  // namespace
}  // namespace venus::renderer
