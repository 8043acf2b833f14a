// Transport failures carry a reason; a closed peer is its own kind so callers can tell
// "the other side went away" (device lost) from "the other side sent garbage".
#pragma once

#include <stdexcept>
#include <string>

namespace venus::transport {

class TransportError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The peer closed the connection (read returned 0 / EPIPE).
class PeerClosed : public TransportError {
public:
    using TransportError::TransportError;
};

// errno-based message: "<what>: <strerror(errno)>".
std::string errno_message(const std::string& what);

}  // namespace venus::transport
