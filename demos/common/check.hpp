// Error reporting for the demos: every failure names the call and its VkResult, then exits 1.
#pragma once

#include <vulkan/vulkan.h>

#include <string_view>

namespace vkdemo {

// Name used as the prefix of every message ("venus-cube: ...").
void set_program_name(std::string_view name);
std::string_view program_name();

// "VK_ERROR_DEVICE_LOST" etc.; "VK_RESULT_<n>" for values this header does not know.
const char* result_name(VkResult result);

// Prints "<program>: error: <message>" to stderr and exits with status 1.
[[noreturn]] void fail(std::string_view message);

// Exits through fail() unless result is VK_SUCCESS, naming the call text and where it was made.
void check_result(VkResult result, const char* call, const char* file, int line);

}  // namespace vkdemo

// VKD_CHECK(vkCreateBuffer(...)) — the call's text appears in the error message.
#define VKD_CHECK(call) ::vkdemo::check_result((call), #call, __FILE__, __LINE__)
