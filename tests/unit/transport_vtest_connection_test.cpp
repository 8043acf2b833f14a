// vtest framing (venus-protocol.md §2.1): header + payload in one write, CREATE_RENDERER's
// byte length, bounded payload reads, skipping, and a reply that carries an fd (§2.2).
#include <sys/socket.h>

#include <cstring>
#include <future>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "transport/error.h"
#include "transport/shared_memory.h"
#include "transport/vtest_connection.h"
#include "transport/vtest_protocol.h"

namespace venus::vtest {
namespace {

using transport::PeerClosed;
using transport::SharedMemory;
using transport::TransportError;
using transport::UnixSocket;

std::pair<Connection, Connection> connected_pair() {
    auto [a, b] = UnixSocket::pair();
    return {Connection{std::move(a)}, Connection{std::move(b)}};
}

// Everything currently queued on a socket, without blocking.
std::vector<uint8_t> drain(UnixSocket& s) {
    std::vector<uint8_t> all;
    std::array<uint8_t, 4096> buf;
    for (;;) {
        const ssize_t n = ::recv(s.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0) break;
        all.insert(all.end(), buf.begin(), buf.begin() + n);
    }
    return all;
}

std::vector<uint32_t> as_words(const std::vector<uint8_t>& bytes) {
    std::vector<uint32_t> words(bytes.size() / 4);
    std::memcpy(words.data(), bytes.data(), words.size() * 4);
    return words;
}

TEST(TransportVtest, SendFramesLengthInWordsThenCommand) {
    auto [client, server] = connected_pair();
    const std::vector<uint32_t> payload{4, 0};  // GET_CAPSET(venus, version 0)
    client.send(GET_CAPSET, payload);
    const std::vector<uint8_t> wire = drain(server.socket());
    ASSERT_EQ(wire.size(), 16u);
    EXPECT_EQ(as_words(wire), (std::vector<uint32_t>{2, GET_CAPSET, 4, 0}));
}

TEST(TransportVtest, SendIsOneWrite) {
    // Over a SOCK_SEQPACKET pair every send is its own record, so one recv returning the whole
    // message proves header and payload went out in a single write.
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    Connection client{UnixSocket{transport::UniqueFd{fds[0]}}};
    UnixSocket server{transport::UniqueFd{fds[1]}};
    std::vector<uint32_t> payload(1000);
    std::iota(payload.begin(), payload.end(), 0u);
    client.send(SUBMIT_CMD2, payload);
    client.send(PING_PROTOCOL_VERSION, {});

    std::vector<uint8_t> record(8192);
    ssize_t n = ::recv(server.fd(), record.data(), record.size(), MSG_DONTWAIT);
    ASSERT_EQ(n, static_cast<ssize_t>(8 + 4000));
    std::vector<uint32_t> words(static_cast<size_t>(n) / 4);
    std::memcpy(words.data(), record.data(), static_cast<size_t>(n));
    EXPECT_EQ(words[0], 1000u);
    EXPECT_EQ(words[1], static_cast<uint32_t>(SUBMIT_CMD2));
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), words.begin() + 2));
    n = ::recv(server.fd(), record.data(), record.size(), MSG_DONTWAIT);
    EXPECT_EQ(n, 8) << "a header-only message is one 8-byte record";
}

TEST(TransportVtest, HeaderAndPayloadRoundTrip) {
    auto [client, server] = connected_pair();
    client.send(PING_PROTOCOL_VERSION, {});
    const std::vector<uint32_t> version{kMaxProtocolVersion};
    client.send(PROTOCOL_VERSION, version);
    const std::vector<uint32_t> sync_write{7, 0x89abcdef, 0x01234567};
    client.send(SYNC_WRITE, sync_write);

    Header h = server.read_header();
    EXPECT_EQ(h.command, PING_PROTOCOL_VERSION);
    EXPECT_EQ(h.length, 0u);
    h = server.read_header();
    EXPECT_EQ(h.command, PROTOCOL_VERSION);
    EXPECT_EQ(server.read_payload(h.length, 16), version);
    h = server.read_header();
    EXPECT_EQ(h.command, SYNC_WRITE);
    ASSERT_EQ(h.length, 3u);
    std::array<uint32_t, 3> words{};
    server.read_words(words);
    EXPECT_EQ(std::vector<uint32_t>(words.begin(), words.end()), sync_write);

    // And the reply direction.
    const std::vector<uint32_t> negotiated{3};
    server.send(PROTOCOL_VERSION, negotiated);
    h = client.read_header();
    EXPECT_EQ(h.command, PROTOCOL_VERSION);
    EXPECT_EQ(client.read_payload(h.length, 1), negotiated);
}

TEST(TransportVtest, LargePayloadRoundTrip) {
    auto [client, server] = connected_pair();
    std::vector<uint32_t> payload(4u << 20);  // 16 MiB
    std::iota(payload.begin(), payload.end(), 0x1000u);
    auto sender = std::async(std::launch::async, [&c = client, &payload] { c.send(SUBMIT_CMD2, payload); });
    const Header h = server.read_header();
    EXPECT_EQ(h.command, SUBMIT_CMD2);
    ASSERT_EQ(h.length, payload.size());
    const std::vector<uint32_t> got = server.read_payload(h.length, 8u << 20);
    sender.get();
    EXPECT_TRUE(got == payload);
}

TEST(TransportVtest, CreateRendererLengthIsBytesIncludingTheNul) {
    auto [client, server] = connected_pair();
    client.send_create_renderer("venus-test");
    client.send(PING_PROTOCOL_VERSION, {});
    const std::vector<uint8_t> wire = drain(server.socket());
    // 8-byte header, the 11 name bytes with NUL (no padding to a word), then the next header.
    ASSERT_EQ(wire.size(), 8u + 11u + 8u);
    uint32_t header[2];
    std::memcpy(header, wire.data(), 8);
    EXPECT_EQ(header[0], 11u);
    EXPECT_EQ(header[1], static_cast<uint32_t>(CREATE_RENDERER));
    EXPECT_EQ(std::memcmp(wire.data() + 8, "venus-test\0", 11), 0);
    std::memcpy(header, wire.data() + 19, 8);
    EXPECT_EQ(header[0], 0u);
    EXPECT_EQ(header[1], static_cast<uint32_t>(PING_PROTOCOL_VERSION));
}

TEST(TransportVtest, CreateRendererNameStopsAtTheFirstNul) {
    auto [client, server] = connected_pair();
    client.send_create_renderer(std::string("abc\0def", 7));
    client.send_create_renderer("");
    const std::vector<uint8_t> wire = drain(server.socket());
    ASSERT_EQ(wire.size(), 8u + 4u + 8u + 1u);
    uint32_t len;
    std::memcpy(&len, wire.data(), 4);
    EXPECT_EQ(len, 4u);  // strlen("abc") + 1
    EXPECT_EQ(std::memcmp(wire.data() + 8, "abc\0", 4), 0);
    std::memcpy(&len, wire.data() + 12, 4);
    EXPECT_EQ(len, 1u);
    EXPECT_EQ(wire.back(), 0);
}

TEST(TransportVtest, CreateRendererNameOverTheServerLimitIsRefused) {
    auto [client, server] = connected_pair();
    EXPECT_THROW(client.send_create_renderer(std::string(kCreateRendererMaxBytes, 'n')), TransportError);
    EXPECT_TRUE(drain(server.socket()).empty());
    // + NUL: exactly at the limit. 1 MiB exceeds the socket buffer, so send from another thread.
    auto sender = std::async(std::launch::async, [&c = client] {
        c.send_create_renderer(std::string(kCreateRendererMaxBytes - 1, 'n'));
    });
    const Header h = server.read_header();
    EXPECT_EQ(h.command, static_cast<uint32_t>(CREATE_RENDERER));
    ASSERT_EQ(h.length, kCreateRendererMaxBytes);
    std::vector<uint8_t> name(h.length);
    server.socket().recv_exact(name);
    sender.get();
    EXPECT_EQ(name.back(), 0);
    EXPECT_EQ(name.front(), 'n');
}

TEST(TransportVtest, OversizedPayloadIsRejectedBeforeReading) {
    auto [client, server] = connected_pair();
    std::vector<uint32_t> payload(1000, 0xabababab);
    client.send(SUBMIT_CMD2, payload);
    const std::vector<uint32_t> next{42};
    client.send(SYNC_READ, next);

    const Header h = server.read_header();
    ASSERT_EQ(h.length, 1000u);
    try {
        (void)server.read_payload(h.length, 999);
        FAIL() << "a payload over the limit was read";
    } catch (const TransportError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("1000 words"), std::string::npos) << what;
        EXPECT_NE(what.find("999"), std::string::npos) << what;
    }
    // Nothing of the payload was consumed: skipping it resynchronises the stream.
    server.skip(size_t{h.length} * 4);
    const Header h2 = server.read_header();
    EXPECT_EQ(h2.command, SYNC_READ);
    EXPECT_EQ(server.read_payload(h2.length, 1), next);
}

TEST(TransportVtest, HostileLengthDoesNotAllocate) {
    // A peer announcing ~16 GiB must be refused from the header alone (no allocation, no read).
    auto [client, server] = connected_pair();
    const std::array<uint32_t, 2> header{0xffffffffu, SUBMIT_CMD2};
    client.socket().send_all({reinterpret_cast<const uint8_t*>(header.data()), sizeof(header)});
    const Header h = server.read_header();
    EXPECT_THROW((void)server.read_payload(h.length, 1u << 20), TransportError);
}

TEST(TransportVtest, SkipDiscardsExactlyTheGivenBytes) {
    auto [client, server] = connected_pair();
    std::vector<uint32_t> junk(3000, 0x5a5a5a5a);  // 12000 bytes: several internal chunks
    client.send(TRANSFER_PUT, junk);
    const std::vector<uint32_t> after{1, 2};
    client.send(GET_PARAM, after);
    const Header h = server.read_header();
    server.skip(size_t{h.length} * 4);
    server.skip(0);
    const Header h2 = server.read_header();
    EXPECT_EQ(h2.command, GET_PARAM);
    EXPECT_EQ(server.read_payload(h2.length, 2), after);
}

TEST(TransportVtest, EofIsPeerClosed) {
    auto [client, server] = connected_pair();
    client.send(RESOURCE_UNREF, std::vector<uint32_t>{5});
    client.socket().close();
    const Header h = server.read_header();
    EXPECT_EQ(h.command, RESOURCE_UNREF);
    EXPECT_EQ(server.read_payload(h.length, 1), std::vector<uint32_t>{5});
    EXPECT_THROW(server.read_header(), PeerClosed);
    EXPECT_THROW(server.skip(4), PeerClosed);
}

TEST(TransportVtest, ShortPayloadBeforeEofIsPeerClosed) {
    auto [client, server] = connected_pair();
    const std::array<uint32_t, 3> truncated{4, SYNC_WRITE, 1};  // announces 4 words, sends 1
    client.socket().send_all({reinterpret_cast<const uint8_t*>(truncated.data()), sizeof(truncated)});
    client.socket().close();
    const Header h = server.read_header();
    EXPECT_THROW((void)server.read_payload(h.length, 16), PeerClosed);
}

TEST(TransportVtest, BlobReplyCarriesAnFdOverARealListener) {
    // RESOURCE_CREATE_BLOB as the server answers it: reply header + res_id, then the fd.
    std::string dir = "/tmp/venus-vtest-XXXXXX";
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    const std::string path = dir + "/vtest.sock";
    {
        transport::UnixListener listener = transport::UnixListener::listen(path);
        auto server = std::async(std::launch::async, [&listener] {
            Connection conn{listener.accept()};
            Header h = conn.read_header();
            if (h.command != CREATE_RENDERER) throw TransportError("expected CREATE_RENDERER first");
            conn.skip(h.length);
            h = conn.read_header();
            if (h.command != RESOURCE_CREATE_BLOB) throw TransportError("expected RESOURCE_CREATE_BLOB");
            const std::vector<uint32_t> req = conn.read_payload(h.length, 6);
            SharedMemory blob = SharedMemory::create("vtest-res-1", req[2]);
            std::memcpy(blob.data(), "blob!", 5);
            blob.seal();
            conn.send(RESOURCE_CREATE_BLOB, std::vector<uint32_t>{1});
            conn.socket().send_fd(blob.fd());
            return conn.read_header().command;  // waits for the client's next message
        });

        Connection client{UnixSocket::connect(path)};
        client.send_create_renderer("venus-test");
        const std::vector<uint32_t> req{BLOB_TYPE_HOST3D, BLOB_FLAG_MAPPABLE, 4096, 0, 0, 0};
        client.send(RESOURCE_CREATE_BLOB, req);
        const Header h = client.read_header();
        EXPECT_EQ(h.command, RESOURCE_CREATE_BLOB);
        EXPECT_EQ(client.read_payload(h.length, 1), std::vector<uint32_t>{1});
        SharedMemory mapped = SharedMemory::map(client.socket().recv_fd(), 4096);
        EXPECT_EQ(std::memcmp(mapped.data(), "blob!", 5), 0);
        client.send(RESOURCE_UNREF, std::vector<uint32_t>{1});
        EXPECT_EQ(server.get(), static_cast<uint32_t>(RESOURCE_UNREF));
    }
    ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace venus::vtest
