// The fast path for plain recording commands (vkCmdDraw, vkCmdSetLineWidth, vkCmdBindIndexBuffer,
// ...: a vkCmd* whose parameters are all single values). Its per-command code is generated
// (codegen/emit_fast_path.py): read the fixed-size arguments straight from the stream, resolve
// the command buffer through the path's object cache, call the host driver. No argument
// structure, no scratch memory, no virtual calls: on recording-heavy streams the renderer's own
// work per command is a small fraction of the general decoder's (docs/PERFORMANCE.md).
//
// It never reports errors: whatever it would have to refuse, it declines (run() returns 0) and
// the general decoder runs that command and reports what is wrong, so behaviour on bad input
// is exactly the general path's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "renderer/object_table.h"
#include "renderer/objects.h"

namespace venus::renderer {

class FastPath {
public:
    explicit FastPath(CachedResolver& objects) : objects_(objects) {}

    // Runs the command at `p` (`n` bytes left in the stream) if it is a plain recording command
    // that can run exactly as the general path would run it; returns the bytes it took, or 0.
    size_t run(const uint8_t* p, size_t n) {
        if (n < 8) return 0;
        uint32_t header[2];
        std::memcpy(header, p, 8);
        if (header[1] != 0 || header[0] >= kTableSize) return 0;  // flags: a reply was asked for
        const Handler h = kTable[header[0]];
        return h ? h(*this, p, n) : 0;
    }
    static bool covers(uint32_t id) { return id < kTableSize && kTable[id]; }
    static const size_t kCommandCount;  // commands with a fast path

    // For the generated handlers.
    // The command buffer named by the id at `at`, and its device's host functions.
    // Recording commands come in runs on one command buffer: the last one is remembered until
    // any object is destroyed.
    bool command_buffer(const uint8_t* at, VkCommandBuffer& cb, const DeviceFns*& fns) {
        uint64_t id;
        std::memcpy(&id, at, 8);
        const uint64_t gen = objects_.generation();
        if (id != last_.id || gen != last_.generation || !last_.fns) {
            const protocol::ObjectRef* ref = objects_.find(id);
            if (!ref || ref->type != VK_OBJECT_TYPE_COMMAND_BUFFER) return false;
            const DeviceObject* device = static_cast<const Object*>(ref)->device;
            if (!device) return false;
            last_ = {id, gen, reinterpret_cast<VkCommandBuffer>(ref->handle), &device->fn};
        }
        cb = last_.cb;
        fns = last_.fns;
        return true;
    }
    // A non-dispatchable handle named by the id at `at` (0: VK_NULL_HANDLE, if not `required`).
    template <class H>
    bool handle(const uint8_t* at, VkObjectType type, bool required, H& out) {
        uint64_t id;
        std::memcpy(&id, at, 8);
        if (id == 0) {
            out = VK_NULL_HANDLE;
            return !required;
        }
        const protocol::ObjectRef* ref = objects_.find(id);
        if (!ref || ref->type != type) return false;
        out = protocol::to_handle<H>(ref->handle);
        return true;
    }

    using Handler = size_t (*)(FastPath&, const uint8_t*, size_t);

private:
    static const size_t kTableSize;
    static const Handler kTable[];
    CachedResolver& objects_;
    struct {
        uint64_t id = 0;
        uint64_t generation = 0;
        VkCommandBuffer cb = VK_NULL_HANDLE;
        const DeviceFns* fns = nullptr;
    } last_;
};

}  // namespace venus::renderer
