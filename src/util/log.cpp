#include "util/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <string>

namespace venus::log {

void init(const char* program, int verbose) {
    auto logger = spdlog::stderr_color_mt(program);
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %n %^%l%$ %v");
    spdlog::set_default_logger(logger);
    spdlog::level::level_enum level = spdlog::level::info;
    if (const char* env = std::getenv("VENUS_LOG")) level = spdlog::level::from_str(env);
    if (verbose >= 2) level = spdlog::level::trace;
    else if (verbose == 1 && level > spdlog::level::debug) level = spdlog::level::debug;
    spdlog::set_level(level);
    spdlog::flush_on(spdlog::level::warn);
}

}  // namespace venus::log
