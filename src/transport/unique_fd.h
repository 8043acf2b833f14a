// An owned file descriptor.
#pragma once

#include <unistd.h>

#include <utility>

namespace venus::transport {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    // A new descriptor for the same file (F_DUPFD_CLOEXEC); invalid on failure.
    UniqueFd dup() const { return duplicate(fd_); }
    // An owned duplicate of a descriptor someone else owns (never wrap a borrowed fd in a
    // UniqueFd: it would close it).
    static UniqueFd duplicate(int fd);

private:
    int fd_ = -1;
};

}  // namespace venus::transport
