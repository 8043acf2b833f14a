#include "icd/registry.h"

#include <atomic>
#include <mutex>

namespace venus::icd {

uint64_t next_id() {
    static std::atomic<uint64_t> counter{1};
    return counter.fetch_add(1, std::memory_order_relaxed);
}

const protocol::ObjectRef* Registry::find(uint64_t id) {
    std::shared_lock lock(mutex_);
    auto it = objects_.find(id);
    return it == objects_.end() ? nullptr : &it->second;
}

uint64_t Registry::id_of(VkObjectType, uint64_t handle) {
    return handle ? reinterpret_cast<const Dispatchable*>(handle)->id : 0;
}

void Registry::add(const Dispatchable* object, VkObjectType type) {
    std::unique_lock lock(mutex_);
    objects_[object->id] = protocol::ObjectRef{object->id, reinterpret_cast<uint64_t>(object), type};
}

void Registry::remove(const Dispatchable* object) {
    std::unique_lock lock(mutex_);
    objects_.erase(object->id);
}

Registry& registry() {
    static Registry* r = new Registry;  // never destroyed: objects may outlive static destructors
    return *r;
}

}  // namespace venus::icd
