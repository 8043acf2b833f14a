// Command pools and command buffers: recording into the driver's own memory, flushing in bulk.
#include "icd/command_buffer.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "icd/generated_support.h"
#include "icd/log.h"

namespace venus::icd {

CommandBuffer::CommandBuffer(uint64_t id, Device* device, CommandPool* pool, VkCommandBufferLevel level)
    : Dispatchable(id), device_(device), pool_(pool), level_(level), caps_(&device->conn().caps()) {}

CommandBuffer::~CommandBuffer() { drop_chunk(); }

void CommandBuffer::fail(VkResult result) {
    if (error_ == VK_SUCCESS) error_ = result;
    len_ = 0;
    limit_ = 0;  // every reserve() goes through grow(), which refuses
}

uint8_t* CommandBuffer::grow(size_t n) {
    if (error_ != VK_SUCCESS) return nullptr;
    try {
        if (len_ && len_ + n > flush_at_) {
            flush();
            flush_at_ = std::min(flush_at_ * 2, kFlushBytes);
        }
        make_room(n);
        limit_ = std::max(std::min(cap_, flush_at_), len_ + n);
    } catch (...) {
        fail(device_->conn().on_exception());
        return nullptr;
    }
    return data_ + len_;
}

void CommandBuffer::make_room(size_t n) {
    const size_t need = len_ + n;
    // a piece that will not fit inline in the ring is recorded where the renderer reads it
    if (std::max(flush_at_, need) > Connection::kInlineLimit) {
        if (chunk_ && data_ == chunk_->blob.memory.data() && cap_ >= need) return;
        auto chunk = device_->conn().acquire_chunk(std::max(flush_at_, need));
        if (len_) std::memcpy(chunk->blob.memory.data(), data_, len_);
        drop_chunk();
        chunk_ = std::move(chunk);
        data_ = chunk_->blob.memory.data();
        cap_ = chunk_->size;
        return;
    }
    if (data_ == buf_.get() && cap_ >= need) return;
    if (buf_cap_ < need) {
        size_t c = buf_cap_ ? buf_cap_ * 2 : 4096;
        while (c < need) c *= 2;
        auto bigger = std::make_unique<uint8_t[]>(c);
        if (len_) std::memcpy(bigger.get(), data_, len_);
        buf_ = std::move(bigger);
        buf_cap_ = c;
    } else if (len_ && data_ != buf_.get()) {
        std::memcpy(buf_.get(), data_, len_);
    }
    data_ = buf_.get();
    cap_ = buf_cap_;
}

void CommandBuffer::drop_chunk() {
    if (!chunk_) return;
    if (data_ == chunk_->blob.memory.data()) {
        data_ = nullptr;
        cap_ = 0;
    }
    device_->conn().release_chunk(std::move(chunk_));
}

void CommandBuffer::flush() {
    if (!len_) return;
    const size_t n = len_;
    len_ = 0;
    limit_ = 0;  // the next reserve() chooses the next piece's storage
    Connection& conn = device_->conn();
    if (chunk_ && data_ == chunk_->blob.memory.data() && n > Connection::kInlineLimit) {
        data_ = nullptr;
        cap_ = 0;
        conn.submit_chunk(std::move(chunk_), n);
    } else {
        conn.submit_encoded({data_, n});
    }
}

VkResult CommandBuffer::begin(const VkCommandBufferBeginInfo* info) {
    reset_local(false);
    error_ = VK_SUCCESS;
    // Vulkan ignores pInheritanceInfo for primary command buffers and the render pass and
    // framebuffer outside a render pass continuation: never send what may be garbage.
    VkCommandBufferBeginInfo b = *info;
    VkCommandBufferInheritanceInfo inherit{};
    if (level_ == VK_COMMAND_BUFFER_LEVEL_PRIMARY || !b.pInheritanceInfo) {
        b.pInheritanceInfo = nullptr;
    } else {
        inherit = *b.pInheritanceInfo;
        if (!(b.flags & VK_COMMAND_BUFFER_USAGE_RENDER_PASS_CONTINUE_BIT)) {
            inherit.renderPass = VK_NULL_HANDLE;
            inherit.subpass = 0;
            inherit.framebuffer = VK_NULL_HANDLE;
        }
        b.pInheritanceInfo = &inherit;
    }
    VkCommandBuffer self = handle();
    record([&](const WireCaps& c) { return guest::sizeof_vkBeginCommandBuffer(c, self, &b); },
           [&](Encoder& e) { guest::encode_vkBeginCommandBuffer(e, 0, self, &b); });
    // The recording's first piece reaches the ring after kFirstFlushBytes of commands, or at
    // vkEndCommandBuffer; a renderer thread that went to sleep (IDLE) meanwhile would only be
    // woken then. Waking it now overlaps its wake-up with the application's recording.
    try {
        device_->conn().ring().wake();
    } catch (...) {
        fail(device_->conn().on_exception());
    }
    return error_;
}

VkResult CommandBuffer::end() {
    VkCommandBuffer self = handle();
    record([&](const WireCaps& c) { return guest::sizeof_vkEndCommandBuffer(c, self); },
           [&](Encoder& e) { guest::encode_vkEndCommandBuffer(e, 0, self); });
    if (error_ != VK_SUCCESS) return error_;
    try {
        flush();
    } catch (...) {
        fail(device_->conn().on_exception());
    }
    return error_;
}

void CommandBuffer::reset_local(bool release_memory) {
    len_ = 0;
    error_ = VK_SUCCESS;
    drop_chunk();
    if (release_memory) {
        buf_.reset();
        buf_cap_ = 0;
    }
    data_ = buf_.get();
    cap_ = buf_cap_;
    flush_at_ = kFirstFlushBytes;
    limit_ = std::min(cap_, flush_at_);
}

// ------------------------------------------------------------------------------------ pools

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreateCommandPool(VkDevice device, const VkCommandPoolCreateInfo* pCreateInfo,
                                                       const VkAllocationCallbacks*, VkCommandPool* pCommandPool) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        auto pool = std::make_unique<CommandPool>();
        pool->id = next_id();
        pool->family = pCreateInfo->queueFamilyIndex;
        pool->flags = pCreateInfo->flags;
        *pCommandPool = protocol::to_handle<VkCommandPool>(pool->id);
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkCreateCommandPool(c, device, pCreateInfo, nullptr, pCommandPool); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkCreateCommandPool(e, f, device, pCreateInfo, nullptr, pCommandPool); });
        std::lock_guard lock(dev->mutex);
        dev->command_pools[pool->id] = std::move(pool);
        return VK_SUCCESS;
    } catch (...) {
        *pCommandPool = VK_NULL_HANDLE;
        return conn.on_exception();
    }
}

namespace {

void free_buffers_locked(CommandPool& pool) {
    for (CommandBuffer* cb : pool.buffers) {
        registry().remove(cb);
        delete cb;
    }
    pool.buffers.clear();
}

}  // namespace

VKAPI_ATTR void VKAPI_CALL icd_vkDestroyCommandPool(VkDevice device, VkCommandPool commandPool,
                                                    const VkAllocationCallbacks*) {
    if (!commandPool) return;
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    {
        std::lock_guard lock(dev->mutex);
        auto it = dev->command_pools.find(id_of(commandPool));
        if (it != dev->command_pools.end()) {
            free_buffers_locked(*it->second);
            dev->command_pools.erase(it);
        }
    }
    if (conn.lost()) return;
    try {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkDestroyCommandPool(c, device, commandPool, nullptr); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkDestroyCommandPool(e, f, device, commandPool, nullptr); });
    } catch (...) {
        conn.on_exception();
    }
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkResetCommandPool(VkDevice device, VkCommandPool commandPool,
                                                      VkCommandPoolResetFlags flags) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    {
        std::lock_guard lock(dev->mutex);
        auto it = dev->command_pools.find(id_of(commandPool));
        if (it != dev->command_pools.end())
            for (CommandBuffer* cb : it->second->buffers)
                cb->reset_local(flags & VK_COMMAND_POOL_RESET_RELEASE_RESOURCES_BIT);
    }
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkResetCommandPool(c, device, commandPool, flags); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkResetCommandPool(e, f, device, commandPool, flags); });
        return VK_SUCCESS;
    } catch (...) {
        return conn.on_exception();
    }
}

VKAPI_ATTR void VKAPI_CALL icd_vkTrimCommandPool(VkDevice device, VkCommandPool commandPool, VkCommandPoolTrimFlags flags) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    if (conn.lost()) return;
    try {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkTrimCommandPool(c, device, commandPool, flags); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkTrimCommandPool(e, f, device, commandPool, flags); });
    } catch (...) {
        conn.on_exception();
    }
}

// ------------------------------------------------------------------------------------ buffers

VKAPI_ATTR VkResult VKAPI_CALL icd_vkAllocateCommandBuffers(VkDevice device, const VkCommandBufferAllocateInfo* pAllocateInfo,
                                                            VkCommandBuffer* pCommandBuffers) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    const uint32_t n = pAllocateInfo->commandBufferCount;
    for (uint32_t i = 0; i < n; ++i) pCommandBuffers[i] = VK_NULL_HANDLE;
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    std::vector<CommandBuffer*> made;
    try {
        CommandPool* pool;
        {
            std::lock_guard lock(dev->mutex);
            auto it = dev->command_pools.find(id_of(pAllocateInfo->commandPool));
            if (it == dev->command_pools.end()) return VK_ERROR_OUT_OF_HOST_MEMORY;  // invalid usage
            pool = it->second.get();
        }
        for (uint32_t i = 0; i < n; ++i) {
            auto* cb = new CommandBuffer(next_id(), dev, pool, pAllocateInfo->level);
            made.push_back(cb);
            pCommandBuffers[i] = cb->handle();
        }
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkAllocateCommandBuffers(c, device, pAllocateInfo, pCommandBuffers); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkAllocateCommandBuffers(e, f, device, pAllocateInfo, pCommandBuffers); });
        std::lock_guard lock(dev->mutex);
        for (CommandBuffer* cb : made) {
            pool->buffers.insert(cb);
            registry().add(cb, VK_OBJECT_TYPE_COMMAND_BUFFER);
        }
        return VK_SUCCESS;
    } catch (...) {
        for (CommandBuffer* cb : made) delete cb;
        for (uint32_t i = 0; i < n; ++i) pCommandBuffers[i] = VK_NULL_HANDLE;
        return conn.on_exception();
    }
}

VKAPI_ATTR void VKAPI_CALL icd_vkFreeCommandBuffers(VkDevice device, VkCommandPool commandPool, uint32_t commandBufferCount,
                                                    const VkCommandBuffer* pCommandBuffers) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    if (!conn.lost()) {
        try {
            conn.submit([&](const WireCaps& c) { return guest::sizeof_vkFreeCommandBuffers(c, device, commandPool, commandBufferCount, pCommandBuffers); },
                        [&](Encoder& e, uint32_t f) { guest::encode_vkFreeCommandBuffers(e, f, device, commandPool, commandBufferCount, pCommandBuffers); });
        } catch (...) {
            conn.on_exception();
        }
    }
    std::lock_guard lock(dev->mutex);
    auto it = dev->command_pools.find(id_of(commandPool));
    for (uint32_t i = 0; i < commandBufferCount; ++i) {
        CommandBuffer* cb = CommandBuffer::from(pCommandBuffers[i]);
        if (!cb) continue;
        if (it != dev->command_pools.end()) it->second->buffers.erase(cb);
        registry().remove(cb);
        delete cb;
    }
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkBeginCommandBuffer(VkCommandBuffer commandBuffer, const VkCommandBufferBeginInfo* pBeginInfo) {
    CommandBuffer* cb = CommandBuffer::from(commandBuffer);
    if (cb->device()->conn().lost()) return VK_ERROR_DEVICE_LOST;
    return cb->begin(pBeginInfo);
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkEndCommandBuffer(VkCommandBuffer commandBuffer) {
    CommandBuffer* cb = CommandBuffer::from(commandBuffer);
    if (cb->device()->conn().lost()) return VK_ERROR_DEVICE_LOST;
    return cb->end();
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkResetCommandBuffer(VkCommandBuffer commandBuffer, VkCommandBufferResetFlags flags) {
    CommandBuffer* cb = CommandBuffer::from(commandBuffer);
    Connection& conn = cb->device()->conn();
    cb->reset_local(flags & VK_COMMAND_BUFFER_RESET_RELEASE_RESOURCES_BIT);
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkResetCommandBuffer(c, commandBuffer, flags); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkResetCommandBuffer(e, f, commandBuffer, flags); });
        return VK_SUCCESS;
    } catch (...) {
        return conn.on_exception();
    }
}

}  // namespace venus::icd

namespace venus::icd {

// Vulkan ignores resolveImageView/resolveImageLayout when resolveMode is NONE: never send them.
VKAPI_ATTR void VKAPI_CALL icd_vkCmdBeginRendering(VkCommandBuffer commandBuffer, const VkRenderingInfo* pRenderingInfo) {
    CommandBuffer* cb = CommandBuffer::from(commandBuffer);
    VkRenderingInfo info = *pRenderingInfo;
    VkRenderingAttachmentInfo local[8];
    std::vector<VkRenderingAttachmentInfo> heap;
    VkRenderingAttachmentInfo* colors = local;
    if (info.colorAttachmentCount > 8) {
        heap.resize(info.colorAttachmentCount);
        colors = heap.data();
    }
    auto clean = [](VkRenderingAttachmentInfo& a) {
        if (a.resolveMode == VK_RESOLVE_MODE_NONE) {
            a.resolveImageView = VK_NULL_HANDLE;
            a.resolveImageLayout = VK_IMAGE_LAYOUT_UNDEFINED;
        }
    };
    if (info.pColorAttachments) {
        for (uint32_t i = 0; i < info.colorAttachmentCount; ++i) {
            colors[i] = info.pColorAttachments[i];
            clean(colors[i]);
        }
        info.pColorAttachments = colors;
    }
    VkRenderingAttachmentInfo depth, stencil;
    if (info.pDepthAttachment) {
        depth = *info.pDepthAttachment;
        clean(depth);
        info.pDepthAttachment = &depth;
    }
    if (info.pStencilAttachment) {
        stencil = *info.pStencilAttachment;
        clean(stencil);
        info.pStencilAttachment = &stencil;
    }
    cb->record([&](const WireCaps& c) { return guest::sizeof_vkCmdBeginRendering(c, commandBuffer, &info); },
               [&](Encoder& e) { guest::encode_vkCmdBeginRendering(e, 0, commandBuffer, &info); });
}

}  // namespace venus::icd
