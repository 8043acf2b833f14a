// SharedMemory over real memfds: creation, mapping an fd from "the other side", short files,
// sealing.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "transport/error.h"
#include "transport/shared_memory.h"

namespace venus::transport {
namespace {

off_t file_size(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return -1;
    return st.st_size;
}

// A memfd as a peer might hand it to us, of exactly `size` bytes.
UniqueFd raw_memfd(size_t size, unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING) {
    UniqueFd fd{::memfd_create("venus-test-raw", flags)};
    if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
        throw std::runtime_error("memfd");
    return fd;
}

UniqueFd dup_of(int fd) { return UniqueFd{::fcntl(fd, F_DUPFD_CLOEXEC, 0)}; }

std::string fmt_proc_fd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string error_of(auto&& fn) {
    try {
        fn();
    } catch (const TransportError& e) {
        return e.what();
    }
    return "";
}

TEST(TransportSharedMemory, PageSizeAndAlignUp) {
    const size_t page = page_size();
    EXPECT_EQ(page, static_cast<size_t>(::sysconf(_SC_PAGESIZE)));
    EXPECT_EQ(align_up(0, page), 0u);
    EXPECT_EQ(align_up(1, page), page);
    EXPECT_EQ(align_up(page, page), page);
    EXPECT_EQ(align_up(page + 1, page), 2 * page);
    EXPECT_EQ(align_up(13, 4), 16u);
}

TEST(TransportSharedMemory, CreateGivesZeroedPageRoundedSharedMapping) {
    const size_t page = page_size();
    SharedMemory m = SharedMemory::create("venus-test-create", 100);
    ASSERT_TRUE(m.valid());
    EXPECT_EQ(m.size(), page);
    EXPECT_EQ(file_size(m.fd()), 100);  // the file is exactly as large as asked (render-server SHM)
    EXPECT_TRUE(::fcntl(m.fd(), F_GETFD) & FD_CLOEXEC);
    for (size_t i = 0; i < m.size(); ++i) ASSERT_EQ(m.data()[i], 0) << "byte " << i;

    // Writes through the mapping reach the file (MAP_SHARED), and are readable through the fd.
    std::memcpy(m.data() + 10, "venus", 5);
    char buf[5] = {};
    ASSERT_EQ(::pread(m.fd(), buf, 5, 10), 5);
    EXPECT_EQ(std::memcmp(buf, "venus", 5), 0);

    SharedMemory big = SharedMemory::create("venus-test-big", 3 * page + 1);
    EXPECT_EQ(big.size(), 4 * page);
    EXPECT_EQ(file_size(big.fd()), static_cast<off_t>(3 * page + 1));
    big.data()[big.size() - 1] = 1;  // the whole rounded size is mapped (the last page is backed)
}

TEST(TransportSharedMemory, CreateRejectsBadSizesAndNames) {
    EXPECT_NE(error_of([] { (void)SharedMemory::create("venus-test-zero", 0); }).find("size is 0"),
              std::string::npos);
    const std::string huge =
        error_of([] { (void)SharedMemory::create("venus-test-huge", std::numeric_limits<size_t>::max()); });
    EXPECT_NE(huge.find("too large"), std::string::npos) << huge;
    // memfd names are limited to 249 bytes; the error names the call.
    const std::string name(400, 'n');
    const std::string bad_name = error_of([&] { (void)SharedMemory::create(name, 4096); });
    EXPECT_NE(bad_name.find("memfd_create"), std::string::npos) << bad_name;
}

TEST(TransportSharedMemory, MapSharesBytesWithTheCreator) {
    SharedMemory a = SharedMemory::create("venus-test-share", 2 * page_size());
    SharedMemory b = SharedMemory::map(dup_of(a.fd()), a.size());
    ASSERT_TRUE(b.valid());
    EXPECT_EQ(b.size(), a.size());
    EXPECT_NE(b.fd(), a.fd());
    EXPECT_NE(b.data(), a.data());
    a.data()[5000] = 0x11;
    EXPECT_EQ(b.data()[5000], 0x11);
    b.data()[0] = 0x22;
    EXPECT_EQ(a.data()[0], 0x22);
}

TEST(TransportSharedMemory, MapTakesOwnershipOfTheFd) {
    UniqueFd fd = raw_memfd(4096);
    const int raw = fd.get();
    {
        SharedMemory m = SharedMemory::map(std::move(fd), 4096);
        EXPECT_EQ(m.fd(), raw);
    }
    EXPECT_EQ(::fcntl(raw, F_GETFD), -1) << "the mapped fd was not closed with the mapping";
}

TEST(TransportSharedMemory, MapRejectsAFileShorterThanTheMapping) {
    // Without the check, touching the second page would SIGBUS.
    const std::string err =
        error_of([] { (void)SharedMemory::map(raw_memfd(4096), 2 * 4096); });
    EXPECT_NE(err.find("smaller"), std::string::npos) << err;
    EXPECT_NE(err.find("4096"), std::string::npos) << err;
    EXPECT_NE(err.find("8192"), std::string::npos) << err;
    EXPECT_NE(error_of([] { (void)SharedMemory::map(raw_memfd(0), 1); }), "");
}

TEST(TransportSharedMemory, MapOfTheExactUnalignedFileSizeWorks) {
    SharedMemory m = SharedMemory::map(raw_memfd(100), 100);
    EXPECT_EQ(m.size(), 100u);
    m.data()[99] = 7;
    EXPECT_EQ(m.data()[99], 7);
}

TEST(TransportSharedMemory, MapRejectsInvalidArguments) {
    EXPECT_NE(error_of([] { (void)SharedMemory::map(UniqueFd{}, 4096); }), "");
    EXPECT_NE(error_of([] { (void)SharedMemory::map(raw_memfd(4096), 0); }), "");
    // A read-only fd cannot be mapped shared read/write: mmap's error is reported.
    UniqueFd rw = raw_memfd(4096);
    UniqueFd ro{::open(fmt_proc_fd(rw.get()).c_str(), O_RDONLY | O_CLOEXEC)};
    ASSERT_TRUE(ro.valid());
    const std::string err = error_of([&] { (void)SharedMemory::map(std::move(ro), 4096); });
    EXPECT_NE(err.find("mmap"), std::string::npos) << err;
}

TEST(TransportSharedMemory, SealPreventsResizing) {
    SharedMemory m = SharedMemory::create("venus-test-seal", 4096);
    // Before sealing a peer could shrink the file under our mapping.
    ASSERT_EQ(::ftruncate(m.fd(), 8192), 0);
    ASSERT_EQ(::ftruncate(m.fd(), 4096), 0);
    m.seal();
    const int seals = ::fcntl(m.fd(), F_GET_SEALS);
    EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_SHRINK | F_SEAL_GROW);
    EXPECT_EQ(::ftruncate(m.fd(), 0), -1);
    EXPECT_EQ(errno, EPERM);
    EXPECT_EQ(::ftruncate(m.fd(), 2 * 4096), -1);
    EXPECT_EQ(errno, EPERM);
    EXPECT_EQ(file_size(m.fd()), 4096);
    // Writing through the mapping is still allowed, and sealing again is harmless.
    m.data()[0] = 1;
    EXPECT_NO_THROW(m.seal());
    // A different fd for the same file sees the seals as well.
    UniqueFd other = dup_of(m.fd());
    EXPECT_EQ(::ftruncate(other.get(), 0), -1);
    // virglrenderer's proxy seals SHM fds itself (F_SEAL_SEAL among them) and refuses an fd on
    // which that fails; and the write seal that would stop us cannot be taken while we map it.
    EXPECT_EQ(::fcntl(other.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW), 0);
    EXPECT_EQ(::fcntl(m.fd(), F_GET_SEALS) & F_SEAL_SEAL, F_SEAL_SEAL);
    EXPECT_NO_THROW(m.seal());  // an already complete set of seals is fine
}

TEST(TransportSharedMemory, SealedMemoryCannotBeWriteSealedUnderOurMapping) {
    SharedMemory m = SharedMemory::create("venus-test-wseal", 4096);
    m.seal();
    EXPECT_EQ(::fcntl(m.fd(), F_ADD_SEALS, F_SEAL_WRITE), -1);
    EXPECT_EQ(errno, EBUSY);
    m.data()[0] = 7;
    EXPECT_EQ(m.data()[0], 7);
}

TEST(TransportSharedMemory, SealFailsWhenTheFileCanStillChangeSize) {
    // Sealed against further seals but not against shrinking: seal() must not pretend.
    UniqueFd fd = raw_memfd(4096);
    ASSERT_EQ(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL), 0);
    SharedMemory m = SharedMemory::map(std::move(fd), 4096);
    EXPECT_NE(error_of([&] { m.seal(); }), "");

    // A memfd created without MFD_ALLOW_SEALING has F_SEAL_SEAL preset.
    SharedMemory no_sealing = SharedMemory::map(raw_memfd(4096, MFD_CLOEXEC), 4096);
    EXPECT_NE(error_of([&] { no_sealing.seal(); }), "");
    // A file that does not support sealing at all (a regular file) is an error too.
    char tmpl[] = "/tmp/venus-seal-XXXXXX";
    UniqueFd file{::mkostemp(tmpl, O_CLOEXEC)};
    ASSERT_TRUE(file.valid());
    ::unlink(tmpl);
    ASSERT_EQ(::ftruncate(file.get(), 4096), 0);
    SharedMemory regular = SharedMemory::map(std::move(file), 4096);
    EXPECT_NE(error_of([&] { regular.seal(); }), "");
    // And an invalid SharedMemory cannot be sealed.
    SharedMemory none;
    EXPECT_NE(error_of([&] { none.seal(); }), "");
}

TEST(TransportSharedMemory, MoveAndReset) {
    SharedMemory a = SharedMemory::create("venus-test-move", 4096);
    uint8_t* data = a.data();
    const int fd = a.fd();
    SharedMemory b{std::move(a)};
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(b.data(), data);
    EXPECT_EQ(b.fd(), fd);

    SharedMemory c = SharedMemory::create("venus-test-move2", 4096);
    const int old_fd = c.fd();
    c = std::move(b);
    EXPECT_EQ(c.data(), data);
    EXPECT_EQ(::fcntl(old_fd, F_GETFD), -1) << "assignment leaked the old fd";

    c.reset();
    EXPECT_FALSE(c.valid());
    EXPECT_EQ(c.size(), 0u);
    EXPECT_EQ(c.fd(), -1);
    EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
}

}  // namespace
}  // namespace venus::transport
