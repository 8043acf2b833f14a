// One vtest client (§2): the handshake, blobs, syncs and SUBMIT_CMD2, on top of one renderer
// Context created at CONTEXT_INIT. A client that breaks the vtest protocol is disconnected with
// a logged reason; a client whose Venus commands are bad keeps its connection but its context
// turns fatal (the guest sees FATAL on its rings and reports device loss).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/sync_table.h"
#include "transport/unique_fd.h"
#include "transport/vtest_connection.h"

namespace venus::renderer {
class Context;
class Renderer;
}  // namespace venus::renderer

namespace venus::server {

class VtestSession {
public:
    VtestSession(renderer::Renderer& renderer, transport::UnixSocket socket, uint32_t ctx_id);
    ~VtestSession();

    // Serves the client until it disconnects, breaks the protocol, or stop() is called.
    void run();
    // From another thread: make run() return soon.
    void stop();
    uint32_t id() const { return ctx_id_; }
    bool finished() const { return finished_.load(); }

private:
    struct ResourceEntry {
        transport::UniqueFd fd;  // kept for RESOURCE_EXPORT_FD
        uint64_t size = 0;
    };

    bool handle(const vtest::Header& h);  // false: drop the client
    bool create_renderer(uint32_t bytes);
    bool protocol_version(const std::vector<uint32_t>& p);
    bool get_param(const std::vector<uint32_t>& p);
    bool get_capset(const std::vector<uint32_t>& p);
    bool context_init(const std::vector<uint32_t>& p);
    bool create_blob(const std::vector<uint32_t>& p);
    bool resource_unref(const std::vector<uint32_t>& p);
    bool resource_export_fd(const std::vector<uint32_t>& p);
    bool busy_wait(const std::vector<uint32_t>& p);
    bool sync_create(const std::vector<uint32_t>& p);
    bool sync_unref(const std::vector<uint32_t>& p);
    bool sync_read(const std::vector<uint32_t>& p);
    bool sync_write(const std::vector<uint32_t>& p);
    bool sync_wait(const std::vector<uint32_t>& p);
    bool submit_cmd2(const std::vector<uint32_t>& p);
    bool reject(const std::string& why);
    void reply(uint32_t command, std::initializer_list<uint32_t> words);
    uint32_t allocate_resource_id();

    renderer::Renderer& renderer_;
    vtest::Connection conn_;
    const uint32_t ctx_id_;
    std::string name_ = "unnamed";
    uint32_t protocol_version_ = 0;
    bool have_renderer_ = false;
    std::unique_ptr<renderer::Context> ctx_;
    std::shared_ptr<SyncTable> syncs_;
    std::unordered_map<uint32_t, ResourceEntry> resources_;
    std::vector<uint32_t> free_res_ids_;
    uint32_t next_res_id_ = 1;
    std::atomic<bool> finished_{false};
    std::atomic<bool> stopping_{false};
};

}  // namespace venus::server
