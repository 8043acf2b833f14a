#include "testgen_support.h"

#include <fmt/format.h>

namespace venus::testgen {

const protocol::ObjectRef* TestResolver::find(uint64_t id) {
    const auto type = static_cast<VkObjectType>(id >> 32);
    if (guest_side_) {
        auto it = objects_.find(id);
        if (it == objects_.end()) return nullptr;
        refs_.push_back({id, reinterpret_cast<uint64_t>(it->second), type});
    } else {
        refs_.push_back({id, id, type});
    }
    return &refs_.back();
}

uint64_t TestResolver::id_of(VkObjectType, uint64_t handle) { return handle; }

Harness::Harness(uint64_t seed) : gen(seed, &guest_objects), caps(protocol::WireCaps::everything()) {}

protocol::Encoder& Harness::request_encoder(size_t size) {
    request_.assign(size, 0xcd);
    enc_ = std::make_unique<protocol::Encoder>(request_.data(), size, &caps);
    return *enc_;
}

protocol::Decoder& Harness::request_decoder() {
    arena_.reset();
    dec_ = std::make_unique<protocol::Decoder>(request_.data(), enc_->size(), &arena_, &host_objects);
    return *dec_;
}

protocol::Encoder& Harness::reply_encoder() {
    reply_.assign(size_t{4} << 20, 0xcd);
    reply_enc_ = std::make_unique<protocol::Encoder>(reply_.data(), reply_.size(), &caps, &host_objects);
    return *reply_enc_;
}

protocol::Decoder& Harness::reply_decoder() {
    reply_dec_ = std::make_unique<protocol::Decoder>(reply_.data(), reply_enc_->size(), &arena_, &guest_objects);
    return *reply_dec_;
}

void Harness::expect_header(protocol::Decoder& d, uint32_t id) {
    const uint32_t type = d.u32();
    d.set_command(type);
    const uint32_t flags = d.u32();
    if (type != id) checker.fail(fmt::format("command id {} decoded as {}", id, type));
    if (flags != VK_COMMAND_GENERATE_REPLY_BIT_EXT) checker.fail("command flags changed");
}

void Harness::check_request_size(size_t computed, size_t written) {
    if (computed != written) checker.fail(fmt::format("sizeof says {} bytes, encoder wrote {}", computed, written));
    if (written % 4) checker.fail("request is not a multiple of 4 bytes");
}

void Harness::check_reply_size(size_t computed, size_t written) {
    if (written > computed)
        checker.fail(fmt::format("reply of {} bytes exceeds the {} bytes the guest reserved", written, computed));
}

void Harness::check_consumed(const protocol::Decoder& d) {
    if (!d.at_end()) checker.fail(fmt::format("{} bytes left undecoded", d.remaining()));
}

}  // namespace venus::testgen
