// Shared memory blobs: anonymous memfds mapped read/write and shared (venus-protocol.md §6).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "transport/unique_fd.h"

namespace venus::transport {

class SharedMemory {
public:
    SharedMemory() = default;
    // A new zero-filled memfd of exactly `size` bytes (MFD_CLOEXEC|MFD_ALLOW_SEALING), mapped
    // up to the end of its last page (size() is that rounded size). Throws TransportError.
    static SharedMemory create(const std::string& name, size_t size);
    // Maps `size` bytes of an fd received from the other side (MAP_SHARED, RW). The fd is kept.
    // Throws TransportError if the file is smaller than `size` or mmap fails.
    static SharedMemory map(UniqueFd fd, size_t size);

    SharedMemory(SharedMemory&&) noexcept;
    SharedMemory& operator=(SharedMemory&&) noexcept;
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;
    ~SharedMemory();

    uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
    size_t size() const { return size_; }
    int fd() const { return fd_.get(); }
    bool valid() const { return addr_ != nullptr; }
    // Forbid growing/shrinking the file (F_SEAL_SHRINK|F_SEAL_GROW), so that a peer cannot
    // truncate it under our mapping (which would SIGBUS us). Further seals stay possible.
    void seal();
    void reset();

private:
    UniqueFd fd_;
    void* addr_ = nullptr;
    size_t size_ = 0;
};

size_t page_size();
inline size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

}  // namespace venus::transport
