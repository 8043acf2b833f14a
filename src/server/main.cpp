// venus-server: serves the Venus protocol over vtest on this host's Vulkan driver.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>


#include <cstdlib>

#include "server/vtest_server.h"
#include "transport/vtest_protocol.h"
#include "util/env.h"
#include "util/log.h"
#include "util/malloc_tuning.h"

namespace {
venus::server::VtestServer* g_server = nullptr;
void on_signal(int) {
    if (g_server) g_server->shutdown();
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"venus-server: Vulkan for guests and sandboxes over the Venus protocol (vtest transport)"};
    venus::server::ServerOptions opts;
    opts.socket_path = venus::env::get("VTEST_SOCKET_NAME").value_or(venus::vtest::kDefaultSocketPath);
    int verbose = 0;
    bool no_fork = false;
    app.add_option("--socket-path", opts.socket_path, "Unix socket to listen on (default: $VTEST_SOCKET_NAME or /tmp/.virgl_test)");
    app.add_flag("--no-fork", no_fork, "serve every client in a thread of this process instead of a process of its own");
    app.add_option("--max-clients", opts.max_clients, "clients served at once");
    int wire_format = -1;
    app.add_option("--wire-format", wire_format,
                   "Venus wire format served: 1 (virglrenderer >= 1.0, Mesa >= 23.2; default) or 0 (virglrenderer "
                   "0.10.x, Mesa <= 23.0); also VENUS_WIRE_FORMAT. A guest rejects the other one's capset, so "
                   "serving both takes two servers on two sockets")
        ->check(CLI::Range(0, 1));
    app.add_flag("-v,--verbose", verbose, "more log output (-vv for everything); also VENUS_LOG=debug|trace");
    CLI11_PARSE(app, argc, argv);
    opts.fork_per_client = !no_fork;
    venus::log::init("venus-server", verbose);
    try {
        opts.renderer = venus::renderer::RendererConfig::from_env();
        if (wire_format >= 0) opts.renderer.wire_format = static_cast<uint32_t>(wire_format);
    } catch (const std::exception& e) {
        venus::log::error("{}", e.what());
        return 2;
    }
    venus::log::info("serving Venus wire format {} ({}); guests of the other generation give up after "
                     "GET_CAPSET",
                     opts.renderer.wire_format,
                     opts.renderer.wire_format == 0 ? "virglrenderer 0.10.x, Mesa <= 23.0"
                                                    : "virglrenderer >= 1.0, Mesa >= 23.2");
    if (!opts.renderer.hidden_extensions.empty())
        venus::log::info("hiding host extensions: {}", fmt::join(opts.renderer.hidden_extensions, ", "));
    if (!opts.renderer.memory_strategy.empty())
        venus::log::info("memory strategy forced to {}", opts.renderer.memory_strategy);

    // host drivers record command buffers in malloc'd memory on our ring threads
    venus::keep_freed_heap();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    try {
        venus::server::VtestServer server(std::move(opts));
        g_server = &server;
        server.listen();
        server.serve();
        g_server = nullptr;
    } catch (const std::exception& e) {
        venus::log::error("{}", e.what());
        return 1;
    }
    return 0;
}
