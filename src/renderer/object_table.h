// Per-context table of guest objects keyed by the guest-chosen 64-bit id (§4.4). Ids are
// validated on create (non-zero, unused) and type-checked on every use by the decoder. The
// table is also the reverse map from host handles to ids that replies need.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "renderer/objects.h"

namespace venus::renderer {

class ObjectTable : public protocol::HandleResolver {
public:
    const protocol::ObjectRef* find(uint64_t id) override;
    uint64_t id_of(VkObjectType type, uint64_t handle) override;

    // nullptr if the id is unknown or of another type
    Object* get(uint64_t id, VkObjectType type);
    Object* get_any(uint64_t id);
    template <class T>
    T* get_as(uint64_t id, VkObjectType type) {
        return static_cast<T*>(get(id, type));
    }
    // Why `id` cannot name a new object ("" if it can).
    std::string check_new(uint64_t id) const;
    Object* insert(std::unique_ptr<Object> object);
    std::unique_ptr<Object> erase(uint64_t id);
    size_t size() const;
    // Incremented by every erase: a cached lookup is valid while this has not changed.
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
    const std::atomic<uint64_t>& generation_counter() const { return generation_; }
    // Every object, for teardown (no particular order).
    std::vector<uint64_t> ids() const;

private:
    struct HandleKey {
        VkObjectType type;
        uint64_t handle;
        bool operator==(const HandleKey&) const = default;
    };
    struct HandleHash {
        size_t operator()(const HandleKey& k) const {
            return std::hash<uint64_t>()(k.handle * 31 + static_cast<uint64_t>(k.type));
        }
    };
    mutable std::shared_mutex mutex_;
    std::atomic<uint64_t> generation_{0};
    std::unordered_map<uint64_t, std::unique_ptr<Object>> by_id_;
    std::unordered_map<HandleKey, uint64_t, HandleHash> by_handle_;
};

// A dispatch path's view of the table: recently used ids are answered without taking the
// table's lock until any object is destroyed (Vulkan forbids destroying an object another thread
// is using, so a path never needs an object that went away while it looked at it).
class CachedResolver final : public protocol::HandleResolver {
public:
    explicit CachedResolver(ObjectTable& table) : table_(table) {}
    const protocol::ObjectRef* find(uint64_t id) override {
        Slot& s = slots_[(id ^ (id >> 7)) & (kSlots - 1)];
        const uint64_t gen = table_.generation();
        if (s.id == id && s.generation == gen && s.ref) return s.ref;
        const protocol::ObjectRef* ref = table_.find(id);
        s = {id, gen, ref};
        return ref;
    }
    uint64_t id_of(VkObjectType type, uint64_t handle) override { return table_.id_of(type, handle); }
    // Whether anything was destroyed since generation() returned `gen`.
    uint64_t generation() const { return table_.generation(); }
    const std::atomic<uint64_t>& generation_counter() const { return table_.generation_counter(); }

private:
    static constexpr size_t kSlots = 64;
    struct Slot {
        uint64_t id = 0;
        uint64_t generation = 0;
        const protocol::ObjectRef* ref = nullptr;
    };
    ObjectTable& table_;
    Slot slots_[kSlots];
};

}  // namespace venus::renderer
