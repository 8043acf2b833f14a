#include "renderer/renderer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "protocol/venus_defs.h"
#include "renderer/context.h"
#include "renderer/memory.h"
#include "util/env.h"
#include "util/log.h"

namespace venus::renderer {

VkResult create_host_instance(PFN_vkGetInstanceProcAddr gipa, VkInstanceCreateInfo info, bool portability,
                              VkInstance* instance) {
    const char* port = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
    if (portability) {
        info.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
        info.enabledExtensionCount = 1;
        info.ppEnabledExtensionNames = &port;
    }
    auto create = reinterpret_cast<PFN_vkCreateInstance>(gipa(nullptr, "vkCreateInstance"));
    return create(&info, nullptr, instance);
}

RendererConfig RendererConfig::from_env() {
    RendererConfig c;
    c.hidden_extensions = env::list("VENUS_HIDE_EXTENSIONS");
    if (auto s = env::get("VENUS_MEMORY_STRATEGY")) c.memory_strategy = *s;
    c.blob_alignment = env::size("VENUS_BLOB_ALIGNMENT", c.blob_alignment);
    if (c.blob_alignment == 0 || (c.blob_alignment & (c.blob_alignment - 1)))
        throw std::invalid_argument(fmt::format("VENUS_BLOB_ALIGNMENT={} is not a power of two", c.blob_alignment));
    c.decode_limit = env::size("VENUS_DECODE_LIMIT", c.decode_limit);
    // off unless asked for: handing each decoded command to another core costs more than the
    // decoding it saves on the machines measured (docs/PERFORMANCE.md, "Deferred execution")
    c.deferred_execution = env::flag("VENUS_DEFERRED_EXECUTION", false);
    c.fast_path = env::flag("VENUS_FAST_PATH", true);
    c.wire_format = static_cast<uint32_t>(env::size("VENUS_WIRE_FORMAT", c.wire_format));
    if (c.wire_format > 1)
        throw std::invalid_argument(fmt::format("VENUS_WIRE_FORMAT={}: only wire formats 0 and 1 exist", c.wire_format));
    return c;
}

Renderer::Renderer(RendererConfig config) : config_(std::move(config)), gipa_(vkGetInstanceProcAddr) {
    probe_host();
    build_capset();
}

Renderer::~Renderer() = default;

bool Renderer::extension_hidden(const char* name) const {
    return std::find(config_.hidden_extensions.begin(), config_.hidden_extensions.end(), name) !=
           config_.hidden_extensions.end();
}

void Renderer::probe_host() {
    auto enum_version = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(gipa_(nullptr, "vkEnumerateInstanceVersion"));
    if (enum_version) enum_version(&host_.loader_version);
    auto enum_exts = reinterpret_cast<PFN_vkEnumerateInstanceExtensionProperties>(
        gipa_(nullptr, "vkEnumerateInstanceExtensionProperties"));
    uint32_t n = 0;
    enum_exts(nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> iexts(n);
    enum_exts(nullptr, &n, iexts.data());
    bool portability = false;
    for (auto& e : iexts) {
        host_.instance_extensions.emplace_back(e.extensionName);
        portability |= std::strcmp(e.extensionName, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME) == 0;
    }

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "venus-server probe";
    app.apiVersion = std::min<uint32_t>(host_.loader_version, VK_API_VERSION_1_3);
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pApplicationInfo = &app;
    VkInstance instance = VK_NULL_HANDLE;
    VkResult r = create_host_instance(gipa_, info, portability, &instance);
    if (r != VK_SUCCESS) {
        host_.error = fmt::format("vkCreateInstance failed on the host (VkResult {})", static_cast<int>(r));
        log::error("host probe: {}", host_.error);
        return;
    }
    auto destroy = reinterpret_cast<PFN_vkDestroyInstance>(gipa_(instance, "vkDestroyInstance"));
    auto enum_pd = reinterpret_cast<PFN_vkEnumeratePhysicalDevices>(gipa_(instance, "vkEnumeratePhysicalDevices"));
    auto props = reinterpret_cast<PFN_vkGetPhysicalDeviceProperties>(gipa_(instance, "vkGetPhysicalDeviceProperties"));
    auto dev_exts = reinterpret_cast<PFN_vkEnumerateDeviceExtensionProperties>(
        gipa_(instance, "vkEnumerateDeviceExtensionProperties"));
    uint32_t count = 0;
    enum_pd(instance, &count, nullptr);
    std::vector<VkPhysicalDevice> pds(count);
    enum_pd(instance, &count, pds.data());
    for (VkPhysicalDevice pd : pds) {
        VkPhysicalDeviceProperties p{};
        props(pd, &p);
        host_.device_names.emplace_back(p.deviceName);
        uint32_t m = 0;
        dev_exts(pd, nullptr, &m, nullptr);
        std::vector<VkExtensionProperties> exts(m);
        dev_exts(pd, nullptr, &m, exts.data());
        for (auto& e : exts)
            if (std::find(host_.device_extensions.begin(), host_.device_extensions.end(), e.extensionName) ==
                host_.device_extensions.end())
                host_.device_extensions.emplace_back(e.extensionName);
    }
    destroy(instance, nullptr);
    if (pds.empty()) host_.error = "the host Vulkan loader found no physical device";
    log::info("host: Vulkan loader {}.{}.{}, {} device(s): {}", VK_API_VERSION_MAJOR(host_.loader_version),
              VK_API_VERSION_MINOR(host_.loader_version), VK_API_VERSION_PATCH(host_.loader_version), pds.size(),
              fmt::join(host_.device_names, ", "));
}

void Renderer::build_capset() {
    vtest::CapsetVenus& c = capset_;
    c.wire_format_version = config_.wire_format;
    c.vk_xml_version = protocol::kVkXmlVersion;
    if (config_.wire_format == 0) {
        // the experimental generation: a guest asks for its features with command 195 only
        // when the protocol extension reports spec version 100000 (wire-format-0-vs-1.md §6)
        c.vk_ext_command_serialization_spec_version = 0;
        c.vk_mesa_venus_protocol_spec_version = kExperimentalProtocolSpecVersion;
    } else {
        c.vk_ext_command_serialization_spec_version = protocol::kCommandSerializationSpecVersion;
        c.vk_mesa_venus_protocol_spec_version = protocol::kVenusProtocolSpecVersion;
    }
    c.supports_blob_id_0 = 1;
    c.allow_vk_wait_syncs = 1;
    c.supports_multiple_timelines = 1;
    c.use_guest_vram = 0;
    c.vk_extension_mask1[0] = 1;  // the mask is valid
    auto offered = [&](const char* name) {
        auto has = [&](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), name) != v.end(); };
        return has(host_.instance_extensions) || has(host_.device_extensions);
    };
    size_t served = 0;
    for (size_t i = 0; i < protocol::kExtensionCount; ++i) {
        const auto& e = protocol::kExtensions[i];
        const bool ours = e.number == 384 || e.number == 385;  // the protocol itself
        if (!ours && (!offered(e.name) || extension_hidden(e.name))) continue;
        c.vk_extension_mask1[e.number / 32] |= 1u << (e.number % 32);
        ++served;
    }
    log::info("capset: wire format {}, vk.xml {}.{}.{}, {} of {} protocol extensions served on this host",
              c.wire_format_version, VK_API_VERSION_MAJOR(c.vk_xml_version), VK_API_VERSION_MINOR(c.vk_xml_version),
              VK_API_VERSION_PATCH(c.vk_xml_version), served, protocol::kExtensionCount);
}

std::shared_ptr<MemoryPlan> Renderer::memory_plan(VkInstance instance, const InstanceFns& fn,
                                                  VkPhysicalDevice physical,
                                                  const std::vector<VkExtensionProperties>& host_extensions) {
    VkPhysicalDeviceProperties p{};
    fn.GetPhysicalDeviceProperties(physical, &p);
    const std::string key = fmt::format("{}:{}:{}:{}", p.vendorID, p.deviceID, p.driverVersion, p.deviceName);
    std::lock_guard lock(plans_mutex_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
    auto plan = probe_memory_plan(instance, fn, physical, config_, host_extensions);
    log::info("memory plan for {}: {}", p.deviceName, plan->summary());
    for (size_t i = 0; i < plan->types.size(); ++i) log::debug("  memory type {}: {}", i, plan->types[i].reason);
    plans_[key] = plan;
    return plan;
}

std::unique_ptr<Context> Renderer::create_context(uint32_t id, const std::string& name,
                                                  std::optional<uint32_t> wire_format) {
    return std::make_unique<Context>(*this, id, name, wire_format.value_or(config_.wire_format));
}

}  // namespace venus::renderer
