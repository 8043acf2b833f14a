// Helpers shared by the generated RendererDispatcher and the hand-written commands.
#pragma once

#include <fmt/format.h>

#include <vector>

#include "protocol/codec.h"
#include "renderer/context.h"
#include "renderer/dispatcher_gen.h"
#include "renderer/errors.h"
#include "renderer/objects.h"

namespace venus::renderer {

using protocol::to_handle;

inline Object& object_of(const protocol::ObjectRef* ref) {
    return *static_cast<Object*>(const_cast<protocol::ObjectRef*>(ref));
}

// The instance that owns an instance-level object (the instance itself or a physical device).
inline InstanceObject& instance_of(const protocol::ObjectRef* ref) {
    Object& o = object_of(ref);
    if (o.type == VK_OBJECT_TYPE_INSTANCE) return static_cast<InstanceObject&>(o);
    if (!o.instance) throw ContextError(fmt::format("object {} belongs to no instance", o.id));
    return *o.instance;
}

// The device that owns a device-level object (the device, a queue or a command buffer).
inline DeviceObject& device_of(const protocol::ObjectRef* ref) {
    Object& o = object_of(ref);
    if (!o.device) throw ContextError(fmt::format("object {} belongs to no device", o.id));
    return *o.device;
}

template <class T>
T& object_as(const protocol::ObjectRef* ref) {
    return static_cast<T&>(object_of(ref));
}

[[noreturn]] void unsupported_by_host(const InstanceObject& owner, uint32_t command);
[[noreturn]] void unsupported_by_host(const DeviceObject& owner, uint32_t command);

// Ids of output handles, saved before the driver overwrites the slots with host handles.
class IdList {
public:
    template <class H>
    IdList(const H* handles, uint64_t count) : ids_(handles ? count : 0) {
        for (uint64_t i = 0; i < ids_.size(); ++i) ids_[i] = reinterpret_cast<uint64_t>(handles[i]);
    }
    uint64_t operator[](uint64_t i) const { return i < ids_.size() ? ids_[i] : 0; }
    size_t size() const { return ids_.size(); }

private:
    std::vector<uint64_t> ids_;
};

// Generated: frees one object with the right vkDestroy* (false for types it cannot free).
bool destroy_host_object(DeviceObject& dev, const Object& obj);

}  // namespace venus::renderer
