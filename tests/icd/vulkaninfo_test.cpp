// The real vulkaninfo (vulkan-tools) through the guest driver lists the host device with the
// same properties, features, formats and queue families as natively; the only differences are
// the device extensions this driver cannot carry (docs/guest-driver.md) and what depends on them.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

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
    {"VK_KHR_external_semaphore_fd", "no fd import/export through the vtest connection"},
    {"VK_KHR_external_fence_fd", "no fd import/export through the vtest connection"},
    {"VK_EXT_external_memory_dma_buf", "no fd import/export through the vtest connection"},
    {"VK_EXT_queue_family_foreign", "only useful with external memory"},
    {"VK_EXT_external_memory_host", "a guest pointer means nothing to the host"},
};
// Property structures that belong to those extensions.
const std::set<std::string> kNotCarriedStructs = {"VkPhysicalDeviceExternalMemoryHostPropertiesEXT"};

// The extensions the protocol tables know (protocol/venus_extensions.txt). A host extension
// outside it is not offered, and neither are the structures it adds to vulkaninfo's output.
std::set<std::string> served_extensions() {
    std::set<std::string> out;
    std::ifstream in(VENUS_SERVED_EXTENSIONS);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty() && line[0] != '#') out.insert(line);
    return out;
}

// Compares one object of structures (properties, features, a queue family): every structure the
// driver reports is the host's, value for value. A host structure the driver lacks is an error
// when the host offers nothing beyond what the stack carries (so on lavapipe the outputs are
// identical); on a host with unserved extensions (NVIDIA: acceleration structures, descriptor
// buffers, video) it is listed, since vulkaninfo names structures, not the extensions behind them.
void compare_structs(const json& native, const json& venus, const std::string& what, bool host_fully_served,
                     std::vector<std::string>& absent) {
    for (auto it = native.begin(); it != native.end(); ++it) {
        if (!venus.contains(it.key())) {
            if (kNotCarriedStructs.count(it.key())) continue;
            if (host_fully_served)
                ADD_FAILURE() << what << ": " << it.key() << " missing";
            else
                absent.push_back(what + ": " + it.key());
            continue;
        }
        if (it.key() == "VkPhysicalDeviceProperties") continue;  // field by field, below
        EXPECT_EQ(venus[it.key()], it.value()) << what << ": " << it.key();
    }
    for (auto it = venus.begin(); it != venus.end(); ++it)
        EXPECT_TRUE(native.contains(it.key())) << what << ": extra structure " << it.key();
}

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

    // extensions: the native list minus the documented ones and those the protocol does not
    // know, same spec versions
    const std::set<std::string> served = served_extensions();
    ASSERT_FALSE(served.empty()) << VENUS_SERVED_EXTENSIONS;
    bool host_fully_served = true;
    std::vector<std::string> unserved;
    for (auto it = n["extensions"].begin(); it != n["extensions"].end(); ++it) {
        if (kNotCarried.count(it.key())) {
            EXPECT_FALSE(v["extensions"].contains(it.key())) << it.key() << " should not be offered";
            continue;
        }
        if (!served.count(it.key())) {
            host_fully_served = false;
            unserved.push_back(it.key());
            EXPECT_FALSE(v["extensions"].contains(it.key())) << it.key() << " is not in the protocol tables";
            continue;
        }
        EXPECT_EQ(v["extensions"].value(it.key(), json()), it.value()) << "extension " << it.key();
    }
    for (auto it = v["extensions"].begin(); it != v["extensions"].end(); ++it)
        EXPECT_TRUE(n["extensions"].contains(it.key())) << "extension " << it.key() << " is not the host's";

    // core properties field by field, so that a failure names the field; apiVersion is the
    // host's capped at the driver's (docs/guest-driver.md)
    const json& np = n["properties"]["VkPhysicalDeviceProperties"];
    const json& vp = v["properties"]["VkPhysicalDeviceProperties"];
    ASSERT_FALSE(np.is_null());
    for (auto it = np.begin(); it != np.end(); ++it) {
        if (it.key() == "apiVersion") {
            const uint32_t cap = VK_MAKE_API_VERSION(0, 1, 3, VK_HEADER_VERSION);
            EXPECT_EQ(vp.value("apiVersion", json()), std::min(it.value().get<uint32_t>(), cap));
            continue;
        }
        EXPECT_EQ(vp.value(it.key(), json()), it.value()) << "VkPhysicalDeviceProperties." << it.key();
    }
    EXPECT_EQ(vp.size(), np.size());

    std::vector<std::string> absent;
    compare_structs(n["properties"], v["properties"], "properties", host_fully_served, absent);
    compare_structs(n["features"], v["features"], "features", host_fully_served, absent);
    EXPECT_EQ(v["formats"], n["formats"]);
    ASSERT_EQ(v["queueFamiliesProperties"].size(), n["queueFamiliesProperties"].size());
    for (size_t i = 0; i < n["queueFamiliesProperties"].size(); ++i)
        compare_structs(n["queueFamiliesProperties"][i], v["queueFamiliesProperties"][i],
                        "queue family " + std::to_string(i), host_fully_served, absent);
    if (!host_fully_served) {
        std::ostringstream note;
        note << "host extensions outside the protocol tables (" << unserved.size() << "):";
        for (const auto& e : unserved) note << " " << e;
        note << "\nhost structures not reported through the driver (" << absent.size() << "):";
        for (const auto& a : absent) note << "\n  " << a;
        std::cout << note.str() << std::endl;
    }
    EXPECT_FALSE(v["extensions"].empty());
}

TEST(Vulkaninfo, SummaryListsTheHostDevice) {
    Server server;
    const ProcessResult native = run_process({"vulkaninfo", "--summary"}, native_env().vars());
    const ProcessResult venus = run_process({"vulkaninfo", "--summary"}, venus_env(server).vars());
    ASSERT_EQ(native.status, 0) << native.err;
    ASSERT_EQ(venus.status, 0) << venus.err << server.log();
    // the "Devices:" section, without apiVersion (capped through the driver; checked above)
    auto devices = [](const std::string& text) {
        std::string out;
        const size_t at = text.find("Devices:");
        if (at == std::string::npos) return out;
        std::istringstream lines(text.substr(at));
        for (std::string line; std::getline(lines, line);)
            if (line.find("apiVersion") == std::string::npos) out += line + "\n";
        return out;
    };
    EXPECT_EQ(devices(venus.out), devices(native.out));
    EXPECT_NE(venus.out.find("deviceName"), std::string::npos) << venus.out;
    // quiet by default: no driver output on stderr
    EXPECT_EQ(venus.err.find("venus-cpp:"), std::string::npos) << venus.err;
}

}  // namespace
}  // namespace venus::icd_test
