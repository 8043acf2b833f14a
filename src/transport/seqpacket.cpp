#include "transport/seqpacket.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "transport/error.h"

namespace venus::transport {

std::pair<SeqpacketSocket, SeqpacketSocket> SeqpacketSocket::pair(bool cloexec) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0, fds) < 0)
        throw TransportError(errno_message("socketpair(SOCK_SEQPACKET)"));
    return {SeqpacketSocket{UniqueFd{fds[0]}}, SeqpacketSocket{UniqueFd{fds[1]}}};
}

bool SeqpacketSocket::is_seqpacket(int fd) {
    int type = 0;
    socklen_t len = sizeof(type);
    return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET;
}

SeqpacketSocket::Message SeqpacketSocket::recv(std::span<uint8_t> buffer) {
    if (!valid()) throw TransportError("receive on a closed socket");
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    iovec iov{buffer.data(), buffer.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do {
        n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == ECONNRESET) throw PeerClosed("peer reset the connection");
        throw TransportError(errno_message("recvmsg"));
    }
    Message m;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            m.fds.emplace_back(fd);
        }
    }
    if (n == 0 && m.fds.empty()) throw PeerClosed("peer closed the connection");
    if (msg.msg_flags & MSG_TRUNC)
        throw TransportError(fmt::format("a message longer than the {} bytes expected", buffer.size()));
    if (msg.msg_flags & MSG_CTRUNC)
        throw TransportError(fmt::format("a message with more than {} file descriptors", kMaxFds));
    m.size = static_cast<size_t>(n);
    return m;
}

size_t SeqpacketSocket::peek_size() {
    if (!valid()) throw TransportError("receive on a closed socket");
    char byte;
    ssize_t n;
    do {
        n = ::recv(fd_.get(), &byte, 1, MSG_PEEK | MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw TransportError(errno_message("recv(MSG_PEEK)"));
    if (n == 0) throw PeerClosed("peer closed the connection");  // no side sends empty messages
    return static_cast<size_t>(n);
}

void SeqpacketSocket::send(std::span<const uint8_t> bytes, std::span<const int> fds) {
    if (!valid()) throw TransportError("send on a closed socket");
    if (fds.size() > kMaxFds) throw TransportError(fmt::format("{} descriptors in one message", fds.size()));
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds.empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    for (;;) {
        const ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            if (static_cast<size_t>(n) != bytes.size())
                throw TransportError(fmt::format("sent {} of a {} byte message", n, bytes.size()));
            return;
        }
        if (errno == EINTR || errno == EAGAIN) continue;
        if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
            throw PeerClosed(fmt::format("peer closed the connection (a {} byte message not sent)", bytes.size()));
        throw TransportError(errno_message(fmt::format("sendmsg of {} bytes", bytes.size())));
    }
}

}  // namespace venus::transport
