#include "transport/ring_layout.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "transport/error.h"

namespace venus::transport {

static_assert(std::atomic<uint32_t>::is_always_lock_free,
              "ring control words must be lock-free atomics to be shared between processes");
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  alignof(std::atomic<uint32_t>) == alignof(uint32_t),
              "ring control words are plain u32s in shared memory");

namespace {

constexpr size_t kControlWordSize = sizeof(uint32_t);
// The counters are free-running u32s: a buffer must be strictly smaller than 2^32 for
// `tail - head` to be meaningful; 2^31 is the largest power of two we accept.
constexpr size_t kMaxRepresentableBuffer = size_t{1} << 31;

std::optional<size_t> checked_add(size_t a, size_t b) {
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
    return r;
}

struct Region {
    const char* name;
    size_t rel;   // relative to the ring's offset
    size_t size;
};

}  // namespace

RingLayout RingLayout::standard(size_t buffer_size) {
    RingLayout l;
    l.offset = 0;
    l.head_offset = 0;
    l.tail_offset = 64;
    l.status_offset = 128;
    l.buffer_offset = 192;
    l.buffer_size = buffer_size;
    l.extra_offset = l.buffer_offset + buffer_size;
    l.extra_size = 4;
    l.size = l.extra_offset + l.extra_size;
    return l;
}

std::string RingLayout::validate(size_t resource_size, size_t max_buffer_size) const {
    if (buffer_size == 0) return "ring buffer size 0 is not a power of two";
    if (!std::has_single_bit(buffer_size))
        return fmt::format("ring buffer size {} is not a power of two", buffer_size);
    if (buffer_size > max_buffer_size || buffer_size > kMaxRepresentableBuffer)
        return fmt::format("ring buffer size {} exceeds the maximum of {}", buffer_size,
                           std::min(max_buffer_size, kMaxRepresentableBuffer));

    const auto ring_end = checked_add(offset, size);
    if (!ring_end || *ring_end > resource_size)
        return fmt::format("ring (offset {}, size {}) does not fit in the resource of {} bytes",
                           offset, size, resource_size);

    const std::array<Region, 5> regions{{
        {"head", head_offset, kControlWordSize},
        {"tail", tail_offset, kControlWordSize},
        {"status", status_offset, kControlWordSize},
        {"buffer", buffer_offset, buffer_size},
        {"extra", extra_offset, extra_size},
    }};
    for (const Region& r : regions) {
        const auto end = checked_add(r.rel, r.size);
        if (!end || *end > size)
            return fmt::format("ring {} (offset {}, {} bytes) lies outside the ring of {} bytes",
                               r.name, r.rel, r.size, size);
        // Absolute placement must be aligned too (the mapping itself is page-aligned); the ring
        // is in the resource, so offset + rel cannot overflow here.
        const size_t abs = offset + r.rel;
        if (abs % 4 != 0 || r.size % 4 != 0)
            return fmt::format(
                "ring {} (resource offset {}, {} bytes) is not 4-byte aligned", r.name, abs, r.size);
    }
    for (size_t i = 0; i < regions.size(); ++i) {
        for (size_t j = i + 1; j < regions.size(); ++j) {
            const Region& a = regions[i];
            const Region& b = regions[j];
            if (a.size == 0 || b.size == 0) continue;  // an empty region overlaps nothing
            const bool disjoint = a.rel + a.size <= b.rel || b.rel + b.size <= a.rel;
            if (!disjoint)
                return fmt::format("ring {} [{}, {}) overlaps ring {} [{}, {})", a.name, a.rel,
                                   a.rel + a.size, b.name, b.rel, b.rel + b.size);
        }
    }
    return {};
}

RingView::RingView(uint8_t* base, const RingLayout& layout) {
    if (base == nullptr) throw TransportError("ring view over a null mapping");
    if (!std::has_single_bit(layout.buffer_size) || layout.buffer_size > kMaxRepresentableBuffer)
        throw TransportError(
            fmt::format("ring buffer size {} is not a power of two up to 2^31", layout.buffer_size));
    uint8_t* ring = base + layout.offset;
    auto control = [&](size_t rel, const char* name) {
        uint8_t* p = ring + rel;
        if (reinterpret_cast<uintptr_t>(p) % alignof(std::atomic<uint32_t>) != 0)
            throw TransportError(fmt::format("ring {} word is not 4-byte aligned", name));
        // The words live in memory shared with the peer; they are accessed as atomics in place
        // (lock-free, same size and alignment as u32, see the static_asserts above).
        return reinterpret_cast<std::atomic<uint32_t>*>(p);
    };
    head_ = control(layout.head_offset, "head");
    tail_ = control(layout.tail_offset, "tail");
    status_ = control(layout.status_offset, "status");
    buffer_ = ring + layout.buffer_offset;
    buffer_size_ = static_cast<uint32_t>(layout.buffer_size);
    extra_ = ring + layout.extra_offset;
    extra_size_ = layout.extra_size;
}

void RingView::read(uint32_t pos, std::span<uint8_t> out) const {
    if (out.empty()) return;
    if (out.size() > buffer_size_)
        throw TransportError(fmt::format("ring read of {} bytes is larger than the {}-byte buffer",
                                         out.size(), buffer_size_));
    const size_t off = pos & (buffer_size_ - 1);
    const size_t first = std::min(out.size(), buffer_size_ - off);
    std::memcpy(out.data(), buffer_ + off, first);
    std::memcpy(out.data() + first, buffer_, out.size() - first);
}

void RingView::write(uint32_t pos, std::span<const uint8_t> in) const {
    if (in.empty()) return;
    if (in.size() > buffer_size_)
        throw TransportError(fmt::format("ring write of {} bytes is larger than the {}-byte buffer",
                                         in.size(), buffer_size_));
    const size_t off = pos & (buffer_size_ - 1);
    const size_t first = std::min(in.size(), buffer_size_ - off);
    std::memcpy(buffer_ + off, in.data(), first);
    std::memcpy(buffer_, in.data() + first, in.size() - first);
}

}  // namespace venus::transport

