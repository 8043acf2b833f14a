// The SERVER facts: what a guest driver meets on the socket, in the order Mesa's venus meets it
// (§2.6, §11): the vtest handshake, the capset, a HOST3D blob_id-0 shared-memory blob (the ring
// shmem Mesa creates first, which is what failed in the seed report), then a ring, a reply
// stream and vkCreateInstance through them.
#include <fmt/format.h>
#include <limits.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "probe.h"
#include "protocol/guest_codec.h"
#include "protocol/venus_defs.h"
#include "transport/error.h"
#include "transport/guest_ring.h"
#include "transport/shared_memory.h"
#include "transport/vtest_client.h"

namespace venus::doctor {

namespace {

// Mesa's first blob: the ring shmem (three 64-byte slots, a 128 KiB buffer, 4 extra bytes; §11).
constexpr uint64_t kRingShmemSize = 131268;
constexpr uint64_t kReplySize = 1 << 20;

std::string fd_kind(int fd) {
    char buf[PATH_MAX] = {};
    const std::string link = fmt::format("/proc/self/fd/{}", fd);
    const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("unknown");
}

// The failing handshake step, from VtestClient's messages (it throws with the step named).
void classify_handshake_error(ServerFacts& f, const std::string& what, bool peer_closed) {
    f.error = what;
    if (what.find("connect to") != std::string::npos) f.step = "connect";
    else if (what.find("PING_PROTOCOL_VERSION") != std::string::npos) f.step = "protocol";
    else if (auto p = what.find("speaks protocol "); p != std::string::npos) {
        f.step = "protocol";
        f.protocol_version = static_cast<uint32_t>(std::strtoul(what.c_str() + p + 16, nullptr, 10));
    } else if (what.find("no timelines") != std::string::npos) f.step = "timelines";
    else if (what.find("Venus capset") != std::string::npos) f.step = "capset";
    else f.step = "handshake";
    if (peer_closed) f.error = "the server closed the connection during the vtest handshake (" + what + ")";
}

class Resolver : public protocol::HandleResolver {
public:
    const protocol::ObjectRef* find(uint64_t id) override {
        for (auto& r : refs_)
            if (r.id == id) return &r;
        return nullptr;
    }
    uint64_t id_of(VkObjectType, uint64_t handle) override {
        for (auto& r : refs_)
            if (r.handle == handle) return r.id;
        return 0;
    }
    void add(protocol::ObjectRef r) { refs_.push_back(r); }

private:
    std::deque<protocol::ObjectRef> refs_;
};

// Just enough of a guest driver for the start of vkCreateInstance: one ring, one reply stream.
class MiniGuest {
public:
    MiniGuest(transport::VtestClient& client, const vtest::CapsetVenus& capset) : client_(client) {
        caps_.api_version = capset.vk_xml_version;
        caps_.wire_format = capset.wire_format_version;
        std::memcpy(caps_.extension_mask, capset.vk_extension_mask1, sizeof(caps_.extension_mask));
        transport::GuestRing::Options opts;
        // a dead renderer is found within seconds; wire format 0 has no ALIVE bit (and its
        // renderers take no chain in the ring's create info)
        opts.monitor_period_us = capset.wire_format_version == 0 ? 0 : 1'000'000;
        ring_ = std::make_unique<transport::GuestRing>(client_, caps_, kRingId, opts);
        reply_ = client_.create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, kReplySize, 0);
    }
    ~MiniGuest() {
        try {
            client_.destroy_blob(reply_.res_id);
        } catch (const std::exception&) {
        }
    }

    template <class Size, class Encode, class ReplySize, class Decode>
    auto call(Size&& size, Encode&& encode, ReplySize&& reply_size, Decode&& decode) {
        const size_t rsize = reply_size(caps_);
        VkCommandStreamDescriptionMESA stream{reply_.res_id, 0, rsize};
        const size_t set = protocol::guest::sizeof_vkSetReplyCommandStreamMESA(caps_, &stream);
        std::vector<uint8_t> buf(set + size(caps_));
        protocol::Encoder e(buf.data(), buf.size(), &caps_);
        protocol::guest::encode_vkSetReplyCommandStreamMESA(e, 0, &stream);
        encode(e, VK_COMMAND_GENERATE_REPLY_BIT_EXT);
        ring_->wait(ring_->write(buf));
        protocol::Decoder d(reply_.memory.data(), rsize, nullptr, &resolver_);
        return decode(d);
    }
    template <class Size, class Encode>
    void async(Size&& size, Encode&& encode) {
        std::vector<uint8_t> buf(size(caps_));
        protocol::Encoder e(buf.data(), buf.size(), &caps_);
        encode(e, 0);
        ring_->wait(ring_->write(buf));
    }
    VkInstance instance_handle() {
        resolver_.add({kInstanceId, reinterpret_cast<uint64_t>(&instance_), VK_OBJECT_TYPE_INSTANCE});
        return reinterpret_cast<VkInstance>(&instance_);
    }

private:
    static constexpr uint64_t kRingId = 0x7d0c7000;
    static constexpr uint64_t kInstanceId = 0x7d0c7001;
    transport::VtestClient& client_;
    protocol::WireCaps caps_;
    std::unique_ptr<transport::GuestRing> ring_;
    transport::VtestClient::Blob reply_;
    Resolver resolver_;
    protocol::GuestDispatchable instance_{nullptr, kInstanceId};
};

// Snapshots of the facts as the probe goes, so that a hung server still leaves what was learned.
struct Progress {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    ServerFacts facts;
    void publish(const ServerFacts& f, bool finished = false) {
        std::lock_guard lock(mutex);
        facts = f;
        done = finished;
        if (finished) cv.notify_all();
    }
};

void blob_round_trip(transport::VtestClient& client, ServerFacts& f) {
    auto& b = f.blob;
    b.attempted = true;
    b.size = kRingShmemSize;
    transport::VtestClient::Blob blob;
    try {
        blob = client.create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, b.size, 0, false);
    } catch (const transport::VtestRefused& e) {
        b.failure = "refused";
        b.error = e.what();
        return;
    } catch (const transport::PeerClosed& e) {
        b.failure = "closed";
        b.error = fmt::format("the server closed the connection at RESOURCE_CREATE_BLOB ({})", e.what());
        return;
    } catch (const std::exception& e) {
        b.failure = "error";
        b.error = e.what();
        return;
    }
    b.res_id = blob.res_id;
    b.fd_kind = fd_kind(blob.fd.get());
    try {
        transport::UniqueFd second = blob.fd.dup();
        auto one = transport::SharedMemory::map(std::move(blob.fd), b.size);
        auto two = transport::SharedMemory::map(std::move(second), b.size);
        // both ways, every word: the guest and the renderer see this memory through their own mappings
        for (size_t i = 0; i + 4 <= b.size; i += 4) {
            const uint32_t v = 0x5eed0000u ^ static_cast<uint32_t>(i);
            std::memcpy(one.data() + i, &v, 4);
        }
        for (size_t i = 0; i + 4 <= b.size && b.failure.empty(); i += 4) {
            uint32_t got;
            std::memcpy(&got, two.data() + i, 4);
            if (got != (0x5eed0000u ^ static_cast<uint32_t>(i))) {
                b.failure = "mismatch";
                b.error = fmt::format("a write is not visible through a second mapping of the blob fd at byte {}", i);
            }
        }
        std::memset(two.data(), 0xc3, b.size);
        if (b.failure.empty() && (one.data()[0] != 0xc3 || one.data()[b.size - 1] != 0xc3)) {
            b.failure = "mismatch";
            b.error = "a write through the second mapping is not visible through the first";
        }
    } catch (const std::exception& e) {
        b.failure = "map";
        b.error = fmt::format("the blob fd ({}) cannot be mapped: {}", b.fd_kind, e.what());
    }
    try {
        client.destroy_blob(b.res_id);
    } catch (const std::exception&) {
    }
    b.ok = b.failure.empty();
}

void guest_instance(transport::VtestClient& client, ServerFacts& f, Progress& progress) {
    auto& g = f.guest;
    g.attempted = true;
    try {
        g.step = "ring (shmem blob + vkCreateRingMESA) and reply stream";
        progress.publish(f);
        MiniGuest guest(client, f.capset);
        namespace pg = protocol::guest;

        g.step = "vkEnumerateInstanceVersion";
        progress.publish(f);
        uint32_t version = 0;
        const VkResult rv = guest.call([&](const auto& c) { return pg::sizeof_vkEnumerateInstanceVersion(c, &version); },
                                       [&](auto& e, uint32_t fl) { pg::encode_vkEnumerateInstanceVersion(e, fl, &version); },
                                       [&](const auto& c) { return pg::sizeof_vkEnumerateInstanceVersion_reply(c, &version); },
                                       [&](auto& d) { return pg::decode_vkEnumerateInstanceVersion_reply(d, &version); });
        if (rv != VK_SUCCESS) throw std::runtime_error(fmt::format("vkEnumerateInstanceVersion returned {}", static_cast<int>(rv)));
        g.instance_version = version;

        g.step = "vkCreateInstance";
        progress.publish(f);
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        app.pApplicationName = "venus-doctor";
        app.apiVersion = VK_API_VERSION_1_1;
        VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        info.pApplicationInfo = &app;
        VkInstance instance = guest.instance_handle();
        g.create_called = true;
        const VkResult rc = guest.call([&](const auto& c) { return pg::sizeof_vkCreateInstance(c, &info, nullptr, &instance); },
                                       [&](auto& e, uint32_t fl) { pg::encode_vkCreateInstance(e, fl, &info, nullptr, &instance); },
                                       [&](const auto& c) { return pg::sizeof_vkCreateInstance_reply(c, &info, nullptr, &instance); },
                                       [&](auto& d) { return pg::decode_vkCreateInstance_reply(d, &info, nullptr, &instance); });
        g.create_result = rc;
        if (rc != VK_SUCCESS) throw std::runtime_error(fmt::format("vkCreateInstance returned VkResult {}", static_cast<int>(rc)));

        g.step = "vkEnumeratePhysicalDevices";
        progress.publish(f);
        uint32_t count = 0;
        const VkResult re = guest.call(
            [&](const auto& c) { return pg::sizeof_vkEnumeratePhysicalDevices(c, instance, &count, nullptr); },
            [&](auto& e, uint32_t fl) { pg::encode_vkEnumeratePhysicalDevices(e, fl, instance, &count, nullptr); },
            [&](const auto& c) { return pg::sizeof_vkEnumeratePhysicalDevices_reply(c, instance, &count, nullptr); },
            [&](auto& d) { return pg::decode_vkEnumeratePhysicalDevices_reply(d, instance, &count, nullptr); });
        if (re != VK_SUCCESS) throw std::runtime_error(fmt::format("vkEnumeratePhysicalDevices returned {}", static_cast<int>(re)));
        g.physical_devices = count;

        g.step = "vkDestroyInstance";
        progress.publish(f);
        guest.async([&](const auto& c) { return pg::sizeof_vkDestroyInstance(c, instance, nullptr); },
                    [&](auto& e, uint32_t fl) { pg::encode_vkDestroyInstance(e, fl, instance, nullptr); });
        g.step.clear();
        g.ok = true;
    } catch (const std::exception& e) {
        g.error = e.what();
    }
}

// Everything up to the connection's end; the client (and with it the socket) is gone on return.
ServerFacts talk_to_server(const SocketCandidate& socket, bool explicit_socket, Progress& progress) {
    ServerFacts f;
    f.checked = true;
    f.socket = socket.path;
    f.socket_source = socket.source;
    f.explicit_socket = explicit_socket;
    f.step = "handshake";
    progress.publish(f);
    std::unique_ptr<transport::VtestClient> client;
    try {
        client = transport::VtestClient::connect(socket.path, "venus-doctor");
    } catch (const transport::PeerClosed& e) {
        classify_handshake_error(f, e.what(), true);
    } catch (const std::exception& e) {
        classify_handshake_error(f, e.what(), false);
    }
    if (!client) return f;
    f.connected = true;
    f.protocol_version = client->protocol_version();
    f.max_timelines = client->max_timelines();
    f.capset = client->capset();
    f.capset_size = client->capset_size();
    f.step = "RESOURCE_CREATE_BLOB (shared-memory blob)";
    progress.publish(f);
    blob_round_trip(*client, f);
    f.step.clear();
    progress.publish(f);

    auto& g = f.guest;
    if (f.capset.wire_format_version > protocol::kWireFormatVersion)
        g.skipped = fmt::format("the server speaks wire format {}, this driver 0 and {}", f.capset.wire_format_version,
                                protocol::kWireFormatVersion);
    else if (f.capset.vk_xml_version < VK_API_VERSION_1_1)
        g.skipped = "the server's vk.xml version is below 1.1";
    else if (!f.blob.ok)
        g.skipped = "shared-memory blobs do not work";
    else if (CapsetFields::present(f.capset_size).supports_blob_id_0 && !f.capset.supports_blob_id_0)
        g.skipped = "the server does not allocate blob_id 0 shared memory";
    if (g.skipped.empty()) guest_instance(*client, f, progress);
    return f;
}

}  // namespace

ServerFacts probe_server(const SocketCandidate& socket, bool explicit_socket, std::chrono::milliseconds timeout) {
    auto progress = std::make_shared<Progress>();
    std::thread([progress, socket, explicit_socket] {
        try {
            const ServerFacts f = talk_to_server(socket, explicit_socket, *progress);
            progress->publish(f, true);
        } catch (const std::exception& e) {
            std::lock_guard lock(progress->mutex);
            progress->facts.error = e.what();
            progress->done = true;
            progress->cv.notify_all();
        }
    }).detach();
    std::unique_lock lock(progress->mutex);
    if (!progress->cv.wait_for(lock, timeout, [&] { return progress->done; })) {
        ServerFacts f = progress->facts;
        f.timed_out = true;
        const std::string at = f.guest.attempted && !f.guest.step.empty() ? f.guest.step : f.step;
        f.error = fmt::format("the server did not answer within {} ms (at: {})", timeout.count(), at.empty() ? "?" : at);
        if (f.guest.attempted && !f.guest.ok && f.guest.error.empty()) f.guest.error = f.error;
        return f;
    }
    return progress->facts;
}

}  // namespace venus::doctor
