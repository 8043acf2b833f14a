// Objects owned by pools: command buffers and descriptor sets come and go with their pool, so
// the object table follows vkFree*, vkReset*Pool and vkDestroy*Pool.
#include <fmt/format.h>

#include "renderer/dispatch_support.h"

namespace venus::renderer {

using namespace protocol::host;

namespace {

uint64_t pool_id_of(Context& ctx, VkObjectType type, uint64_t handle) {
    const uint64_t id = ctx.objects().id_of(type, handle);
    if (!id) throw ContextError(fmt::format("unknown {}", protocol::object_type_name(type)));
    return id;
}

template <class H>
void register_children(Context& ctx, DeviceObject& dev, VkObjectType type, uint64_t pool_id, const IdList& ids,
                       const H* handles, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) {
        if (!handles[i]) continue;
        Object& o = ctx.add_object(ids[i], type, reinterpret_cast<uint64_t>(handles[i]), dev);
        o.pool_id = pool_id;
        ctx.add_pool_child(pool_id, ids[i]);
    }
}

template <class H>
void forget_children(Context& ctx, VkObjectType type, uint64_t pool_id, const H* handles, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) {
        if (!handles[i]) continue;
        const uint64_t id = ctx.objects().id_of(type, reinterpret_cast<uint64_t>(handles[i]));
        if (!id) continue;
        ctx.remove_pool_child(pool_id, id);
        ctx.remove_object(id);
    }
}

}  // namespace

void RendererDispatcher::vkAllocateCommandBuffers(vkAllocateCommandBuffers_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    const auto& info = *a.pAllocateInfo;
    const uint64_t pool = pool_id_of(ctx_, VK_OBJECT_TYPE_COMMAND_POOL, reinterpret_cast<uint64_t>(info.commandPool));
    const uint64_t count = info.commandBufferCount;
    if (count && !a.pCommandBuffers) throw ContextError("vkAllocateCommandBuffers without storage for the buffers");
    IdList ids(a.pCommandBuffers, count);
    for (uint64_t i = 0; i < count; ++i) ctx_.check_new_object(ids[i], VK_OBJECT_TYPE_COMMAND_BUFFER);
    a.ret = dev.fn.AllocateCommandBuffers(dev.vk, &info, a.pCommandBuffers);
    if (a.ret == VK_SUCCESS)
        register_children(ctx_, dev, VK_OBJECT_TYPE_COMMAND_BUFFER, pool, ids, a.pCommandBuffers, count);
}

void RendererDispatcher::vkFreeCommandBuffers(vkFreeCommandBuffers_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    dev.fn.FreeCommandBuffers(dev.vk, a.commandPool, a.commandBufferCount, a.pCommandBuffers);
    if (a.pCommandBuffers)
        forget_children(ctx_, VK_OBJECT_TYPE_COMMAND_BUFFER, a.commandPool_ref->id, a.pCommandBuffers,
                        a.commandBufferCount);
}

void RendererDispatcher::vkDestroyCommandPool(vkDestroyCommandPool_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    dev.fn.DestroyCommandPool(dev.vk, a.commandPool, nullptr);
    if (!a.commandPool_ref) return;
    ctx_.remove_pool_children(a.commandPool_ref->id);
    ctx_.remove_object(a.commandPool_ref->id);
}

void RendererDispatcher::vkAllocateDescriptorSets(vkAllocateDescriptorSets_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    const auto& info = *a.pAllocateInfo;
    const uint64_t pool =
        pool_id_of(ctx_, VK_OBJECT_TYPE_DESCRIPTOR_POOL, reinterpret_cast<uint64_t>(info.descriptorPool));
    const uint64_t count = info.descriptorSetCount;
    if (count && (!a.pDescriptorSets || !info.pSetLayouts))
        throw ContextError("vkAllocateDescriptorSets without layouts or storage for the sets");
    IdList ids(a.pDescriptorSets, count);
    for (uint64_t i = 0; i < count; ++i) ctx_.check_new_object(ids[i], VK_OBJECT_TYPE_DESCRIPTOR_SET);
    a.ret = dev.fn.AllocateDescriptorSets(dev.vk, &info, a.pDescriptorSets);
    if (a.ret == VK_SUCCESS)
        register_children(ctx_, dev, VK_OBJECT_TYPE_DESCRIPTOR_SET, pool, ids, a.pDescriptorSets, count);
}

void RendererDispatcher::vkFreeDescriptorSets(vkFreeDescriptorSets_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    a.ret = dev.fn.FreeDescriptorSets(dev.vk, a.descriptorPool, a.descriptorSetCount, a.pDescriptorSets);
    if (a.pDescriptorSets)
        forget_children(ctx_, VK_OBJECT_TYPE_DESCRIPTOR_SET, a.descriptorPool_ref->id, a.pDescriptorSets,
                        a.descriptorSetCount);
}

void RendererDispatcher::vkResetDescriptorPool(vkResetDescriptorPool_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    a.ret = dev.fn.ResetDescriptorPool(dev.vk, a.descriptorPool, a.flags);
    ctx_.remove_pool_children(a.descriptorPool_ref->id);
}

void RendererDispatcher::vkDestroyDescriptorPool(vkDestroyDescriptorPool_args& a) {
    auto& dev = object_as<DeviceObject>(a.device_ref);
    dev.fn.DestroyDescriptorPool(dev.vk, a.descriptorPool, nullptr);
    if (!a.descriptorPool_ref) return;
    ctx_.remove_pool_children(a.descriptorPool_ref->id);
    ctx_.remove_object(a.descriptorPool_ref->id);
}

}  // namespace venus::renderer
