// vtest sync objects (§2.4): 64-bit counters the guest creates, reads and writes, that
// timelines advance when fences retire, and that SYNC_WAIT turns into a pollable eventfd.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "transport/unique_fd.h"

namespace venus::server {

class SyncTable {
public:
    struct WaitEntry {
        uint32_t sync_id;
        uint64_t value;
    };

    uint32_t create(uint64_t value);
    bool destroy(uint32_t id);
    bool read(uint32_t id, uint64_t* value);
    // Sets the value (even a lower one) and wakes the waits it satisfies.
    bool write(uint32_t id, uint64_t value);
    // An eventfd that becomes readable once all (or any) entries reach their values; nullopt
    // and `why` when an id is unknown. Timeouts above INT32_MAX ms mean forever.
    transport::UniqueFd wait(std::span<const WaitEntry> entries, bool any, uint32_t timeout_ms, std::string* why);
    size_t pending_waits();

private:
    struct Waiter {
        transport::UniqueFd fd;
        std::vector<WaitEntry> entries;
        bool any;
        std::chrono::steady_clock::time_point deadline;
        bool forever;
    };
    bool satisfied_locked(const Waiter& w) const;
    void wake_locked();

    std::mutex mutex_;
    std::unordered_map<uint32_t, uint64_t> values_;
    std::vector<uint32_t> free_ids_;
    uint32_t next_id_ = 1;
    std::vector<Waiter> waiters_;
};

}  // namespace venus::server
