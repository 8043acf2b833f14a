// The driver as the loader sees it: the loader-ICD interface (version 5), exactly three exported
// symbols, vkGet*ProcAddr by scope and by enabled extension, the build-tree manifest, and the
// install rule (library + manifest where the loader finds them).
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vulkan/vk_icd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "icd_test_support.h"

namespace venus::icd_test {
namespace {

std::string library_path() {
    return nlohmann::json::parse(read_file(kIcdManifest))["ICD"]["library_path"].get<std::string>();
}

TEST(Loader, ManifestNamesTheBuiltLibrary) {
    const auto m = nlohmann::json::parse(read_file(kIcdManifest));
    EXPECT_EQ(m["file_format_version"], "1.0.0");
    const std::string lib = m["ICD"]["library_path"];
    EXPECT_TRUE(std::filesystem::exists(lib)) << lib;
    EXPECT_EQ(std::filesystem::path(lib).filename(), "libvulkan_venus_cpp.so");
    EXPECT_EQ(m["ICD"]["api_version"].get<std::string>().rfind("1.3.", 0), 0u);
}

TEST(Loader, ExportsOnlyTheInterface) {
    const ProcessResult r = run_process({"nm", "-D", "--defined-only", library_path()}, {});
    ASSERT_EQ(r.status, 0) << r.err;
    std::set<std::string> names;
    std::istringstream in(r.out);
    std::string addr, type, name;
    while (in >> addr >> type >> name) names.insert(name);
    EXPECT_EQ(names, (std::set<std::string>{"vk_icdGetInstanceProcAddr", "vk_icdGetPhysicalDeviceProcAddr",
                                            "vk_icdNegotiateLoaderICDInterfaceVersion"}));
}

// The driver used directly, without the loader, as the loader itself uses it.
class Direct : public ::testing::Test {
protected:
    void SetUp() override {
        lib_ = dlopen(library_path().c_str(), RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(lib_, nullptr) << dlerror();
        negotiate_ = reinterpret_cast<PFN_vk_icdNegotiateLoaderICDInterfaceVersion>(
            dlsym(lib_, "vk_icdNegotiateLoaderICDInterfaceVersion"));
        gipa_ = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib_, "vk_icdGetInstanceProcAddr"));
        gpdpa_ = reinterpret_cast<PFN_vk_icdGetPhysicalDeviceProcAddr>(dlsym(lib_, "vk_icdGetPhysicalDeviceProcAddr"));
        ASSERT_TRUE(negotiate_ && gipa_ && gpdpa_);
        setenv("VTEST_SOCKET_NAME", server_.socket_path().c_str(), 1);
    }
    void TearDown() override {
        if (lib_) dlclose(lib_);
    }
    template <class F>
    F get(VkInstance instance, const char* name) {
        return reinterpret_cast<F>(gipa_(instance, name));
    }

    Server server_;
    void* lib_ = nullptr;
    PFN_vk_icdNegotiateLoaderICDInterfaceVersion negotiate_ = nullptr;
    PFN_vkGetInstanceProcAddr gipa_ = nullptr;
    PFN_vk_icdGetPhysicalDeviceProcAddr gpdpa_ = nullptr;
};

TEST_F(Direct, InterfaceVersionFive) {
    uint32_t v = 7;
    EXPECT_EQ(negotiate_(&v), VK_SUCCESS);
    EXPECT_EQ(v, 5u);
    v = 5;
    EXPECT_EQ(negotiate_(&v), VK_SUCCESS);
    EXPECT_EQ(v, 5u);
}

TEST_F(Direct, ProcAddrByScopeAndExtension) {
    uint32_t v = 5;
    negotiate_(&v);
    // global commands without an instance; nothing else
    EXPECT_NE(gipa_(VK_NULL_HANDLE, "vkCreateInstance"), nullptr);
    EXPECT_NE(gipa_(VK_NULL_HANDLE, "vkEnumerateInstanceExtensionProperties"), nullptr);
    EXPECT_EQ(gipa_(VK_NULL_HANDLE, "vkCreateDevice"), nullptr);
    EXPECT_EQ(gipa_(VK_NULL_HANDLE, "vkNoSuchCommand"), nullptr);

    auto create_instance = get<PFN_vkCreateInstance>(VK_NULL_HANDLE, "vkCreateInstance");
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_3;
    VkInstanceCreateInfo ii{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ii.pApplicationInfo = &app;
    VkInstance instance = VK_NULL_HANDLE;
    ASSERT_EQ(create_instance(&ii, nullptr, &instance), VK_SUCCESS);
    // a dispatchable object starts with the loader's magic word
    EXPECT_EQ(*reinterpret_cast<uintptr_t*>(instance), uintptr_t{ICD_LOADER_MAGIC});

    // physical-device commands through vk_icdGetPhysicalDeviceProcAddr, and only those
    EXPECT_NE(gpdpa_(instance, "vkGetPhysicalDeviceFormatProperties2"), nullptr);
    EXPECT_NE(gpdpa_(instance, "vkGetPhysicalDeviceFeatures2KHR"), nullptr);
    EXPECT_EQ(gpdpa_(instance, "vkCreateBuffer"), nullptr);
    EXPECT_EQ(gpdpa_(instance, "vkCreateInstance"), nullptr);

    auto enumerate = get<PFN_vkEnumeratePhysicalDevices>(instance, "vkEnumeratePhysicalDevices");
    uint32_t n = 1;
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    ASSERT_EQ(enumerate(instance, &n, &pd), VK_SUCCESS);
    EXPECT_EQ(*reinterpret_cast<uintptr_t*>(pd), uintptr_t{ICD_LOADER_MAGIC});
    auto create_device = get<PFN_vkCreateDevice>(instance, "vkCreateDevice");
    auto gdpa = get<PFN_vkGetDeviceProcAddr>(instance, "vkGetDeviceProcAddr");
    ASSERT_TRUE(create_device && gdpa);
    const float prio = 1;
    VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, 0, 1, &prio};
    VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    di.queueCreateInfoCount = 1;
    di.pQueueCreateInfos = &qi;
    VkDevice plain = VK_NULL_HANDLE;
    ASSERT_EQ(create_device(pd, &di, nullptr, &plain), VK_SUCCESS);
    const char* ext = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    di.enabledExtensionCount = 1;
    di.ppEnabledExtensionNames = &ext;
    VkDevice pushing = VK_NULL_HANDLE;
    ASSERT_EQ(create_device(pd, &di, nullptr, &pushing), VK_SUCCESS);
    const char* missing = "VK_KHR_no_such_extension";
    di.ppEnabledExtensionNames = &missing;
    VkDevice none = VK_NULL_HANDLE;
    EXPECT_EQ(create_device(pd, &di, nullptr, &none), VK_ERROR_EXTENSION_NOT_PRESENT);

    // core device commands of every version; extension commands only where enabled
    for (const char* core : {"vkCmdDraw", "vkQueueSubmit", "vkMapMemory", "vkCmdBeginRendering", "vkQueueSubmit2",
                             "vkUpdateDescriptorSetWithTemplate", "vkGetDeviceProcAddr"})
        EXPECT_NE(gdpa(plain, core), nullptr) << core;
    EXPECT_EQ(gdpa(plain, "vkCmdPushDescriptorSetKHR"), nullptr);
    EXPECT_EQ(gdpa(plain, "vkCmdPushDescriptorSetWithTemplateKHR"), nullptr);
    EXPECT_NE(gdpa(pushing, "vkCmdPushDescriptorSetKHR"), nullptr);
    EXPECT_NE(gdpa(pushing, "vkCmdPushDescriptorSetWithTemplateKHR"), nullptr);
    EXPECT_EQ(gdpa(plain, "vkCreateInstance"), nullptr);
    EXPECT_EQ(gdpa(plain, "vkGetPhysicalDeviceProperties"), nullptr);

    auto destroy_device = get<PFN_vkDestroyDevice>(instance, "vkDestroyDevice");
    destroy_device(plain, nullptr);
    destroy_device(pushing, nullptr);
    get<PFN_vkDestroyInstance>(instance, "vkDestroyInstance")(instance, nullptr);
}

TEST(Loader, InstallPutsLibraryAndManifestWhereTheLoaderFindsThem) {
    TempDir prefix;
    const ProcessResult install = run_process({"cmake", "--install", VENUS_BINARY_DIR, "--component", "icd", "--prefix", prefix.path()}, {}, "", 300);
    ASSERT_EQ(install.status, 0) << install.out << install.err;
    const std::string manifest = prefix.file("share/vulkan/icd.d/venus_cpp_icd.json");
    ASSERT_TRUE(std::filesystem::exists(manifest)) << install.out;
    // the installed manifest names the installed library (relative to the manifest)
    const std::string lib = nlohmann::json::parse(read_file(manifest))["ICD"]["library_path"];
    const std::filesystem::path resolved = std::filesystem::path(manifest).parent_path() / lib;
    EXPECT_TRUE(std::filesystem::exists(resolved)) << resolved;
    EXPECT_TRUE(std::filesystem::equivalent(resolved.parent_path(),
                                            std::filesystem::path(prefix.path()) / VENUS_INSTALL_LIBDIR))
        << resolved;
    // and the loader takes it from there
    Server server;
    const ProcessResult info = run_process({"vulkaninfo", "--summary"},
                                           {{"VK_DRIVER_FILES", manifest}, {"VTEST_SOCKET_NAME", server.socket_path()}});
    EXPECT_EQ(info.status, 0) << info.err;
    EXPECT_NE(info.out.find("deviceName"), std::string::npos) << info.out;
}

}  // namespace
}  // namespace venus::icd_test

namespace venus::icd_test {
namespace {

// Applications destroy their Vulkan objects from static destructors, which run after the
// thread's thread_local objects are gone (regression: the driver's encode buffer was one).
TEST(Loader, UsableFromStaticDestructors) {
    Server server;
    const DriverEnv env = venus_env(server);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        static std::unique_ptr<Vk> vk;  // destroyed at exit, after thread_local destructors
        try {
            vk = std::make_unique<Vk>(env);
            if (vk->run([](VkCommandBuffer cb) { vkCmdSetLineWidth(cb, 1.0f); }) != VK_SUCCESS) _exit(3);
        } catch (...) {
            _exit(2);
        }
        thread_local std::string touch_tls = "x";  // makes sure this thread has TLS destructors
        (void)touch_tls;
        std::exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status)) << "the child died from signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
}

}  // namespace
}  // namespace venus::icd_test
