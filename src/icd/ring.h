// A ring as the driver uses it: a transport::GuestRing that several threads may write to (one
// write at a time, each write whole commands), and a wait that spins briefly before it falls
// back to GuestRing's sleeping, health-checking wait (FATAL, ALIVE, a closed socket).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "transport/guest_ring.h"
#include "transport/vtest_client.h"

namespace venus::icd {

class Ring {
public:
    Ring(transport::VtestClient& client, const protocol::WireCaps& caps, uint64_t id,
         const transport::GuestRing::Options& options);
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    uint64_t id() const { return ring_.id(); }
    size_t buffer_size() const { return ring_.buffer_size(); }

    // Appends whole commands; returns the seqno after them. Throws transport::DeviceLost.
    uint32_t write(std::span<const uint8_t> bytes);
    // The seqno after everything written so far.
    uint32_t tail() const { return tail_.load(std::memory_order_acquire); }
    bool reached(uint32_t seqno) const { return transport::seqno_reached(ring_.head(), seqno); }
    // Blocks until the renderer has run everything up to `seqno`. Throws transport::DeviceLost.
    void wait(uint32_t seqno);
    bool fatal() const { return ring_.fatal(); }
    // Wakes the renderer's ring thread if it went IDLE (a vkNotifyRingMESA), ahead of work that
    // is on its way. Throws transport::TransportError.
    void wake();

private:
    std::mutex mutex_;
    transport::GuestRing ring_;
    std::atomic<uint32_t> tail_{0};
};

}  // namespace venus::icd
