// Global commands, instances and physical-device enumeration. vkCreateInstance connects to
// the renderer (one connection per instance) and fails with VK_ERROR_INCOMPATIBLE_DRIVER and
// a line on stderr when no usable renderer answers: the loader then skips this driver.
#include <errno.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "icd/generated_support.h"
#include "icd/log.h"
#include "protocol/venus_defs.h"
#include "transport/vtest_protocol.h"

namespace venus::icd {

namespace {

// The instance extensions this driver implements itself (no WSI in this driver).
const VkExtensionProperties kInstanceExtensions[] = {
    {VK_KHR_DEVICE_GROUP_CREATION_EXTENSION_NAME, VK_KHR_DEVICE_GROUP_CREATION_SPEC_VERSION},
    {VK_KHR_EXTERNAL_FENCE_CAPABILITIES_EXTENSION_NAME, VK_KHR_EXTERNAL_FENCE_CAPABILITIES_SPEC_VERSION},
    {VK_KHR_EXTERNAL_MEMORY_CAPABILITIES_EXTENSION_NAME, VK_KHR_EXTERNAL_MEMORY_CAPABILITIES_SPEC_VERSION},
    {VK_KHR_EXTERNAL_SEMAPHORE_CAPABILITIES_EXTENSION_NAME, VK_KHR_EXTERNAL_SEMAPHORE_CAPABILITIES_SPEC_VERSION},
    {VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME, VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_SPEC_VERSION},
};

// The highest version this driver implements: Vulkan 1.3 of the vk.xml it was generated from.
constexpr uint32_t kDriverApiVersion = VK_MAKE_API_VERSION(0, 1, 3, VK_HEADER_VERSION);

std::string socket_path() {
    const char* env = std::getenv("VTEST_SOCKET_NAME");
    return env && *env ? env : vtest::kDefaultSocketPath;
}

template <class T>
VkResult fill(const std::vector<T>& all, uint32_t* count, T* out) {
    if (!out) {
        *count = static_cast<uint32_t>(all.size());
        return VK_SUCCESS;
    }
    const uint32_t n = std::min<uint32_t>(*count, static_cast<uint32_t>(all.size()));
    std::copy_n(all.begin(), n, out);
    *count = n;
    return n < all.size() ? VK_INCOMPLETE : VK_SUCCESS;
}

}  // namespace

VKAPI_ATTR VkResult VKAPI_CALL icd_vkEnumerateInstanceVersion(uint32_t* pApiVersion) {
    *pApiVersion = kDriverApiVersion;
    return VK_SUCCESS;
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkEnumerateInstanceExtensionProperties(const char* pLayerName, uint32_t* pPropertyCount,
                                                                          VkExtensionProperties* pProperties) {
    if (pLayerName) return VK_ERROR_LAYER_NOT_PRESENT;
    const std::vector<VkExtensionProperties> all(std::begin(kInstanceExtensions), std::end(kInstanceExtensions));
    return fill(all, pPropertyCount, pProperties);
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkEnumerateInstanceLayerProperties(uint32_t* pPropertyCount, VkLayerProperties*) {
    *pPropertyCount = 0;
    return VK_SUCCESS;
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreateInstance(const VkInstanceCreateInfo* pCreateInfo, const VkAllocationCallbacks*,
                                                    VkInstance* pInstance) {
    *pInstance = VK_NULL_HANDLE;
    for (uint32_t i = 0; i < pCreateInfo->enabledExtensionCount; ++i) {
        const char* name = pCreateInfo->ppEnabledExtensionNames[i];
        const bool ours = std::any_of(std::begin(kInstanceExtensions), std::end(kInstanceExtensions),
                                      [&](const VkExtensionProperties& e) { return !std::strcmp(e.extensionName, name); });
        if (!ours) {
            log::warn("vkCreateInstance: instance extension {} is not offered by this driver", name);
            return VK_ERROR_EXTENSION_NOT_PRESENT;
        }
    }
    auto inst = std::make_unique<Instance>(next_id());
    if (pCreateInfo->pApplicationInfo) inst->app_api_version = pCreateInfo->pApplicationInfo->apiVersion;
    for (uint32_t i = 0; i < pCreateInfo->enabledExtensionCount; ++i)
        inst->extensions.emplace_back(pCreateInfo->ppEnabledExtensionNames[i]);

    const std::string path = socket_path();
    try {
        inst->conn = Connection::create(path, program_invocation_short_name ? program_invocation_short_name : "venus-cpp");
    } catch (const IncompatibleRenderer& e) {
        log::error("{}", e.what());
        return VK_ERROR_INCOMPATIBLE_DRIVER;
    } catch (const std::bad_alloc&) {
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    } catch (const std::exception& e) {
        log::error("no usable Venus renderer at {}: {}", path, e.what());
        return VK_ERROR_INCOMPATIBLE_DRIVER;
    }
    Connection& conn = *inst->conn;
    try {
        uint32_t renderer_version = 0;
        VkResult r = conn.call([&](const WireCaps& c) { return guest::sizeof_vkEnumerateInstanceVersion(c, &renderer_version); },
                               [&](Encoder& e, uint32_t f) { guest::encode_vkEnumerateInstanceVersion(e, f, &renderer_version); },
                               [&](const WireCaps& c) { return guest::sizeof_vkEnumerateInstanceVersion_reply(c, &renderer_version); },
                               [&](Decoder& d) { return guest::decode_vkEnumerateInstanceVersion_reply(d, &renderer_version); });
        if (r != VK_SUCCESS || renderer_version < VK_API_VERSION_1_1) {
            log::error("the renderer's Vulkan instance version is {}.{} (VkResult {}); the driver needs 1.1 or later",
                       VK_API_VERSION_MAJOR(renderer_version), VK_API_VERSION_MINOR(renderer_version), static_cast<int>(r));
            return VK_ERROR_INCOMPATIBLE_DRIVER;
        }
        // The renderer's instance: the application's names, the highest version both sides
        // know (device features of every version stay reachable), no layers, no extensions.
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        if (pCreateInfo->pApplicationInfo) {
            app.pApplicationName = pCreateInfo->pApplicationInfo->pApplicationName;
            app.applicationVersion = pCreateInfo->pApplicationInfo->applicationVersion;
            app.pEngineName = pCreateInfo->pApplicationInfo->pEngineName;
            app.engineVersion = pCreateInfo->pApplicationInfo->engineVersion;
        }
        app.apiVersion = std::min({renderer_version, kDriverApiVersion, conn.caps().api_version | 0xfffu});
        VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        info.pApplicationInfo = &app;
        VkInstance handle = inst->handle();
        registry().add(inst.get(), VK_OBJECT_TYPE_INSTANCE);
        r = conn.call([&](const WireCaps& c) { return guest::sizeof_vkCreateInstance(c, &info, nullptr, &handle); },
                      [&](Encoder& e, uint32_t f) { guest::encode_vkCreateInstance(e, f, &info, nullptr, &handle); },
                      [&](const WireCaps& c) { return guest::sizeof_vkCreateInstance_reply(c, &info, nullptr, &handle); },
                      [&](Decoder& d) { return guest::decode_vkCreateInstance_reply(d, &info, nullptr, &handle); });
        if (r != VK_SUCCESS) {
            registry().remove(inst.get());
            log::error("the renderer's vkCreateInstance failed (VkResult {})", static_cast<int>(r));
            return r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? r
                                                                                            : VK_ERROR_INITIALIZATION_FAILED;
        }
    } catch (const std::exception& e) {
        registry().remove(inst.get());
        log::error("instance creation on the renderer failed: {}", e.what());
        return VK_ERROR_INITIALIZATION_FAILED;
    }
    *pInstance = inst.release()->handle();
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkDestroyInstance(VkInstance instance, const VkAllocationCallbacks*) {
    if (!instance) return;
    std::unique_ptr<Instance> inst(Instance::from(instance));
    Connection& conn = *inst->conn;
    if (!conn.lost()) {
        try {
            const uint32_t seqno = conn.submit(
                [&](const WireCaps& c) { return guest::sizeof_vkDestroyInstance(c, instance, nullptr); },
                [&](Encoder& e, uint32_t f) { guest::encode_vkDestroyInstance(e, f, instance, nullptr); });
            conn.ring().wait(seqno);  // everything the instance owned is gone on the host too
        } catch (...) {
            conn.on_exception();
        }
    }
    for (auto& pd : inst->physical_devices) registry().remove(pd.get());
    registry().remove(inst.get());
}

// ---------------------------------------------------------------------------------- physical devices

bool PhysicalDevice::has_extension(const char* name) const {
    return std::any_of(extensions.begin(), extensions.end(),
                       [&](const VkExtensionProperties& e) { return !std::strcmp(e.extensionName, name); });
}

namespace {

// Device extensions the renderer may offer that this driver cannot carry: external memory,
// fences and semaphores shared as file descriptors or host pointers have no path through the
// vtest connection (no fd import; a guest pointer means nothing to the host).
const char* const kHiddenDeviceExtensions[] = {
    VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME,
    VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME,
    VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME,
    VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME,
    VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME,
    VK_EXT_QUEUE_FAMILY_FOREIGN_EXTENSION_NAME,
};

bool hidden(const char* name) {
    return std::any_of(std::begin(kHiddenDeviceExtensions), std::end(kHiddenDeviceExtensions),
                       [&](const char* h) { return !std::strcmp(h, name); });
}

template <class Size, class Encode, class ReplySize, class Decode>
auto rcall(Connection& conn, Size&& s, Encode&& e, ReplySize&& rs, Decode&& d) {
    return conn.call(s, e, rs, d);
}

void init_physical_device(Connection& conn, PhysicalDevice& pd) {
    VkPhysicalDevice h = pd.handle();
    rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceProperties(c, h, &pd.properties); },
          [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceProperties(e, f, h, &pd.properties); },
          [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceProperties_reply(c, h, &pd.properties); },
          [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceProperties_reply(d, h, &pd.properties); });
    pd.properties.apiVersion = std::min(pd.properties.apiVersion, kDriverApiVersion);
    rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceFeatures(c, h, &pd.features); },
          [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceFeatures(e, f, h, &pd.features); },
          [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceFeatures_reply(c, h, &pd.features); },
          [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceFeatures_reply(d, h, &pd.features); });
    rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceMemoryProperties(c, h, &pd.memory); },
          [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceMemoryProperties(e, f, h, &pd.memory); },
          [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceMemoryProperties_reply(c, h, &pd.memory); },
          [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceMemoryProperties_reply(d, h, &pd.memory); });
    uint32_t n = 0;
    VkQueueFamilyProperties* none = nullptr;
    rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceQueueFamilyProperties(c, h, &n, none); },
          [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceQueueFamilyProperties(e, f, h, &n, none); },
          [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceQueueFamilyProperties_reply(c, h, &n, none); },
          [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceQueueFamilyProperties_reply(d, h, &n, none); });
    pd.queue_families.resize(n);
    VkQueueFamilyProperties* qf = pd.queue_families.data();
    rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceQueueFamilyProperties(c, h, &n, qf); },
          [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceQueueFamilyProperties(e, f, h, &n, qf); },
          [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceQueueFamilyProperties_reply(c, h, &n, qf); },
          [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceQueueFamilyProperties_reply(d, h, &n, qf); });
    pd.queue_families.resize(n);

    uint32_t count = 0;
    VkExtensionProperties* no_props = nullptr;
    const char* layer = nullptr;
    VkResult r = rcall(
        conn, [&](const WireCaps& c) { return guest::sizeof_vkEnumerateDeviceExtensionProperties(c, h, layer, &count, no_props); },
        [&](Encoder& e, uint32_t f) { guest::encode_vkEnumerateDeviceExtensionProperties(e, f, h, layer, &count, no_props); },
        [&](const WireCaps& c) { return guest::sizeof_vkEnumerateDeviceExtensionProperties_reply(c, h, layer, &count, no_props); },
        [&](Decoder& d) { return guest::decode_vkEnumerateDeviceExtensionProperties_reply(d, h, layer, &count, no_props); });
    if (r != VK_SUCCESS) throw std::runtime_error("vkEnumerateDeviceExtensionProperties failed on the renderer");
    std::vector<VkExtensionProperties> all(count);
    VkExtensionProperties* props = all.data();
    r = rcall(
        conn, [&](const WireCaps& c) { return guest::sizeof_vkEnumerateDeviceExtensionProperties(c, h, layer, &count, props); },
        [&](Encoder& e, uint32_t f) { guest::encode_vkEnumerateDeviceExtensionProperties(e, f, h, layer, &count, props); },
        [&](const WireCaps& c) { return guest::sizeof_vkEnumerateDeviceExtensionProperties_reply(c, h, layer, &count, props); },
        [&](Decoder& d) { return guest::decode_vkEnumerateDeviceExtensionProperties_reply(d, h, layer, &count, props); });
    if (r != VK_SUCCESS) throw std::runtime_error("vkEnumerateDeviceExtensionProperties failed on the renderer");
    all.resize(count);
    for (VkExtensionProperties e : all) {
        e.extensionName[VK_MAX_EXTENSION_NAME_SIZE - 1] = 0;
        const protocol::ExtensionInfo* info = protocol::find_extension(e.extensionName);
        // only what this driver's protocol can carry, and nothing it cannot implement
        if (!info || hidden(e.extensionName)) {
            log::debug("physical device {}: extension {} is not offered ({})", pd.id, e.extensionName,
                       info ? "no path through the vtest connection" : "unknown to this driver's protocol");
            continue;
        }
        e.specVersion = std::min(e.specVersion, info->spec_version);
        pd.extensions.push_back(e);
    }
}

VkResult enumerate_locked(Instance& inst) {
    if (inst.enumerated) return VK_SUCCESS;
    Connection& conn = *inst.conn;
    VkInstance h = inst.handle();
    uint32_t count = 0;
    VkPhysicalDevice* none = nullptr;
    VkResult r = rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkEnumeratePhysicalDevices(c, h, &count, none); },
                       [&](Encoder& e, uint32_t f) { guest::encode_vkEnumeratePhysicalDevices(e, f, h, &count, none); },
                       [&](const WireCaps& c) { return guest::sizeof_vkEnumeratePhysicalDevices_reply(c, h, &count, none); },
                       [&](Decoder& d) { return guest::decode_vkEnumeratePhysicalDevices_reply(d, h, &count, none); });
    if (r != VK_SUCCESS) return r;
    std::vector<std::unique_ptr<PhysicalDevice>> pds;
    std::vector<VkPhysicalDevice> handles;
    for (uint32_t i = 0; i < count; ++i) {
        pds.push_back(std::make_unique<PhysicalDevice>(next_id()));
        pds.back()->instance = &inst;
        handles.push_back(pds.back()->handle());
        registry().add(pds.back().get(), VK_OBJECT_TYPE_PHYSICAL_DEVICE);
    }
    VkPhysicalDevice* out = handles.data();
    try {
        r = rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkEnumeratePhysicalDevices(c, h, &count, out); },
                  [&](Encoder& e, uint32_t f) { guest::encode_vkEnumeratePhysicalDevices(e, f, h, &count, out); },
                  [&](const WireCaps& c) { return guest::sizeof_vkEnumeratePhysicalDevices_reply(c, h, &count, out); },
                  [&](Decoder& d) { return guest::decode_vkEnumeratePhysicalDevices_reply(d, h, &count, out); });
        if (r != VK_SUCCESS && r != VK_INCOMPLETE) throw std::runtime_error("vkEnumeratePhysicalDevices failed");
        for (uint32_t i = 0; i < count; ++i)
            if (handles[i] != pds[i]->handle()) throw std::runtime_error("the renderer renamed a physical device");
        for (uint32_t i = count; i < pds.size(); ++i) registry().remove(pds[i].get());
        pds.resize(count);
        for (auto& pd : pds) init_physical_device(conn, *pd);

        // groups, as the renderer reports them (their members are our objects)
        uint32_t gcount = 0;
        VkPhysicalDeviceGroupProperties* gnone = nullptr;
        r = rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkEnumeratePhysicalDeviceGroups(c, h, &gcount, gnone); },
                  [&](Encoder& e, uint32_t f) { guest::encode_vkEnumeratePhysicalDeviceGroups(e, f, h, &gcount, gnone); },
                  [&](const WireCaps& c) { return guest::sizeof_vkEnumeratePhysicalDeviceGroups_reply(c, h, &gcount, gnone); },
                  [&](Decoder& d) { return guest::decode_vkEnumeratePhysicalDeviceGroups_reply(d, h, &gcount, gnone); });
        if (r != VK_SUCCESS) throw std::runtime_error("vkEnumeratePhysicalDeviceGroups failed");
        std::vector<VkPhysicalDeviceGroupProperties> groups(gcount, {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_GROUP_PROPERTIES});
        VkPhysicalDeviceGroupProperties* g = groups.data();
        r = rcall(conn, [&](const WireCaps& c) { return guest::sizeof_vkEnumeratePhysicalDeviceGroups(c, h, &gcount, g); },
                  [&](Encoder& e, uint32_t f) { guest::encode_vkEnumeratePhysicalDeviceGroups(e, f, h, &gcount, g); },
                  [&](const WireCaps& c) { return guest::sizeof_vkEnumeratePhysicalDeviceGroups_reply(c, h, &gcount, g); },
                  [&](Decoder& d) { return guest::decode_vkEnumeratePhysicalDeviceGroups_reply(d, h, &gcount, g); });
        if (r != VK_SUCCESS && r != VK_INCOMPLETE) throw std::runtime_error("vkEnumeratePhysicalDeviceGroups failed");
        groups.resize(gcount);
        inst.groups = std::move(groups);
    } catch (...) {
        for (auto& pd : pds) registry().remove(pd.get());
        throw;
    }
    if (pds.empty()) log::warn("the renderer offers no physical device (it drops devices below Vulkan 1.1)");
    inst.physical_devices = std::move(pds);
    inst.enumerated = true;
    return VK_SUCCESS;
}

// enumerate_locked, with a failure to reach the renderer logged as what could not be listed.
VkResult enumerate_or_log(Instance& inst, const char* what) {
    try {
        return enumerate_locked(inst);
    } catch (...) {
        inst.conn->on_exception();
        log::error("cannot enumerate the renderer's {}", what);
        return VK_ERROR_INITIALIZATION_FAILED;
    }
}

}  // namespace

VKAPI_ATTR VkResult VKAPI_CALL icd_vkEnumeratePhysicalDevices(VkInstance instance, uint32_t* pPhysicalDeviceCount,
                                                              VkPhysicalDevice* pPhysicalDevices) {
    Instance* inst = Instance::from(instance);
    std::lock_guard lock(inst->mutex);
    if (const VkResult r = enumerate_or_log(*inst, "physical devices"); r != VK_SUCCESS) return r;
    std::vector<VkPhysicalDevice> all;
    for (auto& pd : inst->physical_devices) all.push_back(pd->handle());
    return fill(all, pPhysicalDeviceCount, pPhysicalDevices);
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkEnumeratePhysicalDeviceGroups(VkInstance instance, uint32_t* pPhysicalDeviceGroupCount,
                                                                   VkPhysicalDeviceGroupProperties* pGroups) {
    Instance* inst = Instance::from(instance);
    std::lock_guard lock(inst->mutex);
    if (const VkResult r = enumerate_or_log(*inst, "physical device groups"); r != VK_SUCCESS) return r;
    if (!pGroups) {
        *pPhysicalDeviceGroupCount = static_cast<uint32_t>(inst->groups.size());
        return VK_SUCCESS;
    }
    const uint32_t n = std::min<uint32_t>(*pPhysicalDeviceGroupCount, static_cast<uint32_t>(inst->groups.size()));
    for (uint32_t i = 0; i < n; ++i) {
        pGroups[i].physicalDeviceCount = inst->groups[i].physicalDeviceCount;
        std::copy_n(inst->groups[i].physicalDevices, VK_MAX_DEVICE_GROUP_SIZE, pGroups[i].physicalDevices);
        pGroups[i].subsetAllocation = inst->groups[i].subsetAllocation;
    }
    *pPhysicalDeviceGroupCount = n;
    return n < inst->groups.size() ? VK_INCOMPLETE : VK_SUCCESS;
}

}  // namespace venus::icd
