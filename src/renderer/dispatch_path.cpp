#include "renderer/dispatch_path.h"

#include <fmt/format.h>

#include "protocol/host_dispatch.h"
#include "renderer/context.h"
#include "renderer/dispatcher_gen.h"
#include "renderer/errors.h"

namespace venus::renderer {

DispatchPath::DispatchPath(Context& ctx, Kind kind, Ring* ring, size_t scratch_cap)
    : ctx_(ctx), kind_(kind), ring_(ring), objects_(ctx.objects()), arena_(scratch_cap), nested_arena_(scratch_cap),
      dispatcher_(std::make_unique<RendererDispatcher>(ctx, *this)) {
    reply_.set_resolver(&ctx.objects());
}

DispatchPath::~DispatchPath() = default;

void DispatchPath::run(std::span<const uint8_t> bytes, const std::function<void(size_t)>& after_command) {
    protocol::Decoder d(bytes.data(), bytes.size(), &arena_, &objects_);
    while (!d.at_end()) {
        if (ctx_.is_fatal()) throw ContextError("the context is fatal");
        arena_.reset();
        protocol::host::dispatch_command(d, *dispatcher_);
        if (after_command) after_command(d.offset());
    }
    arena_.reset();
}

void DispatchPath::run_nested(std::span<const uint8_t> bytes) {
    protocol::Decoder d(bytes.data(), bytes.size(), &nested_arena_, &objects_);
    while (!d.at_end()) {
        if (ctx_.is_fatal()) throw ContextError("the context is fatal");
        nested_arena_.reset();
        protocol::host::dispatch_command(d, *dispatcher_);
    }
    nested_arena_.reset();
}

void DispatchPath::set_reply_stream(std::shared_ptr<Resource> resource, uint64_t offset, uint64_t size) {
    uint8_t* base = resource->range(offset, size);
    if (!base)
        throw ContextError(fmt::format("reply stream [{}, +{}) is outside resource {} ({} bytes{})", offset, size,
                                       resource->id, resource->size, resource->mapping ? "" : ", not mapped"));
    reply_resource_ = std::move(resource);
    reply_offset_ = offset;
    reply_size_ = size;
    reply_.reset(base, size);
    reply_set_ = true;
}

void DispatchPath::seek_reply_stream(uint64_t position) {
    if (!reply_set_) throw ContextError("seek without a reply stream");
    if (position > reply_size_)
        throw ContextError(fmt::format("reply stream seek to {} past its {} bytes", position, reply_size_));
    reply_.seek(position);
}

void DispatchPath::forget_resource(uint32_t res_id) {
    if (reply_resource_ && reply_resource_->id == res_id) {
        reply_resource_.reset();
        reply_set_ = false;
        reply_.reset(nullptr, 0);
    }
}

}  // namespace venus::renderer
