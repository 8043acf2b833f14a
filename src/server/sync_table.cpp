#include "server/sync_table.h"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

namespace venus::server {

uint32_t SyncTable::create(uint64_t value) {
    std::lock_guard lock(mutex_);
    uint32_t id;
    if (!free_ids_.empty()) {
        id = free_ids_.back();
        free_ids_.pop_back();
    } else {
        id = next_id_++;
    }
    values_[id] = value;
    return id;
}

bool SyncTable::destroy(uint32_t id) {
    std::lock_guard lock(mutex_);
    if (!values_.erase(id)) return false;
    free_ids_.push_back(id);
    return true;
}

bool SyncTable::read(uint32_t id, uint64_t* value) {
    std::lock_guard lock(mutex_);
    auto it = values_.find(id);
    if (it == values_.end()) return false;
    *value = it->second;
    return true;
}

bool SyncTable::write(uint32_t id, uint64_t value) {
    std::lock_guard lock(mutex_);
    auto it = values_.find(id);
    if (it == values_.end()) return false;
    it->second = value;
    wake_locked();
    return true;
}

bool SyncTable::satisfied_locked(const Waiter& w) const {
    size_t done = 0;
    for (const auto& e : w.entries) {
        auto it = values_.find(e.sync_id);
        // a sync destroyed while waited on can never be reached: treat as signaled so the wait ends
        const bool reached = it == values_.end() || it->second >= e.value;
        if (reached && w.any) return true;
        done += reached;
    }
    return done == w.entries.size();
}

void SyncTable::wake_locked() {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(waiters_, [&](Waiter& w) {
        if (satisfied_locked(w)) {
            const uint64_t one = 1;
            [[maybe_unused]] ssize_t r = ::write(w.fd.get(), &one, sizeof(one));
            return true;
        }
        return !w.forever && now >= w.deadline;  // the guest has given up by now
    });
}

transport::UniqueFd SyncTable::wait(std::span<const WaitEntry> entries, bool any, uint32_t timeout_ms,
                                    std::string* why) {
    transport::UniqueFd fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) {
        *why = "eventfd failed";
        return {};
    }
    std::lock_guard lock(mutex_);
    for (const auto& e : entries) {
        if (!values_.count(e.sync_id)) {
            *why = fmt::format("SYNC_WAIT names unknown sync {}", e.sync_id);
            return {};
        }
    }
    Waiter w;
    w.fd = fd.dup();
    w.entries.assign(entries.begin(), entries.end());
    w.any = any;
    w.forever = timeout_ms > static_cast<uint32_t>(INT32_MAX);
    w.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    if (satisfied_locked(w) || entries.empty()) {
        const uint64_t one = 1;
        [[maybe_unused]] ssize_t r = ::write(fd.get(), &one, sizeof(one));
        return fd;
    }
    if (timeout_ms == 0) return fd;  // not signaled, and the guest will not wait
    waiters_.push_back(std::move(w));
    return fd;
}

size_t SyncTable::pending_waits() {
    std::lock_guard lock(mutex_);
    return waiters_.size();
}

}  // namespace venus::server
