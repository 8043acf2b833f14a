// venus-timeline: a queue submission waits on a timeline semaphore value that another thread
// signals later from the host (vkSignalSemaphore) and signals a second timeline semaphore, which
// this thread waits for with vkWaitSemaphores; it must arrive soon after. Repeated --rounds
// times; prints how many rounds timed out (exit 1 if any did).
//
// This is the pattern behind Mesa venus 25.0.7's timeline race (docs/compatibility.md): with
// semaphore feedback on, Mesa sends the signal before it writes its feedback slot, and a wait
// can miss it.

#include "args.hpp"
#include "check.hpp"

#include <vulkan/vulkan.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  vkdemo::set_program_name("venus-timeline");
  uint32_t rounds = 20;
  uint32_t delay_ms = 20;
  uint32_t timeout_ms = 5000;
  vkdemo::ArgParser args("venus-timeline",
                         "Submits work that waits on a timeline value, signals that value from another "
                         "thread, and checks that the work completes; repeated.");
  args.add_uint("rounds", "rounds (default 20)", &rounds, 1, 100000);
  args.add_uint("delay-ms", "how long the signalling thread waits before it signals (default 20)", &delay_ms, 0, 10000);
  args.add_uint("timeout-ms", "how long a round may take (default 5000)", &timeout_ms, 1, 600000);
  args.parse(argc, argv);

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "venus-timeline";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ii{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ii.pApplicationInfo = &app;
  VkInstance instance = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateInstance(&ii, nullptr, &instance));
  uint32_t n = 1;
  VkPhysicalDevice pd = VK_NULL_HANDLE;
  const VkResult er = vkEnumeratePhysicalDevices(instance, &n, &pd);
  if ((er != VK_SUCCESS && er != VK_INCOMPLETE) || n == 0) vkdemo::fail("no physical device");
  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &driver};
  vkGetPhysicalDeviceProperties2(pd, &props);
  std::printf("device: %s\ndriver: %s (%s)\n", props.properties.deviceName, driver.driverName, driver.driverInfo);
  if (props.properties.apiVersion < VK_API_VERSION_1_2) vkdemo::fail("the device is not Vulkan 1.2");

  VkPhysicalDeviceTimelineSemaphoreFeatures tf{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES};
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &tf};
  vkGetPhysicalDeviceFeatures2(pd, &f2);
  if (!tf.timelineSemaphore) vkdemo::fail("the device has no timeline semaphores");
  const float priority = 1.0f;
  VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qi.queueFamilyIndex = 0;
  qi.queueCount = 1;
  qi.pQueuePriorities = &priority;
  VkPhysicalDeviceTimelineSemaphoreFeatures enable{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES};
  enable.timelineSemaphore = VK_TRUE;
  VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &enable};
  di.queueCreateInfoCount = 1;
  di.pQueueCreateInfos = &qi;
  VkDevice device = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateDevice(pd, &di, nullptr, &device));
  VkQueue queue = VK_NULL_HANDLE;
  vkGetDeviceQueue(device, 0, 0, &queue);

  VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
  type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  VkSemaphoreCreateInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
  VkSemaphore timeline = VK_NULL_HANDLE, done = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateSemaphore(device, &si, nullptr, &timeline));
  VKD_CHECK(vkCreateSemaphore(device, &si, nullptr, &done));
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence fence = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateFence(device, &fi, nullptr, &fence));

  uint32_t timed_out = 0;
  double worst_ms = 0;
  for (uint32_t r = 1; r <= rounds; ++r) {
    const uint64_t value = r;
    VkTimelineSemaphoreSubmitInfo ts{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
    ts.waitSemaphoreValueCount = 1;
    ts.pWaitSemaphoreValues = &value;
    ts.signalSemaphoreValueCount = 1;
    ts.pSignalSemaphoreValues = &value;
    const VkPipelineStageFlags stage = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO, &ts};
    submit.waitSemaphoreCount = 1;
    submit.pWaitSemaphores = &timeline;
    submit.pWaitDstStageMask = &stage;
    submit.signalSemaphoreCount = 1;
    submit.pSignalSemaphores = &done;
    VKD_CHECK(vkQueueSubmit(queue, 1, &submit, fence));
    const auto start = std::chrono::steady_clock::now();
    std::thread signaller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      VkSemaphoreSignalInfo signal{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO};
      signal.semaphore = timeline;
      signal.value = value;
      VKD_CHECK(vkSignalSemaphore(device, &signal));
    });
    VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    wi.semaphoreCount = 1;
    wi.pSemaphores = &done;
    wi.pValues = &value;
    const VkResult w = vkWaitSemaphores(device, &wi, uint64_t{timeout_ms} * 1000000);
    signaller.join();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    worst_ms = std::max(worst_ms, ms);
    if (w == VK_TIMEOUT) {
      ++timed_out;
      uint64_t seen = 0;
      vkGetSemaphoreCounterValue(device, done, &seen);
      std::printf("round %u: the value %llu the submission signals did not arrive within %u ms (counter: %llu)\n",
                  r, static_cast<unsigned long long>(value), timeout_ms, static_cast<unsigned long long>(seen));
      // let it finish before the fence is reused
    } else if (w != VK_SUCCESS) {
      VKD_CHECK(w);
    }
    if (vkWaitForFences(device, 1, &fence, VK_TRUE, uint64_t{60} * 1000000000) != VK_SUCCESS)
      vkdemo::fail("the submission never completed");
    VKD_CHECK(vkResetFences(device, 1, &fence));
  }
  std::printf("rounds: %u, timed out: %u, slowest round: %.1f ms\n", rounds, timed_out, worst_ms);
  vkDestroyFence(device, fence, nullptr);
  vkDestroySemaphore(device, timeline, nullptr);
  vkDestroySemaphore(device, done, nullptr);
  vkDestroyDevice(device, nullptr);
  vkDestroyInstance(instance, nullptr);
  return timed_out ? 1 : 0;
}
