// The demo programs (build/demos) through the guest driver produce the same bytes as natively:
// compute results bit-exact, the triangle and the textured depth-tested cube pixel-exact. Two
// programs at once through one server still do.
#include <string>
#include <thread>

#include "icd_test_support.h"

namespace venus::icd_test {
namespace {

struct DemoRun {
    ProcessResult process;
    std::string output;  // the file the demo wrote
};

DemoRun run_demo(const std::string& exe, const std::vector<std::string>& args, const DriverEnv& env, const TempDir& dir,
                 const std::string& out_name) {
    std::vector<std::string> argv{exe};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--out");
    argv.push_back(dir.file(out_name));
    DemoRun r;
    r.process = run_process(argv, env.vars(), dir.path(), 300);
    r.output = read_file(dir.file(out_name));
    return r;
}

std::string checksum_line(const std::string& out) {
    const std::string key = "checksum: fnv1a64=";
    const size_t at = out.find(key);
    if (at == std::string::npos || out.size() < at + key.size() + 16) return "";
    return out.substr(at, key.size() + 16);
}

void expect_same(const DemoRun& native, const DemoRun& venus, const test::ServerProcess& server) {
    ASSERT_EQ(native.process.status, 0) << native.process.out << native.process.err;
    ASSERT_EQ(venus.process.status, 0) << venus.process.out << venus.process.err << "\nserver log:\n" << server.log();
    ASSERT_FALSE(native.output.empty());
    EXPECT_EQ(venus.output.size(), native.output.size());
    EXPECT_TRUE(venus.output == native.output) << "outputs differ";
    EXPECT_EQ(checksum_line(venus.process.out), checksum_line(native.process.out));
    EXPECT_FALSE(checksum_line(venus.process.out).empty()) << venus.process.out;
    // the device line is the host's
    auto device = [](const std::string& s) { return s.substr(0, s.find('\n')); };
    EXPECT_EQ(device(venus.process.out), device(native.process.out));
}

class Demos : public ::testing::Test {
protected:
    Server server_;
    TempDir dir_;
};

TEST_F(Demos, ComputeIsBitExact) {
    const auto native = run_demo(VENUS_DEMO_COMPUTE, {}, native_env(), dir_, "native.bin");
    const auto venus = run_demo(VENUS_DEMO_COMPUTE, {}, venus_env(server_), dir_, "venus.bin");
    expect_same(native, venus, server_);
    EXPECT_EQ(venus.output.size(), 4u << 20);
}

TEST_F(Demos, ComputePartialWorkgroupIsBitExact) {
    const auto native = run_demo(VENUS_DEMO_COMPUTE, {"--count", "1000"}, native_env(), dir_, "native.bin");
    const auto venus = run_demo(VENUS_DEMO_COMPUTE, {"--count", "1000"}, venus_env(server_), dir_, "venus.bin");
    expect_same(native, venus, server_);
}

TEST_F(Demos, TriangleIsPixelExact) {
    const auto native = run_demo(VENUS_DEMO_TRIANGLE, {}, native_env(), dir_, "native.ppm");
    const auto venus = run_demo(VENUS_DEMO_TRIANGLE, {}, venus_env(server_), dir_, "venus.ppm");
    expect_same(native, venus, server_);
}

TEST_F(Demos, CubeIsPixelExact) {
    const auto native = run_demo(VENUS_DEMO_CUBE, {"--frames", "8"}, native_env(), dir_, "native.ppm");
    const auto venus = run_demo(VENUS_DEMO_CUBE, {"--frames", "8"}, venus_env(server_), dir_, "venus.ppm");
    expect_same(native, venus, server_);
}

TEST_F(Demos, TwoApplicationsAtOnce) {
    const auto native_cube = run_demo(VENUS_DEMO_CUBE, {"--frames", "30"}, native_env(), dir_, "native-cube.ppm");
    const auto native_compute = run_demo(VENUS_DEMO_COMPUTE, {}, native_env(), dir_, "native-compute.bin");
    DemoRun cube, compute;
    std::thread a([&] { cube = run_demo(VENUS_DEMO_CUBE, {"--frames", "30"}, venus_env(server_), dir_, "venus-cube.ppm"); });
    std::thread b([&] { compute = run_demo(VENUS_DEMO_COMPUTE, {}, venus_env(server_), dir_, "venus-compute.bin"); });
    a.join();
    b.join();
    expect_same(native_cube, cube, server_);
    expect_same(native_compute, compute, server_);
    // both were clients of the server at the same time: two contexts alive at once
    const std::string log = server_.log();
    const size_t first_disconnect = log.find(") disconnected");
    size_t connects = 0;
    for (size_t at = log.find(" connected (pid"); at != std::string::npos && at < first_disconnect;
         at = log.find(" connected (pid", at + 1))
        ++connects;
    EXPECT_EQ(connects, 2u) << log;
}

// The seed failure (docs seed-failure-analysis.txt) through this driver: a host whose Vulkan
// driver cannot export memory as a file descriptor. With fd export hidden, the renderer shares
// mappable memory by importing memfd pages as host pointers; with host-pointer import hidden too
// (a MoltenVK-class host), through shadow copies. Instance creation, allocation, mapping, the
// compute demo and the triangle all work, with results identical to the native driver.
struct SeedCase {
    const char* name;
    const char* hidden;
    const char* strategy;  // what the server must have used for the guest's mappings
};

class SeedFailure : public ::testing::TestWithParam<SeedCase> {};

TEST_P(SeedFailure, ComputeAndTriangleAreExact) {
    const SeedCase& c = GetParam();
    Server server({"-v"}, {{"VENUS_HIDE_EXTENSIONS", c.hidden}});
    TempDir dir;
    const auto native_compute = run_demo(VENUS_DEMO_COMPUTE, {}, native_env(), dir, "native.bin");
    const auto venus_compute = run_demo(VENUS_DEMO_COMPUTE, {}, venus_env(server), dir, "venus.bin");
    expect_same(native_compute, venus_compute, server);
    const auto native_triangle = run_demo(VENUS_DEMO_TRIANGLE, {}, native_env(), dir, "native.ppm");
    const auto venus_triangle = run_demo(VENUS_DEMO_TRIANGLE, {}, venus_env(server), dir, "venus.ppm");
    expect_same(native_triangle, venus_triangle, server);
    server.stop();
    const std::string log = server.log();
    EXPECT_NE(log.find(std::string("exported as a ") + c.strategy + " blob"), std::string::npos) << log;
    EXPECT_EQ(log.find("exported as a opaque-fd blob"), std::string::npos) << log;
    EXPECT_EQ(log.find("exported as a dma-buf blob"), std::string::npos) << log;
    EXPECT_EQ(log.find("fatal"), std::string::npos) << log;
}

INSTANTIATE_TEST_SUITE_P(
    Hosts, SeedFailure,
    ::testing::Values(SeedCase{"NoFdExport", "VK_KHR_external_memory_fd,VK_EXT_external_memory_dma_buf", "host-pointer"},
                      SeedCase{"NoFdExportNoHostPointer",
                               "VK_KHR_external_memory_fd,VK_EXT_external_memory_dma_buf,VK_EXT_external_memory_host",
                               "shadow"}),
    [](const ::testing::TestParamInfo<SeedCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace venus::icd_test
