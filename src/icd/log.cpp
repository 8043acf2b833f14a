#include "icd/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace venus::icd::log {

namespace {

Level parse_level() {
    const char* v = std::getenv("VENUS_LOG");
    if (!v || !*v) return Level::Warn;
    if (!std::strcmp(v, "trace") || !std::strcmp(v, "debug")) return Level::Debug;
    if (!std::strcmp(v, "info")) return Level::Info;
    if (!std::strcmp(v, "warn") || !std::strcmp(v, "warning")) return Level::Warn;
    if (!std::strcmp(v, "error") || !std::strcmp(v, "err")) return Level::Error;
    if (!std::strcmp(v, "off")) return Level::Off;
    return Level::Warn;
}

}  // namespace

Level level() {
    static const Level l = parse_level();
    return l;
}

void write(Level, std::string_view text) {
    static std::mutex* mutex = new std::mutex;  // never destroyed: logging may happen at exit
    std::lock_guard lock(*mutex);
    std::fprintf(stderr, "venus-cpp: %.*s\n", static_cast<int>(text.size()), text.data());
    std::fflush(stderr);
}

}  // namespace venus::icd::log
