// vkAllocateMemory and friends: the strategies of memory.cpp behind the Vulkan commands.
#include <fmt/format.h>

#include "renderer/dispatch_support.h"
#include "renderer/memory.h"
#include "util/log.h"

namespace venus::renderer {

using namespace protocol::host;

void RendererDispatcher::vkAllocateMemory(vkAllocateMemory_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    const uint64_t id = a.pMemory ? reinterpret_cast<uint64_t>(*a.pMemory) : 0;
    ctx_.check_new_object(id, VK_OBJECT_TYPE_DEVICE_MEMORY);
    a.ret = allocate_memory(ctx_, dev, *a.pAllocateInfo, id);
    if (a.ret == VK_SUCCESS) *a.pMemory = to_handle<VkDeviceMemory>(ctx_.objects().find(id)->handle);
}

void RendererDispatcher::vkFreeMemory(vkFreeMemory_args& a) {
    if (!a.memory_ref) return;
    auto& dev = object_as<DeviceObject>(a.device_ref);
    auto& mem = object_as<MemoryObject>(a.memory_ref);
    free_memory(dev, mem);
    ctx_.remove_object(mem.id);
}

void RendererDispatcher::vkUnmapMemory(vkUnmapMemory_args&) {
    // Mapping is the guest's business (the blob stays mapped there); nothing happens on the host.
}

void RendererDispatcher::vkFlushMappedMemoryRanges(vkFlushMappedMemoryRanges_args& a) {
    // Zero-copy strategies share the pages; the host driver's own flush covers non-coherent types.
    auto& dev = object_as<DeviceObject>(a.device_ref);
    a.ret = VK_SUCCESS;
    (void)dev;
}

void RendererDispatcher::vkInvalidateMappedMemoryRanges(vkInvalidateMappedMemoryRanges_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    a.ret = VK_SUCCESS;
    (void)dev;
}

void RendererDispatcher::vkGetMemoryResourcePropertiesMESA(vkGetMemoryResourcePropertiesMESA_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    auto res = ctx_.find_resource(a.resourceId);
    a.ret = VK_ERROR_INVALID_EXTERNAL_HANDLE;
    if (!res || !res->mapping || !dev.external_memory_host || !dev.fn.GetMemoryHostPointerPropertiesEXT) return;
    // Shared memory can become device memory through host-pointer import.
    VkMemoryHostPointerPropertiesEXT props{VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT};
    if (dev.fn.GetMemoryHostPointerPropertiesEXT(dev.vk, VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
                                                 res->data(), &props) != VK_SUCCESS)
        return;
    a.pMemoryResourceProperties->memoryTypeBits = props.memoryTypeBits;
    for (auto* s = static_cast<VkBaseOutStructure*>(a.pMemoryResourceProperties->pNext); s; s = s->pNext)
        if (s->sType == VK_STRUCTURE_TYPE_MEMORY_RESOURCE_ALLOCATION_SIZE_PROPERTIES_MESA)
            reinterpret_cast<VkMemoryResourceAllocationSizePropertiesMESA*>(s)->allocationSize = res->size;
    a.ret = VK_SUCCESS;
}

}  // namespace venus::renderer
