// Unix SOCK_SEQPACKET sockets as virglrenderer's render server and its proxy use them
// (render-server-protocol.md §3): one message is one datagram, the datagram's length is the
// message's length, and up to kMaxFds descriptors ride on a message in one SCM_RIGHTS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "transport/unique_fd.h"

namespace venus::transport {

class SeqpacketSocket {
public:
    static constexpr size_t kMaxFds = 8;  // what either side is prepared to receive at once

    SeqpacketSocket() = default;
    explicit SeqpacketSocket(UniqueFd fd) : fd_(std::move(fd)) {}
    // A connected SOCK_SEQPACKET pair; `cloexec` false leaves both ends inheritable across exec
    // (the proxy's end that it hands to the server it starts).
    static std::pair<SeqpacketSocket, SeqpacketSocket> pair(bool cloexec = true);
    // Whether `fd` is a socket of type SOCK_SEQPACKET (the render server's --socket-fd check).
    static bool is_seqpacket(int fd);

    struct Message {
        size_t size = 0;            // bytes received
        std::vector<UniqueFd> fds;  // descriptors that came with it (close-on-exec)
    };
    // Receives one datagram into `buffer`. Throws PeerClosed on EOF, TransportError when the
    // datagram or its descriptors did not fit (MSG_TRUNC/MSG_CTRUNC; what came is closed).
    Message recv(std::span<uint8_t> buffer);
    // The size of the next datagram without consuming it (blocks until one is there).
    size_t peek_size();
    // Sends one datagram with `fds` (borrowed: they stay open here). Throws PeerClosed when the
    // peer is gone, TransportError on other failures.
    void send(std::span<const uint8_t> bytes, std::span<const int> fds = {});

    int fd() const { return fd_.get(); }
    bool valid() const { return fd_.valid(); }
    UniqueFd release() { return std::move(fd_); }
    void close() { fd_.reset(); }

private:
    UniqueFd fd_;
};

}  // namespace venus::transport
