// venus-render-server: virglrenderer's render server, on venus-cpp's renderer. The VMM's
// libvirglrenderer starts it as `venus-render-server --socket-fd N` (render-server-protocol.md
// §2); everything else comes from the environment the VMM passes on (docs/vm.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "server/render_server.h"
#include "transport/seqpacket.h"
#include "util/env.h"
#include "util/log.h"
#include "util/malloc_tuning.h"

int main(int argc, char** argv) {
    using venus::server::RenderServerOptions;
    CLI::App app{"venus-render-server: a drop-in render server for virglrenderer's proxy (QEMU, crosvm, vtest)"};
    int socket_fd = -1;
    std::string worker = venus::env::get("VENUS_RENDER_SERVER_WORKER").value_or("process");
    std::string protocol = venus::env::get("VENUS_RENDER_SERVER_PROTOCOL").value_or("auto");
    int verbose = 0;
    RenderServerOptions opts;
    std::string seccomp;
    bool seccomp_log = false;
    app.add_option("--socket-fd", socket_fd, "the client socket (SOCK_SEQPACKET) the proxy hands over")->required();
    app.add_option("--worker", worker, "process (a process per context, default) or thread ($VENUS_RENDER_SERVER_WORKER)");
    app.add_option("--protocol", protocol,
                   "auto (default), 0.10 or 1: the proxy's generation ($VENUS_RENDER_SERVER_PROTOCOL)");
    app.add_option("--max-contexts", opts.max_contexts, "contexts served at once (default 256)");
    app.add_option("--worker-seccomp-bpf,--worker-seccomp-minijail-policy", seccomp,
                   "not supported (upstream's minijail builds only)");
    app.add_flag("--worker-seccomp-minijail-log", seccomp_log, "not supported");
    app.add_flag("-v,--verbose", verbose, "more log output (-vv for everything); also VENUS_LOG=debug|trace");
    CLI11_PARSE(app, argc, argv);
    venus::log::init("venus-render-server", verbose);
    if (!seccomp.empty() || seccomp_log) {
        venus::log::error("seccomp options are for upstream's minijail worker builds; venus-render-server has no "
                          "seccomp support (run the VMM without them)");
        return 2;
    }
    if (worker == "process") opts.worker = RenderServerOptions::Worker::Process;
    else if (worker == "thread") opts.worker = RenderServerOptions::Worker::Thread;
    else {
        venus::log::error("--worker / VENUS_RENDER_SERVER_WORKER is '{}': process or thread", worker);
        return 2;
    }
    if (protocol == "0.10") opts.generation = venus::render::Generation::V0_10;
    else if (protocol == "1" || protocol == "1.x") opts.generation = venus::render::Generation::V1;
    else if (protocol != "auto") {
        venus::log::error("--protocol / VENUS_RENDER_SERVER_PROTOCOL is '{}': auto, 0.10 or 1", protocol);
        return 2;
    }
    if (socket_fd < 0 || !venus::transport::SeqpacketSocket::is_seqpacket(socket_fd)) {
        venus::log::error("--socket-fd {} is not a SOCK_SEQPACKET socket", socket_fd);
        return 2;
    }
    venus::server::reset_inherited_process_state(socket_fd);
    try {
        opts.renderer = venus::renderer::RendererConfig::from_env();
        if (venus::env::get("VENUS_WIRE_FORMAT")) opts.wire_format = opts.renderer.wire_format;
    } catch (const std::exception& e) {
        venus::log::error("{}", e.what());
        return 2;
    }
    venus::keep_freed_heap();
    try {
        venus::server::RenderServer server(venus::transport::SeqpacketSocket(venus::transport::UniqueFd(socket_fd)),
                                           std::move(opts));
        return server.run();
    } catch (const std::exception& e) {
        venus::log::error("{}", e.what());
        return 1;
    }
}
