// Reading VENUS_* environment variables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace venus::env {

std::optional<std::string> get(const char* name);
// Comma- or space-separated list; empty when unset.
std::vector<std::string> list(const char* name);
// Integer with an optional K/M/G suffix (powers of two); `fallback` when unset.
// Throws std::invalid_argument with the variable name when the value does not parse.
uint64_t size(const char* name, uint64_t fallback);
// on/1/true/yes or off/0/false/no; `fallback` when unset; throws std::invalid_argument otherwise.
bool flag(const char* name, bool fallback = false);

}  // namespace venus::env
