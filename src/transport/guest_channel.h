// What a guest needs of the channel to its renderer, apart from the rings: shared-memory blobs
// and a control path for Venus commands. vtest (VtestClient) is one such channel; the proxy side
// of virglrenderer's render-server protocol (the test harness's RenderProxy) is another. Mesa
// keeps its transport behind the same kind of seam (vn_renderer_vtest / vn_renderer_virtgpu).
#pragma once

#include <cstdint>
#include <span>

#include "transport/shared_memory.h"
#include "transport/unique_fd.h"

namespace venus::transport {

class GuestChannel {
public:
    virtual ~GuestChannel() = default;

    struct Blob {
        uint32_t res_id = 0;
        SharedMemory memory;  // mapped, when `map` was asked for
        UniqueFd fd;          // when not mapped
    };
    // A blob of `size` bytes: renderer shared memory (blob_id 0) or a VkDeviceMemory (blob_id
    // its object id). Throws TransportError with the renderer's refusal.
    virtual Blob create_blob(uint32_t type, uint32_t flags, uint64_t size, uint64_t blob_id, bool map = true) = 0;
    virtual void destroy_blob(uint32_t res_id) = 0;
    // Venus commands on the control path (not a ring), run in order.
    virtual void submit_commands(std::span<const uint8_t> commands) = 0;
    // A descriptor that reports a vanished renderer (POLLRDHUP/POLLHUP) without consuming anything.
    virtual int socket_fd() = 0;
};

}  // namespace venus::transport
