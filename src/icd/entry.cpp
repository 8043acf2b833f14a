// What the loader sees (loader-ICD interface version 5): the three vk_icd* exports, and
// vkGetInstanceProcAddr / vkGetDeviceProcAddr over the generated entry-point table. These are
// the only symbols the library exports (icd.map).
#include <cstring>

#include "icd/generated_support.h"

namespace venus::icd {

namespace {

constexpr uint32_t kInterfaceVersion = 5;

bool device_has(const Device* dev, const EntryPoint& ep) {
    if (ep.core_version && ep.core_version <= VK_MAKE_API_VERSION(0, VK_API_VERSION_MAJOR(dev->api_version),
                                                                  VK_API_VERSION_MINOR(dev->api_version), 0))
        return true;
    for (const char* const* e = ep.extensions; *e; ++e)
        if (dev->has_extension(*e)) return true;
    return false;
}

}  // namespace

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL icd_vkGetInstanceProcAddr(VkInstance instance, const char* pName) {
    if (!pName) return nullptr;
    const EntryPoint* ep = find_entry_point(pName);
    if (!ep) return nullptr;
    // without an instance only the global commands (and this function) are available
    if (!instance && ep->scope != Scope::Global) return nullptr;
    return ep->fn;
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL icd_vkGetDeviceProcAddr(VkDevice device, const char* pName) {
    if (!device || !pName) return nullptr;
    const EntryPoint* ep = find_entry_point(pName);
    if (!ep || ep->scope != Scope::Device) return nullptr;
    return device_has(Device::from(device), *ep) ? ep->fn : nullptr;
}

}  // namespace venus::icd

extern "C" {

__attribute__((visibility("default"))) VKAPI_ATTR VkResult VKAPI_CALL
vk_icdNegotiateLoaderICDInterfaceVersion(uint32_t* pSupportedVersion) {
    if (*pSupportedVersion > venus::icd::kInterfaceVersion) *pSupportedVersion = venus::icd::kInterfaceVersion;
    return VK_SUCCESS;
}

__attribute__((visibility("default"))) VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL
vk_icdGetInstanceProcAddr(VkInstance instance, const char* pName) {
    return venus::icd::icd_vkGetInstanceProcAddr(instance, pName);
}

__attribute__((visibility("default"))) VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL
vk_icdGetPhysicalDeviceProcAddr(VkInstance, const char* pName) {
    if (!pName) return nullptr;
    const venus::icd::EntryPoint* ep = venus::icd::find_entry_point(pName);
    if (!ep || ep->scope != venus::icd::Scope::PhysicalDevice) return nullptr;
    return ep->fn;
}

}  // extern "C"
