// RingLayout validation (venus-protocol.md §5.3) and RingView access to a ring in real shared
// memory (§5.4): control words as atomics, wrap-around, a producer/consumer across mappings.
#include <fcntl.h>

#include <cstring>
#include <future>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "transport/error.h"
#include "transport/ring_layout.h"
#include "transport/shared_memory.h"

namespace venus::transport {
namespace {

constexpr size_t kMax = std::numeric_limits<size_t>::max();

std::string fmt_mismatch(uint32_t want, uint32_t got) {
    return "record " + std::to_string(want) + " came back as record " + std::to_string(got);
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// RingLayout

TEST(TransportRingLayout, StandardIsMesasLayout) {
    const RingLayout l = RingLayout::standard(128 * 1024);
    EXPECT_EQ(l.offset, 0u);
    EXPECT_EQ(l.head_offset, 0u);
    EXPECT_EQ(l.tail_offset, 64u);
    EXPECT_EQ(l.status_offset, 128u);
    EXPECT_EQ(l.buffer_offset, 192u);
    EXPECT_EQ(l.buffer_size, 128u * 1024);
    EXPECT_EQ(l.extra_offset, 192u + 128 * 1024);
    EXPECT_EQ(l.extra_size, 4u);
    EXPECT_EQ(l.size, 192u + 128 * 1024 + 4);
    EXPECT_EQ(l.validate(l.size), "");
    EXPECT_EQ(l.validate(l.size + 4096), "");
    EXPECT_EQ(RingLayout::standard(16 * 1024).validate(1 << 20), "");
    EXPECT_EQ(RingLayout::standard(4).validate(200), "");
    EXPECT_EQ(RingLayout::standard(16u << 20).validate(32u << 20), "") << "16 MiB is the maximum";
}

TEST(TransportRingLayout, RingAtAnOffsetInsideTheResource) {
    RingLayout l = RingLayout::standard(4096);
    l.offset = 8192;
    EXPECT_EQ(l.validate(8192 + l.size), "");
    const std::string err = l.validate(8192 + l.size - 1);
    EXPECT_TRUE(contains(err, "resource")) << err;
    l.offset = 8194;  // every absolute position is misaligned now
    EXPECT_TRUE(contains(l.validate(1 << 20), "aligned")) << l.validate(1 << 20);
}

TEST(TransportRingLayout, BufferSizeMustBeAPowerOfTwo) {
    EXPECT_EQ(RingLayout::standard(1000).validate(1 << 20), "ring buffer size 1000 is not a power of two");
    EXPECT_TRUE(contains(RingLayout::standard(0).validate(1 << 20), "power of two"));
    EXPECT_TRUE(contains(RingLayout::standard(4096 + 4).validate(1 << 20), "not a power of two"));
}

TEST(TransportRingLayout, BufferSizeMaximum) {
    const std::string err = RingLayout::standard(32u << 20).validate(64u << 20);
    EXPECT_TRUE(contains(err, "33554432")) << err;
    EXPECT_TRUE(contains(err, "maximum")) << err;
    // A caller-chosen maximum.
    EXPECT_NE(RingLayout::standard(8192).validate(1 << 20, 4096), "");
    EXPECT_EQ(RingLayout::standard(4096).validate(1 << 20, 4096), "");
    // Even with a huge maximum, a buffer must stay below the u32 counter range.
    const RingLayout huge = RingLayout::standard(size_t{1} << 32);
    EXPECT_NE(huge.validate(kMax, kMax), "");
}

TEST(TransportRingLayout, TinyBuffersAreMisaligned) {
    // Powers of two, but the buffer's end (and the extra region after it) is not 4-byte aligned.
    EXPECT_TRUE(contains(RingLayout::standard(1).validate(4096), "aligned"));
    EXPECT_TRUE(contains(RingLayout::standard(2).validate(4096), "aligned"));
}

TEST(TransportRingLayout, RingMustFitInTheResource) {
    const RingLayout l = RingLayout::standard(4096);
    const std::string err = l.validate(l.size - 1);
    EXPECT_TRUE(contains(err, "does not fit in the resource")) << err;
    EXPECT_TRUE(contains(err, std::to_string(l.size - 1))) << err;
    EXPECT_NE(l.validate(0), "");
}

TEST(TransportRingLayout, RegionsMustLieInsideTheRing) {
    RingLayout l = RingLayout::standard(4096);
    l.extra_offset = l.size;  // past the end of the ring, though still inside the resource
    std::string err = l.validate(1 << 20);
    EXPECT_TRUE(contains(err, "extra")) << err;
    EXPECT_TRUE(contains(err, "outside the ring")) << err;

    l = RingLayout::standard(4096);
    l.size = 192 + 4096;  // the extra region no longer fits
    err = l.validate(1 << 20);
    EXPECT_TRUE(contains(err, "extra")) << err;

    l = RingLayout::standard(4096);
    l.status_offset = l.size - 2;  // straddles the end
    err = l.validate(1 << 20);
    EXPECT_TRUE(contains(err, "status")) << err;
}

TEST(TransportRingLayout, ControlWordsMustBeAligned) {
    for (size_t RingLayout::*field : {&RingLayout::head_offset, &RingLayout::tail_offset,
                                      &RingLayout::status_offset}) {
        RingLayout l = RingLayout::standard(4096);
        l.*field += 2;
        const std::string err = l.validate(1 << 20);
        EXPECT_TRUE(contains(err, "aligned")) << err;
    }
    RingLayout l = RingLayout::standard(4096);
    l.extra_offset += 1;
    l.size += 1;
    EXPECT_TRUE(contains(l.validate(1 << 20), "extra")) << l.validate(1 << 20);
    l = RingLayout::standard(4096);
    l.extra_size = 3;
    EXPECT_TRUE(contains(l.validate(1 << 20), "aligned")) << l.validate(1 << 20);
}

TEST(TransportRingLayout, RegionsMustNotOverlap) {
    RingLayout l = RingLayout::standard(4096);
    l.tail_offset = l.head_offset;
    std::string err = l.validate(1 << 20);
    EXPECT_TRUE(contains(err, "head")) << err;
    EXPECT_TRUE(contains(err, "tail")) << err;
    EXPECT_TRUE(contains(err, "overlaps")) << err;

    l = RingLayout::standard(4096);
    l.status_offset = l.buffer_offset + 100;  // inside the buffer
    err = l.validate(1 << 20);
    EXPECT_TRUE(contains(err, "status")) << err;
    EXPECT_TRUE(contains(err, "buffer")) << err;

    l = RingLayout::standard(4096);
    l.extra_offset = l.buffer_offset + l.buffer_size - 4;  // last buffer word
    err = l.validate(1 << 20);
    EXPECT_TRUE(contains(err, "buffer")) << err;
    EXPECT_TRUE(contains(err, "extra")) << err;

    // Adjacent is fine: control words packed back to back, buffer right after.
    l = RingLayout::standard(4096);
    l.tail_offset = 4;
    l.status_offset = 8;
    l.buffer_offset = 12;
    l.extra_offset = 12 + 4096;
    l.size = l.extra_offset + 4;
    EXPECT_EQ(l.validate(l.size), "");
}

TEST(TransportRingLayout, EmptyExtraRegionIsAllowed) {
    RingLayout l = RingLayout::standard(4096);
    l.extra_size = 0;
    l.size -= 4;
    EXPECT_EQ(l.validate(l.size), "");
}

TEST(TransportRingLayout, HugeOffsetsDoNotWrapAround) {
    const RingLayout base = RingLayout::standard(4096);
    RingLayout l = base;
    // offset + size wraps to a small number that would "fit" a 1 MiB resource.
    l.offset = kMax - 63;
    EXPECT_NE(l.validate(1 << 20), "");
    EXPECT_NE(l.validate(kMax), "");

    l = base;
    l.size = kMax;  // a ring claiming all of memory
    EXPECT_NE(l.validate(1 << 20), "");

    // buffer_offset + buffer_size wraps to a small value inside the ring.
    l = base;
    l.size = kMax;
    l.buffer_offset = kMax - 4095 + 8;  // + 4096 == 8 (mod 2^64)
    EXPECT_NE(l.validate(kMax), "");

    // Control word offsets near the top.
    for (size_t RingLayout::*field : {&RingLayout::head_offset, &RingLayout::tail_offset,
                                      &RingLayout::status_offset, &RingLayout::extra_offset}) {
        l = base;
        l.size = kMax;
        l.*field = kMax - 3;  // + 4 == 0
        EXPECT_NE(l.validate(kMax), "") << "field offset " << (l.*field);
    }
    l = base;
    l.size = kMax;
    l.extra_size = kMax - l.extra_offset + 5;  // extra_offset + extra_size wraps to 4
    EXPECT_NE(l.validate(kMax), "");
}

// ---------------------------------------------------------------------------------------------
// RingView

TEST(TransportRingView, ControlWordsAreLockFreeU32sInSharedMemory) {
    static_assert(std::atomic<uint32_t>::is_always_lock_free);
    static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

    const RingLayout layout = RingLayout::standard(4096);
    SharedMemory shm = SharedMemory::create("venus-test-ring", layout.size);
    ASSERT_EQ(layout.validate(shm.size()), "");
    const RingView view(shm.data(), layout);

    EXPECT_EQ(reinterpret_cast<uint8_t*>(&view.head()), shm.data() + 0);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(&view.tail()), shm.data() + 64);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(&view.status()), shm.data() + 128);
    EXPECT_EQ(view.buffer(), shm.data() + 192);
    EXPECT_EQ(view.buffer_size(), 4096u);
    EXPECT_EQ(view.extra(), shm.data() + 192 + 4096);
    EXPECT_EQ(view.extra_size(), 4u);

    // A second mapping of the same memfd (as the peer has) sees the words as plain u32s.
    SharedMemory peer = SharedMemory::map(UniqueFd{::fcntl(shm.fd(), F_DUPFD_CLOEXEC, 0)}, layout.size);
    const RingView other(peer.data(), layout);
    view.tail().store(0xdeadbeef, std::memory_order_release);
    view.status().store(1u << 1, std::memory_order_seq_cst);
    EXPECT_EQ(other.tail().load(std::memory_order_acquire), 0xdeadbeefu);
    uint32_t raw;
    std::memcpy(&raw, peer.data() + 64, 4);
    EXPECT_EQ(raw, 0xdeadbeefu);
    std::memcpy(&raw, peer.data() + 128, 4);
    EXPECT_EQ(raw, 2u);
    other.head().store(77);
    EXPECT_EQ(view.head().load(), 77u);
}

TEST(TransportRingView, RingAtAnOffsetInTheResource) {
    RingLayout layout = RingLayout::standard(256);
    layout.offset = 4096;
    SharedMemory shm = SharedMemory::create("venus-test-ring-offset", layout.offset + layout.size);
    ASSERT_EQ(layout.validate(shm.size()), "");
    const RingView view(shm.data(), layout);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(&view.head()), shm.data() + 4096);
    EXPECT_EQ(view.buffer(), shm.data() + 4096 + 192);
}

TEST(TransportRingView, WriteAndReadWrapAround) {
    const RingLayout layout = RingLayout::standard(64);
    SharedMemory shm = SharedMemory::create("venus-test-ring-wrap", layout.size);
    const RingView view(shm.data(), layout);

    std::vector<uint8_t> msg(40);
    std::iota(msg.begin(), msg.end(), uint8_t{1});
    view.write(48, msg);  // 16 bytes at the end of the buffer, 24 at its start
    EXPECT_EQ(std::memcmp(view.buffer() + 48, msg.data(), 16), 0);
    EXPECT_EQ(std::memcmp(view.buffer(), msg.data() + 16, 24), 0);
    EXPECT_EQ(view.buffer()[24], 0) << "wrote past the message";
    EXPECT_EQ(view.extra()[0], 0) << "wrote into the extra region";

    // Positions are free-running: any pos with the same low bits reads the same bytes.
    for (uint32_t pos : {48u, 48u + 64u, 48u + 64u * 1000u}) {
        std::vector<uint8_t> got(msg.size());
        view.read(pos, got);
        EXPECT_EQ(got, msg) << "pos " << pos;
    }

    // Around the u32 wrap of the counter itself.
    const uint32_t near_top = 0xfffffff0u;  // & 63 == 48
    std::vector<uint8_t> msg2(64);
    std::iota(msg2.begin(), msg2.end(), uint8_t{100});
    view.write(near_top, msg2);  // a full buffer's worth
    std::vector<uint8_t> got(msg2.size());
    view.read(near_top, got);
    EXPECT_EQ(got, msg2);
    std::vector<uint8_t> after_wrap(16);
    view.read(near_top + 48, after_wrap);  // counter wrapped to 0x20
    EXPECT_TRUE(std::equal(after_wrap.begin(), after_wrap.end(), msg2.begin() + 48));
    EXPECT_EQ(view.extra()[0], 0);
}

TEST(TransportRingView, AccessLargerThanTheBufferIsRejected) {
    const RingLayout layout = RingLayout::standard(64);
    SharedMemory shm = SharedMemory::create("venus-test-ring-big", layout.size);
    const RingView view(shm.data(), layout);
    std::vector<uint8_t> big(65);
    EXPECT_THROW(view.read(0, big), TransportError);
    EXPECT_THROW(view.write(0, big), TransportError);
    EXPECT_EQ(view.extra()[0], 0);
    view.read(5, {});  // empty access is fine
    view.write(5, {});
    const RingView empty;
    EXPECT_THROW(empty.read(0, std::span(big).first(1)), TransportError);
}

TEST(TransportRingView, RejectsLayoutsItCannotMask) {
    SharedMemory shm = SharedMemory::create("venus-test-ring-bad", 8192);
    EXPECT_THROW(RingView(shm.data(), RingLayout::standard(1000)), TransportError);
    EXPECT_THROW(RingView(shm.data(), RingLayout::standard(0)), TransportError);
    RingLayout misaligned = RingLayout::standard(64);
    misaligned.head_offset = 2;
    EXPECT_THROW(RingView(shm.data(), misaligned), TransportError);
    EXPECT_THROW(RingView(nullptr, RingLayout::standard(64)), TransportError);
}

TEST(TransportRingView, ProducerAndConsumerAcrossTwoMappings) {
    // The driver side writes variable-sized records through one mapping; the renderer side
    // reads them through another, with head/tail as the only synchronisation (§5.4).
    const RingLayout layout = RingLayout::standard(256);
    SharedMemory driver_shm = SharedMemory::create("venus-test-ring-pc", layout.size);
    SharedMemory renderer_shm =
        SharedMemory::map(UniqueFd{::fcntl(driver_shm.fd(), F_DUPFD_CLOEXEC, 0)}, layout.size);
    const RingView driver(driver_shm.data(), layout);
    const RingView renderer(renderer_shm.data(), layout);
    // Start near the u32 wrap so that the counters wrap during the test.
    driver.head().store(0xffff0000u);
    driver.tail().store(0xffff0000u);

    constexpr uint32_t kRecords = 20000;
    auto consumer = std::async(std::launch::async, [&renderer] {
        uint32_t head = renderer.head().load(std::memory_order_relaxed);
        for (uint32_t i = 0; i < kRecords; ++i) {
            const uint32_t len = 4 + i % 61;
            while (renderer.tail().load(std::memory_order_acquire) - head < len) std::this_thread::yield();
            std::vector<uint8_t> rec(len);
            renderer.read(head, rec);
            uint32_t index;
            std::memcpy(&index, rec.data(), 4);
            if (index != i) return fmt_mismatch(i, index);
            for (uint32_t k = 4; k < len; ++k)
                if (rec[k] != static_cast<uint8_t>(i + k)) return fmt_mismatch(i, index);
            head += len;
            renderer.head().store(head, std::memory_order_release);
        }
        return std::string{};
    });

    uint32_t tail = driver.tail().load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < kRecords; ++i) {
        const uint32_t len = 4 + i % 61;
        std::vector<uint8_t> rec(len);
        std::memcpy(rec.data(), &i, 4);
        for (uint32_t k = 4; k < len; ++k) rec[k] = static_cast<uint8_t>(i + k);
        while (tail + len - driver.head().load(std::memory_order_acquire) > driver.buffer_size())
            std::this_thread::yield();
        driver.write(tail, rec);
        tail += len;
        driver.tail().store(tail, std::memory_order_seq_cst);
    }
    EXPECT_EQ(consumer.get(), "");
    EXPECT_EQ(driver.head().load(), tail);
    EXPECT_TRUE(seqno_reached(tail, 0xffff0000u)) << "tail " << tail;
    EXPECT_LT(tail, 0xffff0000u) << "the counters were meant to wrap";
}

TEST(TransportRingView, SeqnoReachedIsWrapAware) {
    EXPECT_TRUE(seqno_reached(5, 5));
    EXPECT_TRUE(seqno_reached(6, 5));
    EXPECT_FALSE(seqno_reached(4, 5));
    EXPECT_TRUE(seqno_reached(3, 0xfffffff0u));   // 3 is past the wrap
    EXPECT_FALSE(seqno_reached(0xfffffff0u, 3));
    EXPECT_TRUE(seqno_reached(0x7fffffffu, 0));
    EXPECT_FALSE(seqno_reached(0x80000000u, 0));  // half the range away counts as behind
}

}  // namespace
}  // namespace venus::transport
