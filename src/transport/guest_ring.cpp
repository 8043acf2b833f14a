#include "transport/guest_ring.h"

#include <fmt/format.h>
#include <poll.h>

#include <atomic>
#include <thread>
#include <vector>

#include "protocol/guest_codec.h"
#include "transport/vtest_protocol.h"

namespace venus::transport {

namespace {
constexpr uint32_t kIdle = 0x1, kFatal = 0x2, kAlive = 0x4;

template <class Size, class Encode>
std::vector<uint8_t> encode_command(Size&& size, Encode&& encode, const protocol::WireCaps& caps) {
    std::vector<uint8_t> out(size());
    protocol::Encoder e(out.data(), out.size(), &caps);
    encode(e);
    return out;
}
}  // namespace

GuestRing::GuestRing(GuestChannel& client, const protocol::WireCaps& caps, uint64_t ring_id, const Options& options)
    : client_(client), caps_(caps), id_(ring_id), options_(options),
      layout_(RingLayout::standard(options.buffer_size)) {
    blob_ = client_.create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, layout_.size, 0);
    std::memset(blob_.memory.data(), 0, layout_.size);
    view_ = RingView(blob_.memory.data(), layout_);

    VkRingCreateInfoMESA info{VK_STRUCTURE_TYPE_RING_CREATE_INFO_MESA};
    VkRingMonitorInfoMESA monitor{VK_STRUCTURE_TYPE_RING_MONITOR_INFO_MESA, nullptr, options.monitor_period_us};
    VkRingPriorityInfoMESA priority{VK_STRUCTURE_TYPE_RING_PRIORITY_INFO_MESA, nullptr, options.priority.value_or(0)};
    const void* chain = nullptr;
    if (options.priority) {
        priority.pNext = chain;
        chain = &priority;
    }
    if (options.monitor_period_us) {
        monitor.pNext = chain;
        chain = &monitor;
    }
    info.pNext = chain;
    info.resourceId = blob_.res_id;
    info.offset = layout_.offset;
    info.size = layout_.size;
    info.idleTimeout = options.idle_timeout_ns;
    info.headOffset = layout_.head_offset;
    info.tailOffset = layout_.tail_offset;
    info.statusOffset = layout_.status_offset;
    info.bufferOffset = layout_.buffer_offset;
    info.bufferSize = layout_.buffer_size;
    info.extraOffset = layout_.extra_offset;
    info.extraSize = layout_.extra_size;
    auto cmd = encode_command([&] { return protocol::guest::sizeof_vkCreateRingMESA(caps_, ring_id, &info); },
                              [&](protocol::Encoder& e) { protocol::guest::encode_vkCreateRingMESA(e, 0, ring_id, &info); },
                              caps_);
    client_.submit_commands(cmd);
}

GuestRing::~GuestRing() {
    try {
        auto cmd = encode_command([&] { return protocol::guest::sizeof_vkDestroyRingMESA(caps_, id_); },
                                  [&](protocol::Encoder& e) { protocol::guest::encode_vkDestroyRingMESA(e, 0, id_); },
                                  caps_);
        client_.submit_commands(cmd);
        client_.destroy_blob(blob_.res_id);
    } catch (const std::exception&) {
        // the server is gone: nothing to destroy
    }
}

uint32_t GuestRing::extra(size_t i) const {
    if ((i + 1) * 4 > view_.extra_size()) return 0;
    return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(view_.extra() + i * 4)).load(std::memory_order_acquire);
}

bool GuestRing::fatal() const { return view_.status().load(std::memory_order_acquire) & kFatal; }

bool GuestRing::idle() const { return view_.status().load(std::memory_order_seq_cst) & kIdle; }

void GuestRing::notify_if_idle() {
    if (!idle()) return;
    auto cmd = encode_command([&] { return protocol::guest::sizeof_vkNotifyRingMESA(caps_, id_, tail_, 0); },
                              [&](protocol::Encoder& e) { protocol::guest::encode_vkNotifyRingMESA(e, 0, id_, tail_, 0); },
                              caps_);
    client_.submit_commands(cmd);
}

uint32_t GuestRing::write(std::span<const uint8_t> bytes) {
    const uint32_t size = static_cast<uint32_t>(bytes.size());
    if (bytes.size() > layout_.buffer_size)
        throw std::length_error(fmt::format("{} bytes do not fit a ring of {} bytes", bytes.size(), layout_.buffer_size));
    if (size % 4) throw std::invalid_argument("ring writes are whole commands (multiples of 4 bytes)");
    const auto start = std::chrono::steady_clock::now();
    bool armed = false;
    auto armed_at = start;
    for (uint32_t iter = 0; tail_ + size - head() > layout_.buffer_size; ++iter) {
        // full: the renderer may be idle waiting for a notify of earlier work
        if (iter == 0) notify_if_idle();
        if (iter < 64) std::this_thread::yield();
        else std::this_thread::sleep_for(std::chrono::microseconds(50));
        if (iter % 64 == 63) check_health(start, armed, armed_at);
    }
    view_.write(tail_, bytes);
    tail_ += size;
    view_.tail().store(tail_, std::memory_order_seq_cst);
    notify_if_idle();
    return tail_;
}

void GuestRing::check_health(std::chrono::steady_clock::time_point since, bool& alive_armed,
                             std::chrono::steady_clock::time_point& armed_at) {
    if (fatal()) throw DeviceLost("the renderer marked the ring FATAL (see the server log for the reason)");
    const auto now = std::chrono::steady_clock::now();
    // the socket tells us at once when the server has gone away
    if (now - since > std::chrono::milliseconds(100)) {
        pollfd p{client_.socket_fd(), POLLRDHUP, 0};
        if (p.fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            throw DeviceLost("the renderer closed the connection");
    }
    if (!options_.monitor_period_us) return;
    const auto period = std::chrono::microseconds(options_.monitor_period_us);
    if (now - since < period) return;
    if (!alive_armed) {
        view_.status().fetch_and(~kAlive, std::memory_order_seq_cst);
        alive_armed = true;
        armed_at = now;
    } else if (now - armed_at > 2 * period) {
        if (!(view_.status().load(std::memory_order_seq_cst) & kAlive))
            throw DeviceLost(fmt::format("the renderer stopped reporting ALIVE for {} ms",
                                         std::chrono::duration_cast<std::chrono::milliseconds>(now - armed_at).count()));
        alive_armed = false;
    }
}

void GuestRing::wait(uint32_t seqno) {
    if (seqno_reached(head(), seqno)) return;
    notify_if_idle();
    const auto start = std::chrono::steady_clock::now();
    bool armed = false;
    auto armed_at = start;
    for (uint32_t iter = 0; !seqno_reached(head(), seqno); ++iter) {
        if (iter < 32) std::this_thread::yield();
        else std::this_thread::sleep_for(std::chrono::microseconds(iter < 1000 ? 5 : 100));
        if (iter % 32 == 31) check_health(start, armed, armed_at);
    }
}

}  // namespace venus::transport
