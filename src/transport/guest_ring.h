// The guest side of a Venus ring (§5.3-5.5): a shared-memory ring created with
// vkCreateRingMESA, into which a driver writes whole commands; `wait(seqno)` blocks until the
// renderer has run them. FATAL, a vanished server and a renderer that stops reporting ALIVE all
// end in DeviceLost rather than a hang or an abort.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "protocol/codec.h"
#include "transport/ring_layout.h"
#include "transport/guest_channel.h"

namespace venus::transport {

class DeviceLost : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class GuestRing {
public:
    struct Options {
        size_t buffer_size = 128 << 10;
        uint64_t idle_timeout_ns = 1'000'000;
        uint32_t monitor_period_us = 3'000'000;  // 0: no ALIVE monitor
        std::optional<int> priority;
    };
    GuestRing(GuestChannel& client, const protocol::WireCaps& caps, uint64_t ring_id, const Options& options);
    ~GuestRing();
    GuestRing(const GuestRing&) = delete;
    GuestRing& operator=(const GuestRing&) = delete;

    uint64_t id() const { return id_; }
    uint32_t resource_id() const { return blob_.res_id; }
    size_t buffer_size() const { return layout_.buffer_size; }

    // Appends whole commands (at most buffer_size bytes); blocks while the ring is full.
    // Returns the seqno that `wait` takes. Callers serialize writes (one writer at a time).
    uint32_t write(std::span<const uint8_t> bytes);
    // Blocks until the renderer's head reaches `seqno`.
    void wait(uint32_t seqno);
    uint32_t head() const { return view_.head().load(std::memory_order_acquire); }
    uint32_t tail() const { return tail_; }
    bool fatal() const;
    // The ring's extra region (vkWriteRingExtraMESA writes there), word `i`.
    uint32_t extra(size_t i) const;
    // Whether the renderer's thread said it went to sleep until notified.
    bool idle() const;
    // Sends vkNotifyRingMESA if the renderer's thread went IDLE (it sleeps until notified);
    // writes do this themselves, a caller may do it ahead of work. Serialized like writes.
    void notify_if_idle();

private:
    void check_health(std::chrono::steady_clock::time_point since, bool& alive_armed,
                      std::chrono::steady_clock::time_point& armed_at);

    GuestChannel& client_;
    const protocol::WireCaps& caps_;
    const uint64_t id_;
    const Options options_;
    RingLayout layout_;
    GuestChannel::Blob blob_;
    RingView view_;
    uint32_t tail_ = 0;
};

}  // namespace venus::transport
