// A Vulkan device driven through RawGuest: instance, first physical device, one queue of a
// compute-capable family, and helpers for buffers, mappings and one-shot submissions.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "raw_guest.h"

namespace venus::test {

// Instance, first physical device, a device with one queue of a compute-capable family.
struct RawDevice {
    RawGuest& g;
    VkInstance instance{};
    VkPhysicalDevice physical{};
    VkDevice device{};
    VkQueue queue{};
    uint32_t family = 0;
    VkPhysicalDeviceMemoryProperties memory{};

    explicit RawDevice(RawGuest& guest, uint32_t ring_idx = 0) : g(guest) {
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        app.apiVersion = VK_API_VERSION_1_2;
        VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        ici.pApplicationInfo = &app;
        instance = g.dispatchable<VkInstance>();
        check(RAW_CALL(g, vkCreateInstance, &ici, nullptr, &instance), "vkCreateInstance");
        uint32_t count = 1;
        physical = g.dispatchable<VkPhysicalDevice>();
        const VkResult r = RAW_CALL(g, vkEnumeratePhysicalDevices, instance, &count, &physical);
        if (r != VK_SUCCESS && r != VK_INCOMPLETE) throw std::runtime_error("vkEnumeratePhysicalDevices");
        RAW_CALL(g, vkGetPhysicalDeviceMemoryProperties, physical, &memory);
        uint32_t nf = 0;
        RAW_CALL(g, vkGetPhysicalDeviceQueueFamilyProperties, physical, &nf, nullptr);
        std::vector<VkQueueFamilyProperties> fams(nf);
        RAW_CALL(g, vkGetPhysicalDeviceQueueFamilyProperties, physical, &nf, fams.data());
        for (uint32_t i = 0; i < nf; ++i)
            if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
                family = i;
                break;
            }
        const float prio = 1.0f;
        VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, family, 1, &prio};
        VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
        dci.queueCreateInfoCount = 1;
        dci.pQueueCreateInfos = &qci;
        device = g.dispatchable<VkDevice>();
        check(RAW_CALL(g, vkCreateDevice, physical, &dci, nullptr, &device), "vkCreateDevice");
        VkDeviceQueueTimelineInfoMESA timeline{VK_STRUCTURE_TYPE_DEVICE_QUEUE_TIMELINE_INFO_MESA, nullptr, ring_idx};
        VkDeviceQueueInfo2 qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_INFO_2, ring_idx ? &timeline : nullptr, 0, family, 0};
        queue = g.dispatchable<VkQueue>();
        RAW_ASYNC(g, vkGetDeviceQueue2, device, &qi, &queue);
    }

    static void check(VkResult r, const char* what) {
        if (r != VK_SUCCESS) throw std::runtime_error(std::string(what) + " failed: " + std::to_string(r));
    }

    uint32_t memory_type(uint32_t bits, VkMemoryPropertyFlags want) const {
        for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
            if ((bits & (1u << i)) && (memory.memoryTypes[i].propertyFlags & want) == want) return i;
        throw std::runtime_error("no suitable memory type");
    }

    struct Buffer {
        VkBuffer buffer;
        VkDeviceMemory memory;
        VkDeviceSize size;
    };
    static constexpr VkMemoryPropertyFlags kCoherent =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    static constexpr VkMemoryPropertyFlags kAnyHostVisible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    Buffer buffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags want = kCoherent) {
        Buffer b{g.handle<VkBuffer>(), g.handle<VkDeviceMemory>(), size};
        VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
        bci.size = size;
        bci.usage = usage;
        check(RAW_CALL(g, vkCreateBuffer, device, &bci, nullptr, &b.buffer), "vkCreateBuffer");
        VkMemoryRequirements req{};
        RAW_CALL(g, vkGetBufferMemoryRequirements, device, b.buffer, &req);
        VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size,
                                 memory_type(req.memoryTypeBits, want)};
        RAW_ASYNC(g, vkAllocateMemory, device, &mai, nullptr, &b.memory);  // asynchronous, as Mesa does
        check(RAW_CALL(g, vkBindBufferMemory, device, b.buffer, b.memory, 0), "vkBindBufferMemory");
        return b;
    }

    void flush(VkDeviceMemory memory) {
        VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, memory, 0, VK_WHOLE_SIZE};
        check(RAW_CALL(g, vkFlushMappedMemoryRanges, device, 1, &range), "vkFlushMappedMemoryRanges");
    }
    void invalidate(VkDeviceMemory memory) {
        VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, memory, 0, VK_WHOLE_SIZE};
        check(RAW_CALL(g, vkInvalidateMappedMemoryRanges, device, 1, &range), "vkInvalidateMappedMemoryRanges");
    }

    // Records with `record`, submits with a fence, waits for it.
    template <class F>
    void run(F&& record) {
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr, 0, family};
        auto pool = g.handle<VkCommandPool>();
        check(RAW_CALL(g, vkCreateCommandPool, device, &pci, nullptr, &pool), "vkCreateCommandPool");
        VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool,
                                        VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
        auto cmd = g.dispatchable<VkCommandBuffer>();
        check(RAW_CALL(g, vkAllocateCommandBuffers, device, &cai, &cmd), "vkAllocateCommandBuffers");
        VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
        RAW_ASYNC(g, vkBeginCommandBuffer, cmd, &begin);
        record(cmd);
        RAW_ASYNC(g, vkEndCommandBuffer, cmd);
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        auto fence = g.handle<VkFence>();
        RAW_ASYNC(g, vkCreateFence, device, &fci, nullptr, &fence);
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd;
        RAW_ASYNC(g, vkQueueSubmit, queue, 1, &si, fence);
        check(RAW_CALL(g, vkWaitForFences, device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
        RAW_ASYNC(g, vkDestroyFence, device, fence, nullptr);
        RAW_ASYNC(g, vkDestroyCommandPool, device, pool, nullptr);
    }
};

}  // namespace venus::test
