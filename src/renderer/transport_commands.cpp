// The Venus transport commands (VK_MESA_venus_protocol, §5.2): reply streams, indirect
// command streams, rings and the seqno handshakes between the control path and the rings.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "renderer/dispatch_support.h"
#include "renderer/ring.h"
#include "util/log.h"

namespace venus::renderer {

using namespace protocol::host;

namespace {

void require_control(const DispatchPath& path, const char* command) {
    if (path.kind() != DispatchPath::Kind::Control)
        throw ContextError(fmt::format("{} must be sent on the control path, not on a ring", command));
}

}  // namespace

void RendererDispatcher::vkSetReplyCommandStreamMESA(vkSetReplyCommandStreamMESA_args& a) {
    const auto& s = *a.pStream;
    path_.replies().set(ctx_.resource(s.resourceId), s.offset, s.size);
}

void RendererDispatcher::vkSeekReplyCommandStreamMESA(vkSeekReplyCommandStreamMESA_args& a) {
    path_.replies().seek(a.position);
}

void RendererDispatcher::vkExecuteCommandStreamsMESA(vkExecuteCommandStreamsMESA_args& a) {
    if (path_.executing_streams) throw ContextError("vkExecuteCommandStreamsMESA inside a command stream");
    if (a.streamCount == 0) throw ContextError("vkExecuteCommandStreamsMESA with no streams");
    // Copy what we need: the nested commands reuse this path's scratch memory.
    std::vector<VkCommandStreamDescriptionMESA> streams(a.pStreams, a.pStreams + a.streamCount);
    std::vector<uint64_t> positions;
    if (a.pReplyPositions) positions.assign(a.pReplyPositions, a.pReplyPositions + a.streamCount);
    // kept by the path: a fresh 256 KiB vector per stream would be mmap'd and faulted in anew
    std::vector<uint8_t>& bytes = path_.stream_copy;
    path_.executing_streams = true;
    try {
        for (size_t i = 0; i < streams.size(); ++i) {
            auto res = ctx_.resource(streams[i].resourceId);
            const uint8_t* src = res->range(streams[i].offset, streams[i].size);
            if (!src)
                throw ContextError(fmt::format("command stream [{}, +{}) is outside resource {} ({} bytes)",
                                               streams[i].offset, streams[i].size, res->id, res->size));
            const size_t size = streams[i].size;
            log::debug("ctx {}: {} path: command stream of {} bytes", ctx_.id(), path_.name(), size);
            if (!positions.empty()) path_.replies().seek(positions[i]);
            // A recording's pieces are mostly plain recording commands: the fast path runs them
            // in place. From the first other command on, the general decoder reads a private
            // copy, since the guest could change shared memory under it.
            const size_t in_place = path_.run_fast_in_place(src, size);
            if (in_place == size) continue;
            bytes.assign(src + in_place, src + size);
            path_.run_nested(bytes);
        }
    } catch (...) {
        path_.executing_streams = false;
        throw;
    }
    path_.executing_streams = false;
}

void RendererDispatcher::vkCreateRingMESA(vkCreateRingMESA_args& a) {
    require_control(path_, "vkCreateRingMESA");
    const auto& info = *a.pCreateInfo;
    auto res = ctx_.resource(info.resourceId);
    // renderer shared memory, or shared memory the VMM imported (render-server IMPORT_RESOURCE)
    if ((res->kind != Resource::Kind::Shm && res->kind != Resource::Kind::Imported) || !res->mapping)
        throw ContextError(fmt::format("ring {}: resource {} is not shared memory", a.ring, res->id));
    transport::RingLayout layout;
    layout.offset = info.offset;
    layout.size = info.size;
    layout.head_offset = info.headOffset;
    layout.tail_offset = info.tailOffset;
    layout.status_offset = info.statusOffset;
    layout.buffer_offset = info.bufferOffset;
    layout.buffer_size = info.bufferSize;
    layout.extra_offset = info.extraOffset;
    layout.extra_size = info.extraSize;
    const std::string why = layout.validate(res->size);
    if (!why.empty()) throw ContextError(fmt::format("ring {}: {}", a.ring, why));
    uint32_t monitor = 0;
    std::optional<int> priority;
    for (auto* s = static_cast<const VkBaseInStructure*>(info.pNext); s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_RING_MONITOR_INFO_MESA) {
            monitor = reinterpret_cast<const VkRingMonitorInfoMESA*>(s)->maxReportingPeriodMicroseconds;
            if (!monitor) throw ContextError(fmt::format("ring {}: a monitor with a period of 0", a.ring));
        } else if (s->sType == VK_STRUCTURE_TYPE_RING_PRIORITY_INFO_MESA) {
            priority = reinterpret_cast<const VkRingPriorityInfoMESA*>(s)->priority;
        }
    }
    transport::RingView view(res->data(), layout);
    if (view.head().load() != 0 || view.status().load() != 0)
        throw ContextError(fmt::format("ring {}: head and status must start at 0", a.ring));
    ctx_.create_ring(a.ring, std::move(res), layout, info.idleTimeout, monitor, priority);
}

void RendererDispatcher::vkDestroyRingMESA(vkDestroyRingMESA_args& a) {
    require_control(path_, "vkDestroyRingMESA");
    ctx_.destroy_ring(a.ring);
}

void RendererDispatcher::vkNotifyRingMESA(vkNotifyRingMESA_args& a) {
    require_control(path_, "vkNotifyRingMESA");
    ctx_.ring(a.ring).notify();
}

void RendererDispatcher::vkWriteRingExtraMESA(vkWriteRingExtraMESA_args& a) {
    require_control(path_, "vkWriteRingExtraMESA");
    ctx_.ring(a.ring).write_extra(a.offset, a.value);
}

void RendererDispatcher::vkSubmitVirtqueueSeqnoMESA(vkSubmitVirtqueueSeqnoMESA_args& a) {
    require_control(path_, "vkSubmitVirtqueueSeqnoMESA");
    ctx_.ring(a.ring).submit_virtqueue_seqno(a.seqno);
}

void RendererDispatcher::vkWaitVirtqueueSeqnoMESA(vkWaitVirtqueueSeqnoMESA_args& a) {
    if (path_.kind() != DispatchPath::Kind::Ring)
        throw ContextError("vkWaitVirtqueueSeqnoMESA must be sent on a ring");
    path_.ring()->wait_virtqueue_seqno(a.seqno);
}

void RendererDispatcher::vkWaitRingSeqnoMESA(vkWaitRingSeqnoMESA_args& a) {
    require_control(path_, "vkWaitRingSeqnoMESA");
    ctx_.wait_ring_seqno(a.ring, a.seqno);
}

// Wire format 0 only: the experimental features (VkVenusExperimentalFeatures100000MESA, raw
// VkBool32s). We report the six fields of the last wire-format-0 renderers; a guest that asks
// for fewer bytes (Mesa 22.3 asks for 16, four fields) gets that many, and missing trailing
// fields read as FALSE on its side (wire-format-0-vs-1.md §7.1).
void RendererDispatcher::vkGetVenusExperimentalFeatureData100000MESA(
    vkGetVenusExperimentalFeatureData100000MESA_args& a) {
    if (ctx_.wire_format() != 0)
        throw ContextError(
            "vkGetVenusExperimentalFeatureData100000MESA (command 195) exists only in wire format 0, and this "
            "context speaks wire format 1 (venus-server --wire-format 0 serves the older guests)");
    const uint32_t features[] = {
        VK_TRUE,   // memoryResourceAllocationSize: VkMemoryResourceAllocationSizePropertiesMESA
        VK_FALSE,  // globalFencing: renderer sync objects behind external fences (not offered)
        VK_TRUE,   // largeRing: rings beyond 4 KiB
        VK_TRUE,   // syncFdFencing: commands 244-246
        VK_TRUE,   // asyncRoundtrip: commands 251-253
        VK_TRUE,   // ringMonitoring: VkRingMonitorInfoMESA and the ALIVE bit
    };
    if (!a.pData) {
        *a.pDataSize = sizeof features;
        return;
    }
    const size_t n = std::min<size_t>(*a.pDataSize, sizeof features);
    std::memcpy(a.pData, features, n);
    *a.pDataSize = n;
    log::debug("ctx {}: experimental features: {} of {} bytes", ctx_.id(), n, sizeof features);
}

}  // namespace venus::renderer
