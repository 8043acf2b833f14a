#include "renderer/deferred_executor.h"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/prctl.h>

#include <chrono>

#include "renderer/errors.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VENUS_CPU_RELAX() _mm_pause()
#else
#define VENUS_CPU_RELAX() std::atomic_signal_fence(std::memory_order_seq_cst)
#endif

namespace venus::renderer {

namespace {

constexpr uint32_t kStop = 2;

// Waits while `state` holds `value`: spins for a few microseconds (the other side is usually
// about to finish a batch), then sleeps on the futex.
uint32_t wait_while(std::atomic<uint32_t>& state, uint32_t value) {
    using clock = std::chrono::steady_clock;
    uint32_t s = state.load(std::memory_order_acquire);
    if (s != value) return s;
    const auto start = clock::now();
    for (uint32_t i = 1;; ++i) {
        VENUS_CPU_RELAX();
        s = state.load(std::memory_order_acquire);
        if (s != value) return s;
        if (i % 64 == 0 && clock::now() - start > std::chrono::microseconds(20)) break;
    }
    while ((s = state.load(std::memory_order_acquire)) == value) state.wait(value, std::memory_order_acquire);
    return s;
}

}  // namespace

DeferredExecutor::DeferredExecutor(protocol::host::Dispatcher& dispatcher, size_t command_scratch_cap,
                                   std::string thread_name)
    : dispatcher_(dispatcher), thread_name_(std::move(thread_name)) {
    for (auto& b : batches_) {
        b.commands.reserve(kBatchCommands);
        b.arena.set_cap(command_scratch_cap + kBatchArenaBytes);
    }
}

DeferredExecutor::~DeferredExecutor() {
    drain_quietly();
    if (thread_.joinable()) {
        for (auto& b : batches_) {
            b.state.store(kStop, std::memory_order_release);
            b.state.notify_all();
        }
        thread_.join();
    }
}

void DeferredExecutor::push(const protocol::host::DeferredCommand& command, size_t end,
                            const std::function<void(size_t)>& progress) {
    Batch& b = batches_[fill_];
    b.commands.push_back(command);
    b.end = end;
    if (b.commands.size() >= kBatchCommands || b.arena.used() >= kBatchArenaBytes) {
        hand_over();
        take(batches_[fill_], &progress);
    }
}

void DeferredExecutor::hand_over() {
    Batch& b = batches_[fill_];
    if (b.commands.empty()) return;
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    b.state.store(kReady, std::memory_order_release);
    b.state.notify_one();
    fill_ = (fill_ + 1) % kBatches;
}

void DeferredExecutor::wait_free(Batch& b) { wait_while(b.state, kReady); }

// Makes `b` the decoding thread's again: waits for the executor, reports the batch's end as
// progress if it ran in this stream, and empties it.
void DeferredExecutor::take(Batch& b, const std::function<void(size_t)>* progress) {
    wait_free(b);
    if (!b.commands.empty()) {
        if (failed_.load(std::memory_order_acquire))
            throw ContextError(fmt::format("a recording command failed: {}", error_));
        if (progress && *progress) (*progress)(b.end);
        b.commands.clear();
        b.arena.reset();
    }
}

void DeferredExecutor::drain(const std::function<void(size_t)>& progress) {
    hand_over();
    // oldest first: fill_ is the batch handed over the longest ago (or an empty one)
    for (size_t i = 0; i < kBatches; ++i) take(batches_[(fill_ + i) % kBatches], &progress);
}

void DeferredExecutor::drain_quietly() noexcept {
    hand_over();
    for (auto& b : batches_) {
        wait_free(b);
        b.commands.clear();
        b.arena.reset();
    }
    failed_.store(false, std::memory_order_relaxed);
}

void DeferredExecutor::run() {
    pthread_setname_np(pthread_self(), thread_name_.substr(0, 15).c_str());
    prctl(PR_SET_TIMERSLACK, 1000UL);
    for (size_t next = 0;; next = (next + 1) % kBatches) {
        Batch& b = batches_[next];
        if (wait_while(b.state, kFree) == kStop) return;
        if (!failed_.load(std::memory_order_relaxed)) {
            for (const auto& c : b.commands) {
                try {
                    c.exec(dispatcher_, c.args);
                } catch (const std::exception& e) {
                    error_ = e.what();
                    failed_.store(true, std::memory_order_release);
                    break;
                }
            }
        }
        batches_run_.fetch_add(1, std::memory_order_relaxed);
        b.state.store(kFree, std::memory_order_release);
        b.state.notify_one();
    }
}

}  // namespace venus::renderer
