#include "server/render_server.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "server/render_context.h"
#include "transport/error.h"
#include "util/log.h"

namespace venus::server {

using namespace render;

// ------------------------------------------------------------------------------ process set-up

void reset_inherited_process_state(int keep) {
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // fork+exec by the proxy hands us every non-CLOEXEC fd of the VMM (§2.2)
    std::vector<int> stray;
    if (DIR* d = opendir("/proc/self/fd")) {
        while (dirent* e = readdir(d)) {
            char* end = nullptr;
            const long fd = strtol(e->d_name, &end, 10);
            if (end == e->d_name || *end) continue;
            if (fd > 2 && fd != keep && fd != dirfd(d)) stray.push_back(static_cast<int>(fd));
        }
        closedir(d);
    }
    for (int fd : stray) close(fd);
    if (!stray.empty()) log::debug("closed {} descriptors inherited from the VMM", stray.size());
}

GenerationGuess detect_generation(int client_fd) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(client_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0)
        return {Generation::V1, "the proxy's process is unknown (no SO_PEERCRED); assuming virglrenderer >= 1.0"};
    std::ifstream maps(fmt::format("/proc/{}/maps", cred.pid));
    std::string line, library;
    while (std::getline(maps, line)) {
        const size_t slash = line.find('/');
        if (slash == std::string::npos) continue;
        const std::string path = line.substr(slash);
        if (path.find("libvirglrenderer.so") != std::string::npos) {
            library = path;
            break;
        }
    }
    if (library.empty())
        return {Generation::V1, fmt::format("process {} maps no libvirglrenderer; assuming virglrenderer >= 1.0",
                                            cred.pid)};
    // Read through the peer's view of the file (it may live in another mount namespace).
    const std::string shown = fmt::format("process {} uses {}", cred.pid, library);
    GenerationGuess g = library_generation(fmt::format("/proc/{}/root{}", cred.pid, library), shown);
    if (g.reason.empty()) g = library_generation(library, shown);
    if (g.reason.empty())
        return {Generation::V1, fmt::format("{} (process {}) cannot be read; assuming virglrenderer >= 1.0", library,
                                            cred.pid)};
    return g;
}

GenerationGuess library_generation(const std::string& readable, const std::string& shown) {
    std::ifstream lib(readable, std::ios::binary);
    if (!lib) return {Generation::V1, {}};
    std::stringstream content;
    content << lib.rdbuf();
    // RENDER_SERVER_EXEC_PATH: the environment override that every proxy since 1.0.0 reads
    if (content.str().find("RENDER_SERVER_EXEC_PATH") != std::string::npos)
        return {Generation::V1, fmt::format("{}, which reads RENDER_SERVER_EXEC_PATH (virglrenderer >= 1.0)", shown)};
    return {Generation::V0_10, fmt::format("{}, which has no RENDER_SERVER_EXEC_PATH (virglrenderer 0.10.x)", shown)};
}

// ------------------------------------------------------------------------------ RenderServer

RenderServer::RenderServer(transport::SeqpacketSocket client, RenderServerOptions options)
    : client_(std::move(client)), options_(std::move(options)) {
    if (options_.generation) {
        generation_ = *options_.generation;
        log::info("speaking virglrenderer {}'s render-server protocol (forced)", generation_name(generation_));
    } else {
        const GenerationGuess g = detect_generation(client_.fd());
        generation_ = g.generation;
        log::info("speaking virglrenderer {}'s render-server protocol: {}", generation_name(generation_), g.reason);
    }
    if (options_.worker == RenderServerOptions::Worker::Process) {
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, nullptr);
        sigchld_fd_ = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sigchld_fd_ < 0) throw transport::TransportError(transport::errno_message("signalfd(SIGCHLD)"));
    } else {
        shared_renderer();  // probe the host once, before the first context
    }
}

RenderServer::~RenderServer() {
    destroy_all();
    if (sigchld_fd_ >= 0) close(sigchld_fd_);
}

renderer::Renderer& RenderServer::shared_renderer() {
    if (!renderer_) renderer_ = std::make_unique<renderer::Renderer>(options_.renderer);
    return *renderer_;
}

int RenderServer::run() {
    alignas(8) uint8_t buffer[kClientRequestMax];
    for (;;) {
        pollfd p[2] = {{client_.fd(), POLLIN, 0}, {sigchld_fd_, POLLIN, 0}};
        const int n = poll(p, sigchld_fd_ >= 0 ? 2 : 1, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            log::error("{}", transport::errno_message("poll"));
            return 1;
        }
        if (sigchld_fd_ >= 0 && (p[1].revents & POLLIN)) reap();
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        try {
            transport::SeqpacketSocket::Message m = client_.recv(buffer);
            if (!handle(std::span<const uint8_t>(buffer, m.size), m.fds.size())) return 1;
        } catch (const transport::PeerClosed&) {
            log::info("the proxy closed the client socket; ending {} context(s)", workers_.size());
            destroy_all();
            return 0;
        } catch (const std::exception& e) {
            // A client socket we cannot read is the end, as for upstream's server.
            log::error("client socket: {}; ending {} context(s)", e.what(), workers_.size());
            destroy_all();
            return 1;
        }
    }
}

bool RenderServer::handle(std::span<const uint8_t> msg, size_t fds) {
    if (msg.size() < 4) {
        log::error("client op of {} bytes (too short); ignored", msg.size());
        return true;
    }
    const uint32_t op = load<uint32_t>(msg, 0);
    const size_t want = client_request_size(op);
    // Client ops fail alone: a bad one is logged and the connection stays (as upstream).
    if (!want) {
        log::error("unknown client op {} ({} bytes); ignored", op, msg.size());
        return true;
    }
    if (msg.size() != want || fds) {
        log::error("client op {} of {} bytes with {} fds (expected {} bytes, none); ignored", client_op_name(op),
                   msg.size(), fds, want);
        if (op == CLIENT_CREATE_CONTEXT) {
            const uint8_t no = 0;  // the proxy waits for an answer
            client_.send(std::span<const uint8_t>(&no, 1));
        }
        return true;
    }
    switch (op) {
    case CLIENT_NOP: break;
    case CLIENT_INIT:
        init_flags_ = load<uint32_t>(msg, 4);
        log::info("proxy init, flags 0x{:x}{}", init_flags_,
                  (init_flags_ & kInitFlagVenus) ? "" : " (no VENUS flag: the VMM asked for no Venus contexts)");
        break;
    case CLIENT_RESET:
        log::info("reset: ending {} context(s)", workers_.size());
        destroy_all();
        break;
    case CLIENT_CREATE_CONTEXT: create_context(msg); break;
    case CLIENT_DESTROY_CONTEXT: destroy_context(load<uint32_t>(msg, 4)); break;
    }
    return true;
}

void RenderServer::create_context(std::span<const uint8_t> msg) {
    const uint32_t ctx_id = load<uint32_t>(msg, 4);
    const std::string name = printable_name(msg.subspan(8, kContextNameSize));
    std::string refused;
    if (ctx_id == 0) refused = "context id 0";
    else if (workers_.count(ctx_id)) refused = fmt::format("context {} exists already", ctx_id);
    else if (workers_.size() >= options_.max_contexts)
        refused = fmt::format("{} contexts are running (at most {})", workers_.size(), options_.max_contexts);
    std::optional<std::pair<transport::SeqpacketSocket, transport::SeqpacketSocket>> sockets;
    if (refused.empty()) {
        try {
            sockets = transport::SeqpacketSocket::pair();
        } catch (const std::exception& e) {
            refused = e.what();
        }
    }
    if (refused.empty()) {
        Worker w;
        if (options_.worker == RenderServerOptions::Worker::Process) {
            w.pid = start_process(ctx_id, name, std::move(sockets->first));
            if (w.pid < 0) refused = transport::errno_message("fork");
            else pids_[w.pid] = ctx_id;
        } else {
            try {
                start_thread(w, ctx_id, name, std::move(sockets->first));
            } catch (const std::exception& e) {
                refused = e.what();
            }
        }
        if (refused.empty()) workers_[ctx_id] = std::move(w);
    }
    if (!refused.empty()) {
        log::error("CREATE_CONTEXT {} ({}) refused: {}", ctx_id, name, refused);
        const uint8_t no = 0;  // both generations' proxies take "ok 0, no fd" as a failure
        client_.send(std::span<const uint8_t>(&no, 1));
        return;
    }
    const uint8_t yes = 1;
    const int fd = sockets->second.fd();
    client_.send(std::span<const uint8_t>(&yes, 1), std::span<const int>(&fd, 1));
    log::info("context {} ({}) created, served by {}", ctx_id, name,
              options_.worker == RenderServerOptions::Worker::Process ? fmt::format("process {}", workers_[ctx_id].pid)
                                                                      : std::string("a thread"));
}

pid_t RenderServer::start_process(uint32_t ctx_id, const std::string& name, transport::SeqpacketSocket socket) {
    const pid_t pid = fork();
    if (pid != 0) return pid;  // parent (or -1): its copy of the context's end closes with `socket`
    // child: nothing of the parent's but this context's socket
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(sigchld_fd_);
    client_.close();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const std::string thread_name = fmt::format("venus-ctx-{}", ctx_id).substr(0, 15);
    prctl(PR_SET_NAME, thread_name.c_str());
    int status = 0;
    try {
        renderer::Renderer renderer(options_.renderer);
        RenderContext ctx(renderer, std::move(socket),
                          {ctx_id, name, generation_, options_.generation.has_value(), options_.wire_format});
        status = ctx.run().empty() ? 0 : 3;
    } catch (const std::exception& e) {
        log::error("ctx {} ({}): {}", ctx_id, name, e.what());
        status = 4;
    }
    spdlog::default_logger()->flush();
    _exit(status);
}

void RenderServer::start_thread(Worker& w, uint32_t ctx_id, const std::string& name, transport::SeqpacketSocket socket) {
    w.ctx = std::make_unique<RenderContext>(shared_renderer(), std::move(socket),
                                            RenderContextOptions{ctx_id, name, generation_, options_.generation.has_value(),
                                                                 options_.wire_format});
    RenderContext* ctx = w.ctx.get();
    w.thread = std::thread([ctx, ctx_id] {
        pthread_setname_np(pthread_self(), fmt::format("venus-ctx-{}", ctx_id).substr(0, 15).c_str());
        ctx->run();
    });
}

void RenderServer::destroy_context(uint32_t ctx_id) {
    auto it = workers_.find(ctx_id);
    if (it == workers_.end()) {
        log::debug("DESTROY_CONTEXT of unknown context {}", ctx_id);
        return;
    }
    Worker& w = it->second;
    if (w.pid > 0) {
        // As upstream: the proxy is done with the context, its process goes at once (the kernel
        // frees what it held); reaping follows through SIGCHLD.
        kill(w.pid, SIGKILL);
    } else if (w.ctx) {
        w.ctx->stop();
        if (w.thread.joinable()) w.thread.join();
        w.ctx.reset();
    }
    workers_.erase(it);
    log::info("context {} destroyed", ctx_id);
}

void RenderServer::destroy_all() {
    std::vector<uint32_t> ids;
    for (auto& [id, w] : workers_) ids.push_back(id);
    for (uint32_t id : ids) destroy_context(id);
    // wait for every worker process, so that none outlives the server
    while (!pids_.empty()) {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            pids_.clear();
            break;
        }
        pids_.erase(pid);
    }
}

void RenderServer::reap() {
    signalfd_siginfo info;
    while (read(sigchld_fd_, &info, sizeof(info)) == sizeof(info)) {
    }
    for (;;) {
        int status = 0;
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) break;
        auto it = pids_.find(pid);
        if (it == pids_.end()) continue;
        const uint32_t ctx_id = it->second;
        pids_.erase(it);
        const bool destroyed = !workers_.count(ctx_id) || workers_[ctx_id].pid != pid;
        if (WIFSIGNALED(status) && !(destroyed && WTERMSIG(status) == SIGKILL))
            log::error("context {}: its process {} died from signal {} ({}); no other context was affected", ctx_id,
                       pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
        else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            log::warn("context {}: its process {} ended with status {}", ctx_id, pid, WEXITSTATUS(status));
        else
            log::debug("context {}: process {} ended", ctx_id, pid);
    }
}

}  // namespace venus::server
