// One connection to a Venus renderer (one per VkInstance, like Mesa's vn_renderer): the vtest
// client, the capset, the instance ring that carries every command, a pool of wait rings for
// blocking calls (one per thread that is blocked at the moment, so that a wait never stalls
// another thread's commands), reply streams and shared-memory chunks for indirect streams.
//
//   submit(size, encode)                     one command, no reply (asynchronous)
//   call(size, encode, reply_size, decode)   one command and its reply (a round trip)
//
// Commands larger than the inline limit travel indirectly: encoded into shared memory and
// named by vkExecuteCommandStreamsMESA. Every transport failure marks the connection lost:
// from then on the application gets VK_ERROR_DEVICE_LOST.
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "icd/registry.h"
#include "icd/ring.h"
#include "protocol/guest_codec.h"
#include "transport/vtest_client.h"

namespace venus::icd {

// The driver's wire format and the renderer features it needs (venus-protocol.md §3).
inline constexpr uint32_t kWireFormatVersion = 1;

// Thrown by Connection::create when the renderer cannot be used; the message says why.
class IncompatibleRenderer : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Room to encode one command: on the stack up to 4 KiB (nearly every command), else on the
// heap. Not thread_local: applications call Vulkan from static destructors, after the thread's
// thread_local objects are gone.
class EncodeBuffer {
public:
    explicit EncodeBuffer(size_t n) {
        if (n > sizeof(local_)) heap_ = std::make_unique<uint8_t[]>(n);
    }
    uint8_t* data() { return heap_ ? heap_.get() : local_; }

private:
    alignas(8) uint8_t local_[4096];
    std::unique_ptr<uint8_t[]> heap_;
};

class Connection {
public:
    // Connects, checks the capset, creates the instance ring. Throws IncompatibleRenderer.
    static std::unique_ptr<Connection> create(const std::string& socket_path, const std::string& name);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    const protocol::WireCaps& caps() const { return caps_; }
    // A vtest timeline (ring_idx 1 .. MAX_TIMELINE_COUNT - 1) for a new queue, named to the
    // renderer in VkDeviceQueueTimelineInfoMESA (virglrenderer >= 1.0 requires one per queue);
    // 0 when all are taken. Released when the queue's device goes.
    uint32_t acquire_timeline();
    void release_timeline(uint32_t ring_idx);
    const vtest::CapsetVenus& capset() const { return client_->capset(); }
    transport::VtestClient& vtest() { return *client_; }
    Ring& ring() { return *ring_; }

    // ---- loss ---------------------------------------------------------------------------------
    bool lost() const { return lost_.load(std::memory_order_relaxed); }
    // Marks the connection lost (the first reason is logged once).
    void set_lost(const std::string& why);
    // For catch (...) blocks: maps the exception in flight to a VkResult and marks the
    // connection lost where the exception means that.
    VkResult on_exception() noexcept;

    // ---- commands -----------------------------------------------------------------------------
    template <class Size, class Encode>
    uint32_t submit(Size&& size, Encode&& encode) {
        return submit_on(*ring_, size, encode);
    }
    template <class Size, class Encode>
    uint32_t submit_on(Ring& ring, Size&& size, Encode&& encode) {
        check_lost();
        const size_t n = size(caps_);
        if (n > kInlineLimit) return write_indirect(ring, n, encode, 0, nullptr);
        EncodeBuffer buf(n);
        protocol::Encoder e(buf.data(), n, &caps_);
        encode(e, 0u);
        return ring.write({buf.data(), n});
    }

    // Commands encoded already (a command buffer's stream): inline or indirectly.
    uint32_t submit_encoded(std::span<const uint8_t> bytes);

    template <class Size, class Encode, class ReplySize, class Decode>
    decltype(auto) call(Size&& size, Encode&& encode, ReplySize&& reply_size, Decode&& decode) {
        return call_on(*ring_, size, encode, reply_size, decode);
    }
    template <class Size, class Encode, class ReplySize, class Decode>
    decltype(auto) call_on(Ring& ring, Size&& size, Encode&& encode, ReplySize&& reply_size, Decode&& decode) {
        check_lost();
        const size_t n = size(caps_);
        const size_t rn = reply_size(caps_);
        ReplyLease reply(*this, rn);
        const VkCommandStreamDescriptionMESA stream{reply.res_id(), 0, rn};
        uint32_t seqno;
        if (n > kInlineLimit) {
            seqno = write_indirect(ring, n, encode, VK_COMMAND_GENERATE_REPLY_BIT_EXT, &stream);
        } else {
            const size_t total = kSetReplySize + n;
            EncodeBuffer buf(total);
            protocol::Encoder e(buf.data(), total, &caps_);
            protocol::guest::encode_vkSetReplyCommandStreamMESA(e, 0, &stream);
            encode(e, uint32_t{VK_COMMAND_GENERATE_REPLY_BIT_EXT});
            seqno = ring.write({buf.data(), total});
        }
        ring.wait(seqno);
        protocol::Decoder d(reply.data(), rn, nullptr, &registry());
        return decode(d);
    }

    // A blocking call (it may wait on the host for a long time) on a wait ring of its own,
    // after everything written to the instance ring so far has run.
    template <class Size, class Encode, class ReplySize, class Decode>
    decltype(auto) call_blocking(Size&& size, Encode&& encode, ReplySize&& reply_size, Decode&& decode) {
        check_lost();
        ring_->wait(ring_->tail());
        WaitRingLease lease(*this);
        return call_on(lease.ring(), size, encode, reply_size, decode);
    }

    // A call on a wait ring of its own, without ordering against the instance ring (for the
    // second part of a wait whose first part ran on the instance ring).
    template <class Size, class Encode, class ReplySize, class Decode>
    decltype(auto) call_on_wait_ring(Size&& size, Encode&& encode, ReplySize&& reply_size, Decode&& decode) {
        WaitRingLease lease(*this);
        return call_on(lease.ring(), size, encode, reply_size, decode);
    }

    // ---- control path (vtest socket) ----------------------------------------------------------
    // vkWaitRingSeqnoMESA: the socket's later requests are handled after the instance ring has
    // run up to `seqno` (no-op when it already has).
    void sync_ring_for_control(uint32_t seqno);
    template <class Size, class Encode>
    void control(Size&& size, Encode&& encode) {
        const size_t n = size(caps_);
        std::vector<uint8_t> buf(n);
        protocol::Encoder e(buf.data(), n, &caps_);
        encode(e, 0u);
        client_->submit(buf);
    }

    static constexpr size_t kInlineLimit = 32 << 10;
    static constexpr size_t kRingSize = 512 << 10;

private:
    Connection() = default;
    void check_lost() const {
        if (lost()) throw transport::DeviceLost("the connection to the renderer is lost");
    }

    // ---- reply streams ------------------------------------------------------------------------
    struct ReplyBuffer {
        transport::VtestClient::Blob blob;
        size_t size = 0;
    };
    std::unique_ptr<ReplyBuffer> acquire_reply(size_t size);
    void release_reply(std::unique_ptr<ReplyBuffer> buffer);
    class ReplyLease {
    public:
        ReplyLease(Connection& c, size_t size) : c_(c), b_(c.acquire_reply(size)) {}
        ~ReplyLease() { c_.release_reply(std::move(b_)); }
        uint32_t res_id() const { return b_->blob.res_id; }
        const uint8_t* data() const { return b_->blob.memory.data(); }

    private:
        Connection& c_;
        std::unique_ptr<ReplyBuffer> b_;
    };

    // ---- wait rings -----------------------------------------------------------------------------
    std::unique_ptr<Ring> acquire_wait_ring();
    void release_wait_ring(std::unique_ptr<Ring> ring);
    class WaitRingLease {
    public:
        explicit WaitRingLease(Connection& c) : c_(c), r_(c.acquire_wait_ring()) {}
        ~WaitRingLease() { c_.release_wait_ring(std::move(r_)); }
        Ring& ring() { return *r_; }

    private:
        Connection& c_;
        std::unique_ptr<Ring> r_;
    };

    // ---- indirect streams -----------------------------------------------------------------------
public:
    struct Chunk {
        transport::VtestClient::Blob blob;
        size_t size = 0;
        Ring* ring = nullptr;  // the ring whose seqno frees it
        uint32_t seqno = 0;
        bool busy() const { return ring && !ring->reached(seqno); }
    };
    // Shared memory of at least `size` bytes for an indirect stream; hand it back with
    // execute_chunk (which names it in vkExecuteCommandStreamsMESA) or release_chunk.
    std::unique_ptr<Chunk> acquire_chunk(size_t size);
    void release_chunk(std::unique_ptr<Chunk> chunk);
    // Writes vkExecuteCommandStreamsMESA for the first `size` bytes of `chunk` to `ring`
    // (preceded by vkSetReplyCommandStreamMESA when `reply` is set), then releases the chunk.
    uint32_t execute_chunk(Ring& ring, std::unique_ptr<Chunk> chunk, size_t size,
                           const VkCommandStreamDescriptionMESA* reply = nullptr);
    // The first `size` bytes of `chunk`, recorded in place, to the renderer through the
    // connection's ring (as submit_encoded does with bytes of private memory).
    uint32_t submit_chunk(std::unique_ptr<Chunk> chunk, size_t size);

private:
    template <class Encode>
    uint32_t write_indirect(Ring& ring, size_t n, Encode& encode, uint32_t flags,
                            const VkCommandStreamDescriptionMESA* reply) {
        auto chunk = acquire_chunk(n);
        protocol::Encoder e(chunk->blob.memory.data(), n, &caps_);
        encode(e, flags);
        return execute_chunk(ring, std::move(chunk), n, reply);
    }

    static constexpr size_t kSetReplySize = 8 + 8 + 4 + 8 + 8;  // vkSetReplyCommandStreamMESA

    std::mutex timelines_mutex_;
    std::vector<bool> timelines_used_;  // index: ring_idx
    std::unique_ptr<transport::VtestClient> client_;
    protocol::WireCaps caps_;
    std::unique_ptr<Ring> ring_;
    std::atomic<bool> lost_{false};
    std::mutex mutex_;  // the pools below
    std::vector<std::unique_ptr<ReplyBuffer>> replies_;
    std::vector<std::unique_ptr<Ring>> wait_rings_;
    size_t wait_ring_count_ = 0;
    std::vector<std::unique_ptr<Chunk>> chunks_;
    size_t chunk_bytes_ = 0;
};

}  // namespace venus::icd
