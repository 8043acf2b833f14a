#include "renderer/timeline.h"

#include <fmt/format.h>

#include "renderer/context.h"
#include "renderer/errors.h"
#include "renderer/objects.h"
#include "util/log.h"

namespace venus::renderer {

Timeline::Timeline(Context& ctx, uint32_t ring_idx, QueueObject& queue)
    : ctx_(ctx), ring_idx_(ring_idx), queue_(queue), thread_([this] { run(); }) {}

Timeline::~Timeline() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    DeviceObject& dev = *queue_.device;
    for (auto& p : pending_) dev.fn.DestroyFence(dev.vk, p.fence, nullptr);
    for (VkFence f : free_) dev.fn.DestroyFence(dev.vk, f, nullptr);
}

void Timeline::submit(uint64_t fence_id, std::function<void(uint64_t)> on_retire) {
    DeviceObject& dev = *queue_.device;
    VkFence fence = VK_NULL_HANDLE;
    {
        std::lock_guard lock(mutex_);
        if (!free_.empty()) {
            fence = free_.back();
            free_.pop_back();
        }
    }
    if (!fence) {
        VkFenceCreateInfo info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        const VkResult r = dev.fn.CreateFence(dev.vk, &info, nullptr, &fence);
        if (r != VK_SUCCESS) throw ContextError(fmt::format("timeline {}: vkCreateFence failed ({})", ring_idx_, static_cast<int>(r)));
    }
    VkResult r;
    {
        std::lock_guard q(queue_.submit_mutex);
        r = dev.fn.QueueSubmit(queue_.vk, 0, nullptr, fence);
    }
    if (r != VK_SUCCESS) {
        dev.fn.DestroyFence(dev.vk, fence, nullptr);
        throw ContextError(fmt::format("timeline {}: fence submission failed ({})", ring_idx_, static_cast<int>(r)));
    }
    {
        std::lock_guard lock(mutex_);
        pending_.push_back({fence, fence_id, std::move(on_retire)});
    }
    cv_.notify_all();
}

void Timeline::run() {
    pthread_setname_np(pthread_self(), fmt::format("venus-tl-{}", ring_idx_).substr(0, 15).c_str());
    DeviceObject& dev = *queue_.device;
    std::unique_lock lock(mutex_);
    while (true) {
        cv_.wait(lock, [&] { return stop_ || !pending_.empty(); });
        if (pending_.empty() && stop_) break;
        Pending p = pending_.front();
        lock.unlock();
        VkResult r = VK_TIMEOUT;
        while (r == VK_TIMEOUT) {
            r = dev.fn.WaitForFences(dev.vk, 1, &p.fence, VK_TRUE, 100'000'000);
            if (r == VK_TIMEOUT && ctx_.is_fatal()) break;
        }
        if (r != VK_SUCCESS && r != VK_TIMEOUT)
            log::error("ctx {}: timeline {}: waiting for a fence failed ({})", ctx_.id(), ring_idx_, static_cast<int>(r));
        if (r == VK_SUCCESS) p.on_retire(p.id);
        dev.fn.ResetFences(dev.vk, 1, &p.fence);
        lock.lock();
        pending_.pop_front();
        free_.push_back(p.fence);
    }
}

}  // namespace venus::renderer
