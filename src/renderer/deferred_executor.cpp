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

}  // namespace

void DeferredExecutor::Flag::set(uint32_t v) {
    state.store(v, std::memory_order_seq_cst);
    // a sleeper registers (seq_cst) before it re-reads the state: it sees v, or we see it
    if (sleepers.load(std::memory_order_seq_cst)) state.notify_all();
}

// Waits while the state is `v`: spins for a few microseconds (the other side is usually about
// to finish a batch), then sleeps on the futex.
uint32_t DeferredExecutor::Flag::wait_while(uint32_t v) {
    using clock = std::chrono::steady_clock;
    uint32_t s = state.load(std::memory_order_acquire);
    if (s != v) return s;
    const auto start = clock::now();
    for (uint32_t i = 1;; ++i) {
        VENUS_CPU_RELAX();
        s = state.load(std::memory_order_acquire);
        if (s != v) return s;
        if (i % 64 == 0 && clock::now() - start > std::chrono::microseconds(20)) break;
    }
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    while ((s = state.load(std::memory_order_seq_cst)) == v) state.wait(v, std::memory_order_seq_cst);
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    return s;
}


DeferredExecutor::DeferredExecutor(protocol::host::Dispatcher& dispatcher, size_t command_scratch_cap,
                                   std::string thread_name)
    : dispatcher_(dispatcher), thread_name_(std::move(thread_name)) {
    for (auto& b : batches_) b.arena.set_cap(command_scratch_cap + kBatchArenaBytes);
}

DeferredExecutor::~DeferredExecutor() {
    drain_quietly();
    if (thread_.joinable()) {
        for (auto& b : batches_) b.flag.set(kStop);
        thread_.join();
    }
}

void DeferredExecutor::push(const protocol::host::DeferredCommand& command, size_t end,
                            const std::function<void(size_t)>& progress) {
    Batch& b = batches_[fill_];
    b.commands[b.count++] = command;
    b.end = end;
    if (b.count == kBatchCommands || b.arena.used() >= kBatchArenaBytes) {
        hand_over();
        take(batches_[fill_], &progress);
    }
}

void DeferredExecutor::hand_over() {
    Batch& b = batches_[fill_];
    if (!b.count) return;
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    b.flag.set(kReady);
    fill_ = (fill_ + 1) % kBatches;
}

void DeferredExecutor::wait_free(Batch& b) { b.flag.wait_while(kReady); }

// Makes `b` the decoding thread's again: waits for the executor, reports the batch's end as
// progress if it ran in this stream, and empties it.
void DeferredExecutor::take(Batch& b, const std::function<void(size_t)>* progress) {
    wait_free(b);
    if (b.count) {
        if (failed_.load(std::memory_order_acquire))
            throw ContextError(fmt::format("a recording command failed: {}", error_));
        if (progress && *progress) (*progress)(b.end);
        b.count = 0;
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
        b.count = 0;
        b.arena.reset();
    }
    failed_.store(false, std::memory_order_relaxed);
}

void DeferredExecutor::run() {
    pthread_setname_np(pthread_self(), thread_name_.substr(0, 15).c_str());
    prctl(PR_SET_TIMERSLACK, 1000UL);
    for (size_t next = 0;; next = (next + 1) % kBatches) {
        Batch& b = batches_[next];
        if (b.flag.wait_while(kFree) == kStop) return;
        if (!failed_.load(std::memory_order_relaxed)) {
            for (size_t i = 0; i < b.count; ++i) {
                const auto& c = b.commands[i];
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
        b.flag.set(kFree);
    }
}

}  // namespace venus::renderer
