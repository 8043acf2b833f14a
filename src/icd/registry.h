// Object identity in the driver (venus-protocol.md §4.4): every object has a process-wide id
// from one counter starting at 1. A non-dispatchable handle IS its id; a dispatchable object
// starts with the loader's word and then its id (protocol::GuestDispatchable), so that the
// generated encoders can read the id behind any handle. The registry maps ids of dispatchable
// objects back to their pointers for replies that name them.
#pragma once

#include <vulkan/vk_icd.h>
#include <vulkan/vulkan.h>

#include <cstdint>
#include <shared_mutex>
#include <unordered_map>

#include "protocol/codec.h"

namespace venus::icd {

uint64_t next_id();

template <class H>
H new_handle() {
    return protocol::to_handle<H>(next_id());
}

template <class H>
uint64_t id_of(H handle) {
    return reinterpret_cast<uint64_t>(handle);
}

// The first two words of every dispatchable object. No virtual functions in the classes
// that derive from it: the loader writes its dispatch table pointer into the first word.
struct Dispatchable {
    void* loader_data;
    uint64_t id;

    explicit Dispatchable(uint64_t object_id)
        : loader_data(reinterpret_cast<void*>(uintptr_t{ICD_LOADER_MAGIC})), id(object_id) {}
};
static_assert(sizeof(Dispatchable) == sizeof(protocol::GuestDispatchable));

class Registry : public protocol::HandleResolver {
public:
    const protocol::ObjectRef* find(uint64_t id) override;
    uint64_t id_of(VkObjectType type, uint64_t handle) override;
    void add(const Dispatchable* object, VkObjectType type);
    void remove(const Dispatchable* object);

private:
    std::shared_mutex mutex_;
    std::unordered_map<uint64_t, protocol::ObjectRef> objects_;
};

Registry& registry();

}  // namespace venus::icd
