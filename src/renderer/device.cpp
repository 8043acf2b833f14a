// Devices, queues and queue submission.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "renderer/dispatch_support.h"
#include "renderer/memory.h"
#include "renderer/renderer.h"
#include "util/log.h"

namespace venus::renderer {

using namespace protocol::host;

bool DeviceObject::has_extension(const char* name) const {
    return std::find(enabled_extensions.begin(), enabled_extensions.end(), name) != enabled_extensions.end();
}

void RendererDispatcher::vkCreateDevice(vkCreateDevice_args& a) {
    auto& pd = object_as<PhysicalDeviceObject>(a.physicalDevice_ref);
    InstanceObject& inst = instance_of(a.physicalDevice_ref);
    const uint64_t id = a.pDevice ? reinterpret_cast<uint64_t>(*a.pDevice) : 0;
    ctx_.check_new_object(id, VK_OBJECT_TYPE_DEVICE);
    const VkDeviceCreateInfo& gi = *a.pCreateInfo;

    // Queues: the host driver trusts these numbers, so they are checked here.
    uint32_t families = 0;
    inst.fn.GetPhysicalDeviceQueueFamilyProperties(pd.vk, &families, nullptr);
    std::vector<VkQueueFamilyProperties> family_props(families);
    inst.fn.GetPhysicalDeviceQueueFamilyProperties(pd.vk, &families, family_props.data());
    for (uint32_t i = 0; i < gi.queueCreateInfoCount; ++i) {
        const auto& q = gi.pQueueCreateInfos[i];
        if (q.queueFamilyIndex >= families)
            throw ContextError(fmt::format("vkCreateDevice: queue family {} does not exist ({} families)",
                                           q.queueFamilyIndex, families));
        if (q.queueCount == 0 || q.queueCount > family_props[q.queueFamilyIndex].queueCount || !q.pQueuePriorities)
            throw ContextError(fmt::format("vkCreateDevice: {} queues of family {} (it has {})", q.queueCount,
                                           q.queueFamilyIndex, family_props[q.queueFamilyIndex].queueCount));
    }

    // Extensions: the guest's must be among those advertised; the renderer adds what it needs.
    std::vector<std::string> names;
    for (uint32_t i = 0; i < gi.enabledExtensionCount; ++i) {
        const char* e = gi.ppEnabledExtensionNames[i];
        if (!e) throw ContextError("vkCreateDevice: a NULL extension name");
        const bool advertised = std::any_of(pd.extensions.begin(), pd.extensions.end(),
                                            [&](const auto& x) { return std::strcmp(x.extensionName, e) == 0; });
        if (!advertised) {
            log::warn("ctx {}: vkCreateDevice asks for {}, which this host does not serve", ctx_.id(), e);
            a.ret = VK_ERROR_EXTENSION_NOT_PRESENT;
            return;
        }
        if (std::find(names.begin(), names.end(), e) == names.end()) names.emplace_back(e);
    }
    auto add = [&](const char* e) {
        if (!pd.has_host_extension(e) || ctx_.renderer().extension_hidden(e)) return false;
        if (std::find(names.begin(), names.end(), e) == names.end()) names.emplace_back(e);
        return true;
    };
    for (const std::string& e : pd.memory_plan->device_extensions) add(e.c_str());
    add(VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME);
    add(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
    std::vector<const char*> cnames;
    for (const auto& n : names) cnames.push_back(n.c_str());

    VkDeviceCreateInfo info = gi;
    info.enabledLayerCount = 0;
    info.ppEnabledLayerNames = nullptr;
    info.enabledExtensionCount = static_cast<uint32_t>(cnames.size());
    info.ppEnabledExtensionNames = cnames.data();
    VkDevice vk = VK_NULL_HANDLE;
    a.ret = inst.fn.CreateDevice(pd.vk, &info, nullptr, &vk);
    if (a.ret != VK_SUCCESS) {
        log::warn("ctx {}: host vkCreateDevice failed ({})", ctx_.id(), static_cast<int>(a.ret));
        return;
    }
    auto dev = std::make_unique<DeviceObject>();
    dev->id = id;
    dev->type = VK_OBJECT_TYPE_DEVICE;
    dev->handle = reinterpret_cast<uint64_t>(vk);
    dev->vk = vk;
    dev->physical = &pd;
    dev->instance = &inst;
    dev->device = dev.get();
    dev->enabled_extensions = names;
    dev->external_memory_host = dev->has_extension(VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
    dev->external_memory_fd = dev->has_extension(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
    dev->external_memory_dma_buf = dev->has_extension(VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME);
    dev->external_fence_fd = dev->has_extension(VK_KHR_EXTERNAL_FENCE_FD_EXTENSION_NAME);
    dev->external_semaphore_fd = dev->has_extension(VK_KHR_EXTERNAL_SEMAPHORE_FD_EXTENSION_NAME);
    auto gdpa = reinterpret_cast<PFN_vkGetDeviceProcAddr>(inst.fn.GetDeviceProcAddr);
    load_device_fns(dev->fn, gdpa, vk);
    ctx_.objects().insert(std::move(dev));
    *a.pDevice = vk;
    log::info("ctx {}: device {} created on \"{}\" with {} extensions", ctx_.id(), id, pd.properties.deviceName,
              names.size());
}

void RendererDispatcher::vkDestroyDevice(vkDestroyDevice_args& a) {
    if (!a.device_ref) return;
    ctx_.destroy_device(object_as<DeviceObject>(a.device_ref));
}

namespace {

void register_queue(Context& ctx, DeviceObject& dev, uint64_t id, VkQueue vk, uint32_t family, uint32_t index,
                    uint32_t flags, uint32_t ring_idx) {
    const uint64_t existing = ctx.objects().id_of(VK_OBJECT_TYPE_QUEUE, reinterpret_cast<uint64_t>(vk));
    if (existing) {
        if (existing != id) throw ContextError(fmt::format("queue already known as {}, now named {}", existing, id));
        return;
    }
    ctx.check_new_object(id, VK_OBJECT_TYPE_QUEUE);
    auto q = std::make_unique<QueueObject>();
    q->id = id;
    q->type = VK_OBJECT_TYPE_QUEUE;
    q->handle = reinterpret_cast<uint64_t>(vk);
    q->vk = vk;
    q->family = family;
    q->index = index;
    q->flags = flags;
    QueueObject* raw = q.get();
    ctx.add_object(std::move(q), &dev);
    dev.queues.push_back(raw);
    if (ring_idx) ctx.bind_timeline(ring_idx, *raw);
}

}  // namespace

void RendererDispatcher::vkGetDeviceQueue(vkGetDeviceQueue_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    const uint64_t id = a.pQueue ? reinterpret_cast<uint64_t>(*a.pQueue) : 0;
    VkQueue vk = VK_NULL_HANDLE;
    dev.fn.GetDeviceQueue(dev.vk, a.queueFamilyIndex, a.queueIndex, &vk);
    if (!vk) throw ContextError(fmt::format("queue {} of family {} does not exist", a.queueIndex, a.queueFamilyIndex));
    register_queue(ctx_, dev, id, vk, a.queueFamilyIndex, a.queueIndex, 0, 0);
    *a.pQueue = vk;
}

void RendererDispatcher::vkGetDeviceQueue2(vkGetDeviceQueue2_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    const uint64_t id = a.pQueue ? reinterpret_cast<uint64_t>(*a.pQueue) : 0;
    VkDeviceQueueInfo2 info = *a.pQueueInfo;
    uint32_t ring_idx = 0;
    // VkDeviceQueueTimelineInfoMESA is ours: take it out of the chain the driver sees
    const VkBaseInStructure* prev = nullptr;
    for (auto* s = static_cast<const VkBaseInStructure*>(info.pNext); s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_DEVICE_QUEUE_TIMELINE_INFO_MESA) {
            ring_idx = reinterpret_cast<const VkDeviceQueueTimelineInfoMESA*>(s)->ringIdx;
            if (prev) const_cast<VkBaseInStructure*>(prev)->pNext = s->pNext;
            else info.pNext = s->pNext;
            continue;
        }
        prev = s;
    }
    VkQueue vk = VK_NULL_HANDLE;
    dev.fn.GetDeviceQueue2(dev.vk, &info, &vk);
    if (!vk)
        throw ContextError(fmt::format("queue {} of family {} (flags 0x{:x}) does not exist", info.queueIndex,
                                       info.queueFamilyIndex, info.flags));
    register_queue(ctx_, dev, id, vk, info.queueFamilyIndex, info.queueIndex, info.flags, ring_idx);
    *a.pQueue = vk;
}

// ---- submission: the host VkQueue is externally synchronized, and timelines submit too

void RendererDispatcher::vkQueueSubmit(vkQueueSubmit_args& a) {
    auto& q = object_as<QueueObject>(a.queue_ref);
    if (q.device->has_shadows()) shadows_to_host(*q.device);
    std::lock_guard lock(q.submit_mutex);
    a.ret = q.device->fn.QueueSubmit(q.vk, a.submitCount, a.pSubmits, a.fence);
}

void RendererDispatcher::vkQueueSubmit2(vkQueueSubmit2_args& a) {
    auto& q = object_as<QueueObject>(a.queue_ref);
    if (!q.device->fn.QueueSubmit2) unsupported_by_host(*q.device, protocol::cmd::vkQueueSubmit2);
    if (q.device->has_shadows()) shadows_to_host(*q.device);
    std::lock_guard lock(q.submit_mutex);
    a.ret = q.device->fn.QueueSubmit2(q.vk, a.submitCount, a.pSubmits, a.fence);
}

void RendererDispatcher::vkQueueBindSparse(vkQueueBindSparse_args& a) {
    auto& q = object_as<QueueObject>(a.queue_ref);
    if (q.device->has_shadows()) shadows_to_host(*q.device);
    std::lock_guard lock(q.submit_mutex);
    a.ret = q.device->fn.QueueBindSparse(q.vk, a.bindInfoCount, a.pBindInfo, a.fence);
}

void RendererDispatcher::vkQueueWaitIdle(vkQueueWaitIdle_args& a) {
    auto& q = object_as<QueueObject>(a.queue_ref);
    {
        std::lock_guard lock(q.submit_mutex);
        a.ret = q.device->fn.QueueWaitIdle(q.vk);
    }
    if (a.ret == VK_SUCCESS && q.device->has_shadows()) shadows_to_guest(*q.device);
}

void RendererDispatcher::vkDeviceWaitIdle(vkDeviceWaitIdle_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    std::vector<std::unique_lock<std::mutex>> locks;
    for (QueueObject* q : dev.queues) locks.emplace_back(q->submit_mutex);
    a.ret = dev.fn.DeviceWaitIdle(dev.vk);
    locks.clear();
    if (a.ret == VK_SUCCESS && dev.has_shadows()) shadows_to_guest(dev);
}

void RendererDispatcher::vkWaitForFences(vkWaitForFences_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    a.ret = dev.fn.WaitForFences(dev.vk, a.fenceCount, a.pFences, a.waitAll, a.timeout);
    if (a.ret == VK_SUCCESS && dev.has_shadows()) shadows_to_guest(dev);
}

void RendererDispatcher::vkGetFenceStatus(vkGetFenceStatus_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    a.ret = dev.fn.GetFenceStatus(dev.vk, a.fence);
    if (a.ret == VK_SUCCESS && dev.has_shadows()) shadows_to_guest(dev);
}

void RendererDispatcher::vkWaitSemaphores(vkWaitSemaphores_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    if (!dev.fn.WaitSemaphores) unsupported_by_host(dev, protocol::cmd::vkWaitSemaphores);
    a.ret = dev.fn.WaitSemaphores(dev.vk, a.pWaitInfo, a.timeout);
    if (a.ret == VK_SUCCESS && dev.has_shadows()) shadows_to_guest(dev);
}

void RendererDispatcher::vkGetSemaphoreCounterValue(vkGetSemaphoreCounterValue_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    if (!dev.fn.GetSemaphoreCounterValue) unsupported_by_host(dev, protocol::cmd::vkGetSemaphoreCounterValue);
    a.ret = dev.fn.GetSemaphoreCounterValue(dev.vk, a.semaphore, a.pValue);
    if (a.ret == VK_SUCCESS && dev.has_shadows()) shadows_to_guest(dev);
}

// ---- sync_fd-style MESA commands (§5.2, ids 244-246)

namespace {

// Waits for a semaphore on the host without sync_fd support: an empty submission that waits on
// it and signals a fence.
VkResult wait_semaphore_by_submit(DeviceObject& dev, VkSemaphore semaphore) {
    if (dev.queues.empty()) return VK_ERROR_DEVICE_LOST;
    QueueObject& q = *dev.queues.front();
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence = VK_NULL_HANDLE;
    VkResult r = dev.fn.CreateFence(dev.vk, &fi, nullptr, &fence);
    if (r != VK_SUCCESS) return r;
    const VkPipelineStageFlags stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.waitSemaphoreCount = 1;
    submit.pWaitSemaphores = &semaphore;
    submit.pWaitDstStageMask = &stage;
    {
        std::lock_guard lock(q.submit_mutex);
        r = dev.fn.QueueSubmit(q.vk, 1, &submit, fence);
    }
    if (r == VK_SUCCESS) r = dev.fn.WaitForFences(dev.vk, 1, &fence, VK_TRUE, UINT64_MAX);
    dev.fn.DestroyFence(dev.vk, fence, nullptr);
    return r;
}

}  // namespace

void RendererDispatcher::vkResetFenceResourceMESA(vkResetFenceResourceMESA_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    if (dev.external_fence_fd && dev.fn.GetFenceFdKHR) {
        VkFenceGetFdInfoKHR info{VK_STRUCTURE_TYPE_FENCE_GET_FD_INFO_KHR, nullptr, a.fence,
                                 VK_EXTERNAL_FENCE_HANDLE_TYPE_SYNC_FD_BIT};
        int fd = -1;
        const VkResult r = dev.fn.GetFenceFdKHR(dev.vk, &info, &fd);
        if (fd >= 0) close(fd);
        if (r == VK_SUCCESS) return;
    }
    // Without sync_fd export the same effect: the fence's payload is consumed.
    if (dev.fn.ResetFences(dev.vk, 1, &a.fence) != VK_SUCCESS)
        throw ContextError(fmt::format("vkResetFenceResourceMESA: fence {} could not be reset", a.fence_ref->id));
}

void RendererDispatcher::vkWaitSemaphoreResourceMESA(vkWaitSemaphoreResourceMESA_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    if (dev.external_semaphore_fd && dev.fn.GetSemaphoreFdKHR) {
        VkSemaphoreGetFdInfoKHR info{VK_STRUCTURE_TYPE_SEMAPHORE_GET_FD_INFO_KHR, nullptr, a.semaphore,
                                     VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT};
        int fd = -1;
        const VkResult r = dev.fn.GetSemaphoreFdKHR(dev.vk, &info, &fd);
        if (fd >= 0) close(fd);
        if (r == VK_SUCCESS) return;
    }
    if (wait_semaphore_by_submit(dev, a.semaphore) != VK_SUCCESS)
        throw ContextError(fmt::format("vkWaitSemaphoreResourceMESA: semaphore {} could not be waited for",
                                       a.semaphore_ref->id));
}

void RendererDispatcher::vkImportSemaphoreResourceMESA(vkImportSemaphoreResourceMESA_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    const auto& info = *a.pImportSemaphoreResourceInfo;
    if (info.resourceId != 0)
        throw ContextError(fmt::format("vkImportSemaphoreResourceMESA: resource {} (only 0 is defined)", info.resourceId));
    if (dev.external_semaphore_fd && dev.fn.ImportSemaphoreFdKHR) {
        // an already-signaled sync_fd: fd -1, temporary
        VkImportSemaphoreFdInfoKHR imp{VK_STRUCTURE_TYPE_IMPORT_SEMAPHORE_FD_INFO_KHR, nullptr, info.semaphore,
                                       VK_SEMAPHORE_IMPORT_TEMPORARY_BIT,
                                       VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_SYNC_FD_BIT, -1};
        if (dev.fn.ImportSemaphoreFdKHR(dev.vk, &imp) == VK_SUCCESS) return;
    }
    // Otherwise signal it with an empty submission.
    if (dev.queues.empty()) throw ContextError("vkImportSemaphoreResourceMESA on a device without queues");
    QueueObject& q = *dev.queues.front();
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.signalSemaphoreCount = 1;
    submit.pSignalSemaphores = &info.semaphore;
    std::lock_guard lock(q.submit_mutex);
    if (dev.fn.QueueSubmit(q.vk, 1, &submit, VK_NULL_HANDLE) != VK_SUCCESS)
        throw ContextError("vkImportSemaphoreResourceMESA: the signalling submission failed");
}

}  // namespace venus::renderer
