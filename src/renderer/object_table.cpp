#include "renderer/object_table.h"

#include <fmt/format.h>

#include <mutex>

namespace venus::renderer {

const protocol::ObjectRef* ObjectTable::find(uint64_t id) {
    std::shared_lock lock(mutex_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second.get();
}

uint64_t ObjectTable::id_of(VkObjectType type, uint64_t handle) {
    std::shared_lock lock(mutex_);
    auto it = by_handle_.find({type, handle});
    return it == by_handle_.end() ? 0 : it->second;
}

Object* ObjectTable::get(uint64_t id, VkObjectType type) {
    std::shared_lock lock(mutex_);
    auto it = by_id_.find(id);
    if (it == by_id_.end() || it->second->type != type) return nullptr;
    return it->second.get();
}

Object* ObjectTable::get_any(uint64_t id) {
    std::shared_lock lock(mutex_);
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second.get();
}

std::string ObjectTable::check_new(uint64_t id) const {
    if (id == 0) return "object id 0 is reserved for VK_NULL_HANDLE";
    std::shared_lock lock(mutex_);
    auto it = by_id_.find(id);
    if (it != by_id_.end())
        return fmt::format("object id {} is already used by a {}", id, protocol::object_type_name(it->second->type));
    return {};
}

Object* ObjectTable::insert(std::unique_ptr<Object> object) {
    std::unique_lock lock(mutex_);
    Object* raw = object.get();
    // A driver may hand out the same non-dispatchable handle twice; the newest id wins, which
    // is the one a reply needs right after creation.
    if (raw->handle) by_handle_[{raw->type, raw->handle}] = raw->id;
    by_id_[raw->id] = std::move(object);
    return raw;
}

std::unique_ptr<Object> ObjectTable::erase(uint64_t id) {
    std::unique_lock lock(mutex_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return nullptr;
    std::unique_ptr<Object> obj = std::move(it->second);
    by_id_.erase(it);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    auto h = by_handle_.find({obj->type, obj->handle});
    if (h != by_handle_.end() && h->second == id) by_handle_.erase(h);
    return obj;
}

size_t ObjectTable::size() const {
    std::shared_lock lock(mutex_);
    return by_id_.size();
}

std::vector<uint64_t> ObjectTable::ids() const {
    std::shared_lock lock(mutex_);
    std::vector<uint64_t> out;
    out.reserve(by_id_.size());
    for (auto& [id, obj] : by_id_) out.push_back(id);
    return out;
}

}  // namespace venus::renderer
