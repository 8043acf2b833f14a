#include "server/render_context.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "renderer/context.h"
#include "renderer/renderer.h"
#include "transport/error.h"
#include "transport/vtest_protocol.h"
#include "util/log.h"

#ifndef DMA_BUF_MAGIC
#define DMA_BUF_MAGIC 0x444d4142
#endif

namespace venus::server {

using namespace render;

namespace {
constexpr uint64_t kMaxSubmitBytes = 64u << 20;  // far more than one datagram can carry
constexpr uint64_t kMaxFencePageBytes = 4096;

std::string fd_link(int fd) {
    char path[64], target[256];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) return {};
    return std::string(target, static_cast<size_t>(n));
}
}  // namespace

// ------------------------------------------------------------------------------ FencePage

FencePage::FencePage(transport::UniqueFd page, uint64_t size, transport::UniqueFd eventfd) {
    if (size < 4 || size % 4 || size > kMaxFencePageBytes)
        throw std::runtime_error(fmt::format("a fence page of {} bytes (4 to {}, a multiple of 4)", size,
                                             kMaxFencePageBytes));
    struct stat st {};
    if (fstat(page.get(), &st) < 0) throw std::runtime_error(transport::errno_message("fstat of the fence page"));
    if (!S_ISREG(st.st_mode) || st.st_size < 0 || static_cast<uint64_t>(st.st_size) < size)
        throw std::runtime_error(fmt::format("the fence page fd is {} bytes long, not a file of at least {} bytes",
                                             static_cast<long long>(st.st_size), size));
    void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, page.get(), 0);
    if (addr == MAP_FAILED) throw std::runtime_error(transport::errno_message("mmap of the fence page"));
    slots_ = static_cast<uint32_t*>(addr);
    map_size_ = size;
    count_ = static_cast<uint32_t>(std::min<uint64_t>(size / 4, kMaxTimelines));
    for (uint32_t i = 0; i < size / 4; ++i) std::atomic_ref<uint32_t>(slots_[i]).store(0, std::memory_order_relaxed);
    if (eventfd) {
        // Retirement writes to it from renderer threads: it must be an eventfd, and never block.
        if (fd_link(eventfd.get()) != "anon_inode:[eventfd]") {
            munmap(addr, size);
            throw std::runtime_error(fmt::format("the fence notification fd is not an eventfd ({})",
                                                 fd_link(eventfd.get())));
        }
        const int fl = fcntl(eventfd.get(), F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(eventfd.get(), F_SETFL, fl | O_NONBLOCK);
        eventfd_ = std::move(eventfd);
    }
}

FencePage::~FencePage() {
    if (slots_) munmap(slots_, map_size_);
}

void FencePage::retire(uint32_t timeline, uint32_t seqno) {
    if (timeline >= count_) return;
    // Only forward (modulo 2^32): a fence retired at once on a fatal context must not be undone
    // by an older one that its timeline retires later.
    std::atomic_ref<uint32_t> slot(slots_[timeline]);
    uint32_t cur = slot.load(std::memory_order_relaxed);
    while (static_cast<int32_t>(seqno - cur) > 0 &&
           !slot.compare_exchange_weak(cur, seqno, std::memory_order_release, std::memory_order_relaxed)) {
    }
    if (eventfd_) {
        const uint64_t one = 1;
        ssize_t n;
        do {
            n = write(eventfd_.get(), &one, sizeof(one));
        } while (n < 0 && errno == EINTR);
        // EAGAIN: the counter is saturated, the proxy is woken anyway
    }
}

// ------------------------------------------------------------------------------ helpers

int32_t classify_blob_fd(int fd, uint64_t size, std::string* why) {
    struct statfs fs {};
    if (fstatfs(fd, &fs) == 0 && static_cast<uint64_t>(fs.f_type) == DMA_BUF_MAGIC) return FD_DMABUF;
    struct stat st {};
    if (fstat(fd, &st) < 0) {
        *why = transport::errno_message("fstat");
        return FD_INVALID;
    }
    const int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) {
        *why = fmt::format("{} is not a memfd", fd_link(fd));
    } else if (seals & F_SEAL_SEAL) {
        *why = fmt::format("{} is sealed against the proxy's seals (0x{:x})", fd_link(fd), seals);
    } else if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) {
        *why = fmt::format("{} is write-sealed", fd_link(fd));
    } else if (static_cast<uint64_t>(st.st_size) != size) {
        *why = fmt::format("{} is {} bytes, the blob {}", fd_link(fd), static_cast<long long>(st.st_size), size);
    } else {
        return FD_SHM;
    }
    // Not an SHM fd the proxy accepts, but one that maps like a dma-buf: the proxy takes dma-bufs
    // unchecked and mmaps them (§5.3).
    return FD_DMABUF;
}

std::string printable_name(std::span<const uint8_t> raw) {
    std::string out;
    for (size_t i = 0; i < raw.size() && i < kContextNameSize - 1 && raw[i]; ++i)
        out.push_back(raw[i] >= 0x20 && raw[i] < 0x7f ? static_cast<char>(raw[i]) : '?');
    return out.empty() ? std::string("unnamed") : out;
}

// ------------------------------------------------------------------------------ RenderContext

RenderContext::RenderContext(renderer::Renderer& renderer, transport::SeqpacketSocket socket,
                             RenderContextOptions options)
    : renderer_(renderer), socket_(std::move(socket)), options_(std::move(options)) {}

RenderContext::~RenderContext() {
    ctx_.reset();  // waits for its timelines: every pending fence retires first
}

void RenderContext::stop() {
    stopping_ = true;
    if (socket_.valid()) ::shutdown(socket_.fd(), SHUT_RDWR);
}

std::string RenderContext::run() {
    alignas(8) uint8_t buffer[kContextRequestMax];
    std::string why;
    run_thread_ = std::this_thread::get_id();
    try {
        while (!stopping_) {
            // peek first: a message is always either queued or in_handle_ for catch_up()
            socket_.peek_size();
            note_progress(true);
            transport::SeqpacketSocket::Message m = socket_.recv(buffer);
            if (m.size < 4) {
                why = fmt::format("a message of {} bytes, too short for an op", m.size);
                break;
            }
            const uint32_t op = load<uint32_t>(buffer, 0);
            why = handle(op, std::span<const uint8_t>(buffer, m.size), m.fds);
            note_progress(false);
            if (!why.empty()) break;
        }
    } catch (const transport::PeerClosed&) {
        note_progress(false, true);
        log::info("ctx {} ({}): the proxy closed the context ({} submissions)", options_.ctx_id, options_.name,
                  submits_);
        return {};
    } catch (const std::exception& e) {
        why = e.what();
    }
    note_progress(false, true);
    if (stopping_) return {};
    log::error("ctx {} ({}): {}; ending this context", options_.ctx_id, options_.name, why);
    return why;
}

std::string RenderContext::handle(uint32_t op, std::span<const uint8_t> msg, std::vector<transport::UniqueFd>& fds) {
    if (op >= CTX_OP_COUNT) return fmt::format("unknown context op {}", op);
    const size_t max_fds = op == CTX_INIT ? kMaxInitFds : op == CTX_IMPORT_RESOURCE ? kMaxImportFds : 0;
    if (fds.size() > max_fds)
        return fmt::format("{} with {} file descriptors (at most {})", context_op_name(op), fds.size(), max_fds);
    size_t want = context_request_size(op, options_.generation);
    if (op == CTX_SUBMIT_CMD && msg.size() != want) {
        const Generation other = options_.generation == Generation::V1 ? Generation::V0_10 : Generation::V1;
        if (msg.size() == submit_cmd_size(other)) {
            if (options_.generation_forced || sent_generation_specific_)
                return fmt::format("SUBMIT_CMD of {} bytes is virglrenderer {}'s layout, but this context speaks {}'s{}",
                                   msg.size(), generation_name(other), generation_name(options_.generation),
                                   options_.generation_forced
                                       ? " (forced by --protocol / VENUS_RENDER_SERVER_PROTOCOL)"
                                       : " and has answered in it already; set VENUS_RENDER_SERVER_PROTOCOL");
            log::warn("ctx {} ({}): the proxy sends virglrenderer {}'s SUBMIT_CMD; speaking that layout from now on",
                      options_.ctx_id, options_.name, generation_name(other));
            options_.generation = other;
            want = msg.size();
            if (ctx_ && !options_.wire_format &&
                !ctx_->switch_wire_format(options_.generation == Generation::V0_10 ? 0 : 1))
                return fmt::format("the proxy's generation changed to {} after commands ran in wire format {}",
                                   generation_name(options_.generation), ctx_->wire_format());
        }
    }
    if (msg.size() != want)
        return fmt::format("{} of {} bytes (virglrenderer {} sends {})", context_op_name(op), msg.size(),
                           generation_name(options_.generation), want);
    if (op != CTX_INIT && op != CTX_NOP && !ctx_) return fmt::format("{} before INIT", context_op_name(op));
    switch (op) {
    case CTX_NOP: return {};
    case CTX_INIT: return init(msg, fds);
    case CTX_CREATE_RESOURCE: return create_resource(msg);
    case CTX_IMPORT_RESOURCE: return import_resource(msg, fds);
    case CTX_DESTROY_RESOURCE: return destroy_resource(msg);
    case CTX_SUBMIT_CMD: return submit_cmd(msg);
    case CTX_SUBMIT_FENCE: return submit_fence(msg);
    }
    return {};
}

std::string RenderContext::init(std::span<const uint8_t> msg, std::vector<transport::UniqueFd>& fds) {
    if (ctx_) return "a second INIT";
    const uint32_t flags = load<uint32_t>(msg, 4);
    const uint64_t shmem_size = load<uint64_t>(msg, 8);
    if (fds.empty()) return "INIT without the fence page";
    if ((flags & 0xff) != vtest::kCapsetVenus || (flags & ~0xffu))
        return fmt::format("INIT with context flags 0x{:x}: only Venus contexts (capset {}) are served", flags,
                           vtest::kCapsetVenus);
    try {
        fences_ = std::make_shared<FencePage>(std::move(fds[0]), shmem_size,
                                              fds.size() > 1 ? std::move(fds[1]) : transport::UniqueFd{});
    } catch (const std::exception& e) {
        return fmt::format("INIT: {}", e.what());
    }
    const uint32_t wire_format =
        options_.wire_format.value_or(options_.generation == render::Generation::V0_10 ? 0 : 1);
    ctx_ = renderer_.create_context(options_.ctx_id, options_.name, wire_format);
    ctx_->set_resource_barrier([this] { catch_up(); });
    log::info("ctx {} ({}): Venus context for a virglrenderer {} proxy, wire format {}{}, {} timelines{}",
              options_.ctx_id, options_.name, generation_name(options_.generation), wire_format,
              options_.wire_format ? " (forced)" : "", fences_->timelines(), fds.size() > 1 ? ", eventfd" : "");
    return {};
}

void RenderContext::note_progress(bool in_handle, bool done) {
    {
        std::lock_guard lock(progress_mutex_);
        if (!in_handle) ++handled_;
        in_handle_ = in_handle;
        run_done_ = run_done_ || done;
    }
    progress_cv_.notify_all();
}

// A VMM sends IMPORT_RESOURCE (or CREATE_RESOURCE) on the context socket before the guest's
// command naming the resource can reach a ring, but the ring thread may read that command
// first. Anything still queued on the socket, or being applied, is waited for; at most a
// second in all, so a run() stuck in a long command cannot stall the ring for longer.
void RenderContext::catch_up() {
    if (std::this_thread::get_id() == run_thread_) return;  // SUBMIT_CMD: in order already
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    std::unique_lock lock(progress_mutex_);
    while (!run_done_) {
        pollfd p{socket_.fd(), POLLIN, 0};
        const bool queued = ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
        if (!queued && !in_handle_) return;
        const uint64_t seen = handled_;
        if (!progress_cv_.wait_until(lock, deadline, [&] { return handled_ != seen || run_done_; })) return;
    }
}

void RenderContext::reply_create_resource(int32_t fd_type, uint32_t map_info, int fd) {
    uint8_t reply[56] = {};
    const size_t size = create_resource_reply_size(options_.generation);
    store<int32_t>(reply, 0, fd_type);
    store<uint32_t>(reply, 4, map_info);
    // 1.x: vulkan_info (8..55) stays zero; it is only read for opaque fds, which are never sent
    const int fds[1] = {fd};
    socket_.send(std::span<const uint8_t>(reply, size), fd >= 0 ? std::span<const int>(fds) : std::span<const int>());
    sent_generation_specific_ = true;
}

std::string RenderContext::create_resource(std::span<const uint8_t> msg) {
    const uint32_t res_id = load<uint32_t>(msg, 4);
    const uint64_t blob_id = load<uint64_t>(msg, 8);
    const uint64_t blob_size = load<uint64_t>(msg, 16);
    const uint32_t blob_flags = load<uint32_t>(msg, 24);
    renderer::Context::Blob blob;
    std::string refused;
    if (res_id == 0) refused = "resource id 0";
    else if (resources_.count(res_id)) refused = fmt::format("resource {} exists already", res_id);
    if (refused.empty()) {
        try {
            blob = ctx_->create_blob(res_id, vtest::BLOB_TYPE_HOST3D, blob_flags, blob_id, blob_size);
        } catch (const std::exception& e) {
            refused = e.what();
        }
    }
    if (!refused.empty()) {
        // A refusal is an answer, not a broken protocol (§5.3): the proxy fails that blob only.
        log::error("ctx {} ({}): blob {} of {} bytes for resource {} refused: {}", options_.ctx_id, options_.name,
                   blob_id, blob_size, res_id, refused);
        reply_create_resource(FD_INVALID, kMapCacheNone, -1);
        return {};
    }
    std::string why_not_shm;
    const int32_t type = classify_blob_fd(blob.fd.get(), blob_size, &why_not_shm);
    if (type == FD_INVALID) {
        log::error("ctx {} ({}): resource {}: {}", options_.ctx_id, options_.name, res_id, why_not_shm);
        ctx_->destroy_resource(res_id);
        reply_create_resource(FD_INVALID, kMapCacheNone, -1);
        return {};
    }
    // A real dma-buf is cached only if its memory type is; memfds are ordinary cached memory.
    const bool real_dmabuf = type == FD_DMABUF && why_not_shm.empty();
    constexpr uint32_t kCachedCoherent = VK_MEMORY_PROPERTY_HOST_CACHED_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const bool cached = !real_dmabuf || (blob.memory_flags & kCachedCoherent) == kCachedCoherent;
    const uint32_t map_info = !(blob_flags & kBlobFlagMappable) ? kMapCacheNone : cached ? kMapCacheCached : kMapCacheWc;
    if (type != FD_SHM)
        log::debug("ctx {}: resource {} offered as a dma-buf{}{}", options_.ctx_id, res_id,
                   why_not_shm.empty() ? "" : " (an fd that maps like one: ", why_not_shm.empty() ? "" : why_not_shm + ")");
    reply_create_resource(type, map_info, blob.fd.get());
    resources_[res_id] = {type};
    log::debug("ctx {}: resource {} ({} bytes, blob {}) answered as {}", options_.ctx_id, res_id, blob_size, blob_id,
               fd_type_name(type));
    return {};
}

std::string RenderContext::import_resource(std::span<const uint8_t> msg, std::vector<transport::UniqueFd>& fds) {
    const uint32_t res_id = load<uint32_t>(msg, 4);
    const int32_t fd_type = load<int32_t>(msg, 8);
    const uint64_t size = load<uint64_t>(msg, 16);
    if (fds.size() != 1) return "IMPORT_RESOURCE without its fd";
    if (size == 0) return fmt::format("IMPORT_RESOURCE of resource {} with size 0", res_id);
    if (fd_type != FD_DMABUF && fd_type != FD_SHM && fd_type != FD_OPAQUE)
        return fmt::format("IMPORT_RESOURCE of resource {} with fd type {}", res_id, fd_type);
    if (res_id == 0 || resources_.count(res_id)) {
        log::error("ctx {} ({}): IMPORT_RESOURCE of resource {}, which exists already or is 0: ignored",
                   options_.ctx_id, options_.name, res_id);
        return {};
    }
    try {
        ctx_->import_resource(res_id, std::move(fds[0]), size);
        resources_[res_id] = {fd_type};
        log::debug("ctx {}: resource {} imported ({} bytes, {})", options_.ctx_id, res_id, size, fd_type_name(fd_type));
    } catch (const std::exception& e) {
        // Not a protocol error: the resource stays unknown, and a command that uses it says so.
        log::error("ctx {} ({}): import of resource {} ({}, {} bytes) failed: {}", options_.ctx_id, options_.name,
                   res_id, fd_type_name(fd_type), size, e.what());
    }
    return {};
}

std::string RenderContext::destroy_resource(std::span<const uint8_t> msg) {
    const uint32_t res_id = load<uint32_t>(msg, 4);
    if (resources_.erase(res_id)) ctx_->destroy_resource(res_id);
    else log::debug("ctx {}: DESTROY_RESOURCE of unknown resource {}", options_.ctx_id, res_id);
    return {};
}

std::string RenderContext::submit_cmd(std::span<const uint8_t> msg) {
    const Generation g = options_.generation;
    const uint64_t size = g == Generation::V0_10 ? load<uint64_t>(msg, 8) : load<uint32_t>(msg, 4);
    if (size == 0) return "SUBMIT_CMD of 0 bytes";
    if (size > kMaxSubmitBytes) return fmt::format("SUBMIT_CMD of {} bytes (at most {})", size, kMaxSubmitBytes);
    std::vector<uint8_t> bytes(size);
    const size_t inline_bytes = std::min<uint64_t>(size, kSubmitCmdInline);
    std::memcpy(bytes.data(), msg.data() + submit_cmd_data_offset(g), inline_bytes);
    if (size > kSubmitCmdInline) {
        // the rest comes as one datagram of exactly that size; its size is checked before we take it
        const size_t tail = socket_.peek_size();
        if (tail != size - kSubmitCmdInline)
            return fmt::format("SUBMIT_CMD of {} bytes continued by {} bytes (expected {})", size, tail,
                               size - kSubmitCmdInline);
        transport::SeqpacketSocket::Message m = socket_.recv(std::span<uint8_t>(bytes).subspan(kSubmitCmdInline));
        if (!m.fds.empty()) return "SUBMIT_CMD continuation with file descriptors";
        if (m.size != tail) return fmt::format("SUBMIT_CMD continuation of {} bytes (expected {})", m.size, tail);
    }
    ++submits_;
    const bool ok = ctx_->submit_commands(bytes);  // false: the context is fatal, its reason logged
    if (g == Generation::V0_10) {
        const uint8_t reply = ok ? 1 : 0;
        socket_.send(std::span<const uint8_t>(&reply, 1));
        sent_generation_specific_ = true;
    }
    return {};
}

std::string RenderContext::submit_fence(std::span<const uint8_t> msg) {
    const uint32_t flags = load<uint32_t>(msg, 4);
    const uint32_t ring = load<uint32_t>(msg, 8);
    const uint32_t seqno = load<uint32_t>(msg, 12);
    if (flags & ~kFenceFlagMergeable) return fmt::format("SUBMIT_FENCE with unknown flags 0x{:x}", flags);
    if (ring >= fences_->timelines())
        return fmt::format("SUBMIT_FENCE on timeline {} (the fence page has {})", ring, fences_->timelines());
    auto fences = fences_;
    auto retire = [fences, ring, seqno](uint64_t) { fences->retire(ring, seqno); };
    // A fatal context retires at once: its guest learns of the loss from its rings, and the VMM
    // must not wait for work that will never run.
    if (ctx_->is_fatal() || !ctx_->submit_fence(ring, seqno, retire)) fences->retire(ring, seqno);
    return {};
}

}  // namespace venus::server
