// The HOST and MEMORY facts: the Vulkan loader and drivers as the renderer sees them, each
// physical device's memory plan (the renderer's own probe_memory_plan), pages, memfd, sockets.
#include <errno.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "probe.h"
#include "renderer/renderer.h"
#include "renderer/vk_functions.h"
#include "transport/shared_memory.h"
#include "transport/unique_fd.h"
#include "util/env.h"

namespace venus::doctor {

const std::vector<NotableExtension> kNotableExtensions = {
    {VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME, "strategy 1 (dma-buf export); the only device-memory fd upstream vtest maps"},
    {VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME, "strategy 2 (opaque-fd export); also needed for dma-buf"},
    {VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME, "strategy 3 (host-pointer import of a memfd): zero copy without fd export"},
    {VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME, "sync_fd semaphores (Mesa's venus: synchronization2 and swapchains)"},
    {VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME, "sync_fd fences"},
    {VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME, "timeline semaphores (core since Vulkan 1.2)"},
    {VK_EXT_IMAGE_DRM_FORMAT_MODIFIER_EXTENSION_NAME, "with dma-buf: external images for Mesa's venus (swapchains)"},
    {VK_EXT_QUEUE_FAMILY_FOREIGN_EXTENSION_NAME, "with dma-buf: external images for Mesa's venus (swapchains)"},
};

std::vector<SocketCandidate> socket_candidates(const std::optional<std::string>& cli_socket) {
    if (cli_socket) return {{*cli_socket, "--socket"}};
    std::vector<SocketCandidate> out;
    if (auto env = venus::env::get("VTEST_SOCKET_NAME")) out.push_back({*env, "VTEST_SOCKET_NAME"});
    if (out.empty() || out[0].path != vtest::kDefaultSocketPath) out.push_back({vtest::kDefaultSocketPath, "default"});
    return out;
}

SocketFact probe_socket(const SocketCandidate& c, bool connect) {
    SocketFact s;
    s.path = c.path;
    s.source = c.source;
    s.connect_tried = connect;
    struct stat st {};
    if (::stat(c.path.c_str(), &st) != 0) {
        s.error = errno == ENOENT ? "does not exist" : fmt::format("cannot be examined: {}", std::strerror(errno));
        return s;
    }
    s.exists = true;
    s.is_socket = S_ISSOCK(st.st_mode);
    if (!s.is_socket) {
        s.error = "exists but is not a socket";
        return s;
    }
    if (!connect) return s;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (c.path.size() >= sizeof(addr.sun_path)) {
        s.error = "path too long for a Unix socket";
        return s;
    }
    std::memcpy(addr.sun_path, c.path.c_str(), c.path.size());
    transport::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        s.error = fmt::format("socket(): {}", std::strerror(errno));
        return s;
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        s.error = errno == ECONNREFUSED ? "connection refused: nothing listens (a stale socket of a server that exited?)"
                                        : fmt::format("connect: {}", std::strerror(errno));
        return s;
    }
    s.connectable = true;
    return s;
}

namespace {

const char* device_type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

// A host instance made the way the renderer makes its own (instance.cpp): Vulkan 1.1..1.3, and
// portability enumeration when the loader has it.
struct HostInstance {
    VkInstance vk = VK_NULL_HANDLE;
    renderer::InstanceFns fn;
    VkResult result = VK_SUCCESS;
    HostInstance(uint32_t api, bool portability) {
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        app.pApplicationName = "venus-doctor";
        app.apiVersion = api;
        VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        info.pApplicationInfo = &app;
        result = renderer::create_host_instance(vkGetInstanceProcAddr, info, portability, &vk);
        if (result != VK_SUCCESS) {
            vk = VK_NULL_HANDLE;
            return;
        }
        renderer::load_instance_fns(fn, vkGetInstanceProcAddr, vk);
    }
    ~HostInstance() {
        if (vk) fn.DestroyInstance(vk, nullptr);
    }
    std::vector<VkPhysicalDevice> devices() const {
        uint32_t n = 0;
        if (!vk || fn.EnumeratePhysicalDevices(vk, &n, nullptr) < 0) return {};
        std::vector<VkPhysicalDevice> out(n);
        fn.EnumeratePhysicalDevices(vk, &n, out.data());
        out.resize(n);
        return out;
    }
};

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
    return std::any_of(exts.begin(), exts.end(), [&](const auto& e) { return std::strcmp(e.extensionName, name) == 0; });
}

void probe_device(HostFacts& h, const HostInstance& inst, VkPhysicalDevice pd, DeviceFact& d) {
    VkPhysicalDeviceProperties p{};
    inst.fn.GetPhysicalDeviceProperties(pd, &p);
    d.name = p.deviceName;
    d.type = device_type_name(p.deviceType);
    d.api_version = p.apiVersion;
    d.vendor_id = p.vendorID;
    d.device_id = p.deviceID;
    d.usable = p.apiVersion >= VK_API_VERSION_1_1;

    uint32_t n = 0;
    inst.fn.EnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    inst.fn.EnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
    exts.resize(n);
    const auto& hidden = h.config.hidden_extensions;
    for (const NotableExtension& e : kNotableExtensions)
        d.extensions.push_back({e.name, has_extension(exts, e.name),
                                std::find(hidden.begin(), hidden.end(), e.name) != hidden.end()});

    if (d.usable && (p.apiVersion >= VK_API_VERSION_1_2 || has_extension(exts, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME))) {
        VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
        VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &driver};
        inst.fn.GetPhysicalDeviceProperties2(pd, &p2);
        d.driver_name = driver.driverName;
        d.driver_info = driver.driverInfo;
    }
    if (!d.usable) return;  // the renderer never offers it; no plan is made

    VkPhysicalDeviceMemoryProperties mp{};
    inst.fn.GetPhysicalDeviceMemoryProperties(pd, &mp);
    try {
        auto plan = renderer::probe_memory_plan(inst.vk, inst.fn, pd, h.config, exts);
        d.has_plan = true;
        d.alignment = plan->alignment;
        d.import_alignment = plan->import_alignment;
        d.plan_extensions = plan->device_extensions;
        for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
            MemoryTypeFact t;
            t.index = i;
            t.heap = mp.memoryTypes[i].heapIndex;
            t.flags = mp.memoryTypes[i].propertyFlags;
            t.host_visible = t.flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
            if (i < plan->types.size()) {
                t.strategy = plan->types[i].strategy;
                t.reason = plan->types[i].reason;
            }
            t.guest_flags = renderer::guest_memory_flags(t.strategy, t.flags);
            d.types.push_back(std::move(t));
        }
    } catch (const std::exception& e) {
        d.plan_error = e.what();
    }
}

}  // namespace

HostFacts probe_host(const std::vector<SocketCandidate>& sockets, bool connect_sockets) {
    HostFacts h;
    try {
        h.config = renderer::RendererConfig::from_env();
    } catch (const std::exception& e) {
        h.config_error = e.what();
        h.config = renderer::RendererConfig{};
        h.config.hidden_extensions = venus::env::list("VENUS_HIDE_EXTENSIONS");
        if (auto s = venus::env::get("VENUS_MEMORY_STRATEGY")) h.config.memory_strategy = *s;
    }

    // The renderer's own start-up probe and capset, exactly as venus-server computes them.
    {
        renderer::Renderer r(h.config);
        h.renderer_probed = true;
        h.renderer_host = r.host();
        h.renderer_capset = r.capset();
    }

    auto enum_version =
        reinterpret_cast<PFN_vkEnumerateInstanceVersion>(vkGetInstanceProcAddr(nullptr, "vkEnumerateInstanceVersion"));
    h.loader_version = VK_API_VERSION_1_0;
    if (enum_version) enum_version(&h.loader_version);
    uint32_t n = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> iexts(n);
    vkEnumerateInstanceExtensionProperties(nullptr, &n, iexts.data());
    iexts.resize(n);
    for (const auto& e : iexts) h.instance_extensions.emplace_back(e.extensionName);
    h.portability_enumeration = has_extension(iexts, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);

    h.page_size = transport::page_size();
    {
        transport::UniqueFd fd(::memfd_create("venus-doctor", MFD_CLOEXEC | MFD_ALLOW_SEALING));
        h.memfd = fd.valid();
        if (!fd) h.memfd_error = std::strerror(errno);
    }
    for (const auto& c : sockets) h.sockets.push_back(probe_socket(c, connect_sockets));

    if (h.loader_version < VK_API_VERSION_1_1) {
        h.instance_error = fmt::format("the Vulkan loader is {}: the renderer needs 1.1", version_string(h.loader_version));
        return h;
    }
    const uint32_t api = std::clamp<uint32_t>(h.loader_version, VK_API_VERSION_1_1, VK_API_VERSION_1_3);
    HostInstance inst(api, h.portability_enumeration);
    if (!inst.vk) {
        h.instance_error = fmt::format("vkCreateInstance failed on the host (VkResult {})", static_cast<int>(inst.result));
        return h;
    }
    const auto pds = inst.devices();
    std::multiset<std::string> plain_names;
    if (h.portability_enumeration) {
        HostInstance plain(api, false);
        for (VkPhysicalDevice pd : plain.devices()) {
            VkPhysicalDeviceProperties p{};
            plain.fn.GetPhysicalDeviceProperties(pd, &p);
            plain_names.insert(p.deviceName);
        }
        h.devices_without_portability = plain_names.size();
    } else {
        h.devices_without_portability = pds.size();
    }
    for (uint32_t i = 0; i < pds.size(); ++i) {
        DeviceFact d;
        d.index = i;
        probe_device(h, inst, pds[i], d);
        if (h.portability_enumeration) {
            auto it = plain_names.find(d.name);
            if (it == plain_names.end()) d.portability_only = true;
            else plain_names.erase(it);
        }
        h.devices.push_back(std::move(d));
    }
    return h;
}

}  // namespace venus::doctor
