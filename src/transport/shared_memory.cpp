#include "transport/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "transport/error.h"

namespace venus::transport {

size_t page_size() {
    static const size_t size = [] {
        const long s = ::sysconf(_SC_PAGESIZE);
        return s > 0 ? static_cast<size_t>(s) : size_t{4096};
    }();
    return size;
}

SharedMemory SharedMemory::create(const std::string& name, size_t size) {
    const size_t page = page_size();
    constexpr auto kMaxOff = static_cast<size_t>(std::numeric_limits<off_t>::max());
    if (size == 0) throw TransportError(fmt::format("shared memory '{}': size is 0", name));
    if (size > kMaxOff - page)
        throw TransportError(fmt::format("shared memory '{}': size {} is too large", name, size));
    const size_t rounded = align_up(size, page);

    SharedMemory m;
    m.fd_.reset(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!m.fd_) throw TransportError(errno_message(fmt::format("memfd_create '{}'", name)));
    // The file is exactly `size` bytes (virglrenderer's proxy accepts only such SHM fds, §5.3);
    // the mapping covers the whole last page, which a file ending inside it backs.
    if (::ftruncate(m.fd_.get(), static_cast<off_t>(size)) < 0)
        throw TransportError(
            errno_message(fmt::format("ftruncate of shared memory '{}' to {} bytes", name, size)));
    void* addr = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd_.get(), 0);
    if (addr == MAP_FAILED)
        throw TransportError(
            errno_message(fmt::format("mmap of shared memory '{}' ({} bytes)", name, rounded)));
    m.addr_ = addr;
    m.size_ = rounded;
    return m;
}

SharedMemory SharedMemory::map(UniqueFd fd, size_t size) {
    if (!fd) throw TransportError("map of shared memory: invalid file descriptor");
    if (size == 0) throw TransportError("map of shared memory: size is 0");
    struct stat st {};
    if (::fstat(fd.get(), &st) < 0)
        throw TransportError(errno_message(fmt::format("fstat of shared memory fd {}", fd.get())));
    // A file shorter than the mapping would SIGBUS us on the first touch past its end.
    if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) < static_cast<uint64_t>(size))
        throw TransportError(fmt::format(
            "shared memory fd {} is {} bytes, smaller than the {} bytes to map", fd.get(),
            static_cast<long long>(st.st_size), size));
    void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (addr == MAP_FAILED)
        throw TransportError(
            errno_message(fmt::format("mmap of shared memory fd {} ({} bytes)", fd.get(), size)));
    SharedMemory m;
    m.fd_ = std::move(fd);
    m.addr_ = addr;
    m.size_ = size;
    return m;
}

SharedMemory::SharedMemory(SharedMemory&& o) noexcept
    : fd_(std::move(o.fd_)), addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& o) noexcept {
    if (this != &o) {
        reset();
        fd_ = std::move(o.fd_);
        addr_ = std::exchange(o.addr_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

SharedMemory::~SharedMemory() { reset(); }

void SharedMemory::reset() {
    if (addr_ != nullptr) ::munmap(addr_, size_);
    addr_ = nullptr;
    size_ = 0;
    fd_.reset();
}

void SharedMemory::seal() {
    if (!fd_) throw TransportError("seal of shared memory without a file descriptor");
    // No F_SEAL_SEAL: virglrenderer's proxy adds its own seals to SHM fds and refuses one it
    // cannot seal. The seals that could hurt us are taken (F_SEAL_WRITE cannot be added while
    // our writable mapping exists).
    constexpr int kWanted = F_SEAL_SHRINK | F_SEAL_GROW;
    if (::fcntl(fd_.get(), F_ADD_SEALS, kWanted) == 0) return;
    if (errno != EPERM)
        throw TransportError(errno_message(fmt::format("sealing shared memory fd {}", fd_.get())));
    // EPERM: already sealed with F_SEAL_SEAL. Fine if the size seals we want are in place.
    const int seals = ::fcntl(fd_.get(), F_GET_SEALS);
    if (seals < 0)
        throw TransportError(errno_message(fmt::format("reading seals of shared memory fd {}", fd_.get())));
    if ((seals & kWanted) != kWanted)
        throw TransportError(fmt::format(
            "shared memory fd {} is sealed against further seals but may still shrink or grow "
            "(seals 0x{:x})",
            fd_.get(), seals));
}

}  // namespace venus::transport
