// venus-render-server: a drop-in for virglrenderer's render server (render-server-protocol.md).
// The proxy inside the VMM's libvirglrenderer starts it with `--socket-fd N` and sends client ops
// on that socket; every Venus context gets a socket of its own and a worker — a process (default:
// a crash in one context never reaches another) or a thread — that serves it on our renderer.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "renderer/renderer.h"
#include "transport/render_protocol.h"
#include "transport/seqpacket.h"

namespace venus::server {

class RenderContext;

struct RenderServerOptions {
    enum class Worker { Process, Thread };
    Worker worker = Worker::Process;
    std::optional<render::Generation> generation;  // forced; unset: detected from the proxy
    unsigned max_contexts = 256;
    // The Venus wire format of the contexts: forced (VENUS_WIRE_FORMAT), or unset: the one of the
    // proxy's generation — a 0.10.x libvirglrenderer hands its guests a wire-format-0 capset, a
    // >= 1.0 one a wire-format-1 capset (render-server-protocol.md §8).
    std::optional<uint32_t> wire_format;
    renderer::RendererConfig renderer;
};

// Which generation of proxy is on the other end of `client_fd`, and why we think so: the peer
// process maps a libvirglrenderer whose file names RENDER_SERVER_EXEC_PATH (>= 1.0 only) or not.
struct GenerationGuess {
    render::Generation generation = render::Generation::V1;
    std::string reason;
};
GenerationGuess detect_generation(int client_fd);
// The generation of the libvirglrenderer file at `readable` (`shown` names it in the reason).
// Empty reason: the file cannot be read.
GenerationGuess library_generation(const std::string& readable, const std::string& shown);

class RenderServer {
public:
    RenderServer(transport::SeqpacketSocket client, RenderServerOptions options);
    ~RenderServer();
    RenderServer(const RenderServer&) = delete;
    RenderServer& operator=(const RenderServer&) = delete;

    // Serves client ops until the proxy closes the socket; every worker is gone when it returns.
    // Returns the process exit status (0: the proxy closed the socket).
    int run();

private:
    struct Worker {
        pid_t pid = -1;                        // process mode
        std::unique_ptr<RenderContext> ctx;    // thread mode
        std::thread thread;
    };
    // false: the client socket is unusable
    bool handle(std::span<const uint8_t> msg, size_t fds);
    void create_context(std::span<const uint8_t> msg);
    void destroy_context(uint32_t ctx_id);
    void destroy_all();
    void reap();
    pid_t start_process(uint32_t ctx_id, const std::string& name, transport::SeqpacketSocket socket);
    void start_thread(Worker& w, uint32_t ctx_id, const std::string& name, transport::SeqpacketSocket socket);
    renderer::Renderer& shared_renderer();

    transport::SeqpacketSocket client_;
    RenderServerOptions options_;
    render::Generation generation_ = render::Generation::V1;
    uint32_t init_flags_ = 0;
    std::map<uint32_t, Worker> workers_;
    std::map<pid_t, uint32_t> pids_;          // live worker processes (also ones whose context is destroyed)
    std::unique_ptr<renderer::Renderer> renderer_;  // thread mode: one for every context
    int sigchld_fd_ = -1;
};

// Startup hygiene for a server exec'ed by a VMM: SIGCHLD back to default and no signal blocked
// (virgl_test_server ignores SIGCHLD, which would make worker processes unreapable), SIGPIPE
// ignored, and every inherited descriptor but 0-2 and `keep` closed.
void reset_inherited_process_state(int keep);

}  // namespace venus::server
