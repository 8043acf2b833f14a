// The real vulkaninfo (vulkan-tools) through the guest driver lists the host device with the
// same properties, features, formats and queue families as natively; the only differences are
// the device extensions this driver cannot carry (docs/guest-driver.md) and what depends on them.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "icd_test_support.h"

namespace venus::icd_test {
namespace {

using nlohmann::json;

// Device extensions the host offers that do not reach the application through the stack, each
// with its reason (docs/guest-driver.md, "Differences from the host").
const std::map<std::string, std::string> kNotCarried = {
    {"VK_KHR_swapchain", "WSI is not part of the guest driver yet; the renderer does not serve it"},
    {"VK_KHR_swapchain_mutable_format", "WSI"},
    {"VK_KHR_incremental_present", "WSI"},
    {"VK_KHR_external_memory_fd", "no fd import/export through the vtest connection"},
    {"VK_EXT_external_memory_host", "a guest pointer means nothing to the host"},
};
// Property structures that belong to those extensions.
const std::set<std::string> kNotCarriedStructs = {"VkPhysicalDeviceExternalMemoryHostPropertiesEXT"};

json vulkaninfo_json(const DriverEnv& env, std::string& log) {
    TempDir dir;
    const ProcessResult r = run_process({"vulkaninfo", "-j"}, env.vars(), dir.path());
    log = r.err;
    EXPECT_EQ(r.status, 0) << env.name << " vulkaninfo failed:\n" << r.out << r.err;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        if (e.path().extension() == ".json") return json::parse(read_file(e.path()));
    ADD_FAILURE() << env.name << ": vulkaninfo -j wrote no JSON file:\n" << r.out << r.err;
    return json::object();
}

TEST(Vulkaninfo, DeviceMatchesNative) {
    Server server;
    std::string native_log, venus_log;
    const json native = vulkaninfo_json(native_env(), native_log);
    const json venus = vulkaninfo_json(venus_env(server), venus_log);
    ASSERT_TRUE(native.contains("capabilities")) << native_log;
    ASSERT_TRUE(venus.contains("capabilities")) << venus_log << "\nserver log:\n" << server.log();
    const json& n = native["capabilities"]["device"];
    const json& v = venus["capabilities"]["device"];

    // core properties first, field by field, so that a failure names the field
    const json& np = n["properties"]["VkPhysicalDeviceProperties"];
    const json& vp = v["properties"]["VkPhysicalDeviceProperties"];
    ASSERT_FALSE(np.is_null());
    for (auto it = np.begin(); it != np.end(); ++it)
        EXPECT_EQ(vp.value(it.key(), json()), it.value()) << "VkPhysicalDeviceProperties." << it.key();
    EXPECT_EQ(vp, np);

    // every other property structure, except those of extensions the stack does not carry
    for (auto it = n["properties"].begin(); it != n["properties"].end(); ++it) {
        if (kNotCarriedStructs.count(it.key())) {
            EXPECT_FALSE(v["properties"].contains(it.key())) << it.key();
            continue;
        }
        EXPECT_EQ(v["properties"].value(it.key(), json()), it.value()) << it.key();
    }
    for (auto it = v["properties"].begin(); it != v["properties"].end(); ++it)
        EXPECT_TRUE(n["properties"].contains(it.key())) << "extra structure " << it.key();

    EXPECT_EQ(v["features"], n["features"]);
    EXPECT_EQ(v["formats"], n["formats"]);
    EXPECT_EQ(v["queueFamiliesProperties"], n["queueFamiliesProperties"]);

    // extensions: the native list minus exactly the documented ones, same spec versions
    std::set<std::string> expected_missing;
    for (auto it = n["extensions"].begin(); it != n["extensions"].end(); ++it) {
        if (kNotCarried.count(it.key())) {
            expected_missing.insert(it.key());
            EXPECT_FALSE(v["extensions"].contains(it.key())) << it.key() << " should not be offered";
            continue;
        }
        EXPECT_EQ(v["extensions"].value(it.key(), json()), it.value()) << "extension " << it.key();
    }
    for (auto it = v["extensions"].begin(); it != v["extensions"].end(); ++it)
        EXPECT_TRUE(n["extensions"].contains(it.key())) << "extension " << it.key() << " is not the host's";
    EXPECT_FALSE(v["extensions"].empty());
}

TEST(Vulkaninfo, SummaryListsTheHostDevice) {
    Server server;
    const ProcessResult native = run_process({"vulkaninfo", "--summary"}, native_env().vars());
    const ProcessResult venus = run_process({"vulkaninfo", "--summary"}, venus_env(server).vars());
    ASSERT_EQ(native.status, 0) << native.err;
    ASSERT_EQ(venus.status, 0) << venus.err << server.log();
    auto devices = [](const std::string& text) {
        std::string out;
        const size_t at = text.find("Devices:");
        if (at != std::string::npos) out = text.substr(at);
        return out;
    };
    EXPECT_EQ(devices(venus.out), devices(native.out));
    EXPECT_NE(venus.out.find("deviceName         = llvmpipe"), std::string::npos) << venus.out;
    // quiet by default: no driver output on stderr
    EXPECT_EQ(venus.err.find("venus-cpp:"), std::string::npos) << venus.err;
}

}  // namespace
}  // namespace venus::icd_test
