// Runs the recording commands (vkCmd*) of one dispatch path on a thread of their own, so that
// decoding the next commands overlaps with the host driver recording the previous ones.
//
// The decoding thread decodes each deferrable command (protocol::host::decode_deferred) into the
// arena of the batch it is filling and pushes it; a full batch is handed to the executor thread,
// which calls the dispatcher for each command in stream order. Before any other command the
// decoding thread drains the executor, so that every command still observes the effects of all
// earlier ones: objects are created and destroyed only while nothing is deferred.
//
// Batches are few and small (kBatches x kBatchCommands) so that the executor starts early and
// the decoding thread never runs far ahead; hand-over is an atomic store, and each side sleeps
// (futex, through std::atomic::wait) only after spinning briefly.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "protocol/codec.h"
#include "protocol/host_dispatch.h"

namespace venus::renderer {

class DeferredExecutor {
public:
    static constexpr size_t kBatches = 4;
    static constexpr size_t kBatchCommands = 256;
    static constexpr size_t kBatchArenaBytes = 1 << 20;  // a batch is handed over past this

    // `command_scratch_cap`: the scratch memory one command may use (a batch arena's cap is that
    // plus kBatchArenaBytes, so a command gets its full allowance in any batch).
    DeferredExecutor(protocol::host::Dispatcher& dispatcher, size_t command_scratch_cap, std::string thread_name);
    ~DeferredExecutor();
    DeferredExecutor(const DeferredExecutor&) = delete;
    DeferredExecutor& operator=(const DeferredExecutor&) = delete;

    // ---- the decoding thread --------------------------------------------------------------
    // Where the next deferred command decodes its arguments.
    protocol::TempArena& arena() { return batches_[fill_].arena; }
    // A decoded command whose bytes end at stream offset `end`. `progress(end)` is called (on
    // this thread) for the last command of each batch once the batch has run.
    void push(const protocol::host::DeferredCommand& command, size_t end, const std::function<void(size_t)>& progress);
    // Hands over what is pending and waits until everything has run. Throws ContextError with
    // the first error the executor met (the context is lost then; later commands were skipped).
    void drain(const std::function<void(size_t)>& progress);
    // As drain, for unwinding after a decode error: reports nothing and throws nothing.
    void drain_quietly() noexcept;

    uint64_t batches_run() const { return batches_run_.load(std::memory_order_relaxed); }

private:
    enum : uint32_t { kFree = 0, kReady = 1 };
    // A hand-over flag with its own cache line (the other side spins on it while this side
    // writes the batch) and a count of sleepers, so that a hand-over makes a futex call only
    // when someone sleeps (libstdc++'s atomic notify always makes one).
    struct alignas(64) Flag {
        std::atomic<uint32_t> state{kFree};
        std::atomic<uint32_t> sleepers{0};
        void set(uint32_t v);
        uint32_t wait_while(uint32_t v);
    };
    struct alignas(64) Batch {
        Flag flag;
        alignas(64) size_t count = 0;
        size_t end = 0;
        protocol::TempArena arena;
        protocol::host::DeferredCommand commands[kBatchCommands];
    };

    void hand_over();
    // Waits until the executor is done with `b` (the decoding thread's side).
    void wait_free(Batch& b);
    void take(Batch& b, const std::function<void(size_t)>* progress);
    void run();

    protocol::host::Dispatcher& dispatcher_;
    std::string thread_name_;
    Batch batches_[kBatches];
    size_t fill_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    // written by the executor before it frees the batch it failed in; read after wait_free
    std::atomic<bool> failed_{false};
    std::string error_;
    std::atomic<uint64_t> batches_run_{0};
};

}  // namespace venus::renderer
