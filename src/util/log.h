// Logging: one line per event, leveled (VENUS_LOG=trace|debug|info|warn|error|off), with the
// context id and object id in the text where there is one.
#pragma once

#include <spdlog/spdlog.h>

namespace venus::log {

// Applies VENUS_LOG (and a verbosity override from a command line) to the default logger.
void init(const char* program, int verbose = 0);

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::trace;
using spdlog::warn;

}  // namespace venus::log
