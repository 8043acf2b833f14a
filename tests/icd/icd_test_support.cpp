#include "icd_test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace venus::icd_test {

std::map<std::string, std::string> DriverEnv::vars() const {
    std::map<std::string, std::string> v{{"VK_DRIVER_FILES", manifest}, {"VK_ICD_FILENAMES", manifest}};
    if (!socket.empty()) v["VTEST_SOCKET_NAME"] = socket;
    return v;
}

namespace {
std::map<std::string, std::string> server_env(std::map<std::string, std::string> env) {
    env.emplace("VK_DRIVER_FILES", kNativeManifest);
    env.emplace("VK_ICD_FILENAMES", kNativeManifest);
    return env;
}
}  // namespace

Server::Server(std::vector<std::string> args, std::map<std::string, std::string> env)
    : test::ServerProcess(std::move(args), server_env(std::move(env))) {}

DriverEnv native_env() { return {"native", kNativeManifest, ""}; }

DriverEnv venus_env(const test::ServerProcess& server) { return {"venus", kIcdManifest, server.socket_path()}; }

ProcessResult run_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                          const std::string& cwd, int timeout_s) {
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
#ifdef VENUS_ASAN_PRELOAD
        // a program without sanitizers (vulkaninfo) loading the sanitized driver
        if (env.count("VK_DRIVER_FILES")) setenv("LD_PRELOAD", VENUS_ASAN_PRELOAD, 1);
#endif
        if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    ProcessResult r;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    int open_fds = 2;
    bool killed = false;
    while (open_fds > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 && !killed) {
            kill(pid, SIGKILL);
            killed = true;
        }
        if (poll(fds, 2, killed ? 1000 : static_cast<int>(std::max<long>(1, left.count()))) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
            }
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) close(f.fd);
    int status = 0;
    waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return r;
}

TempDir::TempDir() {
    char tmpl[] = "/tmp/venus-icd-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

long rss_kib(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return 0;
}

// ------------------------------------------------------------------------------------ Vk

namespace {
void require(VkResult r, const char* what, const std::string& driver) {
    if (r != VK_SUCCESS)
        throw std::runtime_error(driver + ": " + what + " failed: VkResult " + std::to_string(r));
}
}  // namespace

Vk::Vk(const DriverEnv& env, uint32_t api_version, const std::vector<const char*>& device_extensions) {
    for (const auto& [k, v] : env.vars()) setenv(k.c_str(), v.c_str(), 1);
    if (env.socket.empty()) unsetenv("VTEST_SOCKET_NAME");
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "venus-icd-test";
    app.apiVersion = api_version;
    VkInstanceCreateInfo ii{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ii.pApplicationInfo = &app;
    require(vkCreateInstance(&ii, nullptr, &instance), "vkCreateInstance", env.name);
    uint32_t n = 1;
    const VkResult r = vkEnumeratePhysicalDevices(instance, &n, &pd);
    if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || !n) throw std::runtime_error(env.name + ": no physical device");
    vkGetPhysicalDeviceProperties(pd, &properties);
    vkGetPhysicalDeviceMemoryProperties(pd, &memory);
    const float prio = 1.0f;
    VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qi.queueFamilyIndex = family;
    qi.queueCount = 1;
    qi.pQueuePriorities = &prio;
    // the features the workloads use
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    f12.timelineSemaphore = VK_TRUE;
    VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES, &f12};
    f13.synchronization2 = VK_TRUE;
    f13.privateData = VK_TRUE;
    f13.dynamicRendering = VK_TRUE;
    f13.pipelineCreationCacheControl = VK_TRUE;
    VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f13};
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    di.enabledExtensionCount = static_cast<uint32_t>(device_extensions.size());
    di.ppEnabledExtensionNames = device_extensions.data();
    require(vkCreateDevice(pd, &di, nullptr, &device), "vkCreateDevice", env.name);
    vkGetDeviceQueue(device, family, 0, &queue);
    VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pi.queueFamilyIndex = family;
    require(vkCreateCommandPool(device, &pi, nullptr, &pool_), "vkCreateCommandPool", env.name);
}

Vk::~Vk() {
    if (device) {
        vkDeviceWaitIdle(device);
        vkDestroyCommandPool(device, pool_, nullptr);
        vkDestroyDevice(device, nullptr);
    }
    if (instance) vkDestroyInstance(instance, nullptr);
}

uint32_t Vk::memory_type(uint32_t bits, VkMemoryPropertyFlags flags) const {
    for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
        if ((bits & (1u << i)) && (memory.memoryTypes[i].propertyFlags & flags) == flags) return i;
    throw std::runtime_error("no suitable memory type");
}

VkResult Vk::run(const std::function<void(VkCommandBuffer)>& record) {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cb;
    VkResult r = vkAllocateCommandBuffers(device, &ai, &cb);
    if (r != VK_SUCCESS) return r;
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vkBeginCommandBuffer(cb, &bi);
    record(cb);
    r = vkEndCommandBuffer(cb);
    if (r == VK_SUCCESS) {
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cb;
        r = vkQueueSubmit(queue, 1, &si, VK_NULL_HANDLE);
        if (r == VK_SUCCESS) r = vkQueueWaitIdle(queue);
    }
    vkFreeCommandBuffers(device, pool_, 1, &cb);
    return r;
}

}  // namespace venus::icd_test
