#include "renderer/ring.h"

#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "renderer/context.h"
#include "renderer/errors.h"
#include "util/log.h"

namespace venus::renderer {

namespace {
constexpr uint32_t kIdle = 0x1, kFatal = 0x2, kAlive = 0x4;
}

Ring::Ring(Context& ctx, uint64_t id, std::shared_ptr<Resource> resource, const transport::RingLayout& layout,
           uint64_t idle_timeout_ns, uint32_t monitor_period_us, std::optional<int> priority)
    : ctx_(ctx), id_(id), resource_(std::move(resource)), view_(resource_->data(), layout),
      idle_timeout_ns_(idle_timeout_ns), monitor_period_us_(monitor_period_us), priority_(priority) {
    path_ = std::make_unique<DispatchPath>(ctx, DispatchPath::Kind::Ring, this, ctx.decode_limit(), ctx.shared_replies());
    head_.store(view_.head().load(std::memory_order_acquire));
}

Ring::~Ring() { stop(); }

void Ring::start() { thread_ = std::thread([this] { run(); }); }

void Ring::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    head_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Ring::notify() {
    {
        std::lock_guard lock(mutex_);
        notified_ = true;
    }
    cv_.notify_all();
    // the guest notifies only a ring that said it was IDLE: a few times a second at most
    log::debug("ctx {}: ring {}: woken by the guest", ctx_.id(), id_);
}

void Ring::write_extra(uint64_t offset, uint32_t value) {
    if (offset > view_.extra_size() || view_.extra_size() - offset < 4 || offset % 4)
        throw ContextError(fmt::format("ring {}: extra offset {} outside its {} bytes", id_, offset, view_.extra_size()));
    reinterpret_cast<std::atomic<uint32_t>*>(view_.extra() + offset)->store(value, std::memory_order_release);
}

void Ring::submit_virtqueue_seqno(uint64_t seqno) {
    {
        std::lock_guard lock(mutex_);
        if (seqno > virtqueue_seqno_) virtqueue_seqno_ = seqno;
    }
    cv_.notify_all();
}

void Ring::wait_virtqueue_seqno(uint64_t seqno) {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return stop_ || ctx_.is_fatal() || virtqueue_seqno_ >= seqno; });
    if (stop_ || ctx_.is_fatal()) throw ContextError(fmt::format("ring {}: stopped while waiting for seqno {}", id_, seqno));
}

void Ring::wait_head(uint32_t seqno) {
    if (!transport::seqno_reached(view_.tail().load(std::memory_order_acquire), seqno))
        throw ContextError(fmt::format("ring {}: wait for position {} that the guest has not written (tail {})", id_,
                                       seqno, view_.tail().load()));
    std::unique_lock lock(mutex_);
    head_waiters_.fetch_add(1, std::memory_order_seq_cst);
    head_cv_.wait(lock, [&] { return stop_ || ctx_.is_fatal() || transport::seqno_reached(head_.load(), seqno); });
    head_waiters_.fetch_sub(1, std::memory_order_relaxed);
    if (!transport::seqno_reached(head_.load(), seqno))
        throw ContextError(fmt::format("ring {}: stopped before reaching position {}", id_, seqno));
}

void Ring::set_fatal() {
    view_.status().fetch_or(kFatal, std::memory_order_seq_cst);
    {
        std::lock_guard lock(mutex_);
        notified_ = true;
    }
    cv_.notify_all();
    head_cv_.notify_all();
}

void Ring::set_alive() { view_.status().fetch_or(kAlive, std::memory_order_seq_cst); }

// Waits for new bytes: spin briefly, back off, then go IDLE and sleep until notified.
bool Ring::wait_for_work(uint32_t head) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    for (uint32_t iter = 0;; ++iter) {
        if (view_.tail().load(std::memory_order_acquire) != head) return true;
        {
            std::lock_guard lock(mutex_);
            if (stop_) return false;
        }
        if (ctx_.is_fatal()) return false;
        const auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start).count();
        if (static_cast<uint64_t>(waited) >= idle_timeout_ns_) {
            std::unique_lock lock(mutex_);
            notified_ = false;
            view_.status().fetch_or(kIdle, std::memory_order_seq_cst);
            // re-check after publishing IDLE: a guest that stored tail before seeing IDLE
            // will not notify us
            if (view_.tail().load(std::memory_order_seq_cst) == head) {
                cv_.wait(lock, [&] {
                    return stop_ || notified_ || ctx_.is_fatal() ||
                           view_.tail().load(std::memory_order_acquire) != head;
                });
            }
            view_.status().fetch_and(~kIdle, std::memory_order_seq_cst);
            if (stop_) return false;
            continue;
        }
        if (iter < 64) {
            std::this_thread::yield();  // the guest is usually mid-write: a few microseconds
        } else {
            // back off from 5 us to 80 us; with a 1 us timer slack these sleeps are what they say
            const uint32_t shift = std::min<uint32_t>((iter - 64) / 16, 4);
            std::this_thread::sleep_for(std::chrono::microseconds(5u << shift));
        }
    }
}

void Ring::run() {
    pthread_setname_np(pthread_self(), fmt::format("venus-ring-{}", ctx_.id()).substr(0, 15).c_str());
    prctl(PR_SET_TIMERSLACK, 1000UL);  // the default 50 us slack would stretch every back-off sleep
    if (priority_) {
        // a nice value for this thread only; raising priority needs privileges, so failures are fine
        if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), *priority_) != 0)
            log::debug("ctx {}: ring {}: priority {} not applied", ctx_.id(), id_, *priority_);
    }
    uint32_t head = head_.load();
    const uint32_t size = view_.buffer_size();
    while (true) {
        if (!wait_for_work(head)) break;
        const uint32_t tail = view_.tail().load(std::memory_order_acquire);
        const uint32_t avail = tail - head;
        if (avail > size || avail % 4) {
            ctx_.set_fatal(fmt::format("ring {}: tail {} is {} bytes past head {} (buffer {} bytes)", id_, tail,
                                       avail, head, size));
            break;
        }
        batch_.resize(avail);
        view_.read(head, batch_);
        const uint32_t base = head;
        try {
            path_->run(batch_, [&](size_t consumed) {
                head = base + static_cast<uint32_t>(consumed);
                view_.head().store(head, std::memory_order_release);
                head_.store(head, std::memory_order_seq_cst);
                // a waiter registers (seq_cst) before it checks head_ under the mutex: either it
                // sees the new head or we see it and wake it
                if (head_waiters_.load(std::memory_order_seq_cst)) {
                    std::lock_guard lock(mutex_);
                    head_cv_.notify_all();
                }
            });
        } catch (const std::exception& e) {
            ctx_.set_fatal(fmt::format("ring {}: {}", id_, e.what()));
            break;
        }
        head = tail;
    }
    if (ctx_.is_fatal()) set_fatal();
}

}  // namespace venus::renderer
