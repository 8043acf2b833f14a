// venus-server's vtest front end: accepts clients on a Unix socket and serves each in its own
// context, either in a thread of this process or in a forked process of its own (isolation:
// a host driver crash then takes down only that client).
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "renderer/renderer.h"
#include "transport/socket.h"

namespace venus::server {

class VtestSession;

struct ServerOptions {
    std::string socket_path;
    bool fork_per_client = true;
    unsigned max_clients = 64;
    renderer::RendererConfig renderer;
};

class VtestServer {
public:
    explicit VtestServer(ServerOptions options);
    ~VtestServer();

    // Binds the socket; throws TransportError with the reason.
    void listen();
    // Accepts and serves clients until shutdown() (thread-safe, async-signal-safe).
    void serve();
    void shutdown();
    const std::string& socket_path() const { return options_.socket_path; }

private:
    void serve_in_thread(transport::UnixSocket socket, uint32_t id);
    void serve_in_process(transport::UnixSocket socket, uint32_t id);
    void reap(bool block);
    renderer::Renderer& renderer();

    ServerOptions options_;
    transport::UnixListener listener_;
    std::unique_ptr<renderer::Renderer> renderer_;  // thread mode: shared by all clients
    std::atomic<bool> stopping_{false};
    uint32_t next_id_ = 1;

    struct ThreadClient {
        std::unique_ptr<VtestSession> session;
        std::thread thread;
    };
    std::mutex clients_mutex_;
    std::list<ThreadClient> threads_;
    std::list<int> children_;
};

}  // namespace venus::server
