#include "renderer/dispatch_path.h"

#include <fmt/format.h>

#include "protocol/host_dispatch.h"
#include "renderer/context.h"
#include "renderer/deferred_executor.h"
#include "renderer/dispatcher_gen.h"
#include "renderer/errors.h"
#include "util/log.h"

namespace venus::renderer {

DispatchPath::DispatchPath(Context& ctx, Kind kind, Ring* ring, size_t scratch_cap,
                           std::shared_ptr<ReplyStream> shared_replies)
    : ctx_(ctx), kind_(kind), ring_(ring), objects_(ctx.objects()), arena_(scratch_cap), nested_arena_(scratch_cap),
      dispatcher_(std::make_unique<RendererDispatcher>(ctx, *this)),
      replies_(shared_replies ? std::move(shared_replies) : std::make_shared<ReplyStream>(ctx.objects())) {
    if (ctx.deferred_execution())
        executor_ = std::make_unique<DeferredExecutor>(*dispatcher_, scratch_cap,
                                                       fmt::format("venus-exec-{}", ctx.id()));
    else if (ctx.fast_path())
        fast_ = std::make_unique<FastPath>(objects_);
}

DispatchPath::~DispatchPath() {
    if (fast_commands_)
        log::debug("ctx {}: {} path: {} recording commands took the fast path", ctx_.id(), name(), fast_commands_);
    if (executor_ && executor_->batches_run())
        log::debug("ctx {}: {} path: {} batches of recording commands ran on the executor thread", ctx_.id(), name(),
                   executor_->batches_run());
}

namespace {
// Deferring pays for itself over a run of recording commands, not for a handful: the executor
// takes over only when at least this much of the stream is left.
constexpr size_t kDeferMinBytes = 16 << 10;
}  // namespace

void DispatchPath::run(std::span<const uint8_t> bytes, const std::function<void(size_t)>& after_command) {
    protocol::Decoder d(bytes.data(), bytes.size(), &arena_, &objects_);
    d.set_wire_format(ctx_.wire_format());
    run_stream(d, arena_, after_command);
}

size_t DispatchPath::run_fast_in_place(const uint8_t* shared, size_t size) {
    if (!fast_) return 0;
    if (ctx_.is_fatal()) throw ContextError("the context is fatal");
    return fast_->run_all(shared, size, fast_commands_);
}

void DispatchPath::run_nested(std::span<const uint8_t> bytes) {
    // the outer command's arguments live in arena_; the outer stream has drained the executor
    protocol::Decoder d(bytes.data(), bytes.size(), &nested_arena_, &objects_);
    d.set_wire_format(ctx_.wire_format());
    run_stream(d, nested_arena_, {});
}

void DispatchPath::run_stream(protocol::Decoder& d, protocol::TempArena& arena,
                              const std::function<void(size_t)>& after_command) {
    bool deferring = false;
    try {
        while (!d.at_end()) {
            if (ctx_.is_fatal()) throw ContextError("the context is fatal");
            if (fast_) {
                // a run of plain recording commands: they never block, so the ring's head
                // moves once at the end of the run
                if (const size_t used = fast_->run_all(d.position(), d.remaining(), fast_commands_)) {
                    d.skip(used);
                    if (after_command) after_command(d.offset());
                    continue;
                }
            }
            if (executor_ && (deferring || d.remaining() >= kDeferMinBytes)) {
                d.set_arena(&executor_->arena());
                const protocol::host::DeferredCommand c = protocol::host::decode_deferred(d);
                d.set_arena(&arena);
                if (c.exec) {
                    executor_->push(c, d.offset(), after_command);
                    deferring = true;
                    continue;
                }
            }
            if (deferring) {
                // everything recorded so far runs before this command
                executor_->drain(after_command);
                deferring = false;
            }
            arena.reset();
            protocol::host::dispatch_command(d, *dispatcher_);
            if (after_command) after_command(d.offset());
        }
        if (deferring) executor_->drain(after_command);
    } catch (...) {
        // commands decoded before the bad one run (as they would have without deferring);
        // nothing of this stream is left behind in the executor
        if (deferring) executor_->drain_quietly();
        arena.reset();
        throw;
    }
    arena.reset();
}

void ReplyStream::set(std::shared_ptr<Resource> resource, uint64_t offset, uint64_t size) {
    uint8_t* base = resource->range(offset, size);
    if (!base)
        throw ContextError(fmt::format("reply stream [{}, +{}) is outside resource {} ({} bytes{})", offset, size,
                                       resource->id, resource->size, resource->mapping ? "" : ", not mapped"));
    std::lock_guard lock(mutex_);
    resource_ = std::move(resource);
    size_ = size;
    encoder_.reset(base, size);
    set_ = true;
}

void ReplyStream::seek(uint64_t position) {
    std::lock_guard lock(mutex_);
    if (!set_) throw ContextError("seek without a reply stream");
    if (position > size_)
        throw ContextError(fmt::format("reply stream seek to {} past its {} bytes", position, size_));
    encoder_.seek(position);
}

void ReplyStream::forget(uint32_t res_id) {
    std::lock_guard lock(mutex_);
    if (resource_ && resource_->id == res_id) {
        resource_.reset();
        set_ = false;
        encoder_.reset(nullptr, 0);
    }
}

}  // namespace venus::renderer
