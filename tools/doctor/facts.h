// What venus-doctor found, before any judgement: the host (Vulkan, memory plans, pages, sockets)
// and a running server (vtest handshake, capset, blobs, a guest instance). Probes fill these;
// checks.cpp turns them into OK/WARN/FAIL lines and diagnose.cpp into explained causes.
#pragma once

#include <vulkan/vulkan.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "renderer/memory.h"
#include "renderer/renderer.h"
#include "transport/render_protocol.h"
#include "transport/vtest_protocol.h"

namespace venus::doctor {

// A guest driver assumes 4 KiB pages (Mesa's venus and ours).
inline constexpr size_t kGuestPageSize = 4096;

struct ExtensionFact {
    std::string name;
    bool offered = false;  // the host driver lists it
    bool hidden = false;   // VENUS_HIDE_EXTENSIONS names it
    bool usable() const { return offered && !hidden; }
};

struct MemoryTypeFact {
    uint32_t index = 0;
    uint32_t heap = 0;
    VkMemoryPropertyFlags flags = 0;        // on the host
    VkMemoryPropertyFlags guest_flags = 0;  // what the renderer shows the guest
    bool host_visible = false;
    renderer::MemoryStrategy strategy = renderer::MemoryStrategy::None;
    std::string reason;  // the renderer's own words
};

struct DeviceFact {
    uint32_t index = 0;
    std::string name;
    std::string type;
    std::string driver_name;  // VkPhysicalDeviceDriverProperties, when the device has them
    std::string driver_info;
    uint32_t api_version = 0;
    uint32_t vendor_id = 0, device_id = 0;
    bool usable = false;            // Vulkan >= 1.1: the renderer offers it to guests
    bool portability_only = false;  // listed only with VK_KHR_portability_enumeration
    std::vector<ExtensionFact> extensions;  // the ones that matter (kDeviceExtensions)

    bool has_plan = false;
    std::string plan_error;
    uint64_t alignment = 0;
    uint64_t import_alignment = 0;
    std::vector<std::string> plan_extensions;
    std::vector<MemoryTypeFact> types;

    const ExtensionFact* extension(const std::string& name) const;
    bool usable_extension(const std::string& name) const;
};

struct SocketFact {
    std::string path;
    std::string source;  // "--socket", "VTEST_SOCKET_NAME", "default"
    bool exists = false;
    bool is_socket = false;
    bool connect_tried = false;
    bool connectable = false;
    std::string error;  // why not connectable
};

struct HostFacts {
    std::string config_error;  // RendererConfig::from_env refused the environment
    renderer::RendererConfig config;

    uint32_t loader_version = 0;
    std::vector<std::string> instance_extensions;
    bool portability_enumeration = false;
    std::string instance_error;
    size_t devices_without_portability = 0;
    std::vector<DeviceFact> devices;

    size_t page_size = 0;
    bool memfd = false;
    std::string memfd_error;

    // The renderer's own view (what venus-server started with this environment would announce).
    bool renderer_probed = false;
    renderer::HostInfo renderer_host;
    vtest::CapsetVenus renderer_capset{};

    std::vector<SocketFact> sockets;
};

// The VM path: the libvirglrenderer a VMM would load and the render server it would start.
struct VmFacts {
    struct Library {
        std::string path;                    // the real file behind libvirglrenderer.so.1
        bool readable = false;
        render::Generation generation = render::Generation::V1;
        std::string compiled_render_server;  // the path built into the library
        std::string render_server;           // the one it starts (RENDER_SERVER_EXEC_PATH from 1.0)
        bool render_server_exists = false;
        bool render_server_is_ours = false;  // venus-render-server
    };
    std::string exec_path_env;  // RENDER_SERVER_EXEC_PATH here
    std::vector<Library> libraries;
};

struct ServerFacts {
    bool checked = false;
    std::string not_checked;  // why the server was not checked
    std::string socket;
    std::string socket_source;
    bool explicit_socket = false;  // --socket or VTEST_SOCKET_NAME: the user means this one
    bool timed_out = false;

    bool connected = false;  // handshake complete
    std::string step;        // failing step: connect, version, protocol, timelines, capset, handshake
    std::string error;
    uint32_t protocol_version = 0;
    uint32_t max_timelines = 0;
    size_t capset_size = 0;
    vtest::CapsetVenus capset{};

    struct Blob {
        bool attempted = false;
        bool ok = false;
        uint64_t size = 0;
        uint32_t res_id = 0;
        std::string fd_kind;  // what the fd is (/proc/self/fd link)
        std::string failure;  // refused, closed, map, mismatch, error
        std::string error;
    } blob;

    struct Guest {
        bool attempted = false;
        bool ok = false;
        std::string skipped;
        uint32_t instance_version = 0;
        bool create_called = false;
        int create_result = 0;
        uint32_t physical_devices = 0;
        std::string step;
        std::string error;
    } guest;
};

// Capset fields present in `size` bytes (older renderers send a shorter struct, §3).
struct CapsetFields {
    bool supports_blob_id_0 = false;
    bool extension_mask = false;
    bool allow_vk_wait_syncs = false;
    bool supports_multiple_timelines = false;
    bool use_guest_vram = false;
    static CapsetFields present(size_t size);
};

// Which renderer release announces this capset (§3 table), or empty.
std::string identify_renderer(const vtest::CapsetVenus& c);
bool is_upstream_virglrenderer(const vtest::CapsetVenus& c);
std::string version_string(uint32_t v);  // a.b.c
std::string memory_flags_string(VkMemoryPropertyFlags flags);

// Extension numbers set in a capset mask (bit 0, the "mask valid" flag, excluded): names this
// build knows, and the numbers it does not.
struct DecodedMask {
    bool valid = false;
    std::vector<std::string> names;
    std::vector<uint32_t> unknown;
};
DecodedMask decode_extension_mask(const uint32_t (&mask)[32]);

}  // namespace venus::doctor
