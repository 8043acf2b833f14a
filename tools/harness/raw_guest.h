// A minimal Venus guest for tests that speak raw vtest + Venus bytes: the vtest handshake, one
// ring with an ALIVE monitor, and a reply stream, driven by the generated guest encoders.
//   RAW_CALL(g, vkCreateBuffer, device, &info, nullptr, &buffer)  -> the reply's return value
//   RAW_ASYNC(g, vkCmdDraw, cmd, 3, 1, 0, 0)                       -> no reply
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <string>
#include <vector>

#include "protocol/guest_codec.h"
#include "transport/guest_ring.h"
#include "transport/vtest_client.h"

namespace venus::test {

template <class H>
constexpr VkObjectType dispatchable_type() {
    if constexpr (std::is_same_v<H, VkInstance>) return VK_OBJECT_TYPE_INSTANCE;
    else if constexpr (std::is_same_v<H, VkPhysicalDevice>) return VK_OBJECT_TYPE_PHYSICAL_DEVICE;
    else if constexpr (std::is_same_v<H, VkDevice>) return VK_OBJECT_TYPE_DEVICE;
    else if constexpr (std::is_same_v<H, VkQueue>) return VK_OBJECT_TYPE_QUEUE;
    else return VK_OBJECT_TYPE_COMMAND_BUFFER;
}

// The guest's dispatchable objects, for replies that name them.
class GuestObjects : public protocol::HandleResolver {
public:
    const protocol::ObjectRef* find(uint64_t id) override;
    uint64_t id_of(VkObjectType, uint64_t handle) override;
    void add(protocol::ObjectRef ref);

private:
    std::mutex mutex_;
    std::deque<protocol::ObjectRef> refs_;
};

class RawGuest {
public:
    explicit RawGuest(const std::string& socket_path, const std::string& name = "raw-guest");
    // Over another channel to a renderer (e.g. the proxy side of the render-server protocol),
    // with the capset that channel's VMM would hand the guest.
    RawGuest(std::unique_ptr<transport::GuestChannel> channel, const vtest::CapsetVenus& capset);
    ~RawGuest();

    // vtest guests only
    transport::VtestClient& client() { return *vtest_; }
    transport::GuestChannel& channel() { return *channel_; }
    transport::GuestRing& ring() { return *ring_; }
    const protocol::WireCaps& caps() const { return caps_; }

    // A new object id (process-wide counter, like Mesa's).
    static uint64_t next_id();
    // A dispatchable handle for the guest side: a {loader data, id} pair the encoders read.
    template <class H>
    H dispatchable() {
        objects_.push_back(std::make_unique<protocol::GuestDispatchable>(protocol::GuestDispatchable{nullptr, next_id()}));
        auto* obj = objects_.back().get();
        resolver_.add({obj->id, reinterpret_cast<uint64_t>(obj), dispatchable_type<H>()});
        return reinterpret_cast<H>(obj);
    }
    template <class H>
    H handle() {
        return protocol::to_handle<H>(next_id());
    }

    using SizeFn = std::function<size_t(const protocol::WireCaps&)>;
    using EncodeFn = std::function<void(protocol::Encoder&, uint32_t)>;
    using DecodeFn = std::function<void(protocol::Decoder&)>;
    // Sends one command on the ring, waits, decodes its reply.
    void call(const SizeFn& size, const EncodeFn& encode, const SizeFn& reply_size, const DecodeFn& decode);
    // Sends one command on the ring without a reply; returns its seqno.
    uint32_t async(const SizeFn& size, const EncodeFn& encode);
    // Sends one command on the control path (vtest SUBMIT_CMD2).
    void control(const SizeFn& size, const EncodeFn& encode);
    // Waits until the renderer has run everything written so far.
    void sync();

    // Maps a VkDeviceMemory through a blob (vkWaitRingSeqnoMESA first, as Mesa does).
    transport::GuestChannel::Blob map_memory(VkDeviceMemory memory, uint64_t size);

private:
    void start(const vtest::CapsetVenus& capset);

    std::unique_ptr<transport::GuestChannel> channel_;
    transport::VtestClient* vtest_ = nullptr;
    protocol::WireCaps caps_;
    std::unique_ptr<transport::GuestRing> ring_;
    transport::GuestChannel::Blob reply_;
    std::deque<std::unique_ptr<protocol::GuestDispatchable>> objects_;
    GuestObjects resolver_;
};

}  // namespace venus::test

#define RAW_CALL(g, cmd, ...)                                                                                   \
    [&] {                                                                                                       \
        return venus::test::detail::call_with_result(                                                           \
            g,                                                                                                  \
            [&](const venus::protocol::WireCaps& venus_caps_) {                                                 \
                return venus::protocol::guest::sizeof_##cmd(venus_caps_, __VA_ARGS__);                          \
            },                                                                                                  \
            [&](venus::protocol::Encoder& venus_enc_, uint32_t venus_flags_) {                                  \
                venus::protocol::guest::encode_##cmd(venus_enc_, venus_flags_, __VA_ARGS__);                    \
            },                                                                                                  \
            [&](const venus::protocol::WireCaps& venus_caps_) {                                                 \
                return venus::protocol::guest::sizeof_##cmd##_reply(venus_caps_, __VA_ARGS__);                  \
            },                                                                                                  \
            [&](venus::protocol::Decoder& venus_dec_) {                                                         \
                return venus::protocol::guest::decode_##cmd##_reply(venus_dec_, __VA_ARGS__);                   \
            });                                                                                                 \
    }()

#define RAW_ASYNC(g, cmd, ...)                                                                                  \
    (g).async(                                                                                                  \
        [&](const venus::protocol::WireCaps& venus_caps_) {                                                     \
            return venus::protocol::guest::sizeof_##cmd(venus_caps_, __VA_ARGS__);                              \
        },                                                                                                      \
        [&](venus::protocol::Encoder& venus_enc_, uint32_t venus_flags_) {                                      \
            venus::protocol::guest::encode_##cmd(venus_enc_, venus_flags_, __VA_ARGS__);                        \
        })

namespace venus::test::detail {

template <class S, class E, class RS, class D>
auto call_with_result(RawGuest& g, S&& size, E&& encode, RS&& reply_size, D&& decode) {
    using R = decltype(decode(std::declval<protocol::Decoder&>()));
    if constexpr (std::is_void_v<R>) {
        g.call(size, encode, reply_size, [&](protocol::Decoder& d) { decode(d); });
    } else {
        R result{};
        g.call(size, encode, reply_size, [&](protocol::Decoder& d) { result = decode(d); });
        return result;
    }
}

}  // namespace venus::test::detail
