// vtest wire constants (venus-protocol.md §2). Lengths are in 32-bit words except
// CREATE_RENDERER, whose length is in bytes.
#pragma once

#include <cstdint>

namespace venus::vtest {

inline constexpr const char* kDefaultSocketPath = "/tmp/.virgl_test";

enum Command : uint32_t {
    GET_CAPS = 1,
    RESOURCE_CREATE = 2,
    RESOURCE_UNREF = 3,
    TRANSFER_GET = 4,
    TRANSFER_PUT = 5,
    SUBMIT_CMD = 6,
    RESOURCE_BUSY_WAIT = 7,
    CREATE_RENDERER = 8,
    GET_CAPS2 = 9,
    PING_PROTOCOL_VERSION = 10,
    PROTOCOL_VERSION = 11,
    RESOURCE_CREATE2 = 12,
    TRANSFER_GET2 = 13,
    TRANSFER_PUT2 = 14,
    GET_PARAM = 15,
    GET_CAPSET = 16,
    CONTEXT_INIT = 17,
    RESOURCE_CREATE_BLOB = 18,
    SYNC_CREATE = 19,
    SYNC_UNREF = 20,
    SYNC_READ = 21,
    SYNC_WRITE = 22,
    SYNC_WAIT = 23,
    SUBMIT_CMD2 = 24,
    RESOURCE_EXPORT_FD = 38,
};

inline constexpr uint32_t kHeaderWords = 2;  // length, command
inline constexpr uint32_t kMaxProtocolVersion = 4;
inline constexpr uint32_t kCreateRendererMaxBytes = 1u << 20;

enum Param : uint32_t {
    PARAM_MAX_TIMELINE_COUNT = 1,
    PARAM_HAS_TIMELINE_SYNCOBJ = 2,
};

inline constexpr uint32_t kCapsetVenus = 4;

enum BlobType : uint32_t {
    BLOB_TYPE_GUEST = 1,
    BLOB_TYPE_HOST3D = 2,
    BLOB_TYPE_HOST3D_GUEST = 3,
};

enum BlobFlags : uint32_t {
    BLOB_FLAG_MAPPABLE = 1u << 0,
    BLOB_FLAG_SHAREABLE = 1u << 1,
    BLOB_FLAG_CROSS_DEVICE = 1u << 2,
};

enum SubmitFlags : uint32_t {
    SUBMIT_FLAG_RING_IDX = 1u << 0,
    SUBMIT_FLAG_IN_FENCE_FD = 1u << 1,
    SUBMIT_FLAG_OUT_FENCE_FD = 1u << 2,
};

inline constexpr uint32_t kSyncWaitFlagAny = 1u << 0;
inline constexpr uint32_t kMaxTimelines = 64;
inline constexpr uint32_t kSubmitBatchWords = 8;  // a batch header on the wire (§2.5)

// The Venus capset (capset id 4, version 0), §3: 160 bytes.
struct CapsetVenus {
    uint32_t wire_format_version;
    uint32_t vk_xml_version;
    uint32_t vk_ext_command_serialization_spec_version;
    uint32_t vk_mesa_venus_protocol_spec_version;
    uint32_t supports_blob_id_0;
    uint32_t vk_extension_mask1[32];
    uint32_t allow_vk_wait_syncs;
    uint32_t supports_multiple_timelines;
    uint32_t use_guest_vram;
};
static_assert(sizeof(CapsetVenus) == 160);

}  // namespace venus::vtest
