// Timeline semaphores waited for on one thread and signalled on another (from the host and from
// the queue, including a wait-before-signal submission), natively and through the guest driver:
// the same sequence of events, no deadlock (a blocking wait must not hold up the other thread).
#include <chrono>
#include <mutex>
#include <thread>

#include "icd_test_support.h"

namespace venus::icd_test {
namespace {

constexpr uint64_t kRounds = 25;
constexpr uint64_t kSecond = 1'000'000'000ull;

VkSemaphore timeline(VkDevice device, uint64_t initial) {
    VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO, nullptr, VK_SEMAPHORE_TYPE_TIMELINE, initial};
    VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
    VkSemaphore s = VK_NULL_HANDLE;
    if (vkCreateSemaphore(device, &info, nullptr, &s) != VK_SUCCESS) throw std::runtime_error("vkCreateSemaphore");
    return s;
}

VkResult wait(VkDevice device, VkSemaphore s, uint64_t value, uint64_t timeout = 10 * kSecond) {
    VkSemaphoreWaitInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    info.semaphoreCount = 1;
    info.pSemaphores = &s;
    info.pValues = &value;
    return vkWaitSemaphores(device, &info, timeout);
}

VkResult signal(VkDevice device, VkSemaphore s, uint64_t value) {
    VkSemaphoreSignalInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO, nullptr, s, value};
    return vkSignalSemaphore(device, &info);
}

// Runs the two-thread workload; returns what happened, in order.
std::vector<std::string> workload(const DriverEnv& env) {
    Vk vk(env);
    VkDevice dev = vk.device;
    VkSemaphore ping = timeline(dev, 0), pong = timeline(dev, 0);
    std::mutex mutex;
    std::vector<std::string> events;
    auto log = [&](std::string e) {
        std::lock_guard lock(mutex);
        events.push_back(std::move(e));
    };

    std::thread waiter([&] {
        for (uint64_t v = 1; v <= kRounds; ++v) {
            const VkResult r = wait(dev, ping, v);
            log("waiter: ping " + std::to_string(v) + " -> " + std::to_string(r));
            log("waiter: pong " + std::to_string(v) + " -> " + std::to_string(signal(dev, pong, v)));
        }
        // signalled by the queue
        log("waiter: queue-signalled 100 -> " + std::to_string(wait(dev, ping, 100)));
        // the queue waits for the host (wait-before-signal), then signals pong
        log("waiter: pong 200 after a wait-before-signal submission -> " + std::to_string(wait(dev, pong, 200)));
    });
    std::thread signaller([&] {
        for (uint64_t v = 1; v <= kRounds; ++v) {
            std::this_thread::sleep_for(std::chrono::microseconds(v % 3 == 0 ? 3000 : 200));
            const VkResult r = signal(dev, ping, v);
            log("signaller: ping " + std::to_string(v) + " -> " + std::to_string(r));
            log("signaller: pong " + std::to_string(v) + " seen -> " + std::to_string(wait(dev, pong, v)));
        }
        // a submission that signals ping = 100
        {
            const uint64_t value = 100;
            VkTimelineSemaphoreSubmitInfo ts{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
            ts.signalSemaphoreValueCount = 1;
            ts.pSignalSemaphoreValues = &value;
            VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO, &ts};
            si.signalSemaphoreCount = 1;
            si.pSignalSemaphores = &ping;
            log("signaller: submit signalling 100 -> " + std::to_string(vkQueueSubmit(vk.queue, 1, &si, VK_NULL_HANDLE)));
        }
        // a submission waiting for ping = 150 (signalled later by the host) and signalling pong = 200
        {
            const uint64_t wait_value = 150, signal_value = 200;
            const VkPipelineStageFlags stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
            VkTimelineSemaphoreSubmitInfo ts{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
            ts.waitSemaphoreValueCount = 1;
            ts.pWaitSemaphoreValues = &wait_value;
            ts.signalSemaphoreValueCount = 1;
            ts.pSignalSemaphoreValues = &signal_value;
            VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO, &ts};
            si.waitSemaphoreCount = 1;
            si.pWaitSemaphores = &ping;
            si.pWaitDstStageMask = &stage;
            si.signalSemaphoreCount = 1;
            si.pSignalSemaphores = &pong;
            log("signaller: submit waiting for 150 -> " + std::to_string(vkQueueSubmit(vk.queue, 1, &si, VK_NULL_HANDLE)));
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            log("signaller: host signal 150 -> " + std::to_string(signal(dev, ping, 150)));
        }
    });
    waiter.join();
    signaller.join();
    uint64_t a = 0, b = 0;
    vkGetSemaphoreCounterValue(dev, ping, &a);
    vkGetSemaphoreCounterValue(dev, pong, &b);
    events.push_back("final: ping " + std::to_string(a) + ", pong " + std::to_string(b));
    events.push_back("timeout: " + std::to_string(wait(dev, ping, 1000, 10'000'000)));
    events.push_back("poll: " + std::to_string(wait(dev, ping, 150, 0)));
    vkQueueWaitIdle(vk.queue);
    vkDestroySemaphore(dev, ping, nullptr);
    vkDestroySemaphore(dev, pong, nullptr);
    return events;
}

// Events of one thread, in that thread's order (threads interleave differently on each run).
std::vector<std::string> of(const std::vector<std::string>& events, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& e : events)
        if (e.rfind(prefix, 0) == 0) out.push_back(e);
    return out;
}

TEST(Timeline, WaitAndSignalAcrossTwoThreads) {
    Server server;
    const auto native = workload(native_env());
    const auto start = std::chrono::steady_clock::now();
    const auto venus = workload(venus_env(server));
    const auto took = std::chrono::steady_clock::now() - start;
    for (const char* who : {"waiter:", "signaller:", "final:", "timeout:", "poll:"})
        EXPECT_EQ(of(venus, who), of(native, who)) << who;
    // and what native said is what Vulkan says
    EXPECT_EQ(of(native, "final:"), std::vector<std::string>{"final: ping 150, pong 200"});
    EXPECT_EQ(of(native, "timeout:"), std::vector<std::string>{"timeout: 2"});  // VK_TIMEOUT
    EXPECT_EQ(of(native, "poll:"), std::vector<std::string>{"poll: 0"});
    EXPECT_EQ(of(native, "waiter:").size(), 2 * kRounds + 2);
    // every round trip within reason: a wait that held up the other thread would show here
    EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(took).count(), 20);
    EXPECT_EQ(server.log().find("fatal"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace venus::icd_test
