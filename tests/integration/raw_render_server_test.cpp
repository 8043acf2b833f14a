// venus-render-server under the proxy side of virglrenderer's render-server protocol, played
// byte for byte as documented (tools/harness/render_proxy.*): both generations' layouts (0.10.x
// and >= 1.0), process and thread workers, every client and context op, both fd types the
// server answers with (SHM for memfds of exact size, dma-buf otherwise), imported SHM, fence
// retirement per timeline through the fence page and eventfd, and the error paths — each of which
// ends one context while another keeps working.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <cctype>
#include <thread>

#include "protocol/guest_codec.h"
#include "raw_guest.h"
#include "raw_workload.h"
#include "render_proxy.h"

namespace venus::test {
namespace {

// The capset a VMM's libvirglrenderer would hand the guest: wire format 1, every extension bit.
vtest::CapsetVenus proxy_capset() {
    vtest::CapsetVenus c{};
    c.wire_format_version = 1;
    c.vk_xml_version = VK_HEADER_VERSION_COMPLETE;
    c.vk_ext_command_serialization_spec_version = 1;
    c.vk_mesa_venus_protocol_spec_version = 2;
    c.supports_blob_id_0 = 1;
    for (auto& w : c.vk_extension_mask1) w = ~0u;
    c.allow_vk_wait_syncs = 1;
    c.supports_multiple_timelines = 1;
    return c;
}

const char* gen_arg(ProxyGeneration g) { return g == ProxyGeneration::V0_10 ? "0.10" : "1"; }
const char* gen_label(ProxyGeneration g) { return g == ProxyGeneration::V0_10 ? "V0_10" : "V1"; }

std::vector<uint8_t> write_extra_commands(const protocol::WireCaps& caps, uint64_t ring, uint32_t count) {
    std::vector<uint8_t> out;
    for (uint32_t i = 1; i <= count; ++i) {
        std::vector<uint8_t> one(protocol::guest::sizeof_vkWriteRingExtraMESA(caps, ring, 0, i));
        protocol::Encoder e(one.data(), one.size(), &caps);
        protocol::guest::encode_vkWriteRingExtraMESA(e, 0, ring, 0, i);
        out.insert(out.end(), one.begin(), one.end());
    }
    return out;
}

// A command that needs no object and no reply stream.
std::vector<uint8_t> harmless_command(const protocol::WireCaps& caps) {
    uint32_t version = 0;
    std::vector<uint8_t> one(protocol::guest::sizeof_vkEnumerateInstanceVersion(caps, &version));
    protocol::Encoder e(one.data(), one.size(), &caps);
    protocol::guest::encode_vkEnumerateInstanceVersion(e, 0, &version);
    return one;
}

// A guest on a context: instance, device with its queue on timeline 1, a copy through mapped
// memory checked both ways, fences on timelines 0 and 1, and a control submission longer than
// the inline 256 bytes (its effect, the ring's extra word, is checked).
void run_workload(ProxyContext* ctx, RawGuest& g) {
    RawDevice d(g, 1);
    constexpr VkDeviceSize kSize = 192 << 10;
    auto src = d.buffer(kSize, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, RawDevice::kAnyHostVisible);
    auto dst = d.buffer(kSize, VK_BUFFER_USAGE_TRANSFER_DST_BIT, RawDevice::kAnyHostVisible);
    auto src_map = g.map_memory(src.memory, kSize);
    auto dst_map = g.map_memory(dst.memory, kSize);
    auto* in = reinterpret_cast<uint32_t*>(src_map.memory.data());
    for (uint32_t i = 0; i < kSize / 4; ++i) in[i] = i * 2654435761u;
    d.run([&](VkCommandBuffer cmd) {
        VkBufferCopy region{0, 0, kSize};
        RAW_ASYNC(g, vkCmdCopyBuffer, cmd, src.buffer, dst.buffer, 1, &region);
        RAW_ASYNC(g, vkCmdFillBuffer, cmd, src.buffer, 0, 4096, 0xfeedf00du);
    });
    d.invalidate(dst.memory);
    EXPECT_EQ(std::memcmp(reinterpret_cast<uint8_t*>(dst_map.memory.data()) + 4096,
                          reinterpret_cast<uint8_t*>(src_map.memory.data()) + 4096, kSize - 4096), 0);
    EXPECT_EQ(reinterpret_cast<uint32_t*>(dst_map.memory.data())[5], 5u * 2654435761u);
    EXPECT_EQ(in[1023], 0xfeedf00du) << "GPU write lost";

    // fences: timeline 1 is the device's queue, timeline 0 the CPU
    for (uint32_t seqno = 1; seqno <= 3; ++seqno) {
        d.run([&](VkCommandBuffer cmd) { RAW_ASYNC(g, vkCmdFillBuffer, cmd, dst.buffer, 0, 4096, seqno); });
        g.sync();
        ctx->submit_fence(1, seqno);
        EXPECT_TRUE(ctx->wait_fence(1, seqno)) << "timeline 1 seqno " << seqno << " slot " << ctx->fence_slot(1);
    }
    ctx->submit_fence(0, 7);
    EXPECT_TRUE(ctx->wait_fence(0, 7, 5000));
    EXPECT_EQ(ctx->fence_slot(0), 7u);

    const std::vector<uint8_t> writes = write_extra_commands(g.caps(), g.ring().id(), 40);
    ASSERT_GT(writes.size(), 256u);
    ctx->submit_cmd(writes);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (g.ring().extra(0) != 40 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(g.ring().extra(0), 40u) << "the continuation datagram's commands did not run";
    EXPECT_FALSE(g.ring().fatal());
}

struct Case {
    ProxyGeneration gen;
    const char* worker;
    bool import_shm;
};

class RenderServerWorkload : public ::testing::TestWithParam<Case> {};

TEST_P(RenderServerWorkload, AGuestRunsThroughTheProxy) {
    const Case c = GetParam();
    RenderProxy proxy(c.gen, {"--protocol", gen_arg(c.gen), "--worker", c.worker, "-v"});
    proxy.init((1u << 6) | (1u << 7) | (1u << 9) | (1u << 1) | (1u << 8));
    try {
        auto owned = proxy.create_context(5, "workload");
        ProxyContext* ctx = owned.get();
        ctx->set_import_shm(c.import_shm);
        RawGuest g(std::move(owned), proxy_capset());
        run_workload(ctx, g);
        // memfds of exact size come back as SHM, the type every proxy maps
        for (int32_t t : ctx->answered_fd_types()) EXPECT_EQ(t, 2) << "an fd type other than SHM";
        EXPECT_FALSE(ctx->answered_fd_types().empty());
    } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
    }
    if (HasFailure()) std::cerr << "---- render server log ----\n" << proxy.log();
    proxy.close_client();
    EXPECT_EQ(proxy.wait_exit(20000), std::optional<int>(0)) << proxy.log();
    const std::string log = proxy.log();
    EXPECT_NE(log.find(std::string("speaking virglrenderer ") + (c.gen == ProxyGeneration::V0_10 ? "0.10" : "1.x")),
              std::string::npos) << log;
    EXPECT_EQ(log.find("fatal"), std::string::npos) << log;
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, RenderServerWorkload,
    ::testing::Values(Case{ProxyGeneration::V1, "process", false}, Case{ProxyGeneration::V0_10, "process", false},
                      Case{ProxyGeneration::V1, "thread", false}, Case{ProxyGeneration::V0_10, "thread", false},
                      Case{ProxyGeneration::V1, "process", true}),
    [](const auto& info) {
        return std::string(gen_label(info.param.gen)) + "_" + info.param.worker + (info.param.import_shm ? "_import" : "");
    });

class RenderServerErrors : public ::testing::TestWithParam<ProxyGeneration> {
protected:
    void SetUp() override {
        proxy_ = std::make_unique<RenderProxy>(GetParam(), std::vector<std::string>{"--protocol", gen_arg(GetParam())});
        proxy_->init((1u << 6) | (1u << 7));
    }
    void TearDown() override {
        if (HasFailure()) std::cerr << "---- render server log ----\n" << proxy_->log();
    }
    // A raw context socket after INIT.
    std::unique_ptr<ProxyContext> context(uint32_t id) { return proxy_->create_context(id, "hostile"); }
    // The server ended that context and logged `reason`.
    void expect_ended(ProxyContext& ctx, const std::string& reason) {
        EXPECT_TRUE(closed_within(ctx.socket(), 10000)) << "context " << ctx.id() << " still open";
        EXPECT_TRUE(proxy_->wait_log(reason)) << "no log line with: " << reason;
    }
    std::unique_ptr<RenderProxy> proxy_;
};

std::vector<uint8_t> bytes_of(std::initializer_list<uint32_t> words, size_t size) {
    std::vector<uint8_t> b(size, 0);
    size_t off = 0;
    for (uint32_t w : words) {
        if (off + 4 <= size) std::memcpy(b.data() + off, &w, 4);
        off += 4;
    }
    return b;
}

TEST_P(RenderServerErrors, MalformedContextOpsEndThatContextOnly) {
    const bool old = GetParam() == ProxyGeneration::V0_10;
    auto healthy = context(1);
    RawGuest g(std::move(healthy), proxy_capset());  // keeps running below

    {  // a request of the wrong size
        auto c = context(2);
        send_datagram(c->socket(), bytes_of({2, 9}, 31));
        expect_ended(*c, "CREATE_RESOURCE of 31 bytes");
    }
    {  // an op that does not exist
        auto c = context(3);
        send_datagram(c->socket(), bytes_of({99}, 8));
        expect_ended(*c, "unknown context op 99");
    }
    {  // a fence on a timeline the fence page does not have
        auto c = context(4);
        c->submit_fence(64, 1);
        expect_ended(*c, "SUBMIT_FENCE on timeline 64");
    }
    {  // fence flags other than MERGEABLE
        auto c = context(5);
        c->submit_fence(0, 1, 6);
        expect_ended(*c, "unknown flags 0x6");
    }
    {  // a continuation datagram of the wrong length
        auto c = context(6);
        std::vector<uint8_t> b(old ? 272 : 264, 0);
        const uint32_t op = 5, size = 1000;
        std::memcpy(b.data(), &op, 4);
        if (old) {
            const uint64_t s = size;
            std::memcpy(b.data() + 8, &s, 8);
        } else {
            std::memcpy(b.data() + 4, &size, 4);
        }
        send_datagram(c->socket(), b);
        send_datagram(c->socket(), std::vector<uint8_t>(100, 0));
        expect_ended(*c, "continued by 100 bytes (expected 744)");
    }
    {  // a SUBMIT_CMD announcing more than any stream may be
        auto c = context(7);
        std::vector<uint8_t> b(old ? 272 : 264, 0);
        const uint32_t op = 5, size = 0xffffffffu;
        std::memcpy(b.data(), &op, 4);
        if (old) {
            const uint64_t s = uint64_t{1} << 40;
            std::memcpy(b.data() + 8, &s, 8);
        } else {
            std::memcpy(b.data() + 4, &size, 4);
        }
        send_datagram(c->socket(), b);
        expect_ended(*c, "SUBMIT_CMD of");
    }
    {  // an import without its fd, and one with an fd type that does not exist
        auto c = context(8);
        send_datagram(c->socket(), bytes_of({3, 1, 2, 0, 4096, 0}, 24));
        expect_ended(*c, "IMPORT_RESOURCE without its fd");
        auto d = context(9);
        const int fd = memfd_create("x", MFD_CLOEXEC);
        ASSERT_EQ(ftruncate(fd, 4096), 0);
        d->import_resource(1, 7, fd, 4096);
        close(fd);
        expect_ended(*d, "with fd type 7");
    }
    {  // descriptors on an op that takes none; ops before INIT; a second INIT
        auto c = context(10);
        const int fd = memfd_create("x", MFD_CLOEXEC);
        send_datagram(c->socket(), bytes_of({4, 1}, 8), {fd});
        close(fd);
        expect_ended(*c, "DESTROY_RESOURCE with 1 file descriptors");
        transport::UniqueFd raw = proxy_->create_context_socket(11, "raw");
        ASSERT_TRUE(raw.valid());
        send_datagram(raw.get(), bytes_of({6, 1, 0, 1}, 16));
        EXPECT_TRUE(closed_within(raw.get(), 10000));
        auto twice = context(12);
        twice->init();
        expect_ended(*twice, "a second INIT");
    }
    {  // a context of another capset (virgl, 1)
        transport::UniqueFd raw = proxy_->create_context_socket(13, "virgl");
        const int fd = memfd_create("p", MFD_CLOEXEC);
        ASSERT_EQ(ftruncate(fd, 256), 0);
        std::vector<uint8_t> b = bytes_of({1, 1, 256, 0}, 16);
        send_datagram(raw.get(), b, {fd});
        close(fd);
        EXPECT_TRUE(closed_within(raw.get(), 10000));
    }

    // Refusals that are answers: the context stays, and its fences keep retiring.
    auto c = context(20);
    ProxyContext::CreateReply r = c->create_resource(1, 0xdeadbeef, 65536, 1);
    EXPECT_EQ(r.fd_type, -1);
    EXPECT_FALSE(r.fd.valid());
    r = c->create_resource(2, 0, 4096, 1 | 2);  // shared memory must be exactly MAPPABLE
    EXPECT_EQ(r.fd_type, -1);
    // garbage Venus commands make the Venus context fatal; the socket stays and fences retire
    std::vector<uint8_t> garbage(64, 0xab);
    if (old) {
        std::vector<uint8_t> b(272, 0);
        const uint32_t op = 5;
        const uint64_t s = garbage.size();
        std::memcpy(b.data(), &op, 4);
        std::memcpy(b.data() + 8, &s, 8);
        std::memcpy(b.data() + 16, garbage.data(), garbage.size());
        send_datagram(c->socket(), b);
        auto reply = recv_datagram(c->socket(), 8);
        ASSERT_TRUE(reply);
        ASSERT_EQ(reply->bytes.size(), 1u);
        EXPECT_EQ(reply->bytes[0], 0) << "0.10: a failed submission answers ok=0";
    } else {
        c->submit_cmd(garbage);
    }
    c->submit_fence(0, 3);
    EXPECT_TRUE(c->wait_fence(0, 3, 5000));
    c->submit_fence(9, 4);  // a timeline no queue is bound to: the context is fatal, the fence retires
    EXPECT_TRUE(c->wait_fence(9, 4, 5000));
    EXPECT_FALSE(closed_within(c->socket(), 200));

    // the first context never noticed
    RawDevice d(g);
    auto buf = d.buffer(65536, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    auto map = g.map_memory(buf.memory, 65536);
    d.run([&](VkCommandBuffer cmd) { RAW_ASYNC(g, vkCmdFillBuffer, cmd, buf.buffer, 0, 65536, 0x600dcafeu); });
    EXPECT_EQ(reinterpret_cast<uint32_t*>(map.memory.data())[16383], 0x600dcafeu);
    EXPECT_FALSE(g.ring().fatal());
}

TEST_P(RenderServerErrors, ClientOps) {
    // refused contexts answer ok=0 without an fd, in both generations (0.10.4's own server
    // sends nothing, which hangs its proxy)
    EXPECT_FALSE(proxy_->create_context_socket(0, "zero").valid());
    transport::UniqueFd one = proxy_->create_context_socket(1, "one");
    ASSERT_TRUE(one.valid());
    EXPECT_FALSE(proxy_->create_context_socket(1, "again").valid());
    // a client op of the wrong size is ignored (CREATE_CONTEXT still answered)
    send_datagram(proxy_->client_socket(), bytes_of({3, 2}, 12));
    auto reply = recv_datagram(proxy_->client_socket(), 8);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->bytes, std::vector<uint8_t>{0});
    EXPECT_TRUE(reply->fds.empty());
    send_datagram(proxy_->client_socket(), bytes_of({77}, 4));  // unknown op: ignored
    // names with control characters do not reach the log as such
    transport::UniqueFd named = proxy_->create_context_socket(3, "evil\nERROR forged");
    ASSERT_TRUE(named.valid());
    EXPECT_TRUE(proxy_->wait_log("context 3 (evil?ERROR forged) created"));
    // DESTROY_CONTEXT ends the context's worker: the proxy sees its socket close
    proxy_->destroy_context(1);
    EXPECT_TRUE(closed_within(one.get(), 10000));
    proxy_->destroy_context(42);  // unknown: ignored
    // RESET ends them all
    transport::UniqueFd four = proxy_->create_context_socket(4, "four");
    proxy_->reset();
    EXPECT_TRUE(closed_within(named.get(), 10000));
    EXPECT_TRUE(closed_within(four.get(), 10000));
    // and the server still serves
    auto ctx = proxy_->create_context(5);
    ctx->submit_fence(0, 1);
    EXPECT_TRUE(ctx->wait_fence(0, 1, 5000));
    // the client socket's end is the server's end, with no worker left behind
    proxy_->close_client();
    EXPECT_EQ(proxy_->wait_exit(20000), std::optional<int>(0));
    EXPECT_TRUE(closed_within(ctx->socket(), 5000));
}

INSTANTIATE_TEST_SUITE_P(Layouts, RenderServerErrors, ::testing::Values(ProxyGeneration::V1, ProxyGeneration::V0_10),
                         [](const auto& info) { return std::string(gen_label(info.param)); });

// The pid in "context N (name) created, served by process PID" (std::regex is not used: GCC 12
// warns about its internals under the sanitizers, and the build treats warnings as errors).
pid_t worker_pid(const std::string& log, uint32_t ctx_id) {
    const std::string head = "context " + std::to_string(ctx_id) + " (";
    const std::string tail = ") created, served by process ";
    for (size_t at = log.find(head); at != std::string::npos; at = log.find(head, at + 1)) {
        const size_t close = log.find(tail, at + head.size());
        const size_t eol = log.find('\n', at);
        if (close == std::string::npos || (eol != std::string::npos && close > eol)) continue;
        const size_t digits = close + tail.size();
        size_t end = digits;
        while (end < log.size() && std::isdigit(static_cast<unsigned char>(log[end]))) ++end;
        if (end > digits) return static_cast<pid_t>(std::stol(log.substr(digits, end - digits)));
    }
    return -1;
}

// --worker process: a context whose process crashes (here: SIGSEGV, as from a host driver)
// takes nothing else with it.
TEST(RenderServerIsolation, ACrashedContextProcessLeavesTheOthersRunning) {
    RenderProxy proxy(ProxyGeneration::V1, {"--worker", "process"});
    proxy.init((1u << 6) | (1u << 7));
    auto victim = proxy.create_context(1, "victim");
    auto owned = proxy.create_context(2, "survivor");
    ProxyContext* survivor = owned.get();
    RawGuest g(std::move(owned), proxy_capset());
    RawDevice d(g, 1);
    ASSERT_TRUE(proxy.wait_log("context 2 (survivor) created")) << proxy.log();
    const pid_t pid = worker_pid(proxy.log(), 1);
    ASSERT_GT(pid, 0) << proxy.log();
    ASSERT_NE(pid, worker_pid(proxy.log(), 2));
    ASSERT_EQ(kill(pid, SIGSEGV), 0);
    EXPECT_TRUE(closed_within(victim->socket(), 10000));
    auto buf = d.buffer(65536, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    auto map = g.map_memory(buf.memory, 65536);
    d.run([&](VkCommandBuffer cmd) { RAW_ASYNC(g, vkCmdFillBuffer, cmd, buf.buffer, 0, 65536, 0x5afeu); });
    EXPECT_EQ(reinterpret_cast<uint32_t*>(map.memory.data())[100], 0x5afeu);
    survivor->submit_fence(1, 1);
    EXPECT_TRUE(survivor->wait_fence(1, 1));
    // SIGSEGV (11); under the sanitizers their handler turns it into an abort (6)
    EXPECT_TRUE(proxy.wait_log("its process " + std::to_string(pid) + " died from signal")) << proxy.log();
    EXPECT_TRUE(proxy.wait_log("no other context was affected")) << proxy.log();
}

// Without --protocol the server takes the proxy's generation from the peer process (which maps
// no libvirglrenderer here: >= 1.0 is assumed), and a context whose first SUBMIT_CMD has the
// other layout switches to it.
TEST(RenderServerDetection, TheLayoutFollowsTheProxy) {
    RenderProxy proxy(ProxyGeneration::V0_10, {"-v"});
    proxy.init((1u << 6) | (1u << 7));
    EXPECT_TRUE(proxy.wait_exit(300) == std::nullopt);
    auto ctx = proxy.create_context(1);
    protocol::WireCaps caps;
    try {
        ctx->submit_cmd(harmless_command(caps));
    } catch (const std::exception& e) {
        FAIL() << e.what() << "\n" << proxy.log();
    }  // a 0.10 SUBMIT_CMD, answered as 0.10 (ok = 1)
    ProxyContext::CreateReply r = ctx->create_resource(1, 0, 8192, 1);  // a 0.10 reply: 8 bytes
    EXPECT_EQ(r.fd_type, 2);
    EXPECT_TRUE(proxy.wait_log("speaking that layout from now on"));
    const std::string log = proxy.log();
    EXPECT_NE(log.find("maps no libvirglrenderer; assuming virglrenderer >= 1.0"), std::string::npos) << log;
    EXPECT_NE(log.find("speaking that layout from now on"), std::string::npos) << log;
}

TEST(RenderServerOptions, BadArgumentsAreRefusedWithTheReason) {
    for (auto args : std::vector<std::vector<std::string>>{{"--worker", "fiber"},
                                                          {"--protocol", "2"},
                                                          {"--worker-seccomp-bpf", "/x"},
                                                          {"stray"}}) {
        RenderProxy proxy(ProxyGeneration::V1, args);
        const auto status = proxy.wait_exit(10000);
        ASSERT_TRUE(status.has_value());
        EXPECT_NE(*status, 0) << args[0];
        EXPECT_FALSE(proxy.log().empty()) << args[0];
    }
    // a socket that is not SOCK_SEQPACKET
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        const std::string fd = std::to_string(sv[1]);
        execl(render_server_binary().c_str(), "venus-render-server", "--socket-fd", fd.c_str(), nullptr);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 2);
    close(sv[0]);
    close(sv[1]);
}

}  // namespace
}  // namespace venus::test
