// Command buffers record into memory of their own: every vkCmd* is encoded into the command
// buffer's stream (no ring write, no reply). The stream reaches the renderer in bulk: at
// vkEndCommandBuffer, or in pieces while a large command buffer is still being recorded (so
// that the renderer records on the host while the application records here): the first piece
// of a recording is kFirstFlushBytes, so the renderer starts early, and each next one twice the
// last, up to kFlushBytes. Pieces small enough to go inline in the ring are recorded into
// private memory; larger ones straight into a shared-memory chunk that the renderer then runs
// in place (no copy on either side).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>

#include "icd/connection.h"
#include "icd/objects.h"

namespace venus::icd {

class CommandBuffer : public Dispatchable {
public:
    CommandBuffer(uint64_t id, Device* device, CommandPool* pool, VkCommandBufferLevel level);
    ~CommandBuffer();
    CommandBuffer(const CommandBuffer&) = delete;
    CommandBuffer& operator=(const CommandBuffer&) = delete;
    static CommandBuffer* from(VkCommandBuffer h) { return reinterpret_cast<CommandBuffer*>(h); }
    VkCommandBuffer handle() { return reinterpret_cast<VkCommandBuffer>(this); }

    Device* device() const { return device_; }
    CommandPool* pool() const { return pool_; }
    VkCommandBufferLevel level() const { return level_; }
    const protocol::WireCaps& caps() const { return *caps_; }

    // Room for `n` more bytes of commands (nullptr once recording has failed); commit(n) after
    // writing them.
    uint8_t* reserve(size_t n) {
        if (limit_ - len_ >= n) return data_ + len_;
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
    // Makes data_ the storage for a piece that will hold at least `n` bytes (len_ of them
    // already written): private memory, or a shared chunk when the piece goes out indirectly.
    void make_room(size_t n);
    void drop_chunk();

    Device* device_;
    CommandPool* pool_;
    VkCommandBufferLevel level_;
    const protocol::WireCaps* caps_;
    uint8_t* data_ = nullptr;  // the piece being recorded: buf_ or chunk_'s memory
    size_t len_ = 0;
    size_t cap_ = 0;           // bytes at data_
    std::unique_ptr<uint8_t[]> buf_;
    size_t buf_cap_ = 0;
    std::unique_ptr<Connection::Chunk> chunk_;
    size_t flush_at_ = kFirstFlushBytes;  // the size of the next piece sent while recording
    size_t limit_ = 0;                    // reserve() fits up to here: min(cap_, flush_at_) or one command
    VkResult error_ = VK_SUCCESS;
};

}  // namespace venus::icd
