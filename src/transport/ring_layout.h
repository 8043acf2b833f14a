// Venus rings in shared memory (venus-protocol.md §5.3-5.4): free-running u32 head and tail
// byte counters, a status word (IDLE, FATAL, ALIVE bits), a power-of-two buffer and an extra
// region. Both sides use RingView on the same mapping; only the memory orders differ.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace venus::transport {

struct RingLayout {
    size_t offset = 0;   // of the ring within its shared memory resource
    size_t size = 0;     // total bytes used by the ring
    size_t head_offset = 0;
    size_t tail_offset = 0;
    size_t status_offset = 0;
    size_t buffer_offset = 0;
    size_t buffer_size = 0;  // power of two
    size_t extra_offset = 0;
    size_t extra_size = 0;

    // The layout Mesa uses: head at 0, tail at 64, status at 128, buffer at 192, then 4 extra bytes.
    static RingLayout standard(size_t buffer_size);
    // Validation as a renderer must do it (§5.3) against a resource of resource_size bytes;
    // returns an empty string when valid, else the reason.
    std::string validate(size_t resource_size, size_t max_buffer_size = size_t{16} << 20) const;
};

// Atomic access to a ring's control words and buffer inside a mapping.
class RingView {
public:
    RingView() = default;
    // base = start of the resource mapping; `layout` must have passed validate() against that
    // mapping's size. Throws TransportError if the buffer size is not a power of two or a
    // control word is misaligned.
    RingView(uint8_t* base, const RingLayout& layout);

    std::atomic<uint32_t>& head() const { return *head_; }
    std::atomic<uint32_t>& tail() const { return *tail_; }
    std::atomic<uint32_t>& status() const { return *status_; }
    uint8_t* buffer() const { return buffer_; }
    uint32_t buffer_size() const { return buffer_size_; }
    uint8_t* extra() const { return extra_; }
    size_t extra_size() const { return extra_size_; }

    // Copies `len` bytes starting at the free-running position `pos` out of the buffer (wrap-aware).
    void read(uint32_t pos, std::span<uint8_t> out) const;
    // Writes bytes at free-running position `pos` (wrap-aware).
    void write(uint32_t pos, std::span<const uint8_t> in) const;

private:
    std::atomic<uint32_t>* head_ = nullptr;
    std::atomic<uint32_t>* tail_ = nullptr;
    std::atomic<uint32_t>* status_ = nullptr;
    uint8_t* buffer_ = nullptr;
    uint32_t buffer_size_ = 0;
    uint8_t* extra_ = nullptr;
    size_t extra_size_ = 0;
};

// Wrap-aware "a reached b": true if a is at or past b on a free-running u32 counter.
inline bool seqno_reached(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

}  // namespace venus::transport
