// Device memory (venus-protocol.md §6.2): allocations go to the renderer asynchronously (small
// ones; large ones wait for the answer so that an out-of-memory reaches the application);
// vkMapMemory makes the renderer run the allocation (vkWaitRingSeqnoMESA on the socket), then
// asks for a blob of the memory (RESOURCE_CREATE_BLOB, blob_id = memory id) and maps its fd.
// The mapping stays until vkFreeMemory; vkUnmapMemory only forgets it.
#include <algorithm>

#include "icd/generated_support.h"
#include "icd/log.h"
#include "transport/vtest_protocol.h"

namespace venus::icd {

namespace {

// Allocations at least this large are round trips: their failure is worth reporting.
constexpr VkDeviceSize kSyncAllocation = 64ull << 20;

Memory* find_memory(Device* dev, VkDeviceMemory memory) {
    std::lock_guard lock(dev->mutex);
    auto it = dev->memories.find(id_of(memory));
    return it == dev->memories.end() ? nullptr : it->second.get();
}

}  // namespace

VKAPI_ATTR VkResult VKAPI_CALL icd_vkAllocateMemory(VkDevice device, const VkMemoryAllocateInfo* pAllocateInfo,
                                                    const VkAllocationCallbacks*, VkDeviceMemory* pMemory) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    *pMemory = VK_NULL_HANDLE;
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    const auto& types = dev->physical->memory;
    if (pAllocateInfo->memoryTypeIndex >= types.memoryTypeCount) return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    auto mem = std::make_unique<Memory>();
    mem->id = next_id();
    mem->size = pAllocateInfo->allocationSize;
    mem->type = pAllocateInfo->memoryTypeIndex;
    mem->flags = types.memoryTypes[mem->type].propertyFlags;
    VkDeviceMemory handle = protocol::to_handle<VkDeviceMemory>(mem->id);
    try {
        if (mem->size >= kSyncAllocation) {
            const VkResult r = conn.call(
                [&](const WireCaps& c) { return guest::sizeof_vkAllocateMemory(c, device, pAllocateInfo, nullptr, &handle); },
                [&](Encoder& e, uint32_t f) { guest::encode_vkAllocateMemory(e, f, device, pAllocateInfo, nullptr, &handle); },
                [&](const WireCaps& c) { return guest::sizeof_vkAllocateMemory_reply(c, device, pAllocateInfo, nullptr, &handle); },
                [&](Decoder& d) { return guest::decode_vkAllocateMemory_reply(d, device, pAllocateInfo, nullptr, &handle); });
            if (r != VK_SUCCESS) return r;
            mem->seqno = conn.ring().tail();
        } else {
            mem->seqno = conn.submit(
                [&](const WireCaps& c) { return guest::sizeof_vkAllocateMemory(c, device, pAllocateInfo, nullptr, &handle); },
                [&](Encoder& e, uint32_t f) { guest::encode_vkAllocateMemory(e, f, device, pAllocateInfo, nullptr, &handle); });
        }
    } catch (...) {
        return conn.on_exception();
    }
    {
        std::lock_guard lock(dev->mutex);
        dev->memories[mem->id] = std::move(mem);
    }
    *pMemory = handle;
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkFreeMemory(VkDevice device, VkDeviceMemory memory, const VkAllocationCallbacks*) {
    if (!memory) return;
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    std::unique_ptr<Memory> mem;
    {
        std::lock_guard lock(dev->mutex);
        auto it = dev->memories.find(id_of(memory));
        if (it != dev->memories.end()) {
            mem = std::move(it->second);
            dev->memories.erase(it);
        }
    }
    if (mem && mem->blob) {
        const uint32_t res = mem->blob->res_id;
        mem->blob.reset();  // unmaps
        try {
            if (!conn.lost()) conn.vtest().destroy_blob(res);
        } catch (...) {
            conn.on_exception();
        }
    }
    if (conn.lost()) return;
    try {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkFreeMemory(c, device, memory, nullptr); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkFreeMemory(e, f, device, memory, nullptr); });
    } catch (...) {
        conn.on_exception();
    }
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkMapMemory(VkDevice device, VkDeviceMemory memory, VkDeviceSize offset, VkDeviceSize,
                                               VkMemoryMapFlags, void** ppData) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    *ppData = nullptr;
    Memory* mem = find_memory(dev, memory);
    if (!mem || !(mem->flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) return VK_ERROR_MEMORY_MAP_FAILED;
    if (conn.lost()) return VK_ERROR_MEMORY_MAP_FAILED;
    std::lock_guard lock(mem->mutex);
    if (!mem->blob) {
        try {
            conn.sync_ring_for_control(mem->seqno);
            mem->blob = conn.vtest().create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, mem->size, mem->id);
        } catch (const transport::VtestRefused& e) {
            log::error("vkMapMemory: memory {} ({} bytes, type {}) cannot be mapped: {}", mem->id, mem->size, mem->type,
                       e.what());
            return VK_ERROR_MEMORY_MAP_FAILED;
        } catch (const transport::PeerClosed& e) {
            // virglrenderer's own vtest server answers a blob it cannot export by dropping the
            // client (`virgl_renderer_resource_export_blob ... failed (-22)` in its log): the
            // connection is gone, and the reason is this memory
            log::error("vkMapMemory: the renderer closed the connection when asked to share memory {} ({} bytes, type "
                       "{}) as a blob ({}); virglrenderer's own servers do this when the host driver cannot export the "
                       "memory as a dma-buf (lavapipe, NVIDIA, MoltenVK-class hosts). venus-server, or "
                       "venus-render-server as virglrenderer's render server (docs/vm.md), shares it on every host",
                       mem->id, mem->size, mem->type, e.what());
            conn.on_exception();
            return VK_ERROR_MEMORY_MAP_FAILED;
        } catch (...) {
            conn.on_exception();
            return VK_ERROR_MEMORY_MAP_FAILED;
        }
    }
    mem->mapped = true;
    *ppData = mem->blob->memory.data() + offset;
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkUnmapMemory(VkDevice device, VkDeviceMemory memory) {
    Memory* mem = find_memory(Device::from(device), memory);
    if (!mem) return;
    std::lock_guard lock(mem->mutex);
    mem->mapped = false;
}

}  // namespace venus::icd
