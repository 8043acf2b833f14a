// Resources of a context (vtest/virtio-gpu blobs) by resource id: shared memory the guest
// allocated through the renderer (rings, reply streams, command buffers; blob_id 0) and the
// blobs that share a VkDeviceMemory with the guest.
#pragma once

#include <cstdint>
#include <memory>

#include "transport/shared_memory.h"

namespace venus::renderer {

struct Resource {
    enum class Kind { Shm, DeviceMemory, Imported };
    uint32_t id = 0;
    Kind kind = Kind::Shm;
    uint64_t size = 0;
    uint64_t memory_id = 0;  // DeviceMemory: the VkDeviceMemory object id (the blob id)
    std::shared_ptr<transport::SharedMemory> mapping;  // our mapping, when we have one

    uint8_t* data() const { return mapping ? mapping->data() : nullptr; }
    // The bytes [offset, offset + len) of a mapped resource, or nullptr if out of range.
    uint8_t* range(uint64_t offset, uint64_t len) const {
        if (!mapping || offset > size || len > size - offset) return nullptr;
        return mapping->data() + offset;
    }
};

}  // namespace venus::renderer
