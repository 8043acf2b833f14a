// Command buffers record into memory of their own: every vkCmd* is encoded into the command
// buffer's stream (no ring write, no reply). The stream reaches the renderer in bulk: at
// vkEndCommandBuffer, or in pieces while a large command buffer is still being recorded (so
// that the renderer records on the host while the application records here): the first piece
// of a recording is kFirstFlushBytes, so the renderer starts early, and each next one twice the
// last, up to kFlushBytes.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>

#include "icd/objects.h"

namespace venus::icd {

class CommandBuffer : public Dispatchable {
public:
    CommandBuffer(uint64_t id, Device* device, CommandPool* pool, VkCommandBufferLevel level);
    static CommandBuffer* from(VkCommandBuffer h) { return reinterpret_cast<CommandBuffer*>(h); }
    VkCommandBuffer handle() { return reinterpret_cast<VkCommandBuffer>(this); }

    Device* device() const { return device_; }
    CommandPool* pool() const { return pool_; }
    VkCommandBufferLevel level() const { return level_; }
    const protocol::WireCaps& caps() const { return *caps_; }

    // Room for `n` more bytes of commands (nullptr once recording has failed); commit(n) after
    // writing them.
    uint8_t* reserve(size_t n) {
        if (limit_ - len_ >= n) return buf_.get() + len_;
        return grow(n);
    }
    void commit(size_t n) { len_ += n; }
    template <class Size, class Encode>
    void record(Size&& size, Encode&& encode) {
        const size_t n = size(*caps_);
        uint8_t* p = reserve(n);
        if (!p) return;
        try {
            protocol::Encoder e(p, n, caps_);
            encode(e);
        } catch (...) {
            fail(device_->conn().on_exception());
            return;
        }
        commit(n);
    }

    VkResult begin(const VkCommandBufferBeginInfo* info);
    VkResult end();
    // Drops what was recorded here (the renderer resets its copy on its own).
    void reset_local(bool release_memory);
    void fail(VkResult result);

    static constexpr size_t kFirstFlushBytes = 16 << 10;
    static constexpr size_t kFlushBytes = 256 << 10;

private:
    uint8_t* grow(size_t n);
    void flush();

    Device* device_;
    CommandPool* pool_;
    VkCommandBufferLevel level_;
    const protocol::WireCaps* caps_;
    std::unique_ptr<uint8_t[]> buf_;
    size_t len_ = 0;
    size_t cap_ = 0;
    size_t flush_at_ = kFirstFlushBytes;  // the size of the next piece sent while recording
    size_t limit_ = 0;                    // reserve() fits up to here: min(cap_, flush_at_) or one command
    VkResult error_ = VK_SUCCESS;
};

}  // namespace venus::icd
