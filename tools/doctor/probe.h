// The probes: the host (with the renderer's own code, so the answers are the server's) and a
// running server (with the guest side's own vtest client and ring).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "facts.h"

namespace venus::doctor {

// The device extensions the doctor reports, and why each matters.
struct NotableExtension {
    const char* name;
    const char* why;
};
extern const std::vector<NotableExtension> kNotableExtensions;

struct SocketCandidate {
    std::string path;
    std::string source;  // "--socket", "VTEST_SOCKET_NAME", "default"
};
// --socket if given, else $VTEST_SOCKET_NAME and /tmp/.virgl_test (the guest's own order).
std::vector<SocketCandidate> socket_candidates(const std::optional<std::string>& cli_socket);
// `connect`: also try to connect (false with --no-server: no server is contacted).
SocketFact probe_socket(const SocketCandidate& c, bool connect);

HostFacts probe_host(const std::vector<SocketCandidate>& sockets, bool connect_sockets);

// Handshake, capset, a shared-memory blob round trip and (when the wire format matches) the
// start of a guest's vkCreateInstance. Gives up after `timeout` (a hung server).
ServerFacts probe_server(const SocketCandidate& socket, bool explicit_socket, std::chrono::milliseconds timeout);

}  // namespace venus::doctor
