#include "renderer/context.h"

#include <fmt/format.h>

#include <fcntl.h>

#include <chrono>

#include "renderer/dispatch_support.h"
#include "renderer/memory.h"
#include "renderer/renderer.h"
#include "renderer/ring.h"
#include "renderer/timeline.h"
#include "transport/error.h"
#include "transport/vtest_protocol.h"
#include "util/log.h"

namespace venus::renderer {

Context::Context(Renderer& renderer, uint32_t id, std::string name, uint32_t wire_format)
    : renderer_(renderer), id_(id), name_(std::move(name)), wire_format_(wire_format) {
    make_control_path();
    log::info("ctx {} ({}): created, wire format {}", id_, name_, wire_format_);
}

void Context::make_control_path() {
    shared_replies_ = wire_format_ == 0 ? std::make_shared<ReplyStream>(objects_) : nullptr;
    control_ = std::make_unique<DispatchPath>(*this, DispatchPath::Kind::Control, nullptr, decode_limit(),
                                              shared_replies_);
}

Context::~Context() {
    stop_rings();
    {
        std::lock_guard lock(mutex_);
        monitor_stop_ = true;
    }
    monitor_cv_.notify_all();
    if (monitor_.joinable()) monitor_.join();
    // Timelines wait for their fences; then every object goes, devices before the instance.
    {
        std::map<uint32_t, std::unique_ptr<Timeline>> timelines;
        {
            std::lock_guard lock(mutex_);
            timelines.swap(timelines_);
        }
    }
    try {
        destroy_instance();
    } catch (const std::exception& e) {
        log::error("ctx {}: teardown: {}", id_, e.what());
    }
    control_.reset();
    const size_t left = objects_.size();
    if (left) log::warn("ctx {}: {} objects were left after teardown", id_, left);
    log::info("ctx {} ({}): destroyed", id_, name_);
}

size_t Context::decode_limit() const { return renderer_.config().decode_limit; }
bool Context::deferred_execution() const { return renderer_.config().deferred_execution; }
bool Context::fast_path() const { return renderer_.config().fast_path; }

std::string Context::fatal_reason() const {
    std::lock_guard lock(const_cast<std::mutex&>(mutex_));
    return fatal_reason_;
}

void Context::set_fatal(const std::string& reason) {
    std::vector<Ring*> rings;
    {
        std::lock_guard lock(mutex_);
        if (fatal_.load()) return;
        fatal_reason_ = reason;
        fatal_.store(true, std::memory_order_release);
        for (auto& [id, ring] : rings_) rings.push_back(ring.get());
    }
    log::error("ctx {} ({}): fatal: {}", id_, name_, reason);
    for (Ring* r : rings) r->set_fatal();
}

// ------------------------------------------------------------------------------ objects

void Context::check_new_object(uint64_t id, VkObjectType type) {
    const std::string why = objects_.check_new(id);
    if (!why.empty()) throw ContextError(fmt::format("cannot create a {}: {}", protocol::object_type_name(type), why));
}

Object& Context::add_object(uint64_t id, VkObjectType type, uint64_t handle, InstanceObject& owner) {
    auto obj = std::make_unique<Object>();
    obj->id = id;
    obj->type = type;
    obj->handle = handle;
    obj->instance = &owner;
    obj->seq = next_seq_++;
    return *objects_.insert(std::move(obj));
}

Object& Context::add_object(uint64_t id, VkObjectType type, uint64_t handle, DeviceObject& owner) {
    auto obj = std::make_unique<Object>();
    obj->id = id;
    obj->type = type;
    obj->handle = handle;
    return add_object(std::move(obj), &owner);
}

Object& Context::add_object(std::unique_ptr<Object> object, DeviceObject* device) {
    object->seq = next_seq_++;
    if (device) {
        object->device = device;
        object->instance = device->instance;
        std::lock_guard lock(mutex_);
        device->live[object->seq] = object->id;
    }
    log::trace("ctx {}: + {} {}", id_, protocol::object_type_name(object->type), object->id);
    return *objects_.insert(std::move(object));
}

void Context::remove_object(uint64_t id) {
    std::unique_ptr<Object> obj = objects_.erase(id);
    if (!obj) return;
    log::trace("ctx {}: - {} {}", id_, protocol::object_type_name(obj->type), id);
    if (obj->device && obj.get() != obj->device) {
        std::lock_guard lock(mutex_);
        obj->device->live.erase(obj->seq);
    }
}

void Context::add_pool_child(uint64_t pool_id, uint64_t child_id) {
    std::lock_guard lock(mutex_);
    pool_children_[pool_id].insert(child_id);
}

void Context::remove_pool_child(uint64_t pool_id, uint64_t child_id) {
    std::lock_guard lock(mutex_);
    auto it = pool_children_.find(pool_id);
    if (it != pool_children_.end()) it->second.erase(child_id);
}

void Context::remove_pool_children(uint64_t pool_id) {
    std::unordered_set<uint64_t> children;
    {
        std::lock_guard lock(mutex_);
        auto it = pool_children_.find(pool_id);
        if (it == pool_children_.end()) return;
        children.swap(it->second);
        pool_children_.erase(it);
    }
    for (uint64_t id : children) remove_object(id);
}

void Context::destroy_device(DeviceObject& device) {
    const uint64_t device_id = device.id;
    if (device.fn.DeviceWaitIdle) device.fn.DeviceWaitIdle(device.vk);
    unbind_timelines(device);
    std::vector<uint64_t> ids;
    {
        std::lock_guard lock(mutex_);
        for (auto it = device.live.rbegin(); it != device.live.rend(); ++it) ids.push_back(it->second);
    }
    size_t freed = 0;
    for (uint64_t id : ids) {
        Object* obj = objects_.get_any(id);
        if (!obj || obj == &device) continue;
        if (obj->type == VK_OBJECT_TYPE_DEVICE_MEMORY) {
            free_memory(device, static_cast<MemoryObject&>(*obj));
            ++freed;
        } else if (obj->type == VK_OBJECT_TYPE_COMMAND_POOL || obj->type == VK_OBJECT_TYPE_DESCRIPTOR_POOL) {
            destroy_host_object(device, *obj);
            remove_pool_children(id);
            ++freed;
        } else if (obj->type != VK_OBJECT_TYPE_QUEUE && obj->type != VK_OBJECT_TYPE_COMMAND_BUFFER &&
                   obj->type != VK_OBJECT_TYPE_DESCRIPTOR_SET) {
            if (destroy_host_object(device, *obj)) ++freed;
            else log::warn("ctx {}: cannot free a leftover {} {}", id_, protocol::object_type_name(obj->type), id);
        }
        remove_object(id);
    }
    if (freed) log::info("ctx {}: freed {} objects the guest left on device {}", id_, freed, device_id);
    device.fn.DestroyDevice(device.vk, nullptr);
    objects_.erase(device_id);
}

void Context::destroy_instance() {
    InstanceObject* inst = instance_;
    if (!inst) return;
    // devices first
    std::vector<uint64_t> devices;
    for (uint64_t id : objects_.ids())
        if (objects_.get(id, VK_OBJECT_TYPE_DEVICE)) devices.push_back(id);
    for (uint64_t id : devices) {
        auto* dev = objects_.get_as<DeviceObject>(id, VK_OBJECT_TYPE_DEVICE);
        if (dev) destroy_device(*dev);
    }
    for (uint64_t id : objects_.ids()) {
        Object* o = objects_.get(id, VK_OBJECT_TYPE_PHYSICAL_DEVICE);
        if (o) objects_.erase(id);
    }
    for (uint64_t id : objects_.ids()) {
        const protocol::ObjectRef* ref = objects_.find(id);
        if (ref && ref->type != VK_OBJECT_TYPE_INSTANCE) {
            log::warn("ctx {}: leftover {} {} at instance teardown", id_, protocol::object_type_name(ref->type), id);
            objects_.erase(id);
        }
    }
    const uint64_t inst_id = inst->id;
    inst->fn.DestroyInstance(inst->vk, nullptr);
    instance_ = nullptr;
    objects_.erase(inst_id);
}

// ------------------------------------------------------------------------------ resources

std::shared_ptr<Resource> Context::find_resource(uint32_t res_id) {
    std::lock_guard lock(mutex_);
    auto it = resources_.find(res_id);
    return it == resources_.end() ? nullptr : it->second;
}

std::shared_ptr<Resource> Context::resource(uint32_t res_id) {
    auto r = find_resource(res_id);
    if (!r && resource_barrier_) {
        resource_barrier_();
        r = find_resource(res_id);
    }
    if (!r) throw ContextError(fmt::format("resource {} does not exist", res_id));
    return r;
}

Context::Blob Context::create_blob(uint32_t res_id, uint32_t blob_type, uint32_t blob_flags, uint64_t blob_id,
                                   uint64_t size) {
    if (find_resource(res_id)) throw ContextError(fmt::format("resource id {} is already in use", res_id));
    if (size == 0) throw ContextError("a blob of size 0");
    auto res = std::make_shared<Resource>();
    res->id = res_id;
    res->size = size;
    Blob out;
    if (blob_id == 0) {
        // §6.1: renderer-allocated shared memory; exactly MAPPABLE, HOST3D (or GUEST from old clients)
        if (blob_type != vtest::BLOB_TYPE_HOST3D && blob_type != vtest::BLOB_TYPE_GUEST)
            throw ContextError(fmt::format("blob type {} cannot be backed by renderer shared memory", blob_type));
        if (blob_flags != vtest::BLOB_FLAG_MAPPABLE)
            throw ContextError(fmt::format("shared-memory blobs must be exactly MAPPABLE (flags 0x{:x})", blob_flags));
        try {
            auto shm = transport::SharedMemory::create(fmt::format("venus-ctx{}-res{}", id_, res_id), size);
            shm.seal();
            out.fd = transport::UniqueFd::duplicate(shm.fd());
            res->mapping = std::make_shared<transport::SharedMemory>(std::move(shm));
        } catch (const transport::TransportError& e) {
            throw ContextError(fmt::format("shared memory of {} bytes: {}", size, e.what()));
        }
        res->kind = Resource::Kind::Shm;
        out.shm = true;
    } else {
        if (blob_type != vtest::BLOB_TYPE_HOST3D)
            throw ContextError(fmt::format("blob {} of type {}: device memory blobs are HOST3D", blob_id, blob_type));
        auto* mem = objects_.get_as<MemoryObject>(blob_id, VK_OBJECT_TYPE_DEVICE_MEMORY);
        if (!mem) throw ContextError(fmt::format("blob id {} names no VkDeviceMemory of this context", blob_id));
        ExportedMemory exp = export_memory(*this, *mem, blob_flags, size);
        out.fd = std::move(exp.fd);
        res->mapping = std::move(exp.mapping);
        res->kind = Resource::Kind::DeviceMemory;
        res->memory_id = blob_id;
        out.memory_flags = mem->property_flags;
    }
    out.size = size;
    {
        std::lock_guard lock(mutex_);
        resources_[res_id] = res;
    }
    log::debug("ctx {}: resource {} created ({} bytes, {})", id_, res_id, size,
               blob_id ? fmt::format("device memory {}", blob_id) : std::string("shared memory"));
    return out;
}

void Context::import_resource(uint32_t res_id, transport::UniqueFd fd, uint64_t size) {
    if (find_resource(res_id)) throw ContextError(fmt::format("resource id {} is already in use", res_id));
    auto res = std::make_shared<Resource>();
    res->id = res_id;
    res->size = size;
    res->kind = Resource::Kind::Imported;
    try {
        res->mapping = std::make_shared<transport::SharedMemory>(transport::SharedMemory::map(std::move(fd), size));
        // A memfd must not shrink under our mapping (a SIGBUS in the renderer): sealed here, or
        // already sealed by the other side (virglrenderer's proxy seals SHM resources).
        if (::fcntl(res->mapping->fd(), F_GET_SEALS) >= 0) res->mapping->seal();
    } catch (const transport::TransportError& e) {
        throw ContextError(fmt::format("imported resource {}: {}", res_id, e.what()));
    }
    std::lock_guard lock(mutex_);
    resources_[res_id] = std::move(res);
}

void Context::destroy_resource(uint32_t res_id) {
    std::shared_ptr<Resource> res;
    {
        std::lock_guard lock(mutex_);
        auto it = resources_.find(res_id);
        if (it == resources_.end()) return;
        res = std::move(it->second);
        resources_.erase(it);
    }
    // A reply stream pointing at it is unset (not fatal, §7.4); rings keep their own reference.
    control_->replies().forget(res_id);
    log::debug("ctx {}: resource {} destroyed", id_, res_id);
}

// ------------------------------------------------------------------------------ submission

bool Context::submit_commands(std::span<const uint8_t> bytes) {
    if (is_fatal()) return false;
    std::lock_guard lock(control_mutex_);
    commands_seen_ = true;
    try {
        control_->run(bytes);
    } catch (const std::exception& e) {
        set_fatal(fmt::format("control path: {}", e.what()));
        return false;
    }
    return true;
}

bool Context::switch_wire_format(uint32_t wire_format) {
    std::lock_guard lock(control_mutex_);
    if (wire_format == wire_format_) return true;
    if (commands_seen_) return false;
    wire_format_ = wire_format;
    make_control_path();
    log::info("ctx {} ({}): wire format {} from now on", id_, name_, wire_format_);
    return true;
}

bool Context::submit_fence(uint32_t ring_idx, uint64_t fence_id, std::function<void(uint64_t)> on_retire) {
    if (ring_idx == 0) {
        on_retire(fence_id);  // the CPU timeline: commands before it already ran
        return true;
    }
    Timeline* tl = nullptr;
    {
        std::lock_guard lock(mutex_);
        auto it = timelines_.find(ring_idx);
        if (it != timelines_.end()) tl = it->second.get();
    }
    if (!tl) {
        set_fatal(fmt::format("fence on timeline {}, which no queue is bound to", ring_idx));
        return false;
    }
    try {
        tl->submit(fence_id, std::move(on_retire));
    } catch (const std::exception& e) {
        set_fatal(e.what());
        return false;
    }
    return true;
}

void Context::bind_timeline(uint32_t ring_idx, QueueObject& queue) {
    if (ring_idx == 0 || ring_idx >= vtest::kMaxTimelines)
        throw ContextError(fmt::format("timeline {} out of range 1..{}", ring_idx, vtest::kMaxTimelines - 1));
    std::lock_guard lock(mutex_);
    if (timelines_.count(ring_idx))
        throw ContextError(fmt::format("timeline {} is already bound to a queue", ring_idx));
    timelines_[ring_idx] = std::make_unique<Timeline>(*this, ring_idx, queue);
    queue.ring_idx = ring_idx;
}

void Context::unbind_timelines(DeviceObject& device) {
    std::vector<std::unique_ptr<Timeline>> doomed;
    {
        std::lock_guard lock(mutex_);
        for (auto it = timelines_.begin(); it != timelines_.end();) {
            if (it->second->queue().device == &device) {
                doomed.push_back(std::move(it->second));
                it = timelines_.erase(it);
            } else {
                ++it;
            }
        }
    }
}

// ------------------------------------------------------------------------------ rings

void Context::create_ring(uint64_t ring_id, std::shared_ptr<Resource> resource, const transport::RingLayout& layout,
                          uint64_t idle_timeout_ns, uint32_t monitor_period_us, std::optional<int> priority) {
    Ring* ring = nullptr;
    {
        std::lock_guard lock(mutex_);
        if (rings_.count(ring_id)) throw ContextError(fmt::format("ring {} already exists", ring_id));
        auto r = std::make_unique<Ring>(*this, ring_id, std::move(resource), layout, idle_timeout_ns,
                                        monitor_period_us, priority);
        ring = r.get();
        rings_[ring_id] = std::move(r);
        if (monitor_period_us && !monitor_.joinable()) start_monitor_locked();
    }
    ring->start();
    log::debug("ctx {}: ring {} created ({} byte buffer{})", id_, ring_id, layout.buffer_size,
               monitor_period_us ? fmt::format(", alive every {} us", monitor_period_us) : "");
}

void Context::destroy_ring(uint64_t ring_id) {
    std::unique_ptr<Ring> r;
    {
        std::lock_guard lock(mutex_);
        auto it = rings_.find(ring_id);
        if (it == rings_.end()) throw ContextError(fmt::format("ring {} does not exist", ring_id));
        r = std::move(it->second);
        rings_.erase(it);
    }
    r.reset();  // joins
}

Ring& Context::ring(uint64_t ring_id) {
    std::lock_guard lock(mutex_);
    auto it = rings_.find(ring_id);
    if (it == rings_.end()) throw ContextError(fmt::format("ring {} does not exist", ring_id));
    return *it->second;
}

void Context::wait_ring_seqno(uint64_t ring_id, uint64_t seqno) { ring(ring_id).wait_head(static_cast<uint32_t>(seqno)); }

void Context::stop_rings() {
    std::map<uint64_t, std::unique_ptr<Ring>> rings;
    {
        std::lock_guard lock(mutex_);
        rings.swap(rings_);
    }
    for (auto& [id, r] : rings) r->stop();
    rings.clear();
}

void Context::start_monitor_locked() { monitor_ = std::thread([this] { monitor_loop(); }); }

void Context::monitor_loop() {
    pthread_setname_np(pthread_self(), fmt::format("venus-mon-{}", id_).substr(0, 15).c_str());
    std::unique_lock lock(mutex_);
    while (!monitor_stop_) {
        uint32_t period = 0;
        for (auto& [id, r] : rings_) {
            if (!r->monitor_period_us()) continue;
            r->set_alive();
            if (!period || r->monitor_period_us() < period) period = r->monitor_period_us();
        }
        // report at twice the requested rate so that a late wake-up never misses a period
        period = period ? std::max<uint32_t>(period / 2, 1000) : 1000000;
        monitor_cv_.wait_for(lock, std::chrono::microseconds(period), [this] { return monitor_stop_; });
    }
}

}  // namespace venus::renderer
