// One stream of Venus commands into a context: the control path (vtest SUBMIT_CMD2 /
// render-server SUBMIT_CMD) or one ring. Each path has its own scratch memory, so paths decode
// in parallel, and in wire format 1 its own reply stream (§5.6); in wire format 0 the paths of
// a context share one (wire-format-0-vs-1.md §7.4).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "protocol/codec.h"
#include "renderer/fast_path.h"
#include "renderer/object_table.h"
#include "renderer/resource.h"

namespace venus::renderer {

class Context;
class DeferredExecutor;
class Ring;
class RendererDispatcher;

// Where replies go: a window of a resource and a write position in it. Set, seek and the
// encoding of one reply hold its lock, so that paths sharing it (wire format 0) never write
// into a window another path is replacing.
class ReplyStream {
public:
    explicit ReplyStream(ObjectTable& objects) { encoder_.set_resolver(&objects); }
    void set(std::shared_ptr<Resource> resource, uint64_t offset, uint64_t size);
    void seek(uint64_t position);
    // A resource is going away: stop writing into it (not an error, §7.4).
    void forget(uint32_t res_id);
    // Between lock() and unlock(): the encoder, or nullptr if no stream is set.
    void lock() { mutex_.lock(); }
    void unlock() noexcept { mutex_.unlock(); }
    protocol::Encoder* encoder() { return set_ ? &encoder_ : nullptr; }

private:
    std::mutex mutex_;
    std::shared_ptr<Resource> resource_;
    uint64_t size_ = 0;
    protocol::Encoder encoder_;
    bool set_ = false;
};

class DispatchPath {
public:
    enum class Kind { Control, Ring };
    // `shared_replies`: the context's reply stream in wire format 0; nullptr gives the path
    // its own.
    DispatchPath(Context& ctx, Kind kind, Ring* ring, size_t scratch_cap,
                 std::shared_ptr<ReplyStream> shared_replies = nullptr);
    ~DispatchPath();
    DispatchPath(const DispatchPath&) = delete;
    DispatchPath& operator=(const DispatchPath&) = delete;

    Kind kind() const { return kind_; }
    Ring* ring() const { return ring_; }
    const char* name() const { return kind_ == Kind::Control ? "control" : "ring"; }

    // Decodes and runs every command of `bytes`. `after_command(offset)` is called once
    // commands have run, with the offset just past the last of them (rings move their head
    // there): after each command, or after each batch of deferred recording commands. Throws
    // WireError or ContextError on the first bad command.
    void run(std::span<const uint8_t> bytes, const std::function<void(size_t)>& after_command = {});
    // Commands of an indirect stream (vkExecuteCommandStreamsMESA), decoded with separate scratch
    // memory so that the outer command's arguments stay valid.
    void run_nested(std::span<const uint8_t> bytes);
    // The leading run of plain recording commands of an indirect stream, straight from the
    // shared memory it lies in (FastPath reads each value once); returns the bytes run. The
    // rest goes through run_nested() from a private copy. 0 when the fast path is off.
    size_t run_fast_in_place(const uint8_t* shared, size_t size);

    ReplyStream& replies() { return *replies_; }

    bool executing_streams = false;  // inside vkExecuteCommandStreamsMESA (no nesting)
    std::vector<uint8_t> stream_copy;  // its private copy of the stream being decoded

private:
    void run_stream(protocol::Decoder& d, protocol::TempArena& arena, const std::function<void(size_t)>& after_command);

    Context& ctx_;
    Kind kind_;
    Ring* ring_;
    CachedResolver objects_;
    // plain recording commands, when neither the executor nor the configuration says otherwise
    std::unique_ptr<FastPath> fast_;
    uint64_t fast_commands_ = 0;  // how many took it (logged at the end)
    protocol::TempArena arena_;
    protocol::TempArena nested_arena_;
    std::unique_ptr<RendererDispatcher> dispatcher_;
    // recording commands of long streams run here (RendererConfig::deferred_execution)
    std::unique_ptr<DeferredExecutor> executor_;
    std::shared_ptr<ReplyStream> replies_;
};

}  // namespace venus::renderer
