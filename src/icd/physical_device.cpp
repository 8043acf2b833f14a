// Physical-device queries: the host's answers, cached where the driver asked them already,
// forwarded where the application chains structures of its own. External handle support is
// reported as none: nothing can be shared as an fd or host pointer through this driver.
#include <algorithm>
#include <cstring>
#include <vector>

#include "icd/generated_support.h"
#include "icd/log.h"

namespace venus::icd {

namespace {

constexpr uint32_t kDriverApiVersion = VK_MAKE_API_VERSION(0, 1, 3, VK_HEADER_VERSION);

template <class Fn>
void guarded(PhysicalDevice* pd, Fn&& fn) {
    Connection& conn = pd->conn();
    if (conn.lost()) return;
    try {
        fn(conn);
    } catch (...) {
        conn.on_exception();
    }
}

// The renderer refuses pNext chains deeper than 64 structures (a guard against hostile
// guests); vulkaninfo and others chain more. A query with a long chain is split into several,
// each with a slice of the application's chain (relinked for the call, then restored).
constexpr size_t kMaxChain = 32;

template <class Root, class Query>
void query_in_slices(Root* root, Query&& query) {
    std::vector<VkBaseOutStructure*> chain;
    for (auto* s = static_cast<VkBaseOutStructure*>(root->pNext); s; s = s->pNext) chain.push_back(s);
    if (chain.size() <= kMaxChain) {
        query();
        return;
    }
    void* const head = root->pNext;
    try {
        for (size_t i = 0; i < chain.size(); i += kMaxChain) {
            const size_t end = std::min(chain.size(), i + kMaxChain);
            root->pNext = chain[i];
            chain[end - 1]->pNext = nullptr;
            query();
            chain[end - 1]->pNext = end < chain.size() ? chain[end] : nullptr;
        }
    } catch (...) {
        for (size_t i = 0; i + 1 < chain.size(); ++i) chain[i]->pNext = chain[i + 1];
        chain.back()->pNext = nullptr;
        root->pNext = head;
        throw;
    }
    root->pNext = head;
}

void clear_external(void* chain) {
    for (auto* s = static_cast<VkBaseOutStructure*>(chain); s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_EXTERNAL_IMAGE_FORMAT_PROPERTIES)
            reinterpret_cast<VkExternalImageFormatProperties*>(s)->externalMemoryProperties = {};
    }
}

}  // namespace

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceProperties(VkPhysicalDevice physicalDevice,
                                                             VkPhysicalDeviceProperties* pProperties) {
    *pProperties = PhysicalDevice::from(physicalDevice)->properties;
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceProperties2(VkPhysicalDevice physicalDevice,
                                                              VkPhysicalDeviceProperties2* pProperties) {
    PhysicalDevice* pd = PhysicalDevice::from(physicalDevice);
    if (!pProperties->pNext) {
        pProperties->properties = pd->properties;
        return;
    }
    guarded(pd, [&](Connection& conn) {
        query_in_slices(pProperties, [&] {
            conn.call([&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceProperties2(c, physicalDevice, pProperties); },
                      [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceProperties2(e, f, physicalDevice, pProperties); },
                      [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceProperties2_reply(c, physicalDevice, pProperties); },
                      [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceProperties2_reply(d, physicalDevice, pProperties); });
        });
    });
    pProperties->properties.apiVersion = std::min(pProperties->properties.apiVersion, kDriverApiVersion);
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceFeatures(VkPhysicalDevice physicalDevice, VkPhysicalDeviceFeatures* pFeatures) {
    *pFeatures = PhysicalDevice::from(physicalDevice)->features;
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceFeatures2(VkPhysicalDevice physicalDevice, VkPhysicalDeviceFeatures2* pFeatures) {
    PhysicalDevice* pd = PhysicalDevice::from(physicalDevice);
    if (!pFeatures->pNext) {
        pFeatures->features = pd->features;
        return;
    }
    guarded(pd, [&](Connection& conn) {
        query_in_slices(pFeatures, [&] {
            conn.call([&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceFeatures2(c, physicalDevice, pFeatures); },
                      [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceFeatures2(e, f, physicalDevice, pFeatures); },
                      [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceFeatures2_reply(c, physicalDevice, pFeatures); },
                      [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceFeatures2_reply(d, physicalDevice, pFeatures); });
        });
    });
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceMemoryProperties(VkPhysicalDevice physicalDevice,
                                                                   VkPhysicalDeviceMemoryProperties* pMemoryProperties) {
    *pMemoryProperties = PhysicalDevice::from(physicalDevice)->memory;
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceMemoryProperties2(VkPhysicalDevice physicalDevice,
                                                                    VkPhysicalDeviceMemoryProperties2* pMemoryProperties) {
    PhysicalDevice* pd = PhysicalDevice::from(physicalDevice);
    if (!pMemoryProperties->pNext) {
        pMemoryProperties->memoryProperties = pd->memory;
        return;
    }
    guarded(pd, [&](Connection& conn) {
        conn.call([&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceMemoryProperties2(c, physicalDevice, pMemoryProperties); },
                  [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceMemoryProperties2(e, f, physicalDevice, pMemoryProperties); },
                  [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceMemoryProperties2_reply(c, physicalDevice, pMemoryProperties); },
                  [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceMemoryProperties2_reply(d, physicalDevice, pMemoryProperties); });
    });
    // the memory types are the ones the driver knows how to map
    pMemoryProperties->memoryProperties = pd->memory;
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceQueueFamilyProperties(VkPhysicalDevice physicalDevice, uint32_t* pCount,
                                                                        VkQueueFamilyProperties* pProperties) {
    PhysicalDevice* pd = PhysicalDevice::from(physicalDevice);
    const uint32_t all = static_cast<uint32_t>(pd->queue_families.size());
    if (!pProperties) {
        *pCount = all;
        return;
    }
    *pCount = std::min(*pCount, all);
    std::copy_n(pd->queue_families.begin(), *pCount, pProperties);
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceQueueFamilyProperties2(VkPhysicalDevice physicalDevice, uint32_t* pCount,
                                                                         VkQueueFamilyProperties2* pProperties) {
    PhysicalDevice* pd = PhysicalDevice::from(physicalDevice);
    const uint32_t all = static_cast<uint32_t>(pd->queue_families.size());
    if (!pProperties) {
        *pCount = all;
        return;
    }
    *pCount = std::min(*pCount, all);
    bool chained = false;
    for (uint32_t i = 0; i < *pCount; ++i) chained |= pProperties[i].pNext != nullptr;
    if (!chained) {
        for (uint32_t i = 0; i < *pCount; ++i) pProperties[i].queueFamilyProperties = pd->queue_families[i];
        return;
    }
    guarded(pd, [&](Connection& conn) {
        conn.call([&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceQueueFamilyProperties2(c, physicalDevice, pCount, pProperties); },
                  [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceQueueFamilyProperties2(e, f, physicalDevice, pCount, pProperties); },
                  [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceQueueFamilyProperties2_reply(c, physicalDevice, pCount, pProperties); },
                  [&](Decoder& d) { guest::decode_vkGetPhysicalDeviceQueueFamilyProperties2_reply(d, physicalDevice, pCount, pProperties); });
    });
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkEnumerateDeviceExtensionProperties(VkPhysicalDevice physicalDevice, const char* pLayerName,
                                                                        uint32_t* pPropertyCount, VkExtensionProperties* pProperties) {
    if (pLayerName) return VK_ERROR_LAYER_NOT_PRESENT;
    PhysicalDevice* pd = PhysicalDevice::from(physicalDevice);
    const uint32_t all = static_cast<uint32_t>(pd->extensions.size());
    if (!pProperties) {
        *pPropertyCount = all;
        return VK_SUCCESS;
    }
    const uint32_t n = std::min(*pPropertyCount, all);
    std::copy_n(pd->extensions.begin(), n, pProperties);
    *pPropertyCount = n;
    return n < all ? VK_INCOMPLETE : VK_SUCCESS;
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkEnumerateDeviceLayerProperties(VkPhysicalDevice, uint32_t* pPropertyCount, VkLayerProperties*) {
    *pPropertyCount = 0;
    return VK_SUCCESS;
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkGetPhysicalDeviceImageFormatProperties2(
    VkPhysicalDevice physicalDevice, const VkPhysicalDeviceImageFormatInfo2* pImageFormatInfo,
    VkImageFormatProperties2* pImageFormatProperties) {
    for (auto* s = static_cast<const VkBaseInStructure*>(pImageFormatInfo->pNext); s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_IMAGE_FORMAT_INFO &&
            reinterpret_cast<const VkPhysicalDeviceExternalImageFormatInfo*>(s)->handleType)
            return VK_ERROR_FORMAT_NOT_SUPPORTED;  // no external memory through this driver
    }
    PhysicalDevice* pd = PhysicalDevice::from(physicalDevice);
    Connection& conn = pd->conn();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        const VkResult r = conn.call(
            [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceImageFormatProperties2(c, physicalDevice, pImageFormatInfo, pImageFormatProperties); },
            [&](Encoder& e, uint32_t f) { guest::encode_vkGetPhysicalDeviceImageFormatProperties2(e, f, physicalDevice, pImageFormatInfo, pImageFormatProperties); },
            [&](const WireCaps& c) { return guest::sizeof_vkGetPhysicalDeviceImageFormatProperties2_reply(c, physicalDevice, pImageFormatInfo, pImageFormatProperties); },
            [&](Decoder& d) { return guest::decode_vkGetPhysicalDeviceImageFormatProperties2_reply(d, physicalDevice, pImageFormatInfo, pImageFormatProperties); });
        clear_external(pImageFormatProperties->pNext);
        return r;
    } catch (...) {
        return conn.on_exception();
    }
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceExternalBufferProperties(VkPhysicalDevice, const VkPhysicalDeviceExternalBufferInfo*,
                                                                           VkExternalBufferProperties* pProperties) {
    pProperties->externalMemoryProperties = {};
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceExternalFenceProperties(VkPhysicalDevice, const VkPhysicalDeviceExternalFenceInfo*,
                                                                          VkExternalFenceProperties* pProperties) {
    pProperties->exportFromImportedHandleTypes = 0;
    pProperties->compatibleHandleTypes = 0;
    pProperties->externalFenceFeatures = 0;
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPhysicalDeviceExternalSemaphoreProperties(VkPhysicalDevice,
                                                                              const VkPhysicalDeviceExternalSemaphoreInfo*,
                                                                              VkExternalSemaphoreProperties* pProperties) {
    pProperties->exportFromImportedHandleTypes = 0;
    pProperties->compatibleHandleTypes = 0;
    pProperties->externalSemaphoreFeatures = 0;
}

}  // namespace venus::icd
