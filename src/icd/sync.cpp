// Blocking waits (the renderer allows them: allow_vk_wait_syncs). A wait first runs on the
// instance ring for at most kSlice — behind the submission it waits for, in one ring hop — and,
// if it has not finished by then, goes on on a wait ring of its own, so that a long wait never
// holds up the commands of other threads (which may be the ones that will satisfy it).
#include <algorithm>
#include <chrono>

#include "icd/generated_support.h"
#include "icd/log.h"

namespace venus::icd {

namespace {

constexpr uint64_t kSliceNs = 2'000'000;

// `wait(on_wait_ring, timeout_ns)` runs one host wait with that timeout.
template <class Wait>
VkResult sliced_wait(uint64_t timeout, Wait&& wait) {
    const auto start = std::chrono::steady_clock::now();
    const uint64_t first = std::min(timeout, kSliceNs);
    VkResult r = wait(false, first);
    if (r != VK_TIMEOUT || timeout <= first) return r;
    uint64_t rest = UINT64_MAX;
    if (timeout != UINT64_MAX) {
        const uint64_t spent = static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
        rest = spent >= timeout ? 0 : timeout - spent;
    }
    return wait(true, rest);
}

}  // namespace

VKAPI_ATTR VkResult VKAPI_CALL icd_vkWaitForFences(VkDevice device, uint32_t fenceCount, const VkFence* pFences,
                                                   VkBool32 waitAll, uint64_t timeout) {
    Connection& conn = Device::from(device)->conn();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        return sliced_wait(timeout, [&](bool own_ring, uint64_t t) {
            auto size = [&](const WireCaps& c) { return guest::sizeof_vkWaitForFences(c, device, fenceCount, pFences, waitAll, t); };
            auto enc = [&](Encoder& e, uint32_t f) { guest::encode_vkWaitForFences(e, f, device, fenceCount, pFences, waitAll, t); };
            auto rsize = [&](const WireCaps& c) { return guest::sizeof_vkWaitForFences_reply(c, device, fenceCount, pFences, waitAll, t); };
            auto dec = [&](Decoder& d) { return guest::decode_vkWaitForFences_reply(d, device, fenceCount, pFences, waitAll, t); };
            return own_ring ? conn.call_on_wait_ring(size, enc, rsize, dec) : conn.call(size, enc, rsize, dec);
        });
    } catch (...) {
        return conn.on_exception();
    }
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkWaitSemaphores(VkDevice device, const VkSemaphoreWaitInfo* pWaitInfo, uint64_t timeout) {
    Connection& conn = Device::from(device)->conn();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        return sliced_wait(timeout, [&](bool own_ring, uint64_t t) {
            auto size = [&](const WireCaps& c) { return guest::sizeof_vkWaitSemaphores(c, device, pWaitInfo, t); };
            auto enc = [&](Encoder& e, uint32_t f) { guest::encode_vkWaitSemaphores(e, f, device, pWaitInfo, t); };
            auto rsize = [&](const WireCaps& c) { return guest::sizeof_vkWaitSemaphores_reply(c, device, pWaitInfo, t); };
            auto dec = [&](Decoder& d) { return guest::decode_vkWaitSemaphores_reply(d, device, pWaitInfo, t); };
            return own_ring ? conn.call_on_wait_ring(size, enc, rsize, dec) : conn.call(size, enc, rsize, dec);
        });
    } catch (...) {
        return conn.on_exception();
    }
}

namespace {

// vkQueueWaitIdle as an empty submission with a fence of the driver's own, then a fence wait
// (so that it is sliced like every other wait).
VkResult queue_wait_idle(Queue& q) {
    Device* dev = q.device;
    Connection& conn = dev->conn();
    VkDevice device = dev->handle();
    VkQueue queue = q.handle();
    if (!q.idle_fence) {
        VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VkFence f = new_handle<VkFence>();
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkCreateFence(c, device, &fi, nullptr, &f); },
                    [&](Encoder& e, uint32_t fl) { guest::encode_vkCreateFence(e, fl, device, &fi, nullptr, &f); });
        q.idle_fence = f;
    }
    VkFence fence = q.idle_fence;
    const VkSubmitInfo* none = nullptr;
    conn.submit([&](const WireCaps& c) { return guest::sizeof_vkQueueSubmit(c, queue, 0, none, fence); },
                [&](Encoder& e, uint32_t f) { guest::encode_vkQueueSubmit(e, f, queue, 0, none, fence); });
    VkResult r = icd_vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX);
    conn.submit([&](const WireCaps& c) { return guest::sizeof_vkResetFences(c, device, 1, &fence); },
                [&](Encoder& e, uint32_t f) { guest::encode_vkResetFences(e, f, device, 1, &fence); });
    return r;
}

}  // namespace

VKAPI_ATTR VkResult VKAPI_CALL icd_vkQueueWaitIdle(VkQueue queue) {
    Queue* q = Queue::from(queue);
    Connection& conn = q->device->conn();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        return queue_wait_idle(*q);
    } catch (...) {
        return conn.on_exception();
    }
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkDeviceWaitIdle(VkDevice device) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        for (auto& q : dev->queues) {
            const VkResult r = queue_wait_idle(*q);
            if (r != VK_SUCCESS) return r;
        }
        return VK_SUCCESS;
    } catch (...) {
        return conn.on_exception();
    }
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkGetQueryPoolResults(VkDevice device, VkQueryPool queryPool, uint32_t firstQuery,
                                                         uint32_t queryCount, size_t dataSize, void* pData,
                                                         VkDeviceSize stride, VkQueryResultFlags flags) {
    Connection& conn = Device::from(device)->conn();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        auto size = [&](const WireCaps& c) { return guest::sizeof_vkGetQueryPoolResults(c, device, queryPool, firstQuery, queryCount, dataSize, pData, stride, flags); };
        auto enc = [&](Encoder& e, uint32_t f) { guest::encode_vkGetQueryPoolResults(e, f, device, queryPool, firstQuery, queryCount, dataSize, pData, stride, flags); };
        auto rsize = [&](const WireCaps& c) { return guest::sizeof_vkGetQueryPoolResults_reply(c, device, queryPool, firstQuery, queryCount, dataSize, pData, stride, flags); };
        auto dec = [&](Decoder& d) { return guest::decode_vkGetQueryPoolResults_reply(d, device, queryPool, firstQuery, queryCount, dataSize, pData, stride, flags); };
        // a waiting query read may block for as long as the GPU work takes
        if (flags & VK_QUERY_RESULT_WAIT_BIT) return conn.call_blocking(size, enc, rsize, dec);
        return conn.call(size, enc, rsize, dec);
    } catch (...) {
        return conn.on_exception();
    }
}

}  // namespace venus::icd
