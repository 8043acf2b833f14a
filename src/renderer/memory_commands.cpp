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

namespace {

// Flush and invalidate: zero-copy strategies share the very pages (nothing to do); shadow copies
// move the ranges across.
template <class F>
void for_each_shadow_range(Context& ctx, uint32_t count, const VkMappedMemoryRange* ranges, F&& f) {
    for (uint32_t i = 0; i < count; ++i) {
        const uint64_t id = ctx.objects().id_of(VK_OBJECT_TYPE_DEVICE_MEMORY, reinterpret_cast<uint64_t>(ranges[i].memory));
        auto* mem = ctx.objects().get_as<MemoryObject>(id, VK_OBJECT_TYPE_DEVICE_MEMORY);
        if (mem && mem->backing && mem->backing->strategy() == MemoryStrategy::Shadow)
            f(*mem, ranges[i].offset, ranges[i].size);
    }
}

}  // namespace

void RendererDispatcher::vkFlushMappedMemoryRanges(vkFlushMappedMemoryRanges_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    for_each_shadow_range(ctx_, a.memoryRangeCount, a.pMemoryRanges, [&](MemoryObject& m, VkDeviceSize o, VkDeviceSize s) {
        m.backing->guest_to_host(dev, m, o, s);
    });
    a.ret = VK_SUCCESS;
}

void RendererDispatcher::vkInvalidateMappedMemoryRanges(vkInvalidateMappedMemoryRanges_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    for_each_shadow_range(ctx_, a.memoryRangeCount, a.pMemoryRanges, [&](MemoryObject& m, VkDeviceSize o, VkDeviceSize s) {
        m.backing->host_to_guest(dev, m, o, s);
    });
    a.ret = VK_SUCCESS;
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
