// One context of the render-server protocol (render-server-protocol.md §5): the context ops that
// virglrenderer's proxy sends on the per-context socket, served on one renderer Context. A
// malformed message ends this context (its socket closes, the reason is logged once); bad Venus
// commands make the Venus context fatal (the guest sees FATAL on its rings) while fences keep
// retiring, so that the VMM never waits for ever.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "transport/render_protocol.h"
#include "transport/seqpacket.h"
#include "transport/unique_fd.h"

namespace venus::renderer {
class Context;
class Renderer;
}  // namespace venus::renderer

namespace venus::server {

// The fence page the proxy shares (§6.1) and its optional eventfd: slot i holds the last
// retired seqno of timeline i. Shared by the fence callbacks, which may outlive the worker loop.
class FencePage {
public:
    // Throws std::runtime_error with the reason when the fds are unusable.
    FencePage(transport::UniqueFd page, uint64_t size, transport::UniqueFd eventfd);
    ~FencePage();
    FencePage(const FencePage&) = delete;
    FencePage& operator=(const FencePage&) = delete;
    uint32_t timelines() const { return count_; }
    void retire(uint32_t timeline, uint32_t seqno);

private:
    uint32_t* slots_ = nullptr;
    size_t map_size_ = 0;
    uint32_t count_ = 0;
    transport::UniqueFd eventfd_;
};

struct RenderContextOptions {
    uint32_t ctx_id = 0;
    std::string name;                    // already made printable
    render::Generation generation = render::Generation::V1;
    bool generation_forced = false;      // false: a SUBMIT_CMD of the other layout switches it
    std::optional<uint32_t> wire_format;  // unset: the generation's (0.10: 0, 1.x: 1)
};

class RenderContext {
public:
    RenderContext(renderer::Renderer& renderer, transport::SeqpacketSocket socket, RenderContextOptions options);
    ~RenderContext();

    // Serves context ops until the proxy closes the socket or sends a malformed message.
    // Returns the reason it ended ("" when the proxy closed it).
    std::string run();
    // From another thread: make run() return soon.
    void stop();
    uint32_t id() const { return options_.ctx_id; }

private:
    struct ResourceEntry {
        int32_t fd_type = render::FD_INVALID;
    };
    // Each handler returns an empty string, or the reason the context must end.
    std::string handle(uint32_t op, std::span<const uint8_t> msg, std::vector<transport::UniqueFd>& fds);
    std::string init(std::span<const uint8_t> msg, std::vector<transport::UniqueFd>& fds);
    std::string create_resource(std::span<const uint8_t> msg);
    std::string import_resource(std::span<const uint8_t> msg, std::vector<transport::UniqueFd>& fds);
    std::string destroy_resource(std::span<const uint8_t> msg);
    std::string submit_cmd(std::span<const uint8_t> msg);
    std::string submit_fence(std::span<const uint8_t> msg);
    void reply_create_resource(int32_t fd_type, uint32_t map_info, int fd);
    // The renderer's resource barrier: from a ring thread, waits (boundedly) until every
    // message already queued on the context socket has been handled.
    void catch_up();
    void note_progress(bool in_handle, bool done = false);

    renderer::Renderer& renderer_;
    transport::SeqpacketSocket socket_;
    RenderContextOptions options_;
    std::unique_ptr<renderer::Context> ctx_;
    std::shared_ptr<FencePage> fences_;
    std::map<uint32_t, ResourceEntry> resources_;
    bool sent_generation_specific_ = false;  // a CREATE_RESOURCE reply or SUBMIT_CMD reply went out
    std::atomic<bool> stopping_{false};
    uint64_t submits_ = 0;

    std::thread::id run_thread_;
    std::mutex progress_mutex_;
    std::condition_variable progress_cv_;
    uint64_t handled_ = 0;   // messages handled by run()
    bool in_handle_ = false;  // run() is applying one
    bool run_done_ = false;
};

// What the proxy may be told about a blob's fd (§5.3): SHM for a sealable memfd of exactly
// `size` bytes, DMABUF for a dma-buf, else nothing the proxy can map. `why` says why not SHM.
int32_t classify_blob_fd(int fd, uint64_t size, std::string* why);

// The ctx_name of CREATE_CONTEXT as a log-safe string: at most 31 bytes, non-printable bytes
// as '?' (a name must not forge log lines).
std::string printable_name(std::span<const uint8_t> raw);

}  // namespace venus::server
