// Support for the guest-driver tests: every test runs its workload natively (lavapipe) and
// through libvulkan_venus_cpp.so + a private venus-server, and compares the two.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>
#include <vulkan/vulkan.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server_process.h"

namespace venus::icd_test {

inline const char* kNativeManifest = VENUS_NATIVE_ICD;
inline const char* kIcdManifest = VENUS_ICD_MANIFEST;

// venus-server on a private socket, always on the native driver (the test process itself may
// have pointed VK_DRIVER_FILES at the guest driver, and the server inherits the environment).
class Server : public test::ServerProcess {
public:
    explicit Server(std::vector<std::string> args = {}, std::map<std::string, std::string> env = {});
};

// The environment a Vulkan program needs to run on one driver.
struct DriverEnv {
    std::string name;      // "native" or "venus"
    std::string manifest;  // VK_DRIVER_FILES
    std::string socket;    // VTEST_SOCKET_NAME ("" for native)
    std::map<std::string, std::string> vars() const;
};
DriverEnv native_env();
DriverEnv venus_env(const test::ServerProcess& server);

struct ProcessResult {
    int status = -1;  // exit status, or -signal
    std::string out;
    std::string err;
};
// Runs argv with the current environment plus `env`, in `cwd` (if not empty); kills it after
// timeout_s seconds (status -SIGKILL then).
ProcessResult run_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                          const std::string& cwd = "", int timeout_s = 120);

// A fresh temporary directory, removed with its contents at destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

std::string read_file(const std::string& path);
// VmRSS of a process in KiB (0 if unknown).
long rss_kib(pid_t pid);

// A single-sample, single-level 2D image of `format`, `width`×`height`, optimal tiling.
inline VkImageCreateInfo image_2d(VkFormat format, uint32_t width, uint32_t height, VkImageUsageFlags usage) {
    VkImageCreateInfo i{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
    i.imageType = VK_IMAGE_TYPE_2D;
    i.format = format;
    i.extent = {width, height, 1};
    i.mipLevels = i.arrayLayers = 1;
    i.samples = VK_SAMPLE_COUNT_1_BIT;
    i.usage = usage;
    return i;
}

// An instance, device and queue on one driver, made in this process (the loader reads
// VK_DRIVER_FILES at every vkCreateInstance).
class Vk {
public:
    explicit Vk(const DriverEnv& env, uint32_t api_version = VK_API_VERSION_1_3,
                const std::vector<const char*>& device_extensions = {});
    ~Vk();
    Vk(const Vk&) = delete;
    Vk& operator=(const Vk&) = delete;

    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0;
    VkPhysicalDeviceMemoryProperties memory{};
    VkPhysicalDeviceProperties properties{};

    uint32_t memory_type(uint32_t bits, VkMemoryPropertyFlags flags) const;
    // A one-time command buffer: record, submit, wait.
    VkResult run(const std::function<void(VkCommandBuffer)>& record);

private:
    VkCommandPool pool_ = VK_NULL_HANDLE;
};

#define VK_OK(expr) ASSERT_EQ((expr), VK_SUCCESS) << #expr

}  // namespace venus::icd_test
