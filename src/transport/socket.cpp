#include "transport/socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "transport/error.h"

namespace venus::transport {

namespace {

[[noreturn]] void throw_errno(const std::string& what) { throw TransportError(errno_message(what)); }

bool is_peer_gone(int err) { return err == EPIPE || err == ECONNRESET; }

// Blocks until `fd` is ready for `events` (used when a caller made the socket non-blocking).
void wait_for(int fd, short events) {
    pollfd p{fd, events, 0};
    while (::poll(&p, 1, -1) < 0) {
        if (errno != EINTR) throw_errno("poll");
    }
}

struct UnixAddress {
    sockaddr_un addr{};
    socklen_t len = 0;
};

UnixAddress make_address(const std::string& path) {
    UnixAddress a;
    a.addr.sun_family = AF_UNIX;
    if (path.empty()) throw TransportError("unix socket path is empty");
    if (path.find('\0') != std::string::npos)
        throw TransportError(fmt::format("unix socket path '{}' contains a NUL byte", path.c_str()));
    if (path.size() >= sizeof(a.addr.sun_path))
        throw TransportError(fmt::format("unix socket path '{}' is too long ({} bytes, at most {})",
                                         path, path.size(), sizeof(a.addr.sun_path) - 1));
    std::memcpy(a.addr.sun_path, path.data(), path.size());
    a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return a;
}

// Unlinks `path` only if it is still the socket file we bound (same device and inode).
void unlink_if_ours(const std::string& path, dev_t dev, ino_t ino) {
    if (path.empty()) return;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev &&
        st.st_ino == ino)
        ::unlink(path.c_str());
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// UnixSocket

UnixSocket UnixSocket::connect(const std::string& path) {
    const UnixAddress a = make_address(path);
    UniqueFd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!fd) throw_errno(fmt::format("socket for {}", path));
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.len) < 0) {
        if (errno != EINTR) throw_errno(fmt::format("connect to {}", path));
        // Interrupted: the connection completes asynchronously; wait for it and fetch the result.
        wait_for(fd.get(), POLLOUT);
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            throw_errno(fmt::format("connect to {}", path));
        if (err != 0) {
            errno = err;
            throw_errno(fmt::format("connect to {}", path));
        }
    }
    return UnixSocket{std::move(fd)};
}

std::pair<UnixSocket, UnixSocket> UnixSocket::pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) throw_errno("socketpair");
    return {UnixSocket{UniqueFd{fds[0]}}, UnixSocket{UniqueFd{fds[1]}}};
}

void UnixSocket::send_all(std::span<const uint8_t> data) {
    if (!valid()) throw TransportError("send on a closed socket");
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            wait_for(fd_.get(), POLLOUT);
            continue;
        }
        if (n < 0 && is_peer_gone(errno))
            throw PeerClosed(fmt::format("peer closed the connection ({} of {} bytes sent)", done,
                                         data.size()));
        throw_errno(fmt::format("send of {} bytes", data.size()));
    }
}

void UnixSocket::recv_exact(std::span<uint8_t> data) {
    if (!valid()) throw TransportError("receive on a closed socket");
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::recv(fd_.get(), data.data() + done, data.size() - done, 0);
        if (n > 0) {
            done += static_cast<size_t>(n);
            continue;
        }
        if (n == 0)
            throw PeerClosed(fmt::format("peer closed the connection ({} of {} bytes received)",
                                         done, data.size()));
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wait_for(fd_.get(), POLLIN);
            continue;
        }
        if (is_peer_gone(errno))
            throw PeerClosed(fmt::format("peer closed the connection ({} of {} bytes received)",
                                         done, data.size()));
        throw_errno(fmt::format("receive of {} bytes", data.size()));
    }
}

bool UnixSocket::wait_readable(int timeout_ms) const {
    if (!valid()) throw TransportError("wait on a closed socket");
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
    pollfd p{fd_.get(), POLLIN, 0};
    for (;;) {
        int wait = timeout_ms;
        if (timeout_ms > 0) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            wait = left.count() > 0 ? static_cast<int>(left.count()) : 0;
        }
        const int n = ::poll(&p, 1, wait);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("poll");
        }
        if (n == 0) return false;
        if (p.revents & POLLNVAL) throw TransportError("poll: socket descriptor is not open");
        // Readable, or hung up / errored: the next read reports EOF or the error.
        return true;
    }
}

void UnixSocket::send_fd(int fd) {
    if (!valid()) throw TransportError("send_fd on a closed socket");
    if (fd < 0) throw TransportError(fmt::format("send_fd: {} is not a file descriptor", fd));
    uint8_t byte = 0;
    iovec iov{&byte, 1};
    union {
        cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    for (;;) {
        const ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
        if (n == 1) return;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            wait_for(fd_.get(), POLLOUT);
            continue;
        }
        if (n < 0 && is_peer_gone(errno))
            throw PeerClosed("peer closed the connection (while sending a file descriptor)");
        if (n < 0) throw_errno("sendmsg of a file descriptor");
        throw TransportError("sendmsg of a file descriptor sent no data");
    }
}

UniqueFd UnixSocket::recv_fd() {
    if (!valid()) throw TransportError("recv_fd on a closed socket");
    // Room for a few descriptors so that extra ones are received (and closed) rather than
    // truncated; the kernel closes any that do not fit.
    constexpr size_t kMaxFds = 8;
    uint8_t byte = 0;
    iovec iov{&byte, 1};
    union {
        cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * kMaxFds)];
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t n;
    for (;;) {
        n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
        if (n >= 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wait_for(fd_.get(), POLLIN);
            continue;
        }
        if (is_peer_gone(errno))
            throw PeerClosed("peer closed the connection (while a file descriptor was expected)");
        throw_errno("recvmsg of a file descriptor");
    }

    std::vector<UniqueFd> fds;  // owns everything received; extras close on return
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int received;
            std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            fds.emplace_back(received);
        }
    }
    if (n == 0)
        throw PeerClosed("peer closed the connection (while a file descriptor was expected)");
    if (fds.empty())
        throw TransportError(
            "expected a file descriptor with the 1-byte fd message, but none arrived "
            "(protocol out of sync?)");
    return std::move(fds.front());
}

int UnixSocket::peer_pid() const {
    if (!valid()) return -1;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
        return -1;
    return cred.pid > 0 ? static_cast<int>(cred.pid) : -1;
}

// ---------------------------------------------------------------------------------------------
// UnixListener

UnixListener UnixListener::listen(const std::string& path, int backlog) {
    (void)make_address(path);  // validates the path (length, NUL bytes)

    // Replace a stale socket file (a previous server that did not clean up); refuse to touch
    // anything that is not a socket.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            throw TransportError(fmt::format("{} exists and is not a socket", path));
        if (::unlink(path.c_str()) < 0 && errno != ENOENT)
            throw_errno(fmt::format("removing stale socket {}", path));
    } else if (errno != ENOENT) {
        throw_errno(fmt::format("stat {}", path));
    }

    // The socket is bound and listening under a temporary name next to `path` and then renamed
    // into place, so that the path appears only once it accepts connections: a client that
    // sees the file never gets ECONNREFUSED from a socket that is bound but not yet listening.
    // (If the temporary name would not fit in sun_path, bind `path` itself.)
    std::string bind_path = fmt::format("{}.{}.tmp", path, ::getpid());
    if (bind_path.size() >= sizeof(sockaddr_un::sun_path)) bind_path = path;
    const UnixAddress ba = make_address(bind_path);
    if (bind_path != path) ::unlink(bind_path.c_str());  // a leftover of a crashed server with our pid

    UnixListener l;
    l.fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!l.fd_) throw_errno(fmt::format("socket for {}", path));
    if (::bind(l.fd_.get(), reinterpret_cast<const sockaddr*>(&ba.addr), ba.len) < 0)
        throw_errno(fmt::format("bind {}", bind_path));
    auto fail = [&](const std::string& what) {
        const std::string msg = errno_message(what);
        ::unlink(bind_path.c_str());
        throw TransportError(msg);
    };
    if (::lstat(bind_path.c_str(), &st) < 0) fail(fmt::format("stat {} after bind", bind_path));
    if (::listen(l.fd_.get(), backlog) < 0) fail(fmt::format("listen on {}", path));
    if (bind_path != path && ::rename(bind_path.c_str(), path.c_str()) < 0)
        fail(fmt::format("renaming {} to {}", bind_path, path));
    // From here on the file is ours: `l` unlinks it if anything below throws.
    l.path_ = path;
    l.dev_ = st.st_dev;
    l.ino_ = st.st_ino;

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0) throw_errno("pipe2 for the listener wake-up");
    l.wake_read_.reset(pipe_fds[0]);
    l.wake_write_.reset(pipe_fds[1]);
    return l;
}

UnixListener::UnixListener(UnixListener&& o) noexcept
    : fd_(std::move(o.fd_)),
      wake_read_(std::move(o.wake_read_)),
      wake_write_(std::move(o.wake_write_)),
      path_(std::exchange(o.path_, {})),
      dev_(std::exchange(o.dev_, 0)),
      ino_(std::exchange(o.ino_, 0)) {}

UnixListener& UnixListener::operator=(UnixListener&& o) noexcept {
    if (this != &o) {
        unlink_if_ours(path_, dev_, ino_);
        fd_ = std::move(o.fd_);
        wake_read_ = std::move(o.wake_read_);
        wake_write_ = std::move(o.wake_write_);
        path_ = std::exchange(o.path_, {});
        dev_ = std::exchange(o.dev_, 0);
        ino_ = std::exchange(o.ino_, 0);
    }
    return *this;
}

UnixListener::~UnixListener() { unlink_if_ours(path_, dev_, ino_); }

UnixSocket UnixListener::accept() {
    if (!fd_ || !wake_read_) throw TransportError("accept on a listener that is not listening");
    for (;;) {
        pollfd p[2] = {{fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            throw_errno(fmt::format("poll on listener {}", path_));
        }
        if (p[1].revents != 0) return UnixSocket{};  // woken; the byte stays (sticky)
        if (p[0].revents & POLLNVAL)
            throw TransportError(fmt::format("listener {}: descriptor is not open", path_));
        if (p[0].revents == 0) continue;
        const int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) return UnixSocket{UniqueFd{c}};
        // The listen socket is non-blocking: a client that went away between poll and accept
        // gives EAGAIN/ECONNABORTED and we go back to waiting.
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED ||
            errno == EPROTO)
            continue;
        throw_errno(fmt::format("accept on {}", path_));
    }
}

void UnixListener::wake() {
    if (!wake_write_) return;
    const int saved = errno;  // may run in a signal handler
    const char byte = 1;
    const ssize_t n = ::write(wake_write_.get(), &byte, 1);  // EAGAIN: already full, still woken
    (void)n;
    errno = saved;
}

}  // namespace venus::transport
