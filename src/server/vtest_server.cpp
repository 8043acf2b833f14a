#include "server/vtest_server.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/vtest_session.h"
#include "util/log.h"

namespace venus::server {

VtestServer::VtestServer(ServerOptions options) : options_(std::move(options)) {}

VtestServer::~VtestServer() {
    shutdown();
    std::list<ThreadClient> threads;
    {
        std::lock_guard lock(clients_mutex_);
        threads.swap(threads_);
    }
    for (auto& c : threads) c.session->stop();
    for (auto& c : threads)
        if (c.thread.joinable()) c.thread.join();
    threads.clear();
    for (int pid : children_) kill(pid, SIGTERM);
    reap(true);
}

renderer::Renderer& VtestServer::renderer() {
    if (!renderer_) renderer_ = std::make_unique<renderer::Renderer>(options_.renderer);
    return *renderer_;
}

void VtestServer::listen() {
    listener_ = transport::UnixListener::listen(options_.socket_path);
    log::info("listening on {} ({})", options_.socket_path,
              options_.fork_per_client ? "a process per client" : "a thread per client");
    // Thread mode probes the host once, before the first client; process mode leaves Vulkan
    // out of the parent entirely, so that fork() never copies a driver's state.
    if (!options_.fork_per_client) renderer();
}

void VtestServer::shutdown() {
    stopping_ = true;
    listener_.wake();
}

void VtestServer::reap(bool block) {
    for (auto it = children_.begin(); it != children_.end();) {
        int status = 0;
        const pid_t r = waitpid(*it, &status, block ? 0 : WNOHANG);
        if (r == *it || (r < 0 && errno == ECHILD)) {
            if (r == *it && WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
                log::error("client process {} died from signal {}: only its client was affected", *it,
                           WTERMSIG(status));
            it = children_.erase(it);
        } else {
            ++it;
        }
    }
    std::lock_guard lock(clients_mutex_);
    for (auto it = threads_.begin(); it != threads_.end();) {
        if (it->session->finished()) {
            it->thread.join();
            it = threads_.erase(it);
        } else {
            ++it;
        }
    }
}

void VtestServer::serve() {
    while (!stopping_) {
        transport::UnixSocket client = listener_.accept();
        reap(false);
        if (!client.valid()) continue;
        size_t active;
        {
            std::lock_guard lock(clients_mutex_);
            active = threads_.size() + children_.size();
        }
        if (active >= options_.max_clients) {
            log::warn("refusing a client: {} clients already connected (--max-clients)", active);
            continue;
        }
        const uint32_t id = next_id_++;
        if (options_.fork_per_client) serve_in_process(std::move(client), id);
        else serve_in_thread(std::move(client), id);
    }
    log::info("shutting down");
}

void VtestServer::serve_in_thread(transport::UnixSocket socket, uint32_t id) {
    auto session = std::make_unique<VtestSession>(renderer(), std::move(socket), id);
    VtestSession* raw = session.get();
    std::lock_guard lock(clients_mutex_);
    threads_.push_back({std::move(session), std::thread([raw] {
                            pthread_setname_np(pthread_self(), "venus-client");
                            raw->run();
                        })});
}

void VtestServer::serve_in_process(transport::UnixSocket socket, uint32_t id) {
    const pid_t pid = fork();
    if (pid < 0) {
        log::error("fork failed: {}; serving client {} in a thread", strerror(errno), id);
        serve_in_thread(std::move(socket), id);
        return;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        int rc = 0;
        try {
            renderer::Renderer renderer(options_.renderer);
            VtestSession session(renderer, std::move(socket), id);
            session.run();
        } catch (const std::exception& e) {
            log::error("client {}: {}", id, e.what());
            rc = 1;
        }
        spdlog::shutdown();
        _exit(rc);
    }
    children_.push_back(pid);
}

}  // namespace venus::server
