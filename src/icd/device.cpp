// Devices and their queues. vkCreateDevice is a round trip (the application needs its result);
// the queues are named right after it, asynchronously, so vkGetDeviceQueue never asks.
#include <algorithm>
#include <cstring>

#include "icd/generated_support.h"
#include "icd/log.h"

namespace venus::icd {

bool Device::has_extension(const char* name) const {
    return std::find(extensions.begin(), extensions.end(), name) != extensions.end();
}

std::shared_ptr<const SetLayout> Device::set_layout_of_set(uint64_t set) {
    std::lock_guard lock(mutex);
    auto it = sets.find(set);
    return it == sets.end() ? nullptr : it->second;
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreateDevice(VkPhysicalDevice physicalDevice, const VkDeviceCreateInfo* pCreateInfo,
                                                  const VkAllocationCallbacks*, VkDevice* pDevice) {
    *pDevice = VK_NULL_HANDLE;
    PhysicalDevice* pd = PhysicalDevice::from(physicalDevice);
    Connection& conn = pd->conn();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    for (uint32_t i = 0; i < pCreateInfo->enabledExtensionCount; ++i) {
        if (!pd->has_extension(pCreateInfo->ppEnabledExtensionNames[i])) {
            log::warn("vkCreateDevice: device extension {} is not offered", pCreateInfo->ppEnabledExtensionNames[i]);
            return VK_ERROR_EXTENSION_NOT_PRESENT;
        }
    }
    auto dev = std::make_unique<Device>(next_id(), pd->instance, pd);
    dev->api_version = pd->properties.apiVersion;
    for (uint32_t i = 0; i < pCreateInfo->enabledExtensionCount; ++i)
        dev->extensions.emplace_back(pCreateInfo->ppEnabledExtensionNames[i]);
    VkDevice handle = dev->handle();
    // layers are the loader's business
    VkDeviceCreateInfo info = *pCreateInfo;
    info.enabledLayerCount = 0;
    info.ppEnabledLayerNames = nullptr;
    registry().add(dev.get(), VK_OBJECT_TYPE_DEVICE);
    try {
        const VkResult r = conn.call(
            [&](const WireCaps& c) { return guest::sizeof_vkCreateDevice(c, physicalDevice, &info, nullptr, &handle); },
            [&](Encoder& e, uint32_t f) { guest::encode_vkCreateDevice(e, f, physicalDevice, &info, nullptr, &handle); },
            [&](const WireCaps& c) { return guest::sizeof_vkCreateDevice_reply(c, physicalDevice, &info, nullptr, &handle); },
            [&](Decoder& d) { return guest::decode_vkCreateDevice_reply(d, physicalDevice, &info, nullptr, &handle); });
        if (r != VK_SUCCESS) {
            registry().remove(dev.get());
            return r;
        }
        // every queue the device has, named once
        for (uint32_t i = 0; i < pCreateInfo->queueCreateInfoCount; ++i) {
            const VkDeviceQueueCreateInfo& q = pCreateInfo->pQueueCreateInfos[i];
            for (uint32_t j = 0; j < q.queueCount; ++j) {
                auto queue = std::make_unique<Queue>(next_id());
                queue->device = dev.get();
                queue->family = q.queueFamilyIndex;
                queue->index = j;
                queue->flags = q.flags;
                // its timeline: virglrenderer >= 1.0 refuses a queue without one ("missing
                // VkDeviceQueueTimelineInfoMESA"); venus-server binds it likewise
                queue->ring_idx = conn.acquire_timeline();
                VkDeviceQueueTimelineInfoMESA timeline{VK_STRUCTURE_TYPE_DEVICE_QUEUE_TIMELINE_INFO_MESA, nullptr,
                                                       queue->ring_idx};
                VkDeviceQueueInfo2 qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_INFO_2, queue->ring_idx ? &timeline : nullptr,
                                      q.flags, q.queueFamilyIndex, j};
                VkQueue qh = queue->handle();
                registry().add(queue.get(), VK_OBJECT_TYPE_QUEUE);
                dev->queues.push_back(std::move(queue));
                conn.submit([&](const WireCaps& c) { return guest::sizeof_vkGetDeviceQueue2(c, handle, &qi, &qh); },
                            [&](Encoder& e, uint32_t f) { guest::encode_vkGetDeviceQueue2(e, f, handle, &qi, &qh); });
            }
        }
    } catch (...) {
        for (auto& q : dev->queues) {
            conn.release_timeline(q->ring_idx);
            registry().remove(q.get());
        }
        registry().remove(dev.get());
        return conn.on_exception();
    }
    *pDevice = dev.release()->handle();
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkDestroyDevice(VkDevice device, const VkAllocationCallbacks*) {
    if (!device) return;
    std::unique_ptr<Device> dev(Device::from(device));
    Connection& conn = dev->conn();
    // mappings the application did not free
    for (auto& [id, mem] : dev->memories) {
        if (mem->blob) {
            try {
                conn.vtest().destroy_blob(mem->blob->res_id);
            } catch (const std::exception&) {
            }
        }
    }
    dev->memories.clear();
    for (auto& [id, pool] : dev->command_pools) {
        for (CommandBuffer* cb : pool->buffers) {
            registry().remove(cb);
            delete cb;
        }
    }
    dev->command_pools.clear();
    for (auto& q : dev->queues) {
        conn.release_timeline(q->ring_idx);
        registry().remove(q.get());
    }
    if (!conn.lost()) {
        try {
            // internal fences first: the renderer frees the rest with the device
            for (auto& q : dev->queues) {
                if (!q->idle_fence) continue;
                VkFence f = q->idle_fence;
                conn.submit([&](const WireCaps& c) { return guest::sizeof_vkDestroyFence(c, device, f, nullptr); },
                            [&](Encoder& e, uint32_t fl) { guest::encode_vkDestroyFence(e, fl, device, f, nullptr); });
            }
            conn.submit([&](const WireCaps& c) { return guest::sizeof_vkDestroyDevice(c, device, nullptr); },
                        [&](Encoder& e, uint32_t f) { guest::encode_vkDestroyDevice(e, f, device, nullptr); });
        } catch (...) {
            conn.on_exception();
        }
    }
    registry().remove(dev.get());
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetDeviceQueue(VkDevice device, uint32_t queueFamilyIndex, uint32_t queueIndex, VkQueue* pQueue) {
    Device* dev = Device::from(device);
    *pQueue = VK_NULL_HANDLE;
    for (auto& q : dev->queues) {
        if (q->family == queueFamilyIndex && q->index == queueIndex && q->flags == 0) {
            *pQueue = q->handle();
            return;
        }
    }
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetDeviceQueue2(VkDevice device, const VkDeviceQueueInfo2* pQueueInfo, VkQueue* pQueue) {
    Device* dev = Device::from(device);
    *pQueue = VK_NULL_HANDLE;
    for (auto& q : dev->queues) {
        if (q->family == pQueueInfo->queueFamilyIndex && q->index == pQueueInfo->queueIndex && q->flags == pQueueInfo->flags) {
            *pQueue = q->handle();
            return;
        }
    }
}

}  // namespace venus::icd
