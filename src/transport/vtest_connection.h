// vtest message framing over a Unix socket (venus-protocol.md §2.1): a 2-word header
// (length, command) then `length` payload words. Used by both the client (guest driver) and
// the server. Every read is bounded: a payload larger than `max_payload_words` is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "transport/socket.h"

namespace venus::vtest {

struct Header {
    uint32_t length;   // payload length in words (bytes for CREATE_RENDERER)
    uint32_t command;
};

class Connection {
public:
    explicit Connection(transport::UnixSocket socket) : socket_(std::move(socket)) {}

    // Sends header + payload in one write.
    void send(uint32_t command, std::span<const uint32_t> payload);
    // CREATE_RENDERER: length in bytes (name + NUL).
    void send_create_renderer(const std::string& name);
    Header read_header();
    // Reads `count` payload words.
    void read_words(std::span<uint32_t> out);
    std::vector<uint32_t> read_payload(uint32_t words, uint32_t max_payload_words);
    // Reads and throws away `bytes` bytes (e.g. an oversized payload after an error reply).
    void skip(size_t bytes);

    transport::UnixSocket& socket() { return socket_; }

private:
    transport::UnixSocket socket_;
};

}  // namespace venus::vtest
