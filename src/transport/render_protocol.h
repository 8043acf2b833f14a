// The messages of virglrenderer's render-server protocol (render-server-protocol.md §4-§6) as
// byte layouts: native-endian, LP64 (x86_64 and aarch64 agree), in the two generations the
// proxies speak. Nothing here is a C struct shared with virglrenderer: every field is read and
// written at its documented offset, so that a layout is visible (and testable) as bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace venus::render {

static_assert(sizeof(void*) == 8 && sizeof(size_t) == 8,
              "the render-server layouts are implemented for LP64 hosts only (ILP32 differs, §Appendix A)");

// Which proxy we face: virglrenderer 0.10.x or >= 1.0 (they differ in SUBMIT_CMD and the
// CREATE_RESOURCE reply, §9). The wire format of the Venus commands follows the generation:
// 0.10.x serves capset wire format 0, >= 1.0 wire format 1.
enum class Generation { V0_10, V1 };
inline const char* generation_name(Generation g) { return g == Generation::V0_10 ? "0.10" : "1.x"; }

// ---- client socket (§4) ------------------------------------------------------------------
enum ClientOp : uint32_t { CLIENT_NOP = 0, CLIENT_INIT = 1, CLIENT_RESET = 2, CLIENT_CREATE_CONTEXT = 3,
                           CLIENT_DESTROY_CONTEXT = 4, CLIENT_OP_COUNT = 5 };
constexpr size_t kClientRequestMax = 40;  // the union of client requests
constexpr size_t kClientNopSize = 4, kClientInitSize = 8, kClientResetSize = 4, kCreateContextSize = 40,
                 kDestroyContextSize = 8;
constexpr size_t kContextNameSize = 32;
// CREATE_CONTEXT reply: one byte `ok`, with the context socket iff ok.

// virgl_renderer_init flags the proxy forwards in CLIENT_INIT
constexpr uint32_t kInitFlagThreadSync = 1u << 1, kInitFlagVenus = 1u << 6, kInitFlagNoVirgl = 1u << 7,
                   kInitFlagAsyncFenceCb = 1u << 8, kInitFlagRenderServer = 1u << 9,
                   kInitFlagUseGuestVram = 1u << 14;

// ---- context socket (§5) -----------------------------------------------------------------
enum ContextOp : uint32_t { CTX_NOP = 0, CTX_INIT = 1, CTX_CREATE_RESOURCE = 2, CTX_IMPORT_RESOURCE = 3,
                            CTX_DESTROY_RESOURCE = 4, CTX_SUBMIT_CMD = 5, CTX_SUBMIT_FENCE = 6, CTX_OP_COUNT = 7 };
constexpr size_t kContextRequestMax = 272;  // the largest request of either generation
constexpr size_t kCtxNopSize = 4, kCtxInitSize = 16, kCreateResourceSize = 32, kImportResourceSize = 24,
                 kDestroyResourceSize = 8, kSubmitFenceSize = 16;
constexpr size_t kSubmitCmdInline = 256;
inline size_t submit_cmd_size(Generation g) { return g == Generation::V0_10 ? 272 : 264; }
inline size_t submit_cmd_data_offset(Generation g) { return g == Generation::V0_10 ? 16 : 8; }
inline size_t create_resource_reply_size(Generation g) { return g == Generation::V0_10 ? 8 : 56; }
constexpr size_t kMaxInitFds = 2, kMaxImportFds = 1;
constexpr uint32_t kMaxTimelines = 64;  // slots of the fence page the proxies make
constexpr uint32_t kFenceFlagMergeable = 1;

// fd types on the wire: virglrenderer's internal enum, not the public blob fd types (§10.1)
enum FdType : int32_t { FD_DMABUF = 0, FD_OPAQUE = 1, FD_SHM = 2, FD_INVALID = -1 };
inline const char* fd_type_name(int32_t t) {
    switch (t) {
    case FD_DMABUF: return "dma-buf";
    case FD_OPAQUE: return "opaque";
    case FD_SHM: return "shm";
    case FD_INVALID: return "none";
    default: return "unknown";
    }
}
// map_info values (VIRGL_RENDERER_MAP_CACHE_*)
constexpr uint32_t kMapCacheNone = 0, kMapCacheCached = 1, kMapCacheUncached = 2, kMapCacheWc = 3;
// blob_flags of CREATE_RESOURCE
constexpr uint32_t kBlobFlagMappable = 1, kBlobFlagShareable = 2, kBlobFlagCrossDevice = 4;

// ---- byte access ---------------------------------------------------------------------------
template <class T>
T load(std::span<const uint8_t> b, size_t offset) {
    T v{};
    if (offset + sizeof(T) <= b.size()) std::memcpy(&v, b.data() + offset, sizeof(T));
    return v;
}
template <class T>
void store(std::span<uint8_t> b, size_t offset, T v) {
    if (offset + sizeof(T) <= b.size()) std::memcpy(b.data() + offset, &v, sizeof(T));
}

// The fixed size of a request of `op` in generation `g` (0 for an unknown op).
inline size_t context_request_size(uint32_t op, Generation g) {
    switch (op) {
    case CTX_NOP: return kCtxNopSize;
    case CTX_INIT: return kCtxInitSize;
    case CTX_CREATE_RESOURCE: return kCreateResourceSize;
    case CTX_IMPORT_RESOURCE: return kImportResourceSize;
    case CTX_DESTROY_RESOURCE: return kDestroyResourceSize;
    case CTX_SUBMIT_CMD: return submit_cmd_size(g);
    case CTX_SUBMIT_FENCE: return kSubmitFenceSize;
    default: return 0;
    }
}
inline size_t client_request_size(uint32_t op) {
    switch (op) {
    case CLIENT_NOP: return kClientNopSize;
    case CLIENT_INIT: return kClientInitSize;
    case CLIENT_RESET: return kClientResetSize;
    case CLIENT_CREATE_CONTEXT: return kCreateContextSize;
    case CLIENT_DESTROY_CONTEXT: return kDestroyContextSize;
    default: return 0;
    }
}
inline const char* context_op_name(uint32_t op) {
    static const char* const names[] = {"NOP", "INIT", "CREATE_RESOURCE", "IMPORT_RESOURCE", "DESTROY_RESOURCE",
                                        "SUBMIT_CMD", "SUBMIT_FENCE"};
    return op < CTX_OP_COUNT ? names[op] : "unknown";
}
inline const char* client_op_name(uint32_t op) {
    static const char* const names[] = {"NOP", "INIT", "RESET", "CREATE_CONTEXT", "DESTROY_CONTEXT"};
    return op < CLIENT_OP_COUNT ? names[op] : "unknown";
}

// The 1.x CREATE_RESOURCE reply's vulkan_info (meaningful for FD_OPAQUE only).
struct VulkanInfo {
    uint8_t device_uuid[16] = {};
    uint8_t driver_uuid[16] = {};
    uint64_t allocation_size = 0;
    uint32_t memory_type_index = 0;
};

}  // namespace venus::render
