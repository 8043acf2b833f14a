#include "transport/vtest_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "transport/error.h"

namespace venus::transport {

using namespace vtest;

std::unique_ptr<VtestClient> VtestClient::connect(const std::string& socket_path, const std::string& name) {
    UnixSocket socket = UnixSocket::connect(socket_path);
    std::unique_ptr<VtestClient> c(new VtestClient(std::move(socket)));
    c->handshake(name);
    return c;
}

std::vector<uint32_t> VtestClient::expect(uint32_t command, uint32_t max_words) {
    const Header h = conn_.read_header();
    if (h.command != command)
        throw TransportError(fmt::format("vtest: expected a reply to command {}, got command {}", command, h.command));
    return conn_.read_payload(h.length, max_words);
}

void VtestClient::handshake(const std::string& name) {
    std::lock_guard lock(mutex_);
    conn_.send_create_renderer(name);
    // PING immediately followed by a dummy BUSY_WAIT: a server that knows PING answers it first
    conn_.send(PING_PROTOCOL_VERSION, {});
    const uint32_t busy[2] = {0, 0};
    conn_.send(RESOURCE_BUSY_WAIT, busy);
    Header h = conn_.read_header();
    bool ping = false;
    if (h.command == PING_PROTOCOL_VERSION) {
        ping = true;
        conn_.read_payload(h.length, 16);
        h = conn_.read_header();
    }
    if (h.command != RESOURCE_BUSY_WAIT) throw TransportError(fmt::format("vtest: unexpected reply {} to the version probe", h.command));
    conn_.read_payload(h.length, 16);
    if (!ping) throw TransportError("vtest: the server does not answer PING_PROTOCOL_VERSION (protocol 0); Venus needs 3");

    const uint32_t want[1] = {kMaxProtocolVersion};
    conn_.send(PROTOCOL_VERSION, want);
    auto v = expect(PROTOCOL_VERSION, 16);
    if (v.empty()) throw TransportError("vtest: empty PROTOCOL_VERSION reply");
    protocol_version_ = v[0];
    if (protocol_version_ < 3)
        throw TransportError(fmt::format("vtest: the server speaks protocol {}; Venus needs 3 or later", protocol_version_));

    const uint32_t param[1] = {PARAM_MAX_TIMELINE_COUNT};
    conn_.send(GET_PARAM, param);
    auto p = expect(GET_PARAM, 16);
    if (p.size() < 2 || !p[0] || !p[1]) throw TransportError("vtest: the server has no timelines (MAX_TIMELINE_COUNT is 0)");
    max_timelines_ = p[1];

    const uint32_t capset_req[2] = {kCapsetVenus, 0};
    conn_.send(GET_CAPSET, capset_req);
    auto c = expect(GET_CAPSET, 1024);
    if (c.empty() || !c[0]) throw TransportError("vtest: the server does not offer the Venus capset");
    capset_size_ = std::min(sizeof(capset_), (c.size() - 1) * 4);
    std::memcpy(&capset_, c.data() + 1, capset_size_);

    const uint32_t init[1] = {kCapsetVenus};
    conn_.send(CONTEXT_INIT, init);
}

VtestClient::Blob VtestClient::create_blob(uint32_t type, uint32_t flags, uint64_t size, uint64_t blob_id, bool map) {
    Blob b;
    UniqueFd fd;
    {
        std::lock_guard lock(mutex_);
        const uint32_t words[6] = {type, flags, static_cast<uint32_t>(size), static_cast<uint32_t>(size >> 32),
                                   static_cast<uint32_t>(blob_id), static_cast<uint32_t>(blob_id >> 32)};
        conn_.send(RESOURCE_CREATE_BLOB, words);
        auto r = expect(RESOURCE_CREATE_BLOB, 16);
        if (r.empty()) throw TransportError("vtest: empty RESOURCE_CREATE_BLOB reply");
        fd = conn_.socket().recv_fd();  // sent even with a refusal (an unmappable one)
        if (r[0] == 0)
            throw VtestRefused(fmt::format("the renderer refused a blob of {} bytes for object {} (its log says why)",
                                           size, blob_id));
        b.res_id = r[0];
    }
    if (map) b.memory = SharedMemory::map(std::move(fd), size);
    else b.fd = std::move(fd);
    return b;
}

void VtestClient::destroy_blob(uint32_t res_id) {
    std::lock_guard lock(mutex_);
    const uint32_t w[1] = {res_id};
    conn_.send(RESOURCE_UNREF, w);
}

void VtestClient::submit(std::span<const uint8_t> commands, std::span<const SyncWrite> syncs, int ring_idx) {
    if (commands.size() % 4) throw TransportError("vtest: command streams are a multiple of 4 bytes");
    const uint32_t cmd_words = static_cast<uint32_t>(commands.size() / 4);
    const uint32_t header_words = 1 + kSubmitBatchWords;
    std::vector<uint32_t> p(header_words + cmd_words + 3 * syncs.size(), 0);
    p[0] = 1;
    p[1] = ring_idx >= 0 ? static_cast<uint32_t>(SUBMIT_FLAG_RING_IDX) : 0u;
    p[2] = header_words;
    p[3] = cmd_words;
    p[4] = header_words + cmd_words;
    p[5] = static_cast<uint32_t>(syncs.size());
    p[6] = ring_idx >= 0 ? static_cast<uint32_t>(ring_idx) : 0;
    if (!commands.empty()) std::memcpy(p.data() + header_words, commands.data(), commands.size());
    for (size_t i = 0; i < syncs.size(); ++i) {
        uint32_t* s = p.data() + header_words + cmd_words + 3 * i;
        s[0] = syncs[i].sync_id;
        s[1] = static_cast<uint32_t>(syncs[i].value);
        s[2] = static_cast<uint32_t>(syncs[i].value >> 32);
    }
    std::lock_guard lock(mutex_);
    conn_.send(SUBMIT_CMD2, p);
}

uint32_t VtestClient::sync_create(uint64_t value) {
    std::lock_guard lock(mutex_);
    const uint32_t w[2] = {static_cast<uint32_t>(value), static_cast<uint32_t>(value >> 32)};
    conn_.send(SYNC_CREATE, w);
    auto r = expect(SYNC_CREATE, 16);
    if (r.empty()) throw TransportError("vtest: empty SYNC_CREATE reply");
    return r[0];
}

void VtestClient::sync_destroy(uint32_t id) {
    std::lock_guard lock(mutex_);
    const uint32_t w[1] = {id};
    conn_.send(SYNC_UNREF, w);
}

uint64_t VtestClient::sync_read(uint32_t id) {
    std::lock_guard lock(mutex_);
    const uint32_t w[1] = {id};
    conn_.send(SYNC_READ, w);
    auto r = expect(SYNC_READ, 16);
    if (r.size() < 2) throw TransportError("vtest: short SYNC_READ reply");
    return r[0] | (uint64_t{r[1]} << 32);
}

void VtestClient::sync_write(uint32_t id, uint64_t value) {
    std::lock_guard lock(mutex_);
    const uint32_t w[3] = {id, static_cast<uint32_t>(value), static_cast<uint32_t>(value >> 32)};
    conn_.send(SYNC_WRITE, w);
}

UniqueFd VtestClient::sync_wait(std::span<const SyncWrite> waits, bool any, uint32_t timeout_ms) {
    std::vector<uint32_t> p(2 + 3 * waits.size());
    p[0] = any ? kSyncWaitFlagAny : 0;
    p[1] = timeout_ms;
    for (size_t i = 0; i < waits.size(); ++i) {
        p[2 + 3 * i] = waits[i].sync_id;
        p[3 + 3 * i] = static_cast<uint32_t>(waits[i].value);
        p[4 + 3 * i] = static_cast<uint32_t>(waits[i].value >> 32);
    }
    std::lock_guard lock(mutex_);
    conn_.send(SYNC_WAIT, p);
    expect(SYNC_WAIT, 16);
    return conn_.socket().recv_fd();
}

}  // namespace venus::transport
