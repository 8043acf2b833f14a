// venus-doctor: probes this host (with the renderer's own code) and a running Venus server, and
// explains in words what works for a guest, what does not, and why.
//   exit 0: healthy (everything a guest needs works), 1: a FAIL was found, 2: usage error.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "checks.h"
#include "probe.h"
#include "util/log.h"

using namespace venus::doctor;

int main(int argc, char** argv) {
    CLI::App app{"venus-doctor: checks this host and a running Venus server (vtest) and explains what works for a "
                 "guest, what does not, and why. Exit 0: healthy, 1: a FAIL was found, 2: usage error."};
    std::string socket;
    bool no_server = false, json = false;
    int verbose = 0;
    int timeout_s = 20;
    auto* socket_opt = app.add_option("--socket", socket,
                                      "the server's vtest socket (default: $VTEST_SOCKET_NAME, else /tmp/.virgl_test)");
    auto* no_server_opt = app.add_flag("--no-server", no_server, "check the host only; contact no server");
    socket_opt->excludes(no_server_opt);
    app.add_flag("--json", json, "one JSON object with everything found, instead of the table");
    app.add_flag("-v,--verbose", verbose, "list extension names in the table; -vv also logs the renderer's probe");
    app.add_option("--timeout", timeout_s, "seconds to wait for a server that stops answering")->check(CLI::Range(1, 600));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    venus::log::init("venus-doctor", 0);
    if (!std::getenv("VENUS_LOG")) spdlog::set_level(verbose >= 2 ? spdlog::level::debug : spdlog::level::warn);
    signal(SIGPIPE, SIG_IGN);

    const auto candidates = socket_candidates(socket.empty() ? std::nullopt : std::optional<std::string>(socket));
    const HostFacts host = probe_host(candidates, !no_server);

    ServerFacts server;
    if (no_server) {
        server.not_checked = "--no-server";
    } else {
        const SocketCandidate& c = candidates.front();
        const SocketFact& sf = host.sockets.front();
        const bool explicit_socket = c.source != "default";
        if (sf.connectable) {
            server = probe_server(c, explicit_socket, std::chrono::seconds(timeout_s));
        } else if (explicit_socket) {
            server.checked = true;
            server.socket = c.path;
            server.socket_source = c.source;
            server.explicit_socket = true;
            server.step = "connect";
            server.error = sf.error;
        } else {
            server.not_checked = fmt::format("no server at {} (the default socket): {}", sf.path, sf.error);
        }
    }

    Report report;
    host_checks(host, report);
    vm_checks(probe_vm(), report);
    server_checks(server, host, report);
    diagnose(host, server, report);

    if (json) std::cout << render_json(report).dump(2) << "\n";
    else std::cout << render_table(report, verbose > 0);
    std::cout.flush();
    const int rc = report.exit_code();
    // A hung server leaves the probe's thread blocked in a read: leave without joining it.
    if (server.timed_out) std::_Exit(rc);
    return rc;
}
