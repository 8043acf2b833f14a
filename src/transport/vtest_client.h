// The guest side of vtest (§2.6): the start-up handshake and every command a Venus driver
// sends on the socket. Thread-safe: one mutex serializes the socket, as Mesa does. A closed
// socket raises PeerClosed, which drivers turn into VK_ERROR_DEVICE_LOST.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "transport/error.h"
#include "transport/guest_channel.h"
#include "transport/shared_memory.h"
#include "transport/vtest_connection.h"
#include "transport/vtest_protocol.h"

namespace venus::transport {

// A protocol-level refusal from the server (not a broken connection).
class VtestRefused : public TransportError {
public:
    using TransportError::TransportError;
};

class VtestClient : public GuestChannel {
public:
    // Connects and runs the handshake: CREATE_RENDERER, PING + BUSY_WAIT probe, PROTOCOL_VERSION,
    // GET_PARAM(MAX_TIMELINE_COUNT), GET_CAPSET(Venus), CONTEXT_INIT(Venus). Throws
    // TransportError with the step that failed.
    static std::unique_ptr<VtestClient> connect(const std::string& socket_path, const std::string& name);

    uint32_t protocol_version() const { return protocol_version_; }
    uint32_t max_timelines() const { return max_timelines_; }
    const vtest::CapsetVenus& capset() const { return capset_; }
    // How many bytes of the capset the server sent (older servers send a shorter struct).
    size_t capset_size() const { return capset_size_; }
    // For poll(): the socket reports a closed server (POLLRDHUP) without consuming anything.
    int socket_fd() override { return conn_.socket().fd(); }

    using Blob = GuestChannel::Blob;
    // RESOURCE_CREATE_BLOB; throws VtestRefused when the server answers res_id 0.
    Blob create_blob(uint32_t type, uint32_t flags, uint64_t size, uint64_t blob_id, bool map = true) override;
    void destroy_blob(uint32_t res_id) override;
    void submit_commands(std::span<const uint8_t> commands) override { submit(commands); }

    struct SyncWrite {
        uint32_t sync_id;
        uint64_t value;
    };
    // SUBMIT_CMD2 with one batch: `commands` (a multiple of 4 bytes), then the syncs, on
    // `ring_idx` (or immediately when ring_idx is negative).
    void submit(std::span<const uint8_t> commands, std::span<const SyncWrite> syncs = {}, int ring_idx = -1);

    uint32_t sync_create(uint64_t value);
    void sync_destroy(uint32_t id);
    uint64_t sync_read(uint32_t id);
    void sync_write(uint32_t id, uint64_t value);
    // SYNC_WAIT: a pollable fd that becomes readable when the syncs reach their values.
    UniqueFd sync_wait(std::span<const SyncWrite> waits, bool any, uint32_t timeout_ms);

private:
    explicit VtestClient(UnixSocket socket) : conn_(std::move(socket)) {}
    void handshake(const std::string& name);
    std::vector<uint32_t> expect(uint32_t command, uint32_t max_words);

    std::mutex mutex_;
    vtest::Connection conn_;
    uint32_t protocol_version_ = 0;
    uint32_t max_timelines_ = 0;
    vtest::CapsetVenus capset_{};
    size_t capset_size_ = 0;
};

}  // namespace venus::transport
