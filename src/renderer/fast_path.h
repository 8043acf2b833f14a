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

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "renderer/object_table.h"
#include "renderer/objects.h"

namespace venus::renderer {

// Reads a value of the stream once. The stream may be shared memory that the guest writes while
// we read it (FastPath runs indirect streams in place): the asm pins the value read, so the
// compiler cannot read the memory again for a later use of it — a second read could differ from
// the value that was checked (an enum's sign, a table index, the id whose object was looked up).
template <class T>
inline T load_once(const uint8_t* p) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8);
    using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    Bits bits;
    std::memcpy(&bits, p, sizeof bits);
    asm volatile("" : "+r"(bits));
    return std::bit_cast<T>(bits);
}

class FastPath {
public:
    explicit FastPath(CachedResolver& objects) : objects_(objects), generation_(objects.generation_counter()) {}

    // Runs the command at `p` (`n` bytes left in the stream) if it is a plain recording command
    // that can run exactly as the general path would run it; returns the bytes it took, or 0.
    size_t run(const uint8_t* p, size_t n);
    // Runs the commands at `p` for as long as run() would take them; returns the bytes taken and
    // adds the number of commands to `count`. The stream may be shared memory (see load_once).
    // Every command's code is inlined, and a run of one command on one command buffer (the
    // common case: a recording of draws) goes round that command's own loop: the command
    // buffer and its host function are looked up once for the run, and each further command
    // costs a header and id compare, its arguments and the driver call. Nothing in such a run
    // can destroy an object, so the lookup stays valid for it.
    size_t run_all(const uint8_t* p, size_t n, uint64_t& count);
    static bool covers(uint32_t id);
    static const size_t kCommandCount;  // commands with a fast path

    // For the generated handlers.
    // The command buffer named by the id at `at`, and its device's host functions.
    // Recording commands come in runs on one command buffer: the last one is remembered until
    // any object is destroyed.
    bool command_buffer(const uint8_t* at, VkCommandBuffer& cb, const DeviceFns*& fns) {
        const uint64_t id = load_once<uint64_t>(at);
        if (id != last_.id || generation_.load(std::memory_order_acquire) != last_.generation || !last_.fns) [[unlikely]] {
            if (!remember_command_buffer(id)) return false;
        }
        cb = last_.cb;
        fns = last_.fns;
        return true;
    }
    // The id of the command buffer command_buffer() last accepted.
    uint64_t command_buffer_id() const { return last_.id; }
    // A non-dispatchable handle named by the id at `at` (0: VK_NULL_HANDLE, if not `required`).
    template <class H>
    bool handle(const uint8_t* at, VkObjectType type, bool required, H& out) {
        const uint64_t id = load_once<uint64_t>(at);
        if (id == 0) {
            out = VK_NULL_HANDLE;
            return !required;
        }
        const protocol::ObjectRef* ref = objects_.find(id);
        if (!ref || ref->type != type) return false;
        out = protocol::to_handle<H>(ref->handle);
        return true;
    }

private:
    // Looks `id` up and remembers it if it is a command buffer of a device (kept out of line:
    // the handlers' common case stays small).
    [[gnu::noinline]] bool remember_command_buffer(uint64_t id) {
        const uint64_t gen = generation_.load(std::memory_order_acquire);
        const protocol::ObjectRef* ref = objects_.find(id);
        if (!ref || ref->type != VK_OBJECT_TYPE_COMMAND_BUFFER) return false;
        const DeviceObject* device = static_cast<const Object*>(ref)->device;
        if (!device) return false;
        last_ = {id, gen, reinterpret_cast<VkCommandBuffer>(ref->handle), &device->fn};
        return true;
    }

    CachedResolver& objects_;
    const std::atomic<uint64_t>& generation_;
    struct {
        uint64_t id = 0;
        uint64_t generation = 0;
        VkCommandBuffer cb = VK_NULL_HANDLE;
        const DeviceFns* fns = nullptr;
    } last_;
};

}  // namespace venus::renderer
