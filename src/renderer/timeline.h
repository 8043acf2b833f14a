// A guest-visible timeline bound to one VkQueue (ring_idx > 0, §5.10). A fence submitted on it
// is an empty vkQueueSubmit with a host VkFence; a thread retires fences in order and reports
// each retired fence id, which the front end turns into vtest sync values.
#pragma once

#include <vulkan/vulkan.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace venus::renderer {

class Context;
struct QueueObject;

class Timeline {
public:
    Timeline(Context& ctx, uint32_t ring_idx, QueueObject& queue);
    ~Timeline();
    Timeline(const Timeline&) = delete;
    Timeline& operator=(const Timeline&) = delete;

    QueueObject& queue() { return queue_; }
    // Throws ContextError if the host refuses the fence submission.
    void submit(uint64_t fence_id, std::function<void(uint64_t)> on_retire);

private:
    void run();

    struct Pending {
        VkFence fence;
        uint64_t id;
        std::function<void(uint64_t)> on_retire;
    };
    Context& ctx_;
    const uint32_t ring_idx_;
    QueueObject& queue_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Pending> pending_;
    std::vector<VkFence> free_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace venus::renderer
