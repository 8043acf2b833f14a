#include "icd/connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>

#include "icd/log.h"
#include "protocol/venus_defs.h"

namespace venus::icd {

namespace {

constexpr size_t kMinReply = 64 << 10;
constexpr size_t kMinChunk = 256 << 10;
constexpr size_t kMaxCachedChunkBytes = 16 << 20;
constexpr size_t kMaxCachedReplies = 16;
constexpr size_t kWaitRingSize = 16 << 10;
constexpr size_t kMaxIdleWaitRings = 8;

}  // namespace

std::unique_ptr<Connection> Connection::create(const std::string& socket_path, const std::string& name) {
    std::unique_ptr<Connection> c(new Connection());
    try {
        c->client_ = transport::VtestClient::connect(socket_path, name);
    } catch (const std::exception& e) {
        throw IncompatibleRenderer(fmt::format("no usable Venus renderer at {}: {}", socket_path, e.what()));
    }
    const auto& cs = c->client_->capset();
    if (c->client_->capset_size() < offsetof(vtest::CapsetVenus, vk_extension_mask1))
        throw IncompatibleRenderer(fmt::format("the renderer's capset is {} bytes, too short to be a Venus capset",
                                               c->client_->capset_size()));
    if (cs.wire_format_version > kWireFormatVersion)
        throw IncompatibleRenderer(fmt::format("renderer wire format {}, driver {} and 0 (a newer protocol "
                                               "generation than this driver knows)",
                                               cs.wire_format_version, kWireFormatVersion));
    const bool wire0 = cs.wire_format_version == 0;
    if (cs.vk_xml_version < VK_API_VERSION_1_1)
        throw IncompatibleRenderer(fmt::format("renderer protocol is for Vulkan {}.{}; the driver needs 1.1 or later",
                                               VK_API_VERSION_MAJOR(cs.vk_xml_version),
                                               VK_API_VERSION_MINOR(cs.vk_xml_version)));
    if (!cs.supports_blob_id_0)
        throw IncompatibleRenderer("the renderer cannot allocate shared memory (supports_blob_id_0 is 0)");
    const size_t have = c->client_->capset_size();
    if (have < offsetof(vtest::CapsetVenus, supports_multiple_timelines) || !cs.allow_vk_wait_syncs)
        throw IncompatibleRenderer("the renderer does not allow blocking waits (allow_vk_wait_syncs is 0)");
    if (!wire0 && (cs.vk_mesa_venus_protocol_spec_version < 1 || cs.vk_mesa_venus_protocol_spec_version >= 100000))
        throw IncompatibleRenderer(fmt::format("renderer VK_MESA_venus_protocol spec version {}, driver needs 1..{}",
                                               cs.vk_mesa_venus_protocol_spec_version, 99999));
    c->caps_.api_version = std::min(cs.vk_xml_version, protocol::kVkXmlVersion);
    c->caps_.wire_format = cs.wire_format_version;
    std::copy(std::begin(cs.vk_extension_mask1), std::end(cs.vk_extension_mask1), c->caps_.extension_mask);
    // A pNext structure the renderer knows but this driver does not is never sent (the
    // generated encoders only know this build's vk.xml); one this driver knows but the renderer
    // does not is left out by WireCaps.

    transport::GuestRing::Options opts;
    opts.buffer_size = kRingSize;
    opts.idle_timeout_ns = 1'000'000;  // as Mesa: past it the renderer sleeps until notified
    // wire format 0 renderers (virglrenderer 0.10.x) take no chain in the ring's create info
    // and have no ALIVE bit (wire-format-0-vs-1.md §4.3, §7.2)
    if (wire0) opts.monitor_period_us = 0;
    try {
        c->ring_ = std::make_unique<Ring>(*c->client_, c->caps_, next_id(), opts);
    } catch (const std::exception& e) {
        throw IncompatibleRenderer(fmt::format("the renderer refused the instance ring: {}", e.what()));
    }
    log::debug("connected to {}: vtest protocol {}, wire format {}, vk.xml {}.{}.{}, venus protocol spec {}",
               socket_path, c->client_->protocol_version(), cs.wire_format_version,
               VK_API_VERSION_MAJOR(cs.vk_xml_version), VK_API_VERSION_MINOR(cs.vk_xml_version),
               VK_API_VERSION_PATCH(cs.vk_xml_version), cs.vk_mesa_venus_protocol_spec_version);
    return c;
}

uint32_t Connection::acquire_timeline() {
    std::lock_guard lock(timelines_mutex_);
    const uint32_t count = std::min<uint32_t>(client_->max_timelines(), vtest::kMaxTimelines);
    if (timelines_used_.size() < count) timelines_used_.resize(count, false);
    for (uint32_t i = 1; i < count; ++i)
        if (!timelines_used_[i]) {
            timelines_used_[i] = true;
            return i;
        }
    return 0;
}

void Connection::release_timeline(uint32_t ring_idx) {
    std::lock_guard lock(timelines_mutex_);
    if (ring_idx && ring_idx < timelines_used_.size()) timelines_used_[ring_idx] = false;
}

Connection::~Connection() {
    // rings first (their destructors tell the renderer), then the shared memory
    wait_rings_.clear();
    ring_.reset();
    try {
        for (auto& r : replies_) client_->destroy_blob(r->blob.res_id);
        for (auto& ch : chunks_) client_->destroy_blob(ch->blob.res_id);
    } catch (const std::exception&) {
        // the renderer is gone; the socket closes below
    }
}

void Connection::set_lost(const std::string& why) {
    if (!lost_.exchange(true)) log::error("device lost: {}", why);
}

VkResult Connection::on_exception() noexcept {
    try {
        throw;
    } catch (const std::bad_alloc&) {
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    } catch (const std::exception& e) {
        set_lost(e.what());
    } catch (...) {
        set_lost("an unknown error");
    }
    return VK_ERROR_DEVICE_LOST;
}

// ---------------------------------------------------------------------------------- replies

std::unique_ptr<Connection::ReplyBuffer> Connection::acquire_reply(size_t size) {
    {
        std::lock_guard lock(mutex_);
        // smallest cached buffer that fits
        auto best = replies_.end();
        for (auto it = replies_.begin(); it != replies_.end(); ++it)
            if ((*it)->size >= size && (best == replies_.end() || (*it)->size < (*best)->size)) best = it;
        if (best != replies_.end()) {
            auto b = std::move(*best);
            replies_.erase(best);
            return b;
        }
    }
    auto b = std::make_unique<ReplyBuffer>();
    b->size = std::bit_ceil(std::max(size, kMinReply));
    b->blob = client_->create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, b->size, 0);
    return b;
}

void Connection::release_reply(std::unique_ptr<ReplyBuffer> buffer) {
    if (!buffer) return;
    std::unique_ptr<ReplyBuffer> drop;
    {
        std::lock_guard lock(mutex_);
        if (replies_.size() < kMaxCachedReplies) {
            replies_.push_back(std::move(buffer));
            return;
        }
        drop = std::move(buffer);
    }
    try {
        client_->destroy_blob(drop->blob.res_id);
    } catch (const std::exception&) {
    }
}

// ---------------------------------------------------------------------------------- wait rings

std::unique_ptr<Ring> Connection::acquire_wait_ring() {
    {
        std::lock_guard lock(mutex_);
        if (!wait_rings_.empty()) {
            auto r = std::move(wait_rings_.back());
            wait_rings_.pop_back();
            return r;
        }
        ++wait_ring_count_;
    }
    transport::GuestRing::Options opts;
    opts.buffer_size = kWaitRingSize;
    opts.idle_timeout_ns = 1'000'000;
    log::debug("a wait ring for a blocking call ({} in use)", wait_ring_count_);
    return std::make_unique<Ring>(*client_, caps_, next_id(), opts);
}

void Connection::release_wait_ring(std::unique_ptr<Ring> ring) {
    std::lock_guard lock(mutex_);
    if (wait_rings_.size() < kMaxIdleWaitRings) wait_rings_.push_back(std::move(ring));
    else --wait_ring_count_;  // the ring's destructor destroys it on the renderer
}

// ---------------------------------------------------------------------------------- streams

std::unique_ptr<Connection::Chunk> Connection::acquire_chunk(size_t size) {
    for (;;) {
        Ring* wait_on = nullptr;
        uint32_t wait_seqno = 0;
        {
            std::lock_guard lock(mutex_);
            auto best = chunks_.end();
            for (auto it = chunks_.begin(); it != chunks_.end(); ++it) {
                if ((*it)->size < size) continue;
                if ((*it)->busy()) {
                    if (!wait_on) {
                        wait_on = (*it)->ring;
                        wait_seqno = (*it)->seqno;
                    }
                    continue;
                }
                if (best == chunks_.end() || (*it)->size < (*best)->size) best = it;
            }
            if (best != chunks_.end()) {
                auto c = std::move(*best);
                chunks_.erase(best);
                chunk_bytes_ -= c->size;
                return c;
            }
            // all fitting chunks are in flight: make a new one unless that would hold too much
            if (!wait_on || chunk_bytes_ + size <= kMaxCachedChunkBytes) wait_on = nullptr;
        }
        if (!wait_on) break;
        wait_on->wait(wait_seqno);  // back-pressure: the renderer is behind
    }
    auto c = std::make_unique<Chunk>();
    c->size = std::bit_ceil(std::max(size, kMinChunk));
    c->blob = client_->create_blob(vtest::BLOB_TYPE_HOST3D, vtest::BLOB_FLAG_MAPPABLE, c->size, 0);
    return c;
}

void Connection::release_chunk(std::unique_ptr<Chunk> chunk) {
    if (!chunk) return;
    std::unique_ptr<Chunk> drop;
    {
        std::lock_guard lock(mutex_);
        if (chunk_bytes_ + chunk->size <= kMaxCachedChunkBytes) {
            chunk_bytes_ += chunk->size;
            chunks_.push_back(std::move(chunk));
            return;
        }
        drop = std::move(chunk);
    }
    // too many bytes cached: this one goes, once the renderer is done with it
    try {
        if (drop->ring) drop->ring->wait(drop->seqno);
        client_->destroy_blob(drop->blob.res_id);
    } catch (const std::exception&) {
    }
}

uint32_t Connection::execute_chunk(Ring& ring, std::unique_ptr<Chunk> chunk, size_t size,
                                   const VkCommandStreamDescriptionMESA* reply) {
    const VkCommandStreamDescriptionMESA stream{chunk->blob.res_id, 0, size};
    const size_t exec_n = protocol::guest::sizeof_vkExecuteCommandStreamsMESA(caps_, 1, &stream, nullptr, 0, nullptr, 0);
    const size_t total = (reply ? kSetReplySize : 0) + exec_n;
    EncodeBuffer buf(total);
    uint8_t* p = buf.data();
    protocol::Encoder e(p, total, &caps_);
    if (reply) protocol::guest::encode_vkSetReplyCommandStreamMESA(e, 0, reply);
    protocol::guest::encode_vkExecuteCommandStreamsMESA(e, 0, 1, &stream, nullptr, 0, nullptr, 0);
    uint32_t seqno;
    try {
        seqno = ring.write({p, total});
    } catch (...) {
        release_chunk(std::move(chunk));
        throw;
    }
    if (&ring != ring_.get()) {
        // wait rings come and go: do not let a cached chunk point at one
        ring.wait(seqno);
    } else {
        chunk->ring = &ring;
        chunk->seqno = seqno;
    }
    release_chunk(std::move(chunk));
    return seqno;
}

uint32_t Connection::submit_encoded(std::span<const uint8_t> bytes) {
    check_lost();
    if (bytes.size() <= kInlineLimit) return ring_->write(bytes);
    auto chunk = acquire_chunk(bytes.size());
    std::memcpy(chunk->blob.memory.data(), bytes.data(), bytes.size());
    return execute_chunk(*ring_, std::move(chunk), bytes.size());
}

uint32_t Connection::submit_chunk(std::unique_ptr<Chunk> chunk, size_t size) {
    check_lost();  // (the chunk goes with the lost connection)
    return execute_chunk(*ring_, std::move(chunk), size);
}

// ---------------------------------------------------------------------------------- control

void Connection::sync_ring_for_control(uint32_t seqno) {
    if (ring_->reached(seqno)) return;
    if (caps_.wire_format == 0) {
        // no vkWaitRingSeqnoMESA in wire format 0: wait here until the ring has run that far
        ring_->wait(seqno);
        return;
    }
    const uint64_t ring_id = ring_->id();
    const uint64_t s = seqno;
    control([&](const protocol::WireCaps& c) { return protocol::guest::sizeof_vkWaitRingSeqnoMESA(c, ring_id, s); },
            [&](protocol::Encoder& e, uint32_t f) { protocol::guest::encode_vkWaitRingSeqnoMESA(e, f, ring_id, s); });
}

}  // namespace venus::icd
