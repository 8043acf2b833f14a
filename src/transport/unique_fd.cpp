#include "transport/unique_fd.h"

#include <fcntl.h>

namespace venus::transport {

UniqueFd UniqueFd::dup() const {
    if (fd_ < 0) return UniqueFd{};
    return UniqueFd{::fcntl(fd_, F_DUPFD_CLOEXEC, 0)};
}

}  // namespace venus::transport
