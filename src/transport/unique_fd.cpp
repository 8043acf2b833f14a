#include "transport/unique_fd.h"

#include <fcntl.h>

namespace venus::transport {

UniqueFd UniqueFd::duplicate(int fd) {
    if (fd < 0) return UniqueFd{};
    return UniqueFd{::fcntl(fd, F_DUPFD_CLOEXEC, 0)};
}

}  // namespace venus::transport
