// Regression: duplicating a descriptor someone else owns must leave the original open (an owning
// temporary used to close it, and the number was later closed again under another user).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include "transport/unique_fd.h"

namespace venus::transport {
namespace {

TEST(TransportUniqueFdDuplicate, LeavesTheOriginalOpen) {
    UniqueFd original(eventfd(0, EFD_CLOEXEC));
    ASSERT_TRUE(original.valid());
    {
        UniqueFd copy = UniqueFd::duplicate(original.get());
        ASSERT_TRUE(copy.valid());
        EXPECT_NE(copy.get(), original.get());
        EXPECT_NE(fcntl(copy.get(), F_GETFD) & FD_CLOEXEC, 0);
    }
    EXPECT_NE(fcntl(original.get(), F_GETFD), -1) << "the original descriptor was closed";
    EXPECT_FALSE(UniqueFd::duplicate(-1).valid());
}

}  // namespace
}  // namespace venus::transport
