// A Venus context: everything one guest connection owns on the host — its objects, its
// resources, its rings and timelines. A bad command makes this context fatal (the FATAL bit
// goes up on its rings, the reason is logged once) and nothing else; destroying the context
// frees every host object it created.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "renderer/dispatch_path.h"
#include "renderer/object_table.h"
#include "renderer/resource.h"
#include "transport/ring_layout.h"
#include "transport/unique_fd.h"

namespace venus::renderer {

class Renderer;
class Ring;
class Timeline;

class Context {
public:
    // `wire_format`: the protocol generation this context speaks (0 or 1, venus-protocol.md §7).
    Context(Renderer& renderer, uint32_t id, std::string name, uint32_t wire_format);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    uint32_t id() const { return id_; }
    const std::string& name() const { return name_; }
    uint32_t wire_format() const { return wire_format_; }
    // Before the first command only (false afterwards): the front end learned the guest's
    // generation late (a render-server proxy whose generation showed only in its SUBMIT_CMD).
    bool switch_wire_format(uint32_t wire_format);
    // The reply stream every path shares in wire format 0; nullptr in wire format 1.
    const std::shared_ptr<ReplyStream>& shared_replies() const { return shared_replies_; }
    Renderer& renderer() { return renderer_; }

    // ---- for front ends (vtest server, render server) -------------------------------------
    struct Blob {
        transport::UniqueFd fd;
        uint64_t size = 0;
        bool shm = false;  // an SHM blob (memfd); else exported device memory
        uint32_t memory_flags = 0;  // device memory: its VkMemoryPropertyFlags
    };
    // RESOURCE_CREATE_BLOB (§2.4, §6.1-6.2). Throws ContextError with the reason on refusal
    // (the context stays usable: a refused blob is not a protocol violation).
    Blob create_blob(uint32_t res_id, uint32_t blob_type, uint32_t blob_flags, uint64_t blob_id, uint64_t size);
    // A resource created outside the renderer, shared as an fd (memfd or dma-buf).
    void import_resource(uint32_t res_id, transport::UniqueFd fd, uint64_t size);
    void destroy_resource(uint32_t res_id);
    // Venus commands from the control channel. False if the context is (or became) fatal.
    bool submit_commands(std::span<const uint8_t> bytes);
    // A fence on timeline `ring_idx` (0: the CPU timeline, retired at once). `on_retire` runs
    // (on some renderer thread) once all work submitted before it on that timeline is done.
    bool submit_fence(uint32_t ring_idx, uint64_t fence_id, std::function<void(uint64_t)> on_retire);

    bool is_fatal() const { return fatal_.load(std::memory_order_acquire); }
    std::string fatal_reason() const;
    // Marks the context fatal (first reason wins), sets FATAL on every ring, wakes waiters.
    void set_fatal(const std::string& reason);

    // ---- for dispatchers -------------------------------------------------------------------
    ObjectTable& objects() { return objects_; }
    // Whether dispatch paths run long runs of recording commands on an executor thread.
    bool deferred_execution() const;
    bool fast_path() const;
    void check_new_object(uint64_t id, VkObjectType type);
    Object& add_object(uint64_t id, VkObjectType type, uint64_t handle, InstanceObject& owner);
    Object& add_object(uint64_t id, VkObjectType type, uint64_t handle, DeviceObject& owner);
    Object& add_object(std::unique_ptr<Object> object, DeviceObject* device);
    void remove_object(uint64_t id);
    // Pool bookkeeping (command buffers, descriptor sets).
    void add_pool_child(uint64_t pool_id, uint64_t child_id);
    void remove_pool_child(uint64_t pool_id, uint64_t child_id);
    void remove_pool_children(uint64_t pool_id);
    // Frees everything a device still owns, then the device (vkDestroyDevice, teardown).
    void destroy_device(DeviceObject& device);
    void destroy_instance();

    InstanceObject* instance() const { return instance_; }
    void set_instance(InstanceObject* instance) { instance_ = instance; }

    std::shared_ptr<Resource> resource(uint32_t res_id);  // throws ContextError if unknown
    std::shared_ptr<Resource> find_resource(uint32_t res_id);
    // Called by resource() before it gives up on an unknown id: a front end whose resources
    // arrive on another channel than the commands (the render server's context socket vs a
    // ring) applies what that channel has pending, so that a resource sent before the command
    // that names it is found. Set before the first command.
    void set_resource_barrier(std::function<void()> barrier) { resource_barrier_ = std::move(barrier); }

    // rings (§5.3-5.5)
    void create_ring(uint64_t ring_id, std::shared_ptr<Resource> resource, const transport::RingLayout& layout,
                     uint64_t idle_timeout_ns, uint32_t monitor_period_us, std::optional<int> priority);
    void destroy_ring(uint64_t ring_id);
    Ring& ring(uint64_t ring_id);  // throws ContextError if unknown
    // vkWaitRingSeqnoMESA: blocks until the ring has processed up to `seqno`.
    void wait_ring_seqno(uint64_t ring_id, uint64_t seqno);

    // timelines: ring_idx -> queue (VkDeviceQueueTimelineInfoMESA, §5.10)
    void bind_timeline(uint32_t ring_idx, QueueObject& queue);
    void unbind_timelines(DeviceObject& device);

    size_t decode_limit() const;

private:
    // The control path and, in wire format 0, the reply stream every path shares.
    void make_control_path();
    void start_monitor_locked();
    void monitor_loop();
    void stop_rings();

    Renderer& renderer_;
    const uint32_t id_;
    const std::string name_;
    uint32_t wire_format_;
    bool commands_seen_ = false;  // under control_mutex_
    std::shared_ptr<ReplyStream> shared_replies_;
    ObjectTable objects_;
    std::atomic<uint64_t> next_seq_{1};
    InstanceObject* instance_ = nullptr;

    std::mutex mutex_;  // resources, rings, pools, timelines, fatal reason
    std::unordered_map<uint32_t, std::shared_ptr<Resource>> resources_;
    std::map<uint64_t, std::unique_ptr<Ring>> rings_;
    std::unordered_map<uint64_t, std::unordered_set<uint64_t>> pool_children_;
    std::map<uint32_t, std::unique_ptr<Timeline>> timelines_;

    std::atomic<bool> fatal_{false};
    std::string fatal_reason_;
    std::function<void()> resource_barrier_;

    std::unique_ptr<DispatchPath> control_;
    std::mutex control_mutex_;  // one control submission at a time

    // ALIVE monitor (§5.5)
    std::thread monitor_;
    std::condition_variable monitor_cv_;
    bool monitor_stop_ = false;
};

}  // namespace venus::renderer
