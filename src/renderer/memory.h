// Host-visible memory shared with the guest (DESIGN.md "the fallback chain"). Per memory type
// the renderer picks the first strategy that works on this host, decided by probing a real
// device once per physical device:
//   1. dma-buf export (VK_EXT_external_memory_dma_buf), the fd is mmap-able
//   2. opaque-fd export (VK_KHR_external_memory_fd), only when that fd is mmap-able and
//      coherent with vkMapMemory
//   3. host-pointer import (VK_EXT_external_memory_host): a memfd the renderer maps and imports
//   4. shadow copy: ordinary memory plus a shared memfd kept coherent at sync points
// Every choice carries the reason it was made (venus-doctor prints them).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "renderer/objects.h"
#include "transport/shared_memory.h"
#include "transport/unique_fd.h"

namespace venus::renderer {

class Context;
struct RendererConfig;

enum class MemoryStrategy { None, DmaBuf, OpaqueFd, HostPointer, Shadow };
const char* strategy_name(MemoryStrategy s);
// "dma-buf", "opaque-fd", "host-pointer", "shadow" (VENUS_MEMORY_STRATEGY values); None if unknown
MemoryStrategy strategy_from_name(const std::string& name);

struct MemoryTypeChoice {
    MemoryStrategy strategy = MemoryStrategy::None;
    std::string reason;                 // why this one (and why the better ones did not work)
};

class MemoryPlan {
public:
    std::vector<MemoryTypeChoice> types;  // index = memory type index
    VkDeviceSize alignment = 4096;        // blob sizes and offsets: max(page, import alignment, config)
    VkDeviceSize import_alignment = 0;    // minImportedHostPointerAlignment (0: no host-pointer import)
    std::vector<std::string> device_extensions;  // host extensions each device must enable for the plan
    std::string summary() const;
};

// Probes `physical` with a throwaway device and decides a strategy per host-visible memory type.
std::shared_ptr<MemoryPlan> probe_memory_plan(VkInstance instance, const InstanceFns& ifn, VkPhysicalDevice physical,
                                              const RendererConfig& config,
                                              const std::vector<VkExtensionProperties>& host_extensions);

// How one VkDeviceMemory is shared.
class MemoryBacking {
public:
    virtual ~MemoryBacking() = default;
    virtual MemoryStrategy strategy() const = 0;
    // A new fd for the guest to mmap, and our own mapping of the same memory if we have one.
    virtual transport::UniqueFd export_fd(DeviceObject& dev, MemoryObject& mem) = 0;
    virtual std::shared_ptr<transport::SharedMemory> mapping() const { return nullptr; }
    // Shadow copies only: make guest writes visible to the device and device writes to the guest.
    virtual void guest_to_host(DeviceObject&, MemoryObject&, VkDeviceSize, VkDeviceSize) {}
    virtual void host_to_guest(DeviceObject&, MemoryObject&, VkDeviceSize, VkDeviceSize) {}
    virtual void release(DeviceObject&) {}
};

struct ExportedMemory {
    transport::UniqueFd fd;
    std::shared_ptr<transport::SharedMemory> mapping;
};

// vkAllocateMemory with the strategy of the memory type; registers the MemoryObject.
VkResult allocate_memory(Context& ctx, DeviceObject& dev, const VkMemoryAllocateInfo& info, uint64_t id);
// Shadow copies of a device: guest writes to the device (before submissions) and device writes
// to the guest (after waits).
void shadows_to_host(DeviceObject& dev);
void shadows_to_guest(DeviceObject& dev);
// The memory type flags the guest sees for a host type shared with `strategy`.
VkMemoryPropertyFlags guest_memory_flags(MemoryStrategy strategy, VkMemoryPropertyFlags host_flags);
// vkFreeMemory and the backing's cleanup (the object stays in the table).
void free_memory(DeviceObject& dev, MemoryObject& mem);
// RESOURCE_CREATE_BLOB for a VkDeviceMemory (§6.2). Throws ContextError with the reason.
ExportedMemory export_memory(Context& ctx, MemoryObject& mem, uint32_t blob_flags, uint64_t size);

}  // namespace venus::renderer
