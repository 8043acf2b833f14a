// The renderer's view of guest objects: every Venus object id maps to one of these, owned by
// the context's ObjectTable. Instance, physical device, device, queue and device memory carry
// state of their own; every other object is a plain Object (id, host handle, type, device).
#pragma once

#include <vulkan/vulkan.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "protocol/codec.h"
#include "renderer/vk_functions.h"

namespace venus::renderer {

struct DeviceObject;
struct InstanceObject;
struct MemoryObject;

struct Object : protocol::ObjectRef {
    DeviceObject* device = nullptr;      // owning device (the device itself for VkDevice)
    InstanceObject* instance = nullptr;  // owning instance (instance-level objects)
    uint64_t pool_id = 0;                // command buffers and descriptor sets: their pool
    uint64_t seq = 0;                    // creation order within the context
    virtual ~Object() = default;
};

struct InstanceObject : Object {
    VkInstance vk = VK_NULL_HANDLE;
    InstanceFns fn;
    uint32_t api_version = 0;  // what the guest asked for, after raising to >= 1.1
};

class MemoryPlan;

struct PhysicalDeviceObject : Object {
    VkPhysicalDevice vk = VK_NULL_HANDLE;
    VkPhysicalDeviceProperties properties{};
    uint32_t api_version = 0;                         // advertised to the guest (capped)
    std::vector<VkExtensionProperties> extensions;    // advertised to the guest (filtered)
    std::vector<VkExtensionProperties> host_extensions;
    VkPhysicalDeviceMemoryProperties host_memory{};
    std::shared_ptr<MemoryPlan> memory_plan;          // strategy per memory type
    bool has_host_extension(const char* name) const;
};

struct QueueObject : Object {
    VkQueue vk = VK_NULL_HANDLE;
    uint32_t family = 0;
    uint32_t index = 0;
    uint32_t flags = 0;
    uint32_t ring_idx = 0;  // bound timeline (0 = none)
    std::mutex submit_mutex;  // host VkQueue access is externally synchronized
};

struct DeviceObject : Object {
    VkDevice vk = VK_NULL_HANDLE;
    DeviceFns fn;
    PhysicalDeviceObject* physical = nullptr;
    std::vector<std::string> enabled_extensions;
    bool external_memory_host = false;    // VK_EXT_external_memory_host enabled on the host
    bool external_memory_fd = false;      // VK_KHR_external_memory_fd
    bool external_memory_dma_buf = false; // VK_EXT_external_memory_dma_buf
    bool external_fence_fd = false;
    bool external_semaphore_fd = false;
    std::map<uint64_t, uint64_t> live;    // creation seq -> id of every object of this device
    std::vector<QueueObject*> queues;
    std::mutex shadow_mutex;
    std::vector<MemoryObject*> shadows;   // allocations kept coherent by copies
    bool has_shadows() {
        std::lock_guard lock(shadow_mutex);
        return !shadows.empty();
    }
    bool has_extension(const char* name) const;
};

// Implemented in memory.cpp: how one VkDeviceMemory is shared with the guest.
class MemoryBacking;

struct MemoryObject : Object {
    VkDeviceMemory vk = VK_NULL_HANDLE;
    uint32_t type_index = 0;
    VkDeviceSize size = 0;                   // allocation size on the host
    VkDeviceSize guest_size = 0;             // allocation size the guest asked for
    VkMemoryPropertyFlags property_flags = 0;
    std::unique_ptr<MemoryBacking> backing;  // nullptr when not host visible
    bool exported = false;                   // a blob was created from it (once, §6.2)
    ~MemoryObject() override;
};

}  // namespace venus::renderer
