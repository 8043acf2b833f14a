#include "raw_guest.h"

#include <stdexcept>

namespace venus::test {

namespace {
constexpr size_t kReplySize = 1 << 20;
}

const protocol::ObjectRef* GuestObjects::find(uint64_t id) {
    std::lock_guard lock(mutex_);
    for (auto& r : refs_)
        if (r.id == id) return &r;
    return nullptr;
}

uint64_t GuestObjects::id_of(VkObjectType, uint64_t handle) {
    std::lock_guard lock(mutex_);
    for (auto& r : refs_)
        if (r.handle == handle) return r.id;
    return 0;
}

void GuestObjects::add(protocol::ObjectRef ref) {
    std::lock_guard lock(mutex_);
    refs_.push_back(ref);
}

uint64_t RawGuest::next_id() {
    static std::atomic<uint64_t> id{1};
    return id++;
}

RawGuest::RawGuest(const std::string& socket_path, const std::string& name) {
    auto client = transport::VtestClient::connect(socket_path, name);
    vtest_ = client.get();
    const vtest::CapsetVenus capset = client->capset();
    channel_ = std::move(client);
    start(capset);
}

RawGuest::RawGuest(std::unique_ptr<transport::GuestChannel> channel, const vtest::CapsetVenus& capset)
    : channel_(std::move(channel)) {
    start(capset);
}

void RawGuest::start(const vtest::CapsetVenus& cs) {
    caps_.api_version = cs.vk_xml_version;
    caps_.wire_format = cs.wire_format_version;
    std::copy(std::begin(cs.vk_extension_mask1), std::end(cs.vk_extension_mask1), caps_.extension_mask);
    transport::GuestRing::Options opts;
    ring_ = std::make_unique<transport::GuestRing>(*channel_, caps_, next_id(), opts);
    reply_ = channel_->create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, kReplySize, 0);
}

RawGuest::~RawGuest() = default;

uint32_t RawGuest::async(const SizeFn& size, const EncodeFn& encode) {
    std::vector<uint8_t> buf(size(caps_));
    protocol::Encoder e(buf.data(), buf.size(), &caps_);
    encode(e, 0);
    return ring_->write(buf);
}

void RawGuest::call(const SizeFn& size, const EncodeFn& encode, const SizeFn& reply_size, const DecodeFn& decode) {
    const size_t rsize = reply_size(caps_);
    if (rsize > kReplySize) throw std::length_error("reply larger than the test reply stream");
    VkCommandStreamDescriptionMESA stream{reply_.res_id, 0, rsize};
    const size_t set = protocol::guest::sizeof_vkSetReplyCommandStreamMESA(caps_, &stream);
    std::vector<uint8_t> buf(set + size(caps_));
    protocol::Encoder e(buf.data(), buf.size(), &caps_);
    protocol::guest::encode_vkSetReplyCommandStreamMESA(e, 0, &stream);
    encode(e, VK_COMMAND_GENERATE_REPLY_BIT_EXT);
    const uint32_t seqno = ring_->write(buf);
    ring_->wait(seqno);
    protocol::Decoder d(reply_.memory.data(), rsize, nullptr, &resolver_);
    decode(d);
}

void RawGuest::control(const SizeFn& size, const EncodeFn& encode) {
    std::vector<uint8_t> buf(size(caps_));
    protocol::Encoder e(buf.data(), buf.size(), &caps_);
    encode(e, 0);
    channel_->submit_commands(buf);
}

void RawGuest::sync() { ring_->wait(ring_->tail()); }

transport::GuestChannel::Blob RawGuest::map_memory(VkDeviceMemory memory, uint64_t size) {
    const uint64_t ring = ring_->id();
    const uint64_t seqno = ring_->tail();
    control([&](const protocol::WireCaps& c) { return protocol::guest::sizeof_vkWaitRingSeqnoMESA(c, ring, seqno); },
            [&](protocol::Encoder& e, uint32_t f) { protocol::guest::encode_vkWaitRingSeqnoMESA(e, f, ring, seqno); });
    return channel_->create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, size,
                                reinterpret_cast<uint64_t>(memory));
}

}  // namespace venus::test
