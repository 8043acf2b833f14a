#include "transport/error.h"

#include <cerrno>
#include <system_error>

#include <fmt/format.h>

namespace venus::transport {

std::string errno_message(const std::string& what) {
    const int err = errno;  // before anything below can change it
    return fmt::format("{}: {}", what, std::generic_category().message(err));
}

}  // namespace venus::transport
