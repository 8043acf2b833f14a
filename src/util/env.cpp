#include "util/env.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace venus::env {

std::optional<std::string> get(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

std::vector<std::string> list(const char* name) {
    std::vector<std::string> out;
    const auto v = get(name);
    if (!v) return out;
    std::string cur;
    for (char c : *v) {
        if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

uint64_t size(const char* name, uint64_t fallback) {
    const auto v = get(name);
    if (!v) return fallback;
    size_t pos = 0;
    uint64_t n = 0;
    try {
        n = std::stoull(*v, &pos, 0);
    } catch (const std::exception&) {
        throw std::invalid_argument(fmt::format("{}={} is not a number", name, *v));
    }
    std::string suffix = v->substr(pos);
    if (suffix == "K" || suffix == "k" || suffix == "KiB") n <<= 10;
    else if (suffix == "M" || suffix == "m" || suffix == "MiB") n <<= 20;
    else if (suffix == "G" || suffix == "g" || suffix == "GiB") n <<= 30;
    else if (!suffix.empty()) throw std::invalid_argument(fmt::format("{}={}: unknown suffix '{}'", name, *v, suffix));
    return n;
}

bool flag(const char* name, bool fallback) {
    const auto v = get(name);
    if (!v) return fallback;
    if (*v == "1" || *v == "true" || *v == "yes" || *v == "on") return true;
    if (*v == "0" || *v == "false" || *v == "no" || *v == "off") return false;
    throw std::invalid_argument(fmt::format("{}={} is not on or off", name, *v));
}

}  // namespace venus::env
