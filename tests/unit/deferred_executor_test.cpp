// DeferredExecutor: recording commands decoded on one thread run on another, in stream order,
// with progress reported per batch and the executor's first error surfacing at the next drain.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "protocol/host_dispatch.h"
#include "protocol/venus_defs.h"
#include "renderer/deferred_executor.h"
#include "renderer/errors.h"

namespace venus::renderer {
namespace {

constexpr uint64_t kCommandBufferId = 7;
constexpr float kPoison = -1.0f;

// One command buffer, id 7.
class OneCommandBuffer : public protocol::HandleResolver {
public:
    const protocol::ObjectRef* find(uint64_t id) override { return id == kCommandBufferId ? &ref_ : nullptr; }
    uint64_t id_of(VkObjectType, uint64_t) override { return 0; }

private:
    protocol::ObjectRef ref_{kCommandBufferId, 0x1000, VK_OBJECT_TYPE_COMMAND_BUFFER};
};

// Records what reaches the "driver" and on which thread; a line width of kPoison fails.
class Recorder : public protocol::host::NullDispatcher {
public:
    void vkCmdSetLineWidth(protocol::host::vkCmdSetLineWidth_args& a) override {
        if (a.lineWidth == kPoison) throw ContextError("the host driver refused line width -1");
        widths.push_back(a.lineWidth);
        threads.push_back(std::this_thread::get_id());
    }
    std::vector<float> widths;
    std::vector<std::thread::id> threads;
};

// vkCmdSetLineWidth as on the wire (§4): id, flags, the command buffer's id, the width.
void put_line_width(std::vector<uint8_t>& out, float width, uint32_t flags = 0) {
    const uint32_t id = protocol::cmd::vkCmdSetLineWidth;
    const size_t at = out.size();
    out.resize(at + 20);
    std::memcpy(&out[at], &id, 4);
    std::memcpy(&out[at + 4], &flags, 4);
    std::memcpy(&out[at + 8], &kCommandBufferId, 8);
    std::memcpy(&out[at + 16], &width, 4);
}

struct StreamRun {
    std::vector<size_t> progress;
    bool threw = false;
    std::string error;
};

// Decodes every command of `bytes` as deferred and drains at the end.
StreamRun run_all(DeferredExecutor& ex, const std::vector<uint8_t>& bytes) {
    OneCommandBuffer objects;
    protocol::Decoder d(bytes.data(), bytes.size(), nullptr, &objects);
    StreamRun r;
    const std::function<void(size_t)> progress = [&](size_t end) { r.progress.push_back(end); };
    try {
        while (!d.at_end()) {
            d.set_arena(&ex.arena());
            const auto c = protocol::host::decode_deferred(d);
            if (!c.exec) throw std::logic_error("not deferrable");
            ex.push(c, d.offset(), progress);
        }
        ex.drain(progress);
    } catch (const ContextError& e) {
        r.threw = true;
        r.error = e.what();
        ex.drain_quietly();
    }
    return r;
}

TEST(DeferredExecutor, RunsInStreamOrderOnItsOwnThreadAndReportsProgressPerBatch) {
    Recorder rec;
    DeferredExecutor ex(rec, 1 << 20, "test-exec");
    constexpr int kCommands = 10000;
    std::vector<uint8_t> bytes;
    for (int i = 0; i < kCommands; ++i) put_line_width(bytes, static_cast<float>(i));
    const StreamRun r = run_all(ex, bytes);
    ASSERT_FALSE(r.threw) << r.error;
    ASSERT_EQ(rec.widths.size(), size_t{kCommands});
    for (int i = 0; i < kCommands; ++i) ASSERT_EQ(rec.widths[i], static_cast<float>(i)) << i;
    for (const auto& t : rec.threads) ASSERT_NE(t, std::this_thread::get_id());
    // one report per batch, increasing, the last at the end of the stream
    const size_t batches = (kCommands + DeferredExecutor::kBatchCommands - 1) / DeferredExecutor::kBatchCommands;
    EXPECT_EQ(r.progress.size(), batches);
    EXPECT_EQ(ex.batches_run(), batches);
    for (size_t i = 1; i < r.progress.size(); ++i) EXPECT_GT(r.progress[i], r.progress[i - 1]);
    ASSERT_FALSE(r.progress.empty());
    EXPECT_EQ(r.progress.back(), bytes.size());
    EXPECT_EQ(r.progress.front(), DeferredExecutor::kBatchCommands * 20);

    // the executor is reusable: a second stream, shorter than one batch
    rec.widths.clear();
    std::vector<uint8_t> small;
    for (int i = 0; i < 3; ++i) put_line_width(small, 100.0f + static_cast<float>(i));
    const StreamRun r2 = run_all(ex, small);
    ASSERT_FALSE(r2.threw) << r2.error;
    EXPECT_EQ(rec.widths, (std::vector<float>{100.0f, 101.0f, 102.0f}));
    EXPECT_EQ(r2.progress, std::vector<size_t>{small.size()});
}

TEST(DeferredExecutor, TheFirstErrorSurfacesAndLaterCommandsDoNotRun) {
    Recorder rec;
    DeferredExecutor ex(rec, 1 << 20, "test-exec");
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 3000; ++i) put_line_width(bytes, i == 1234 ? kPoison : static_cast<float>(i));
    const StreamRun r = run_all(ex, bytes);
    EXPECT_TRUE(r.threw);
    EXPECT_NE(r.error.find("line width -1"), std::string::npos) << r.error;
    // everything before the failing command ran, nothing after it
    ASSERT_EQ(rec.widths.size(), 1234u);
    EXPECT_EQ(rec.widths.back(), 1233.0f);
    // progress never claims the failed batch
    for (size_t end : r.progress) EXPECT_LE(end, 1234u * 20);
}

TEST(DeferredExecutor, OnlyRecordingCommandsWithoutAReplyAreDeferred) {
    OneCommandBuffer objects;
    protocol::TempArena arena;
    std::vector<uint8_t> bytes;
    put_line_width(bytes, 1.0f, VK_COMMAND_GENERATE_REPLY_BIT_EXT);
    protocol::Decoder d(bytes.data(), bytes.size(), &arena, &objects);
    EXPECT_EQ(protocol::host::decode_deferred(d).exec, nullptr);
    EXPECT_EQ(d.offset(), 0u);  // left where it was
    EXPECT_TRUE(protocol::host::is_deferrable(protocol::cmd::vkCmdDraw));
    EXPECT_FALSE(protocol::host::is_deferrable(protocol::cmd::vkCreateBuffer));
    EXPECT_FALSE(protocol::host::is_deferrable(protocol::cmd::vkQueueSubmit));
    EXPECT_FALSE(protocol::host::is_deferrable(protocol::cmd::vkBeginCommandBuffer));
    EXPECT_FALSE(protocol::host::is_deferrable(100000));
    // a command with a bad object id fails while decoding, on the decoding thread
    std::vector<uint8_t> bad;
    put_line_width(bad, 1.0f);
    const uint64_t unknown = 99;
    std::memcpy(&bad[8], &unknown, 8);
    protocol::Decoder d2(bad.data(), bad.size(), &arena, &objects);
    EXPECT_THROW(protocol::host::decode_deferred(d2), protocol::WireError);
}

}  // namespace
}  // namespace venus::renderer
