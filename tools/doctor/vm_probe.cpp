// The VM path (docs/vm.md): which libvirglrenderer a VMM on this host would load, which
// generation it is, which render server it starts for Venus contexts, and whether that is
// venus-render-server — the VM section of the report.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "checks.h"
#include "server/render_server.h"

namespace venus::doctor {

namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The render server path compiled into the library: a NUL-terminated absolute path ending in
// "virgl_render_server".
std::string compiled_render_server(const std::string& content) {
    const std::string needle = "virgl_render_server";
    for (size_t at = content.find(needle); at != std::string::npos; at = content.find(needle, at + 1)) {
        const size_t end = at + needle.size();
        if (end >= content.size() || content[end] != '\0') continue;
        size_t begin = at;
        while (begin > 0 && content[begin - 1] != '\0' && std::isprint(static_cast<unsigned char>(content[begin - 1])))
            --begin;
        if (content[begin] == '/') return content.substr(begin, end - begin);
    }
    return {};
}

std::vector<std::string> library_dirs() {
    std::vector<std::string> dirs;
    if (const char* ld = std::getenv("LD_LIBRARY_PATH")) {
        std::stringstream ss(ld);
        for (std::string d; std::getline(ss, d, ':');)
            if (!d.empty()) dirs.push_back(d);
    }
    for (const char* d : {"/usr/local/lib/x86_64-linux-gnu", "/usr/local/lib64", "/usr/local/lib",
                          "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"})
        dirs.emplace_back(d);
    return dirs;
}

}  // namespace

VmFacts probe_vm() {
    VmFacts v;
    if (const char* p = std::getenv("RENDER_SERVER_EXEC_PATH")) v.exec_path_env = p;
    std::set<std::string> seen;
    for (const std::string& dir : library_dirs()) {
        const std::string link = dir + "/libvirglrenderer.so.1";
        std::error_code ec;
        if (!fs::exists(link, ec)) continue;
        const std::string real = fs::canonical(link, ec).string();
        if (ec || !seen.insert(real).second) continue;
        VmFacts::Library lib;
        lib.path = real;
        const std::string content = read_all(real);
        const server::GenerationGuess g = server::library_generation(real, real);
        lib.generation = g.generation;
        lib.readable = !g.reason.empty();
        lib.compiled_render_server = compiled_render_server(content);
        lib.render_server = lib.generation == render::Generation::V1 && !v.exec_path_env.empty()
                                ? v.exec_path_env
                                : lib.compiled_render_server;
        if (!lib.render_server.empty()) {
            lib.render_server_exists = access(lib.render_server.c_str(), X_OK) == 0;
            // our binary names itself in its help text; virglrenderer's does not
            lib.render_server_is_ours = lib.render_server_exists &&
                                        read_all(lib.render_server).find("venus-render-server: a drop-in") != std::string::npos;
        }
        v.libraries.push_back(std::move(lib));
    }
    return v;
}

void vm_checks(const VmFacts& v, Report& r) {
    auto& j = r.host["vm"];
    j["render_server_exec_path"] = v.exec_path_env;
    j["libraries"] = nlohmann::ordered_json::array();
    if (v.libraries.empty()) {
        r.add("VM", "virglrenderer", Status::Ok,
              "no libvirglrenderer.so.1 found: VMs on this host cannot use Venus (vtest clients can, through "
              "venus-server); to serve QEMU or crosvm, install virglrenderer and see docs/vm.md");
        return;
    }
    for (const auto& lib : v.libraries) {
        const bool old = lib.generation == render::Generation::V0_10;
        j["libraries"].push_back({{"path", lib.path},
                                  {"generation", render::generation_name(lib.generation)},
                                  {"wire_format", old ? 0 : 1},
                                  {"render_server", lib.render_server},
                                  {"render_server_is_venus_cpp", lib.render_server_is_ours}});
        if (!lib.readable) {
            r.add("VM", "virglrenderer", Status::Warn, fmt::format("{}: cannot be read", lib.path));
            continue;
        }
        r.add("VM", "virglrenderer", Status::Ok,
              fmt::format("{}: virglrenderer {} — its guests get a wire-format-{} capset ({})", lib.path,
                          old ? "0.10.x" : ">= 1.0", old ? 0 : 1,
                          old ? "Mesa <= 23.0 in the guest; venus-render-server speaks 0.10's protocol and wire format 0"
                              : "Mesa >= 23.2 in the guest"));
        std::string how;
        if (old)
            how = fmt::format("compiled in as {} (0.10.x has no RENDER_SERVER_EXEC_PATH)", lib.compiled_render_server);
        else if (!v.exec_path_env.empty())
            how = fmt::format("RENDER_SERVER_EXEC_PATH={} (in this environment; the VMM's must have it too)",
                              v.exec_path_env);
        else
            how = fmt::format("the default {} (RENDER_SERVER_EXEC_PATH is not set here)", lib.compiled_render_server);
        Status st = Status::Ok;
        std::string msg;
        if (lib.render_server.empty()) {
            st = Status::Warn;
            msg = "its render server path could not be found in the library";
        } else if (!lib.render_server_exists) {
            st = Status::Fail;
            msg = fmt::format("{} does not exist or is not executable: Venus contexts of VMs fail", lib.render_server);
        } else if (lib.render_server_is_ours) {
            msg = fmt::format("{} is venus-render-server: VMs get venus-cpp's renderer", lib.render_server);
        } else {
            st = Status::Warn;
            msg = fmt::format(
                "{} is virglrenderer's own render server: guests cannot map host-visible memory where the host "
                "driver cannot export it as a dma-buf (lavapipe, NVIDIA, MoltenVK-class); use venus-render-server: {}",
                lib.render_server,
                old ? fmt::format("mount --bind $(command -v venus-render-server) {} (or install it there)",
                                  lib.compiled_render_server)
                    : "RENDER_SERVER_EXEC_PATH=$(command -v venus-render-server) in the VMM's environment");
        }
        r.add("VM", "render server", st, msg, {how});
    }
}

}  // namespace venus::doctor
