#include "transport/vtest_connection.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "transport/error.h"
#include "transport/vtest_protocol.h"

namespace venus::vtest {

using transport::TransportError;

void Connection::send(uint32_t command, std::span<const uint32_t> payload) {
    if (payload.size() > std::numeric_limits<uint32_t>::max() - kHeaderWords)
        throw TransportError(
            fmt::format("vtest command {}: payload of {} words is too large", command, payload.size()));
    std::vector<uint32_t> message(kHeaderWords + payload.size());
    message[0] = static_cast<uint32_t>(payload.size());
    message[1] = command;
    std::copy(payload.begin(), payload.end(), message.begin() + kHeaderWords);
    // One write for header and payload: a peer never sees a header without its payload queued.
    socket_.send_all({reinterpret_cast<const uint8_t*>(message.data()), message.size() * sizeof(uint32_t)});
}

void Connection::send_create_renderer(const std::string& name) {
    const size_t bytes = std::strlen(name.c_str()) + 1;  // up to the first NUL, plus the NUL
    if (bytes > kCreateRendererMaxBytes)
        throw TransportError(fmt::format("vtest renderer name of {} bytes exceeds the {}-byte limit",
                                         bytes, kCreateRendererMaxBytes));
    std::vector<uint8_t> message(kHeaderWords * sizeof(uint32_t) + bytes);
    const std::array<uint32_t, kHeaderWords> header{static_cast<uint32_t>(bytes), CREATE_RENDERER};
    std::memcpy(message.data(), header.data(), sizeof(header));
    std::memcpy(message.data() + sizeof(header), name.c_str(), bytes);  // includes the NUL
    socket_.send_all(message);
}

Header Connection::read_header() {
    std::array<uint32_t, kHeaderWords> words{};
    read_words(words);
    return Header{words[0], words[1]};
}

void Connection::read_words(std::span<uint32_t> out) {
    socket_.recv_exact({reinterpret_cast<uint8_t*>(out.data()), out.size_bytes()});
}

std::vector<uint32_t> Connection::read_payload(uint32_t words, uint32_t max_payload_words) {
    if (words > max_payload_words)
        throw TransportError(fmt::format(
            "vtest peer announced a payload of {} words, more than the limit of {} words", words,
            max_payload_words));
    std::vector<uint32_t> payload(words);
    read_words(payload);
    return payload;
}

void Connection::skip(size_t bytes) {
    std::array<uint8_t, 4096> scratch;
    while (bytes > 0) {
        const size_t n = std::min(bytes, scratch.size());
        socket_.recv_exact({scratch.data(), n});
        bytes -= n;
    }
}

}  // namespace venus::vtest
