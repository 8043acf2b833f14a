// A ring (§5.4): a thread that drains the guest-written buffer of a shared-memory ring,
// decodes and runs each command, and moves `head` past each one so that the guest sees
// replies as early as possible. It goes IDLE after `idle_timeout` without work and sleeps
// until vkNotifyRingMESA; any bad command sets FATAL and makes the context fatal.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "renderer/dispatch_path.h"
#include "renderer/resource.h"
#include "transport/ring_layout.h"

namespace venus::renderer {

class Context;

class Ring {
public:
    Ring(Context& ctx, uint64_t id, std::shared_ptr<Resource> resource, const transport::RingLayout& layout,
         uint64_t idle_timeout_ns, uint32_t monitor_period_us, std::optional<int> priority);
    ~Ring();  // stops and joins the thread
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    void start();
    void stop();

    uint64_t id() const { return id_; }
    uint32_t monitor_period_us() const { return monitor_period_us_; }
    uint32_t resource_id() const { return resource_->id; }

    // control path
    void notify();
    void write_extra(uint64_t offset, uint32_t value);
    void submit_virtqueue_seqno(uint64_t seqno);
    // Blocks until head reaches `seqno`; throws ContextError if it never can.
    void wait_head(uint32_t seqno);

    // ring thread (from a command it is running)
    void wait_virtqueue_seqno(uint64_t seqno);

    void set_fatal();
    void set_alive();

private:
    void run();
    bool wait_for_work(uint32_t head);

    Context& ctx_;
    const uint64_t id_;
    std::shared_ptr<Resource> resource_;
    transport::RingView view_;
    const uint64_t idle_timeout_ns_;
    const uint32_t monitor_period_us_;
    const std::optional<int> priority_;

    std::unique_ptr<DispatchPath> path_;
    std::vector<uint8_t> batch_;  // private copy of the commands being decoded
    std::thread thread_;

    std::mutex mutex_;
    std::condition_variable cv_;       // ring thread: notify / virtqueue seqno / stop
    std::condition_variable head_cv_;  // waiters for head progress
    bool notified_ = false;
    bool stop_ = false;
    uint64_t virtqueue_seqno_ = 0;
    std::atomic<uint32_t> head_{0};
    std::atomic<uint32_t> head_waiters_{0};  // threads in wait_head: only then does run() lock and notify
};

}  // namespace venus::renderer
