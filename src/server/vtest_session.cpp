#include "server/vtest_session.h"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cstring>

#include "renderer/context.h"
#include "renderer/errors.h"
#include "renderer/renderer.h"
#include "transport/error.h"
#include "transport/vtest_protocol.h"
#include "util/log.h"

namespace venus::server {

using namespace vtest;

namespace {
constexpr uint32_t kMaxSubmitWords = 16u << 20;  // 64 MiB of commands in one SUBMIT_CMD2
constexpr uint32_t kMaxSmallWords = 4096;        // every other command is tiny
constexpr uint32_t kMaxSyncWaitEntries = 4096;
}  // namespace

VtestSession::VtestSession(renderer::Renderer& renderer, transport::UnixSocket socket, uint32_t ctx_id)
    : renderer_(renderer), conn_(std::move(socket)), ctx_id_(ctx_id), syncs_(std::make_shared<SyncTable>()) {}

VtestSession::~VtestSession() {
    ctx_.reset();  // frees every host object of the client before its syncs go
}

void VtestSession::stop() {
    stopping_ = true;
    if (conn_.socket().valid()) ::shutdown(conn_.socket().fd(), SHUT_RDWR);
}

void VtestSession::run() {
    const int pid = conn_.socket().peer_pid();
    log::info("client {} connected (pid {})", ctx_id_, pid);
    try {
        while (!stopping_) {
            const Header h = conn_.read_header();
            if (!handle(h)) break;
        }
    } catch (const transport::PeerClosed&) {
        log::info("client {} ({}) disconnected", ctx_id_, name_);
    } catch (const std::exception& e) {
        if (!stopping_) log::warn("client {} ({}): {}; dropping it", ctx_id_, name_, e.what());
    }
    finished_ = true;
}

bool VtestSession::reject(const std::string& why) {
    log::warn("client {} ({}): {}; dropping it", ctx_id_, name_, why);
    return false;
}

void VtestSession::reply(uint32_t command, std::initializer_list<uint32_t> words) {
    conn_.send(command, std::span<const uint32_t>(words.begin(), words.size()));
}

bool VtestSession::handle(const Header& h) {
    if (!have_renderer_ && h.command != CREATE_RENDERER)
        return reject(fmt::format("command {} before CREATE_RENDERER", h.command));
    if (h.command == CREATE_RENDERER) return create_renderer(h.length);
    const uint32_t limit = h.command == SUBMIT_CMD2 ? kMaxSubmitWords : kMaxSmallWords;
    if (h.length > limit) return reject(fmt::format("command {} announces {} payload words", h.command, h.length));
    const std::vector<uint32_t> p = conn_.read_payload(h.length, limit);
    switch (h.command) {
    case PING_PROTOCOL_VERSION:
        reply(PING_PROTOCOL_VERSION, {});
        return true;
    case PROTOCOL_VERSION: return protocol_version(p);
    case RESOURCE_BUSY_WAIT: return busy_wait(p);
    case GET_PARAM: return get_param(p);
    case GET_CAPSET: return get_capset(p);
    case CONTEXT_INIT: return context_init(p);
    case RESOURCE_CREATE_BLOB: return create_blob(p);
    case RESOURCE_UNREF: return resource_unref(p);
    case RESOURCE_EXPORT_FD: return resource_export_fd(p);
    case SYNC_CREATE: return sync_create(p);
    case SYNC_UNREF: return sync_unref(p);
    case SYNC_READ: return sync_read(p);
    case SYNC_WRITE: return sync_write(p);
    case SYNC_WAIT: return sync_wait(p);
    case SUBMIT_CMD2: return submit_cmd2(p);
    default: return reject(fmt::format("unsupported vtest command {}", h.command));
    }
}

bool VtestSession::create_renderer(uint32_t bytes) {
    if (have_renderer_) return reject("a second CREATE_RENDERER");
    if (bytes > kCreateRendererMaxBytes) return reject(fmt::format("CREATE_RENDERER name of {} bytes", bytes));
    std::vector<uint8_t> name(bytes);
    conn_.socket().recv_exact(name);
    name_.assign(reinterpret_cast<const char*>(name.data()), strnlen(reinterpret_cast<const char*>(name.data()), bytes));
    if (name_.empty()) name_ = "unnamed";
    have_renderer_ = true;
    log::debug("client {}: renderer \"{}\"", ctx_id_, name_);
    return true;
}

bool VtestSession::protocol_version(const std::vector<uint32_t>& p) {
    if (p.size() < 1) return reject("PROTOCOL_VERSION without a version");
    uint32_t v = std::min(p[0], kMaxProtocolVersion);
    if (v == 1) v = 0;  // version 1 was never used
    protocol_version_ = v;
    reply(PROTOCOL_VERSION, {v});
    log::debug("client {}: vtest protocol {} (client offered {})", ctx_id_, v, p[0]);
    return true;
}

bool VtestSession::busy_wait(const std::vector<uint32_t>& p) {
    if (p.size() < 2) return reject("RESOURCE_BUSY_WAIT with a short payload");
    // Blobs are never busy from vtest's point of view; handle 0 is the version probe (§2.6).
    reply(RESOURCE_BUSY_WAIT, {0});
    return true;
}

bool VtestSession::get_param(const std::vector<uint32_t>& p) {
    if (p.size() < 1) return reject("GET_PARAM without a parameter");
    if (p[0] == PARAM_MAX_TIMELINE_COUNT) reply(GET_PARAM, {1, kMaxTimelines});
    else reply(GET_PARAM, {0, 0});
    return true;
}

bool VtestSession::get_capset(const std::vector<uint32_t>& p) {
    if (p.size() < 2) return reject("GET_CAPSET with a short payload");
    if (p[0] != kCapsetVenus || p[1] != 0) {
        log::debug("client {}: capset {} version {} is not offered", ctx_id_, p[0], p[1]);
        reply(GET_CAPSET, {0});
        return true;
    }
    const CapsetVenus& caps = renderer_.capset();
    std::vector<uint32_t> words(1 + sizeof(caps) / 4);
    words[0] = 1;
    std::memcpy(words.data() + 1, &caps, sizeof(caps));
    conn_.send(GET_CAPSET, words);
    return true;
}

bool VtestSession::context_init(const std::vector<uint32_t>& p) {
    if (p.size() < 1) return reject("CONTEXT_INIT without a capset id");
    if (p[0] != kCapsetVenus) return reject(fmt::format("CONTEXT_INIT with capset {} (only Venus, 4, is served)", p[0]));
    if (ctx_) return reject("a second CONTEXT_INIT");
    if (protocol_version_ < 3) return reject(fmt::format("CONTEXT_INIT on vtest protocol {} (3 or later needed)", protocol_version_));
    ctx_ = renderer_.create_context(ctx_id_, name_);
    return true;
}

uint32_t VtestSession::allocate_resource_id() {
    if (!free_res_ids_.empty()) {
        const uint32_t id = free_res_ids_.back();
        free_res_ids_.pop_back();
        return id;
    }
    return next_res_id_++;
}

bool VtestSession::create_blob(const std::vector<uint32_t>& p) {
    if (p.size() < 6) return reject("RESOURCE_CREATE_BLOB with a short payload");
    if (!ctx_) return reject("RESOURCE_CREATE_BLOB before CONTEXT_INIT");
    const uint32_t type = p[0], flags = p[1];
    const uint64_t size = p[2] | (uint64_t{p[3]} << 32);
    const uint64_t blob_id = p[4] | (uint64_t{p[5]} << 32);
    const uint32_t res_id = allocate_resource_id();
    renderer::Context::Blob blob;
    try {
        blob = ctx_->create_blob(res_id, type, flags, blob_id, size);
    } catch (const std::exception& e) {
        // The refusal and its reason go to the log. The client gets res_id 0 and, because every
        // vtest client reads an fd after this reply, an fd that cannot be mapped: Mesa's venus then
        // fails the mapping with VK_ERROR_MEMORY_MAP_FAILED instead of waiting for ever, and our
        // driver reads the 0.
        log::error("client {} ({}): blob {} of {} bytes refused: {}", ctx_id_, name_, blob_id, size, e.what());
        free_res_ids_.push_back(res_id);
        reply(RESOURCE_CREATE_BLOB, {0});
        transport::UniqueFd unmappable(eventfd(0, EFD_CLOEXEC));
        conn_.socket().send_fd(unmappable.get());
        return true;
    }
    reply(RESOURCE_CREATE_BLOB, {res_id});
    conn_.socket().send_fd(blob.fd.get());
    resources_[res_id] = {std::move(blob.fd), blob.size};
    return true;
}

bool VtestSession::resource_unref(const std::vector<uint32_t>& p) {
    if (p.size() < 1) return reject("RESOURCE_UNREF without an id");
    auto it = resources_.find(p[0]);
    if (it == resources_.end()) {
        log::debug("client {}: RESOURCE_UNREF of unknown resource {}", ctx_id_, p[0]);
        return true;
    }
    resources_.erase(it);
    if (ctx_) ctx_->destroy_resource(p[0]);
    free_res_ids_.push_back(p[0]);
    return true;
}

bool VtestSession::resource_export_fd(const std::vector<uint32_t>& p) {
    if (p.size() < 1) return reject("RESOURCE_EXPORT_FD without an id");
    auto it = resources_.find(p[0]);
    if (it == resources_.end()) return reject(fmt::format("RESOURCE_EXPORT_FD of unknown resource {}", p[0]));
    reply(RESOURCE_EXPORT_FD, {});
    conn_.socket().send_fd(it->second.fd.get());
    return true;
}

bool VtestSession::sync_create(const std::vector<uint32_t>& p) {
    if (p.size() < 2) return reject("SYNC_CREATE with a short payload");
    reply(SYNC_CREATE, {syncs_->create(p[0] | (uint64_t{p[1]} << 32))});
    return true;
}

bool VtestSession::sync_unref(const std::vector<uint32_t>& p) {
    if (p.size() < 1) return reject("SYNC_UNREF without an id");
    if (!syncs_->destroy(p[0])) log::debug("client {}: SYNC_UNREF of unknown sync {}", ctx_id_, p[0]);
    return true;
}

bool VtestSession::sync_read(const std::vector<uint32_t>& p) {
    if (p.size() < 1) return reject("SYNC_READ without an id");
    uint64_t v = 0;
    if (!syncs_->read(p[0], &v)) return reject(fmt::format("SYNC_READ of unknown sync {}", p[0]));
    reply(SYNC_READ, {static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 32)});
    return true;
}

bool VtestSession::sync_write(const std::vector<uint32_t>& p) {
    if (p.size() < 3) return reject("SYNC_WRITE with a short payload");
    if (!syncs_->write(p[0], p[1] | (uint64_t{p[2]} << 32)))
        return reject(fmt::format("SYNC_WRITE of unknown sync {}", p[0]));
    return true;
}

bool VtestSession::sync_wait(const std::vector<uint32_t>& p) {
    if (p.size() < 2 || (p.size() - 2) % 3) return reject("SYNC_WAIT with a malformed payload");
    const size_t n = (p.size() - 2) / 3;
    if (n > kMaxSyncWaitEntries) return reject(fmt::format("SYNC_WAIT on {} syncs", n));
    std::vector<SyncTable::WaitEntry> entries(n);
    for (size_t i = 0; i < n; ++i)
        entries[i] = {p[2 + 3 * i], p[3 + 3 * i] | (uint64_t{p[4 + 3 * i]} << 32)};
    std::string why;
    transport::UniqueFd fd = syncs_->wait(entries, p[0] & kSyncWaitFlagAny, p[1], &why);
    if (!fd) return reject(why);
    reply(SYNC_WAIT, {});
    conn_.socket().send_fd(fd.get());
    return true;
}

bool VtestSession::submit_cmd2(const std::vector<uint32_t>& p) {
    if (!ctx_) return reject("SUBMIT_CMD2 before CONTEXT_INIT");
    if (p.empty()) return reject("SUBMIT_CMD2 without a batch count");
    const uint32_t batches = p[0];
    // Batch headers are 8 words apart on the wire (§2.5); Mesa's one-batch submissions work
    // because only the first six words of the header are read here.
    if (batches > (p.size() - 1) / 6) return reject(fmt::format("SUBMIT_CMD2 with {} batches in {} words", batches, p.size()));
    for (uint32_t b = 0; b < batches; ++b) {
        const size_t h = 1 + size_t{b} * kSubmitBatchWords;
        if (h + 6 > p.size()) return reject(fmt::format("SUBMIT_CMD2 batch {} header is cut off", b));
        const uint32_t flags = p[h], cmd_off = p[h + 1], cmd_size = p[h + 2], sync_off = p[h + 3],
                       sync_count = p[h + 4], ring_idx = p[h + 5];
        if (uint64_t{cmd_off} + cmd_size > p.size())
            return reject(fmt::format("SUBMIT_CMD2 batch {}: commands [{}, +{}) outside {} words", b, cmd_off, cmd_size, p.size()));
        if (uint64_t{sync_off} + uint64_t{sync_count} * 3 > p.size())
            return reject(fmt::format("SUBMIT_CMD2 batch {}: {} syncs at {} outside {} words", b, sync_count, sync_off, p.size()));
        if ((flags & SUBMIT_FLAG_RING_IDX) && ring_idx >= kMaxTimelines)
            return reject(fmt::format("SUBMIT_CMD2 batch {}: ring_idx {} out of range", b, ring_idx));
        if (cmd_size) {
            const auto* bytes = reinterpret_cast<const uint8_t*>(p.data() + cmd_off);
            if (!ctx_->submit_commands({bytes, size_t{cmd_size} * 4})) {
                // The context is fatal (its reason is logged); the connection stays so that the guest
                // can see FATAL on its rings.
                continue;
            }
        }
        if (!sync_count) continue;
        std::vector<std::pair<uint32_t, uint64_t>> writes(sync_count);
        for (uint32_t i = 0; i < sync_count; ++i) {
            const size_t s = sync_off + size_t{i} * 3;
            writes[i] = {p[s], p[s + 1] | (uint64_t{p[s + 2]} << 32)};
        }
        auto syncs = syncs_;
        auto write_all = [syncs, writes = std::move(writes), id = ctx_id_](uint64_t) {
            for (auto& [sync, value] : writes)
                if (!syncs->write(sync, value)) log::debug("client {}: a retired fence names unknown sync {}", id, sync);
        };
        if (flags & SUBMIT_FLAG_RING_IDX) {
            ctx_->submit_fence(ring_idx, 0, std::move(write_all));
        } else {
            write_all(0);
        }
    }
    return true;
}

}  // namespace venus::server
