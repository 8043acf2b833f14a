// UniqueFd, errno messages, UnixSocket (byte streams and vtest-style fd passing) and
// UnixListener, all over real sockets: socketpair and a listener under a temporary directory.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "transport/error.h"
#include "transport/shared_memory.h"
#include "transport/socket.h"
#include "transport/unique_fd.h"

namespace venus::transport {
namespace {

using namespace std::chrono_literals;

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0 || errno != EBADF; }
bool fd_is_cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    uint32_t x = seed | 1;
    for (auto& b : v) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<uint8_t>(x);
    }
    return v;
}

std::pair<UniqueFd, UniqueFd> make_pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    return {UniqueFd{p[0]}, UniqueFd{p[1]}};
}

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string tmpl = "/tmp/venus-transport-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

bool is_socket_file(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// Installs a handler for `sig` without SA_RESTART (so blocking calls fail with EINTR) and
// restores the previous disposition when it goes away.
class ScopedSignalHandler {
public:
    ScopedSignalHandler(int sig, void (*handler)(int)) : sig_(sig) {
        struct sigaction sa {};
        sa.sa_handler = handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        ::sigaction(sig_, &sa, &old_);
    }
    ~ScopedSignalHandler() { ::sigaction(sig_, &old_, nullptr); }

private:
    int sig_;
    struct sigaction old_ {};
};

std::atomic<int> g_signal_count{0};
void count_signal(int) { g_signal_count.fetch_add(1, std::memory_order_relaxed); }

// Sends SIGUSR1 to `thread` a number of times with small pauses, so that a blocking call in it
// gets interrupted at least once in practice.
void pester(pthread_t thread, int times = 20) {
    for (int i = 0; i < times; ++i) {
        ::pthread_kill(thread, SIGUSR1);
        std::this_thread::sleep_for(2ms);
    }
}

// ---------------------------------------------------------------------------------------------
// UniqueFd and errors

TEST(TransportUniqueFd, ClosesOnDestructionAndReset) {
    auto [r, w] = make_pipe();
    const int rfd = r.get();
    const int wfd = w.release();
    {
        UniqueFd owned{wfd};
        EXPECT_TRUE(owned.valid());
        EXPECT_TRUE(fd_is_open(wfd));
    }
    EXPECT_FALSE(fd_is_open(wfd));
    r.reset();
    EXPECT_FALSE(r.valid());
    EXPECT_FALSE(fd_is_open(rfd));
}

TEST(TransportUniqueFd, MoveTransfersOwnership) {
    auto [r, w] = make_pipe();
    const int fd = r.get();
    UniqueFd moved{std::move(r)};
    EXPECT_FALSE(r.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    EXPECT_EQ(moved.get(), fd);
    UniqueFd assigned;
    assigned = std::move(moved);
    EXPECT_FALSE(moved.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(assigned.get(), fd);
    EXPECT_TRUE(fd_is_open(fd));
    // Assigning over a valid fd closes the old one.
    const int wfd = w.get();
    assigned = std::move(w);
    EXPECT_FALSE(fd_is_open(fd));
    EXPECT_EQ(assigned.get(), wfd);
}

TEST(TransportUniqueFd, DupIsIndependentAndCloexec) {
    auto [r, w] = make_pipe();
    UniqueFd d = w.dup();
    ASSERT_TRUE(d.valid());
    EXPECT_NE(d.get(), w.get());
    EXPECT_TRUE(fd_is_cloexec(d.get()));
    w.reset();
    ASSERT_EQ(::write(d.get(), "x", 1), 1);  // the dup still refers to the pipe
    char c = 0;
    ASSERT_EQ(::read(r.get(), &c, 1), 1);
    EXPECT_EQ(c, 'x');
    EXPECT_FALSE(UniqueFd{}.dup().valid());
}

TEST(TransportError, ErrnoMessageNamesWhatAndReason) {
    errno = ENOENT;
    EXPECT_EQ(errno_message("open /nowhere"), "open /nowhere: No such file or directory");
    errno = EPIPE;
    EXPECT_EQ(errno_message("send"), "send: Broken pipe");
}

TEST(TransportError, PeerClosedIsATransportError) {
    try {
        throw PeerClosed("peer closed the connection");
    } catch (const TransportError& e) {
        EXPECT_STREQ(e.what(), "peer closed the connection");
        return;
    }
    FAIL() << "PeerClosed was not caught as TransportError";
}

// ---------------------------------------------------------------------------------------------
// UnixSocket: byte streams

TEST(TransportSocket, PairIsCloexecAndRoundTrips) {
    auto [a, b] = UnixSocket::pair();
    ASSERT_TRUE(a.valid());
    ASSERT_TRUE(b.valid());
    EXPECT_TRUE(fd_is_cloexec(a.fd()));
    EXPECT_TRUE(fd_is_cloexec(b.fd()));

    const std::vector<uint8_t> out = pattern(100, 1);
    a.send_all(out);
    std::vector<uint8_t> in(out.size());
    b.recv_exact(in);
    EXPECT_EQ(in, out);

    // And the other direction, in pieces that do not match the writes.
    b.send_all(std::span(out).first(30));
    b.send_all(std::span(out).subspan(30));
    std::vector<uint8_t> part1(70), part2(30);
    a.recv_exact(part1);
    a.recv_exact(part2);
    EXPECT_TRUE(std::equal(part1.begin(), part1.end(), out.begin()));
    EXPECT_TRUE(std::equal(part2.begin(), part2.end(), out.begin() + 70));

    // Empty transfers are no-ops.
    a.send_all({});
    b.recv_exact({});
    EXPECT_FALSE(b.wait_readable(0));
}

TEST(TransportSocket, LargePayloadRoundTrip) {
    auto [a, b] = UnixSocket::pair();
    const std::vector<uint8_t> out = pattern(16u << 20, 7);  // far beyond the socket buffer
    auto sender = std::async(std::launch::async, [&a = a, &out] { a.send_all(out); });
    std::vector<uint8_t> in(out.size());
    b.recv_exact(in);
    sender.get();
    EXPECT_TRUE(in == out);
}

TEST(TransportSocket, EofThrowsPeerClosed) {
    auto [a, b] = UnixSocket::pair();
    a.close();
    EXPECT_FALSE(a.valid());
    std::array<uint8_t, 8> buf{};
    try {
        b.recv_exact(buf);
        FAIL() << "recv_exact returned after EOF";
    } catch (const PeerClosed& e) {
        EXPECT_NE(std::string(e.what()).find("closed the connection"), std::string::npos) << e.what();
    }
}

TEST(TransportSocket, EofInTheMiddleOfAReadThrowsPeerClosed) {
    auto [a, b] = UnixSocket::pair();
    const std::array<uint8_t, 3> three{1, 2, 3};
    a.send_all(three);
    a.close();
    std::array<uint8_t, 8> buf{};
    try {
        b.recv_exact(buf);
        FAIL() << "recv_exact returned after a short read and EOF";
    } catch (const PeerClosed& e) {
        EXPECT_NE(std::string(e.what()).find("3 of 8"), std::string::npos) << e.what();
    }
}

std::atomic<int> g_sigpipe_count{0};
void count_sigpipe(int) { g_sigpipe_count.fetch_add(1); }

TEST(TransportSocket, SendToClosedPeerThrowsPeerClosedWithoutSigpipe) {
    ScopedSignalHandler handler(SIGPIPE, count_sigpipe);
    g_sigpipe_count = 0;
    auto [a, b] = UnixSocket::pair();
    b.close();
    const std::vector<uint8_t> data(1 << 16, 0xab);
    EXPECT_THROW(a.send_all(data), PeerClosed);
    EXPECT_THROW(a.send_fd(a.fd()), PeerClosed);
    EXPECT_EQ(g_sigpipe_count.load(), 0) << "send raised SIGPIPE (missing MSG_NOSIGNAL)";
}

TEST(TransportSocket, RecvExactRetriesWhenInterruptedBySignals) {
    ScopedSignalHandler handler(SIGUSR1, count_signal);
    g_signal_count = 0;
    auto [a, b] = UnixSocket::pair();
    std::promise<pthread_t> self;
    auto reader = std::async(std::launch::async, [&b = b, &self] {
        self.set_value(::pthread_self());
        std::array<uint8_t, 4> buf{};
        b.recv_exact(buf);
        return buf;
    });
    pester(self.get_future().get());
    const std::array<uint8_t, 4> out{9, 8, 7, 6};
    a.send_all(out);
    EXPECT_EQ(reader.get(), out);
    EXPECT_GT(g_signal_count.load(), 0);
}

TEST(TransportSocket, WaitReadable) {
    auto [a, b] = UnixSocket::pair();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(b.wait_readable(50));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);
    const std::array<uint8_t, 1> one{42};
    a.send_all(one);
    EXPECT_TRUE(b.wait_readable(0));
    EXPECT_TRUE(b.wait_readable(-1));
    std::array<uint8_t, 1> in{};
    b.recv_exact(in);
    EXPECT_FALSE(b.wait_readable(0));
    a.close();
    EXPECT_TRUE(b.wait_readable(1000));  // hang-up is "readable": the next read reports EOF
    EXPECT_THROW(b.recv_exact(in), PeerClosed);
}

TEST(TransportSocket, ClosedSocketOperationsThrow) {
    UnixSocket s;
    EXPECT_FALSE(s.valid());
    std::array<uint8_t, 1> buf{};
    EXPECT_THROW(s.send_all(buf), TransportError);
    EXPECT_THROW(s.recv_exact(buf), TransportError);
    EXPECT_THROW(s.send_fd(0), TransportError);
    EXPECT_THROW(s.recv_fd(), TransportError);
    EXPECT_THROW(s.wait_readable(0), TransportError);
    EXPECT_EQ(s.peer_pid(), -1);
}

TEST(TransportSocket, PeerPidIsThisProcess) {
    auto [a, b] = UnixSocket::pair();
    EXPECT_EQ(a.peer_pid(), ::getpid());
    EXPECT_EQ(b.peer_pid(), ::getpid());
}

// ---------------------------------------------------------------------------------------------
// fd passing (vtest: a 1-byte dummy payload carrying one SCM_RIGHTS fd)

TEST(TransportFdPassing, MemfdIsSharedThroughTheSocket) {
    auto [a, b] = UnixSocket::pair();
    SharedMemory mine = SharedMemory::create("venus-test-fdpass", 8192);
    a.send_fd(mine.fd());

    UniqueFd received = b.recv_fd();
    ASSERT_TRUE(received.valid());
    EXPECT_NE(received.get(), mine.fd());
    EXPECT_TRUE(fd_is_cloexec(received.get())) << "recv_fd must use MSG_CMSG_CLOEXEC";
    EXPECT_FALSE(b.wait_readable(0)) << "recv_fd must consume exactly the 1-byte payload";

    SharedMemory theirs = SharedMemory::map(std::move(received), mine.size());
    std::memcpy(mine.data() + 100, "hello", 5);
    EXPECT_EQ(std::memcmp(theirs.data() + 100, "hello", 5), 0);
    theirs.data()[mine.size() - 1] = 0x5a;
    EXPECT_EQ(mine.data()[mine.size() - 1], 0x5a);
}

TEST(TransportFdPassing, OnTheWireItIsOneZeroByte) {
    auto [a, b] = UnixSocket::pair();
    auto [r, w] = make_pipe();
    a.send_fd(r.get());
    // A plain read sees the in-band dummy: exactly one byte of value 0 (the fd is dropped).
    std::array<uint8_t, 16> buf{};
    const ssize_t n = ::recv(b.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
    ASSERT_EQ(n, 1);
    EXPECT_EQ(buf[0], 0);
}

TEST(TransportFdPassing, InterleavesWithOrdinaryData) {
    auto [a, b] = UnixSocket::pair();
    SharedMemory first = SharedMemory::create("venus-test-first", 4096);
    SharedMemory second = SharedMemory::create("venus-test-second", 4096);
    first.data()[0] = 1;
    second.data()[0] = 2;

    // Like a vtest reply: header words, then the fd; then another reply and fd, then data.
    const std::vector<uint8_t> h1 = pattern(12, 3), h2 = pattern(8, 4), tail = pattern(1000, 5);
    a.send_all(h1);
    a.send_fd(first.fd());
    a.send_all(h2);
    a.send_fd(second.fd());
    a.send_all(tail);

    std::vector<uint8_t> in1(h1.size()), in2(h2.size()), in3(tail.size());
    b.recv_exact(in1);
    SharedMemory m1 = SharedMemory::map(b.recv_fd(), 4096);
    b.recv_exact(in2);
    SharedMemory m2 = SharedMemory::map(b.recv_fd(), 4096);
    b.recv_exact(in3);
    EXPECT_EQ(in1, h1);
    EXPECT_EQ(in2, h2);
    EXPECT_EQ(in3, tail);
    EXPECT_EQ(m1.data()[0], 1);
    EXPECT_EQ(m2.data()[0], 2);
    EXPECT_FALSE(b.wait_readable(0));
}

TEST(TransportFdPassing, MissingFdIsAnError) {
    auto [a, b] = UnixSocket::pair();
    const std::array<uint8_t, 1> dummy{0};
    a.send_all(dummy);  // the byte without an fd
    try {
        (void)b.recv_fd();
        FAIL() << "recv_fd returned without an fd";
    } catch (const PeerClosed&) {
        FAIL() << "a missing fd is not a closed peer";
    } catch (const TransportError& e) {
        EXPECT_NE(std::string(e.what()).find("expected a file descriptor"), std::string::npos)
            << e.what();
    }
}

TEST(TransportFdPassing, EofWhileExpectingFdThrowsPeerClosed) {
    auto [a, b] = UnixSocket::pair();
    a.close();
    EXPECT_THROW((void)b.recv_fd(), PeerClosed);
}

TEST(TransportFdPassing, ExtraFdsAreClosed) {
    auto [a, b] = UnixSocket::pair();
    auto [keep_r, keep_w] = make_pipe();
    auto [extra_r, extra_w] = make_pipe();

    // Hand-made message with two fds on the dummy byte: the one to keep and an extra.
    uint8_t byte = 0;
    iovec iov{&byte, 1};
    union {
        cmsghdr align;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    const int fds[2] = {keep_w.get(), extra_w.get()};
    std::memcpy(CMSG_DATA(c), fds, sizeof(fds));
    ASSERT_EQ(::sendmsg(a.fd(), &msg, MSG_NOSIGNAL), 1);
    keep_w.reset();
    extra_w.reset();

    UniqueFd got = b.recv_fd();
    ASSERT_TRUE(got.valid());
    ASSERT_EQ(::write(got.get(), "k", 1), 1);  // the first fd is the one returned
    char ch = 0;
    ASSERT_EQ(::read(keep_r.get(), &ch, 1), 1);
    EXPECT_EQ(ch, 'k');
    // The only remaining write end of the extra pipe was the received copy: if recv_fd closed
    // it, the read end sees EOF instead of blocking.
    ASSERT_EQ(::fcntl(extra_r.get(), F_SETFL, O_NONBLOCK), 0);
    EXPECT_EQ(::read(extra_r.get(), &ch, 1), 0) << "the extra fd was leaked";
}

TEST(TransportFdPassing, InvalidFdIsRejected) {
    auto [a, b] = UnixSocket::pair();
    EXPECT_THROW(a.send_fd(-1), TransportError);
    EXPECT_FALSE(b.wait_readable(0));  // nothing went out
}

// ---------------------------------------------------------------------------------------------
// UnixListener

TEST(TransportListener, AcceptAndTalk) {
    TempDir dir;
    const std::string path = dir.file("vtest.sock");
    UnixListener listener = UnixListener::listen(path);
    EXPECT_EQ(listener.path(), path);
    EXPECT_TRUE(is_socket_file(path));
    EXPECT_TRUE(fd_is_cloexec(listener.fd()));

    UnixSocket client = UnixSocket::connect(path);
    UnixSocket server = listener.accept();
    ASSERT_TRUE(server.valid());
    EXPECT_TRUE(fd_is_cloexec(server.fd()));
    EXPECT_EQ(server.peer_pid(), ::getpid());

    const std::vector<uint8_t> ping = pattern(64, 11);
    client.send_all(ping);
    std::vector<uint8_t> got(ping.size());
    server.recv_exact(got);
    EXPECT_EQ(got, ping);

    // The accepted socket blocks (the listener's non-blocking mode is not inherited): a read
    // waits for data from another thread instead of failing with EAGAIN.
    auto later = std::async(std::launch::async, [&client] {
        std::this_thread::sleep_for(20ms);
        const std::array<uint8_t, 2> two{1, 2};
        client.send_all(two);
    });
    std::array<uint8_t, 2> two{};
    server.recv_exact(two);
    later.get();
    EXPECT_EQ(two[1], 2);
}

TEST(TransportListener, SeveralClientsInTurn) {
    TempDir dir;
    UnixListener listener = UnixListener::listen(dir.file("s"));
    for (uint8_t i = 0; i < 5; ++i) {
        UnixSocket client = UnixSocket::connect(listener.path());
        const std::array<uint8_t, 1> id{i};
        client.send_all(id);
        UnixSocket server = listener.accept();
        std::array<uint8_t, 1> got{};
        server.recv_exact(got);
        EXPECT_EQ(got[0], i);
    }
}

TEST(TransportListener, WakeUnblocksAcceptFromAnotherThread) {
    TempDir dir;
    UnixListener listener = UnixListener::listen(dir.file("s"));
    auto acceptor = std::async(std::launch::async, [&listener] { return listener.accept(); });
    EXPECT_EQ(acceptor.wait_for(100ms), std::future_status::timeout) << "accept did not block";
    listener.wake();
    if (acceptor.wait_for(5s) != std::future_status::ready) {
        UnixSocket unblock = UnixSocket::connect(listener.path());  // so the test can end
        acceptor.get();
        FAIL() << "wake() did not unblock accept()";
    }
    EXPECT_FALSE(acceptor.get().valid());
    // Sticky: shutting down stays shut down, even with a client waiting.
    UnixSocket client = UnixSocket::connect(listener.path());
    EXPECT_FALSE(listener.accept().valid());
}

UnixListener* g_listener_to_wake = nullptr;
void wake_listener(int) { g_listener_to_wake->wake(); }

TEST(TransportListener, WakeFromASignalHandler) {
    TempDir dir;
    UnixListener listener = UnixListener::listen(dir.file("s"));
    g_listener_to_wake = &listener;
    ScopedSignalHandler handler(SIGUSR2, wake_listener);
    std::promise<pthread_t> self;
    auto acceptor = std::async(std::launch::async, [&listener, &self] {
        self.set_value(::pthread_self());
        return listener.accept();
    });
    const pthread_t thread = self.get_future().get();
    std::this_thread::sleep_for(30ms);
    ::pthread_kill(thread, SIGUSR2);
    if (acceptor.wait_for(5s) != std::future_status::ready) {
        UnixSocket unblock = UnixSocket::connect(listener.path());
        acceptor.get();
        FAIL() << "wake() from a signal handler did not unblock accept()";
    }
    EXPECT_FALSE(acceptor.get().valid());
    g_listener_to_wake = nullptr;
}

TEST(TransportListener, AcceptRetriesWhenInterruptedBySignals) {
    ScopedSignalHandler handler(SIGUSR1, count_signal);
    g_signal_count = 0;
    TempDir dir;
    UnixListener listener = UnixListener::listen(dir.file("s"));
    std::promise<pthread_t> self;
    auto acceptor = std::async(std::launch::async, [&listener, &self] {
        self.set_value(::pthread_self());
        return listener.accept();
    });
    pester(self.get_future().get());
    UnixSocket client = UnixSocket::connect(listener.path());
    UnixSocket server = acceptor.get();
    EXPECT_TRUE(server.valid()) << "a signal made accept() return as if woken";
    EXPECT_GT(g_signal_count.load(), 0);
}

TEST(TransportListener, ReplacesStaleSocketFile) {
    TempDir dir;
    const std::string path = dir.file("stale.sock");
    {
        // A server that died without cleaning up leaves its socket file behind.
        UniqueFd s{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, path.c_str());
        ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    }
    ASSERT_TRUE(is_socket_file(path));
    EXPECT_THROW(UnixSocket::connect(path), TransportError);  // nobody listens: stale

    UnixListener listener = UnixListener::listen(path);
    UnixSocket client = UnixSocket::connect(path);
    EXPECT_TRUE(listener.accept().valid());
}

// The socket file appears only once the socket listens: a client that waits for the path and
// then connects is never refused (a server that binds the final path and then listens has a
// window in which the file exists and connect fails with ECONNREFUSED; seen in CI).
TEST(TransportListener, PathAppearsOnlyWhenItAccepts) {
    TempDir dir;
    const std::string path = dir.file("fresh.sock");
    for (int round = 0; round < 2000; ++round) {
        std::atomic<int> result{0};  // 0 waiting, 1 connected, -1 refused
        std::thread watcher([&] {
            struct stat st {};
            while (::lstat(path.c_str(), &st) != 0) {
            }
            try {
                UnixSocket c = UnixSocket::connect(path);
                result = 1;
            } catch (const TransportError&) {
                result = -1;
            }
        });
        {
            UnixListener listener = UnixListener::listen(path);
            while (result == 0) std::this_thread::yield();
        }
        watcher.join();
        ASSERT_EQ(result, 1) << "round " << round << ": the path existed before the socket listened";
        ASSERT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 0)
            << "a temporary socket name was left behind";
    }
}

TEST(TransportListener, RefusesToReplaceANonSocket) {
    TempDir dir;
    const std::string path = dir.file("precious.txt");
    std::ofstream(path) << "keep me";
    try {
        (void)UnixListener::listen(path);
        FAIL() << "listen replaced a regular file";
    } catch (const TransportError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
    std::ifstream in(path);
    std::string content;
    std::getline(in, content);
    EXPECT_EQ(content, "keep me");
}

TEST(TransportListener, TooLongPathIsNamedInTheError) {
    const std::string path = "/tmp/" + std::string(200, 'x') + ".sock";
    for (int side = 0; side < 2; ++side) {
        try {
            if (side == 0)
                (void)UnixListener::listen(path);
            else
                (void)UnixSocket::connect(path);
            FAIL() << "a " << path.size() << "-byte socket path was accepted";
        } catch (const TransportError& e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("too long"), std::string::npos) << e.what();
        }
    }
    // The longest path that fits (107 bytes plus the NUL) works.
    TempDir dir;
    std::string longest = dir.file("");
    longest += std::string(sizeof(sockaddr_un::sun_path) - 1 - longest.size(), 'y');
    ASSERT_EQ(longest.size(), sizeof(sockaddr_un::sun_path) - 1);
    UnixListener listener = UnixListener::listen(longest);
    UnixSocket client = UnixSocket::connect(longest);
    EXPECT_TRUE(listener.accept().valid());
}

TEST(TransportListener, ConnectErrorNamesThePath) {
    TempDir dir;
    const std::string path = dir.file("nobody-here");
    try {
        (void)UnixSocket::connect(path);
        FAIL() << "connect to a missing socket succeeded";
    } catch (const TransportError& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
    }
}

TEST(TransportListener, DestructorUnlinksThePath) {
    TempDir dir;
    const std::string path = dir.file("s");
    {
        UnixListener listener = UnixListener::listen(path);
        EXPECT_TRUE(is_socket_file(path));
    }
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TransportListener, MoveKeepsThePathUntilTheLastOwnerGoes) {
    TempDir dir;
    const std::string path = dir.file("s");
    UnixListener outer;
    {
        UnixListener inner = UnixListener::listen(path);
        UnixListener moved{std::move(inner)};
        outer = std::move(moved);
    }  // the moved-from listeners must not unlink
    EXPECT_TRUE(is_socket_file(path));
    EXPECT_EQ(outer.path(), path);
    UnixSocket client = UnixSocket::connect(path);
    EXPECT_TRUE(outer.accept().valid());

    // Assigning over a live listener retires it (and its file).
    const std::string other = dir.file("t");
    outer = UnixListener::listen(other);
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_TRUE(is_socket_file(other));
}

TEST(TransportListener, DestructorLeavesASuccessorsSocketAlone) {
    TempDir dir;
    const std::string path = dir.file("s");
    auto first = std::make_unique<UnixListener>(UnixListener::listen(path));
    UnixListener second = UnixListener::listen(path);  // replaces first's file
    first.reset();
    EXPECT_TRUE(is_socket_file(path)) << "the old listener unlinked the new listener's socket";
    UnixSocket client = UnixSocket::connect(path);
    EXPECT_TRUE(second.accept().valid());
}

TEST(TransportListener, DefaultListenerCannotAccept) {
    UnixListener none;
    none.wake();  // harmless
    EXPECT_THROW(none.accept(), TransportError);
}

}  // namespace
}  // namespace venus::transport
