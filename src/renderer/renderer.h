// The renderer as a whole: configuration, the host Vulkan entry point, what this host can
// serve (the capset), and the contexts' factory. One per server process.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "transport/vtest_protocol.h"

namespace venus::renderer {

// VK_MESA_venus_protocol spec version of wire format 0: the experimental protocol.
inline constexpr uint32_t kExperimentalProtocolSpecVersion = 100000;

class Context;
class MemoryPlan;
struct InstanceFns;

struct RendererConfig {
    std::vector<std::string> hidden_extensions;  // VENUS_HIDE_EXTENSIONS: host extensions to ignore
    std::string memory_strategy;                 // VENUS_MEMORY_STRATEGY: force one (empty: choose)
    uint64_t blob_alignment = 16 << 10;          // VENUS_BLOB_ALIGNMENT
    uint64_t decode_limit = uint64_t{1} << 30;   // VENUS_DECODE_LIMIT: scratch per command
    uint32_t max_api_version = VK_API_VERSION_1_3;
    // VENUS_DEFERRED_EXECUTION=on|off (default off): recording commands run on a thread of
    // their own (DeferredExecutor).
    bool deferred_execution = false;
    // VENUS_FAST_PATH=on|off (default on): plain recording commands run straight from the wire
    // (FastPath); off sends every command through the general decoder, for comparison.
    bool fast_path = true;
    // VENUS_WIRE_FORMAT=0|1 (default 1), venus-server --wire-format: the protocol generation of
    // the capset and of the contexts (venus-protocol.md §7; wire-format-0-vs-1.md). A guest
    // cannot say which it speaks before it reads the capset, so one server serves one.
    uint32_t wire_format = 1;
    static RendererConfig from_env();
};

// What the host offers, probed once at start-up with a throwaway instance.
struct HostInfo {
    uint32_t loader_version = VK_API_VERSION_1_0;
    std::vector<std::string> instance_extensions;
    std::vector<std::string> device_extensions;  // union over all physical devices
    std::vector<std::string> device_names;
    std::string error;                           // why probing failed, if it did
};

class Renderer {
public:
    explicit Renderer(RendererConfig config);
    ~Renderer();

    const RendererConfig& config() const { return config_; }
    const HostInfo& host() const { return host_; }
    PFN_vkGetInstanceProcAddr get_instance_proc_addr() const { return gipa_; }

    // The Venus capset (§3) for this host: the configured wire format (with the spec versions
    // of that generation), our vk.xml version, and an extension mask of exactly the protocol's
    // extensions the host offers.
    const vtest::CapsetVenus& capset() const { return capset_; }
    bool extension_hidden(const char* name) const;

    // A context speaking `wire_format`, by default the configured one (RendererConfig::wire_format).
    std::unique_ptr<Context> create_context(uint32_t id, const std::string& name,
                                            std::optional<uint32_t> wire_format = std::nullopt);

    // The strategy per memory type of a host physical device: probed once, shared by contexts.
    std::shared_ptr<MemoryPlan> memory_plan(VkInstance instance, const InstanceFns& fn, VkPhysicalDevice physical,
                                            const std::vector<VkExtensionProperties>& host_extensions);

private:
    void probe_host();
    void build_capset();

    RendererConfig config_;
    PFN_vkGetInstanceProcAddr gipa_ = nullptr;
    HostInfo host_;
    vtest::CapsetVenus capset_{};
    std::mutex plans_mutex_;
    std::map<std::string, std::shared_ptr<MemoryPlan>> plans_;
};

// Creates a host instance the way the renderer makes all of them: `info` as given, plus
// portability enumeration when the loader offers it (MoltenVK-class drivers are listed only
// then, venus-protocol.md §6.4). `info` must enable no other extension.
VkResult create_host_instance(PFN_vkGetInstanceProcAddr gipa, VkInstanceCreateInfo info, bool portability,
                              VkInstance* instance);

}  // namespace venus::renderer
