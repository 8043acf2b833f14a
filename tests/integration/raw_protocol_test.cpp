// venus-server driven by raw vtest + Venus bytes (no ICD): every step of a guest's life, checked
// against the host driver's own answers.
#include <gtest/gtest.h>

#include <cstring>

#include "raw_guest.h"
#include "server_process.h"

namespace venus::test {
namespace {

using namespace protocol;

class RawProtocol : public ::testing::Test {
protected:
    void SetUp() override { server_ = std::make_unique<ServerProcess>(std::vector<std::string>{"-v"}); }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- server log ----\n" << server_->log();
    }
    std::unique_ptr<ServerProcess> server_;
};

TEST_F(RawProtocol, HandshakeAndCapset) {
    RawGuest g(server_->socket_path());
    const auto& c = g.client().capset();
    EXPECT_GE(g.client().protocol_version(), 3u);
    EXPECT_EQ(g.client().max_timelines(), 64u);
    EXPECT_EQ(g.client().capset_size(), 160u);
    EXPECT_EQ(c.wire_format_version, 1u);
    EXPECT_EQ(c.vk_xml_version, kVkXmlVersion);
    EXPECT_EQ(c.vk_ext_command_serialization_spec_version, 1u);
    EXPECT_EQ(c.vk_mesa_venus_protocol_spec_version, 2u);
    EXPECT_EQ(c.supports_blob_id_0, 1u);
    EXPECT_EQ(c.allow_vk_wait_syncs, 1u);
    EXPECT_EQ(c.supports_multiple_timelines, 1u);
    EXPECT_EQ(c.vk_extension_mask1[0] & 1u, 1u);  // the mask is valid
    auto bit = [&](uint32_t n) { return (c.vk_extension_mask1[n / 32] >> (n % 32)) & 1u; };
    EXPECT_EQ(bit(384), 1u);  // VK_EXT_command_serialization
    EXPECT_EQ(bit(385), 1u);  // VK_MESA_venus_protocol
    EXPECT_EQ(bit(60), 1u);   // VK_KHR_get_physical_device_properties2 (every host)
    EXPECT_EQ(bit(1), 0u);    // VK_KHR_swapchain is not a protocol extension
}

TEST_F(RawProtocol, InstanceAndPhysicalDevices) {
    RawGuest g(server_->socket_path());
    uint32_t version = 0;
    EXPECT_EQ(RAW_CALL(g, vkEnumerateInstanceVersion, &version), VK_SUCCESS);
    EXPECT_GE(version, VK_API_VERSION_1_1);

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pApplicationInfo = &app;
    auto instance = g.dispatchable<VkInstance>();
    ASSERT_EQ(RAW_CALL(g, vkCreateInstance, &info, nullptr, &instance), VK_SUCCESS);

    uint32_t count = 0;
    ASSERT_EQ(RAW_CALL(g, vkEnumeratePhysicalDevices, instance, &count, nullptr), VK_SUCCESS);
    ASSERT_GE(count, 1u);
    std::vector<VkPhysicalDevice> pds(count);
    for (auto& pd : pds) pd = g.dispatchable<VkPhysicalDevice>();
    const std::vector<VkPhysicalDevice> ids = pds;
    ASSERT_EQ(RAW_CALL(g, vkEnumeratePhysicalDevices, instance, &count, pds.data()), VK_SUCCESS);
    EXPECT_EQ(pds, ids);  // the reply echoes the guest's own objects

    VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &driver};
    RAW_CALL(g, vkGetPhysicalDeviceProperties2, pds[0], &props);
    EXPECT_GT(std::strlen(props.properties.deviceName), 0u);
    EXPECT_GE(props.properties.apiVersion, VK_API_VERSION_1_1);
    EXPECT_LE(VK_API_VERSION_MINOR(props.properties.apiVersion), 3u);
    EXPECT_GT(std::strlen(driver.driverName), 0u);

    uint32_t ext_count = 0;
    ASSERT_EQ(RAW_CALL(g, vkEnumerateDeviceExtensionProperties, pds[0], nullptr, &ext_count, nullptr), VK_SUCCESS);
    std::vector<VkExtensionProperties> exts(ext_count);
    ASSERT_EQ(RAW_CALL(g, vkEnumerateDeviceExtensionProperties, pds[0], nullptr, &ext_count, exts.data()), VK_SUCCESS);
    for (const auto& e : exts) EXPECT_NE(find_extension(e.extensionName), nullptr) << e.extensionName;

    RAW_ASYNC(g, vkDestroyInstance, instance, nullptr);
    g.sync();
    EXPECT_FALSE(g.ring().fatal());
}

}  // namespace
}  // namespace venus::test
