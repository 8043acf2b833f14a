// Unix stream sockets with fd passing as vtest does it (venus-protocol.md §2.2): an fd rides
// on a 1-byte in-band dummy payload with one SCM_RIGHTS control message.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "transport/unique_fd.h"

namespace venus::transport {

class UnixSocket {
public:
    UnixSocket() = default;
    explicit UnixSocket(UniqueFd fd) : fd_(std::move(fd)) {}

    // Client side. Throws TransportError with the path and errno text.
    static UnixSocket connect(const std::string& path);
    // A connected pair (socketpair), for tests and in-process peers.
    static std::pair<UnixSocket, UnixSocket> pair();

    // Writes everything (retries on EINTR/partial writes). Throws PeerClosed on EPIPE.
    void send_all(std::span<const uint8_t> data);
    // Reads exactly data.size() bytes. Throws PeerClosed on EOF, TransportError on errors.
    void recv_exact(std::span<uint8_t> data);
    // Waits up to timeout_ms (-1: forever) for readability; false on timeout.
    bool wait_readable(int timeout_ms) const;

    // Sends one fd with its 1-byte dummy payload (value 0).
    void send_fd(int fd);
    // Receives the 1-byte dummy and the fd that rides on it. Throws if no fd arrived.
    UniqueFd recv_fd();

    int fd() const { return fd_.get(); }
    bool valid() const { return fd_.valid(); }
    void close() { fd_.reset(); }
    // Peer credentials (SO_PEERCRED): pid of the other process, or -1.
    int peer_pid() const;

private:
    UniqueFd fd_;
};

// Server side: a listening Unix stream socket bound to a filesystem path. An existing stale
// socket file at the path is replaced; the path is unlinked when the listener goes away.
class UnixListener {
public:
    UnixListener() = default;
    static UnixListener listen(const std::string& path, int backlog = 16);
    UnixListener(UnixListener&&) noexcept;
    UnixListener& operator=(UnixListener&&) noexcept;
    ~UnixListener();

    // Blocks for a client; returns an invalid socket if interrupted by wake().
    UnixSocket accept();
    // Makes a blocked accept() return (used for shutdown; async-signal-safe). The wake-up is
    // sticky: once woken, every later accept() returns an invalid socket at once.
    void wake();
    const std::string& path() const { return path_; }
    int fd() const { return fd_.get(); }

private:
    UniqueFd fd_;
    UniqueFd wake_read_, wake_write_;
    std::string path_;
    // Identity of the socket file we bound, so the destructor unlinks only our own file (not
    // one that a later listener put at the same path).
    dev_t dev_ = 0;
    ino_t ino_ = 0;
};

}  // namespace venus::transport
