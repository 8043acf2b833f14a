// The proxy side of virglrenderer's render-server protocol, written from the protocol's
// description (render-server-protocol.md) byte for byte and independently of the server's own
// definitions: it starts venus-render-server the way libvirglrenderer does (fork+exec with
// --socket-fd N on a SOCK_SEQPACKET pair), sends client ops, and serves a guest as a
// GuestChannel over one context socket (fence page + eventfd, CREATE_RESOURCE with the reply
// checks the proxy makes, IMPORT_RESOURCE, SUBMIT_CMD with its continuation datagram).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/guest_channel.h"
#include "transport/unique_fd.h"

namespace venus::test {

enum class ProxyGeneration { V0_10, V1 };

// A raw SEQPACKET datagram with descriptors, as the proxy sends and receives them.
struct Datagram {
    std::vector<uint8_t> bytes;
    std::vector<transport::UniqueFd> fds;
};
void send_datagram(int socket, const std::vector<uint8_t>& bytes, const std::vector<int>& fds = {});
// Receives one datagram (up to `max` bytes); nullopt on EOF or when nothing came within timeout_ms.
std::optional<Datagram> recv_datagram(int socket, size_t max, int timeout_ms = 20000);
// Whether the peer closed `socket` within timeout_ms (what the proxy sees of a dead worker).
bool closed_within(int socket, int timeout_ms);

class ProxyContext;

class RenderProxy {
public:
    // Starts the render server of this build (or `binary`) with `args` after --socket-fd N.
    explicit RenderProxy(ProxyGeneration generation, std::vector<std::string> args = {},
                         std::map<std::string, std::string> env = {}, std::string binary = {});
    ~RenderProxy();

    ProxyGeneration generation() const { return gen_; }
    int client_socket() const { return client_.get(); }
    std::string log() const;
    // Waits up to timeout_ms for `needle` to appear in the log (lines are written after the
    // replies they describe); whether it did.
    bool wait_log(const std::string& needle, int timeout_ms = 10000) const;
    pid_t pid() const { return pid_; }
    // Waits for the server to exit; its status (or -signal, or nullopt after timeout_ms).
    std::optional<int> wait_exit(int timeout_ms);

    void init(uint32_t flags);  // CLIENT_INIT
    // CLIENT_CREATE_CONTEXT; the context socket, or an invalid fd when the server said no.
    transport::UniqueFd create_context_socket(uint32_t ctx_id, const std::string& name);
    // CREATE_CONTEXT and context INIT (fence page of 64 slots, eventfd).
    std::unique_ptr<ProxyContext> create_context(uint32_t ctx_id, const std::string& name = "proxy-test");
    void destroy_context(uint32_t ctx_id);
    void reset();
    void close_client() { client_.reset(); }

private:
    ProxyGeneration gen_;
    transport::UniqueFd client_;
    pid_t pid_ = -1;
    std::string dir_, log_path_;
};

class ProxyContext : public transport::GuestChannel {
public:
    ProxyContext(ProxyGeneration generation, uint32_t ctx_id, transport::UniqueFd socket);
    ~ProxyContext() override;

    // Context INIT with a fence page of `slots` timelines and, if asked, an eventfd.
    void init(uint32_t slots = 64, bool eventfd = true);

    struct CreateReply {
        int32_t fd_type = -1;
        uint32_t map_info = 0;
        transport::UniqueFd fd;
    };
    CreateReply create_resource(uint32_t res_id, uint64_t blob_id, uint64_t size, uint32_t flags);
    void import_resource(uint32_t res_id, int32_t fd_type, int fd, uint64_t size);
    void destroy_resource(uint32_t res_id);
    void submit_cmd(std::span<const uint8_t> bytes);  // 0.10: and its 1-byte reply, which must be 1
    void submit_fence(uint32_t ring, uint32_t seqno, uint32_t flags = 1);
    uint32_t fence_slot(uint32_t ring) const;
    // Waits (eventfd, then the slot, as the proxy's sync thread does) until `ring` reached `seqno`.
    bool wait_fence(uint32_t ring, uint32_t seqno, int timeout_ms = 20000);
    int socket() const { return socket_.get(); }
    uint32_t id() const { return ctx_id_; }
    // Blobs with blob_id 0 made by the "VMM" as memfds and sent with IMPORT_RESOURCE instead of
    // asking the server for them (virgl_renderer_resource_import_blob on a 1.x VMM).
    void set_import_shm(bool on) { import_shm_ = on; }
    // Every fd type the server answered with, in order.
    const std::vector<int32_t>& answered_fd_types() const { return answered_; }

    // GuestChannel
    Blob create_blob(uint32_t type, uint32_t flags, uint64_t size, uint64_t blob_id, bool map = true) override;
    void destroy_blob(uint32_t res_id) override { destroy_resource(res_id); }
    void submit_commands(std::span<const uint8_t> commands) override { submit_cmd(commands); }
    int socket_fd() override { return socket_.get(); }

private:
    ProxyGeneration gen_;
    uint32_t ctx_id_;
    transport::UniqueFd socket_;
    transport::UniqueFd page_fd_, eventfd_;
    uint32_t* page_ = nullptr;
    uint32_t slots_ = 0;
    uint32_t next_res_id_ = 1;
    bool import_shm_ = false;
    std::vector<int32_t> answered_;
};

std::string render_server_binary();

}  // namespace venus::test
