#include "icd/ring.h"

#include <sched.h>

#include <chrono>

namespace venus::icd {

namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// How long a waiter polls the head before it sleeps. Renderer round trips on a busy ring take
// tens of microseconds; a sleep costs the timer slack (about 50 us) on top of its length.
constexpr auto kSpin = std::chrono::microseconds(200);
}  // namespace

Ring::Ring(transport::VtestClient& client, const protocol::WireCaps& caps, uint64_t id,
           const transport::GuestRing::Options& options)
    : ring_(client, caps, id, options) {}

uint32_t Ring::write(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    if (ring_.fatal()) throw transport::DeviceLost("the renderer marked the ring FATAL (see the server log for the reason)");
    const uint32_t seqno = ring_.write(bytes);
    tail_.store(seqno, std::memory_order_release);
    return seqno;
}

void Ring::wake() {
    if (!ring_.idle()) return;  // the common case, without the writers' lock
    std::lock_guard lock(mutex_);
    ring_.notify_if_idle();
}

void Ring::wait(uint32_t seqno) {
    if (reached(seqno)) return;
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t i = 1;; ++i) {
        if (reached(seqno)) return;
        if (i % 64 == 0) {
            if (ring_.fatal()) break;  // GuestRing::wait reports it
            if (std::chrono::steady_clock::now() - start > kSpin) break;
        }
        if (i % 4 == 0) sched_yield();
        else cpu_relax();
    }
    ring_.wait(seqno);
}

}  // namespace venus::icd
