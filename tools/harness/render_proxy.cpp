#include "render_proxy.h"

#include "server_process.h"
#include "transport/error.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace venus::test {

namespace {

// The documented layouts (render-server-protocol.md §4, §5.1; LP64), written out here on their
// own: op numbers, sizes and offsets.
constexpr uint32_t kClientInit = 1, kClientReset = 2, kClientCreateContext = 3, kClientDestroyContext = 4;
constexpr uint32_t kCtxInit = 1, kCtxCreateResource = 2, kCtxImportResource = 3, kCtxDestroyResource = 4,
                   kCtxSubmitCmd = 5, kCtxSubmitFence = 6;

template <class T>
void put(std::vector<uint8_t>& b, size_t offset, T v) {
    if (b.size() < offset + sizeof(T)) b.resize(offset + sizeof(T));
    std::memcpy(b.data() + offset, &v, sizeof(T));
}
template <class T>
T get(const std::vector<uint8_t>& b, size_t offset) {
    T v{};
    if (offset + sizeof(T) <= b.size()) std::memcpy(&v, b.data() + offset, sizeof(T));
    return v;
}

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("proxy: " + what); }

}  // namespace

std::string render_server_binary() {
    if (const char* env = std::getenv("VENUS_RENDER_SERVER")) return env;
    return VENUS_RENDER_SERVER_PATH;
}

void send_datagram(int socket, const std::vector<uint8_t>& bytes, const std::vector<int>& fds) {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds.empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    const ssize_t n = sendmsg(socket, &msg, MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(bytes.size()))
        fail("sendmsg of " + std::to_string(bytes.size()) + " bytes: " + (n < 0 ? strerror(errno) : "short"));
}

std::optional<Datagram> recv_datagram(int socket, size_t max, int timeout_ms) {
    pollfd p{socket, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    Datagram d;
    d.bytes.resize(max);
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
    iovec iov{d.bytes.data(), d.bytes.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return std::nullopt;
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) fail("a reply longer than " + std::to_string(max) + " bytes");
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            d.fds.emplace_back(fd);
        }
    d.bytes.resize(static_cast<size_t>(n));
    return d;
}

bool closed_within(int socket, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        // events 0: only hang-up and errors, as the proxy's sync thread polls a context socket
        pollfd p{socket, 0, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (poll(&p, 1, std::max<int>(0, static_cast<int>(left.count()))) > 0 && (p.revents & (POLLHUP | POLLERR)))
            return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
    }
}

// ------------------------------------------------------------------------------ RenderProxy

RenderProxy::RenderProxy(ProxyGeneration generation, std::vector<std::string> args,
                         std::map<std::string, std::string> env, std::string binary)
    : gen_(generation) {
    char tmpl[] = "/tmp/venus-proxy-XXXXXX";
    if (!mkdtemp(tmpl)) fail("mkdtemp");
    dir_ = tmpl;
    log_path_ = dir_ + "/render-server.log";
    if (binary.empty()) binary = render_server_binary();
    int sv[2];
    // as the proxy does: no SOCK_CLOEXEC, the server's end is inherited through exec
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0) fail(std::string("socketpair: ") + strerror(errno));
    fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    pid_ = fork();
    if (pid_ < 0) fail("fork");
    if (pid_ == 0) {
        close(sv[0]);
        setpgid(0, 0);
        const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
            close(log);
        }
        for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        std::vector<std::string> argv_s = {binary, "--socket-fd", std::to_string(sv[1])};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : argv_s) argv.push_back(s.data());
        argv.push_back(nullptr);
        execv(binary.c_str(), argv.data());
        _exit(127);
    }
    close(sv[1]);
    client_.reset(sv[0]);
}

RenderProxy::~RenderProxy() {
    if (pid_ > 0) {
        // as proxy_server_destroy: SIGKILL and reap
        kill(pid_, SIGKILL);
        int status;
        waitpid(pid_, &status, 0);
    }
    std::remove(log_path_.c_str());
    rmdir(dir_.c_str());
}

std::string RenderProxy::log() const {
    std::ifstream f(log_path_);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

bool RenderProxy::wait_log(const std::string& needle, int timeout_ms) const {
    return wait_for_text([this] { return log(); }, needle, timeout_ms);
}

std::optional<int> RenderProxy::wait_exit(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        const pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
}

void RenderProxy::init(uint32_t flags) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, 0, kClientInit);
    put<uint32_t>(b, 4, flags);
    send_datagram(client_.get(), b);
}

transport::UniqueFd RenderProxy::create_context_socket(uint32_t ctx_id, const std::string& name) {
    std::vector<uint8_t> b(40, 0);
    put<uint32_t>(b, 0, kClientCreateContext);
    put<uint32_t>(b, 4, ctx_id);
    std::memcpy(b.data() + 8, name.data(), std::min<size_t>(name.size(), 31));
    send_datagram(client_.get(), b);
    auto reply = recv_datagram(client_.get(), 8);
    if (!reply) fail("no CREATE_CONTEXT reply");
    if (reply->bytes.size() != 1) fail("CREATE_CONTEXT reply of " + std::to_string(reply->bytes.size()) + " bytes");
    const bool ok = reply->bytes[0] != 0;
    // proxy_client_create_context: ok must equal the number of fds
    if (reply->fds.size() != (ok ? 1u : 0u)) fail("CREATE_CONTEXT reply ok and fd count disagree");
    if (!ok) return {};
    int type = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(reply->fds[0].get(), SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
        fail("the context socket is not SOCK_SEQPACKET");
    return std::move(reply->fds[0]);
}

std::unique_ptr<ProxyContext> RenderProxy::create_context(uint32_t ctx_id, const std::string& name) {
    transport::UniqueFd s = create_context_socket(ctx_id, name);
    if (!s) fail("CREATE_CONTEXT " + std::to_string(ctx_id) + " refused");
    auto ctx = std::make_unique<ProxyContext>(gen_, ctx_id, std::move(s));
    ctx->init();
    return ctx;
}

void RenderProxy::destroy_context(uint32_t ctx_id) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, 0, kClientDestroyContext);
    put<uint32_t>(b, 4, ctx_id);
    send_datagram(client_.get(), b);
}

void RenderProxy::reset() {
    std::vector<uint8_t> b;
    put<uint32_t>(b, 0, kClientReset);
    send_datagram(client_.get(), b);
}

// ------------------------------------------------------------------------------ ProxyContext

ProxyContext::ProxyContext(ProxyGeneration generation, uint32_t ctx_id, transport::UniqueFd socket)
    : gen_(generation), ctx_id_(ctx_id), socket_(std::move(socket)) {}

ProxyContext::~ProxyContext() {
    if (page_) munmap(page_, slots_ * 4);
}

void ProxyContext::init(uint32_t slots, bool eventfd) {
    // proxy_context_init_shmem: a sealed memfd "proxy-ctx" of 64 u32 slots, zeroed
    page_fd_.reset(memfd_create("proxy-ctx", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!page_fd_ || ftruncate(page_fd_.get(), slots * 4) < 0) fail("fence page memfd");
    fcntl(page_fd_.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW);
    void* p = mmap(nullptr, slots * 4, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd_.get(), 0);
    if (p == MAP_FAILED) fail("fence page mmap");
    page_ = static_cast<uint32_t*>(p);
    slots_ = slots;
    std::vector<int> fds = {page_fd_.get()};
    if (eventfd) {
        eventfd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        fds.push_back(eventfd_.get());
    }
    std::vector<uint8_t> b;
    put<uint32_t>(b, 0, kCtxInit);
    put<uint32_t>(b, 4, 4);  // capset id 4: Venus
    put<uint64_t>(b, 8, uint64_t{slots} * 4);
    send_datagram(socket_.get(), b, fds);
}

ProxyContext::CreateReply ProxyContext::create_resource(uint32_t res_id, uint64_t blob_id, uint64_t size, uint32_t flags) {
    std::vector<uint8_t> b(32, 0);
    put<uint32_t>(b, 0, kCtxCreateResource);
    put<uint32_t>(b, 4, res_id);
    put<uint64_t>(b, 8, blob_id);
    put<uint64_t>(b, 16, size);
    put<uint32_t>(b, 24, flags);
    send_datagram(socket_.get(), b);
    const size_t want = gen_ == ProxyGeneration::V0_10 ? 8 : 56;
    auto reply = recv_datagram(socket_.get(), 64);
    if (!reply) fail("no CREATE_RESOURCE reply for resource " + std::to_string(res_id));
    if (reply->bytes.size() != want)
        fail("CREATE_RESOURCE reply of " + std::to_string(reply->bytes.size()) + " bytes (expected " +
             std::to_string(want) + ")");
    CreateReply r;
    r.fd_type = get<int32_t>(reply->bytes, 0);
    r.map_info = get<uint32_t>(reply->bytes, 4);
    answered_.push_back(r.fd_type);
    if ((r.fd_type == -1) != reply->fds.empty()) fail("CREATE_RESOURCE reply: fd type and fd count disagree");
    if (r.fd_type == -1) return r;
    if (reply->fds.size() != 1) fail("CREATE_RESOURCE reply with more than one fd");
    r.fd = std::move(reply->fds[0]);
    if (r.fd_type == 2) {
        // proxy_context_get_blob's checks of an SHM fd
        if (fcntl(r.fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW) < 0)
            fail(std::string("SHM fd cannot be sealed: ") + strerror(errno));
        const int seals = fcntl(r.fd.get(), F_GET_SEALS);
        if (seals < 0 || (seals & F_SEAL_WRITE)) fail("SHM fd is write-sealed");
        const off_t end = lseek(r.fd.get(), 0, SEEK_END);
        if (end < 0 || static_cast<uint64_t>(end) != size)
            fail("SHM fd is " + std::to_string(end) + " bytes, the blob " + std::to_string(size));
    } else if (r.fd_type != 0 && r.fd_type != 1) {
        fail("CREATE_RESOURCE reply with fd type " + std::to_string(r.fd_type));
    }
    if ((flags & 1) && r.map_info == 0) fail("a mappable blob without map_info (the VMM cannot map it)");
    return r;
}

void ProxyContext::import_resource(uint32_t res_id, int32_t fd_type, int fd, uint64_t size) {
    std::vector<uint8_t> b(24, 0);
    put<uint32_t>(b, 0, kCtxImportResource);
    put<uint32_t>(b, 4, res_id);
    put<int32_t>(b, 8, fd_type);
    put<uint64_t>(b, 16, size);
    send_datagram(socket_.get(), b, {fd});
}

void ProxyContext::destroy_resource(uint32_t res_id) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, 0, kCtxDestroyResource);
    put<uint32_t>(b, 4, res_id);
    send_datagram(socket_.get(), b);
}

void ProxyContext::submit_cmd(std::span<const uint8_t> bytes) {
    // proxy_context_submit_cmd: the whole fixed struct, the first 256 bytes inline, the rest in
    // a second datagram
    const bool old = gen_ == ProxyGeneration::V0_10;
    std::vector<uint8_t> b(old ? 272 : 264, 0);
    put<uint32_t>(b, 0, kCtxSubmitCmd);
    if (old) put<uint64_t>(b, 8, bytes.size());
    else put<uint32_t>(b, 4, static_cast<uint32_t>(bytes.size()));
    const size_t inline_bytes = std::min<size_t>(bytes.size(), 256);
    std::memcpy(b.data() + (old ? 16 : 8), bytes.data(), inline_bytes);
    send_datagram(socket_.get(), b);
    if (bytes.size() > 256) send_datagram(socket_.get(), std::vector<uint8_t>(bytes.begin() + 256, bytes.end()));
    if (old) {
        auto reply = recv_datagram(socket_.get(), 8);
        if (!reply || reply->bytes.size() != 1) fail("no 1-byte SUBMIT_CMD reply");
        if (reply->bytes[0] != 1) fail("SUBMIT_CMD reply ok=0");
    }
}

void ProxyContext::submit_fence(uint32_t ring, uint32_t seqno, uint32_t flags) {
    std::vector<uint8_t> b;
    put<uint32_t>(b, 0, kCtxSubmitFence);
    put<uint32_t>(b, 4, flags);
    put<uint32_t>(b, 8, ring);
    put<uint32_t>(b, 12, seqno);
    send_datagram(socket_.get(), b);
}

uint32_t ProxyContext::fence_slot(uint32_t ring) const {
    if (ring >= slots_) return 0;
    return std::atomic_ref<uint32_t>(page_[ring]).load(std::memory_order_acquire);
}

bool ProxyContext::wait_fence(uint32_t ring, uint32_t seqno, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        // proxy_fence_is_signaled: wrap-aware
        if (static_cast<uint32_t>(fence_slot(ring) - seqno) < INT32_MAX) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        if (eventfd_) {
            pollfd p{eventfd_.get(), POLLIN, 0};
            poll(&p, 1, 10);
            uint64_t v;
            (void)!read(eventfd_.get(), &v, sizeof(v));
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
}

transport::GuestChannel::Blob ProxyContext::create_blob(uint32_t, uint32_t flags, uint64_t size, uint64_t blob_id,
                                                       bool map) {
    Blob out;
    out.res_id = next_res_id_++;
    transport::UniqueFd fd;
    if (blob_id == 0 && import_shm_) {
        fd.reset(memfd_create("vmm-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING));
        if (!fd || ftruncate(fd.get(), static_cast<off_t>(size)) < 0) fail("memfd for an imported blob");
        fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW);
        import_resource(out.res_id, 2, fd.get(), size);
    } else {
        CreateReply r = create_resource(out.res_id, blob_id, size, flags);
        if (r.fd_type == -1) throw transport::TransportError("CREATE_RESOURCE of blob " + std::to_string(blob_id) + " refused");
        fd = std::move(r.fd);
    }
    if (map) out.memory = transport::SharedMemory::map(std::move(fd), size);
    else out.fd = std::move(fd);
    return out;
}

}  // namespace venus::test
