#include "check.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace vkdemo {
namespace {

std::string& name_storage() {
  static std::string name = "vkdemo";
  return name;
}

}  // namespace

void set_program_name(std::string_view name) { name_storage() = std::string(name); }

std::string_view program_name() { return name_storage(); }

const char* result_name(VkResult result) {
  switch (result) {
#define VKD_RESULT_CASE(r) \
  case r:                  \
    return #r;
    VKD_RESULT_CASE(VK_SUCCESS)
    VKD_RESULT_CASE(VK_NOT_READY)
    VKD_RESULT_CASE(VK_TIMEOUT)
    VKD_RESULT_CASE(VK_EVENT_SET)
    VKD_RESULT_CASE(VK_EVENT_RESET)
    VKD_RESULT_CASE(VK_INCOMPLETE)
    VKD_RESULT_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    VKD_RESULT_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    VKD_RESULT_CASE(VK_ERROR_INITIALIZATION_FAILED)
    VKD_RESULT_CASE(VK_ERROR_DEVICE_LOST)
    VKD_RESULT_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    VKD_RESULT_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    VKD_RESULT_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    VKD_RESULT_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    VKD_RESULT_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    VKD_RESULT_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    VKD_RESULT_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    VKD_RESULT_CASE(VK_ERROR_FRAGMENTED_POOL)
    VKD_RESULT_CASE(VK_ERROR_UNKNOWN)
    VKD_RESULT_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    VKD_RESULT_CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    VKD_RESULT_CASE(VK_ERROR_FRAGMENTATION)
    VKD_RESULT_CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    VKD_RESULT_CASE(VK_PIPELINE_COMPILE_REQUIRED)
    VKD_RESULT_CASE(VK_ERROR_SURFACE_LOST_KHR)
    VKD_RESULT_CASE(VK_ERROR_NATIVE_WINDOW_IN_USE_KHR)
    VKD_RESULT_CASE(VK_SUBOPTIMAL_KHR)
    VKD_RESULT_CASE(VK_ERROR_OUT_OF_DATE_KHR)
    VKD_RESULT_CASE(VK_ERROR_INCOMPATIBLE_DISPLAY_KHR)
    VKD_RESULT_CASE(VK_ERROR_VALIDATION_FAILED_EXT)
    VKD_RESULT_CASE(VK_ERROR_INVALID_SHADER_NV)
    VKD_RESULT_CASE(VK_ERROR_INVALID_DRM_FORMAT_MODIFIER_PLANE_LAYOUT_EXT)
    VKD_RESULT_CASE(VK_ERROR_NOT_PERMITTED_KHR)
    VKD_RESULT_CASE(VK_THREAD_IDLE_KHR)
    VKD_RESULT_CASE(VK_THREAD_DONE_KHR)
    VKD_RESULT_CASE(VK_OPERATION_DEFERRED_KHR)
    VKD_RESULT_CASE(VK_OPERATION_NOT_DEFERRED_KHR)
    VKD_RESULT_CASE(VK_ERROR_COMPRESSION_EXHAUSTED_EXT)
#undef VKD_RESULT_CASE
    default:
      break;
  }
  static thread_local char buffer[32];
  std::snprintf(buffer, sizeof buffer, "VK_RESULT_%d", static_cast<int>(result));
  return buffer;
}

void fail(std::string_view message) {
  std::fflush(stdout);
  std::fprintf(stderr, "%.*s: error: %.*s\n", static_cast<int>(program_name().size()),
               program_name().data(), static_cast<int>(message.size()), message.data());
  std::exit(1);
}

void check_result(VkResult result, const char* call, const char* file_name, int line) {
  if (result == VK_SUCCESS) return;
  std::string_view file = file_name;
  if (auto slash = file.rfind('/'); slash != std::string_view::npos) file.remove_prefix(slash + 1);
  fail(std::string(call) + " failed: " + result_name(result) + " (" +
       std::to_string(static_cast<int>(result)) + ") at " + std::string(file) + ":" +
       std::to_string(line));
}

}  // namespace vkdemo
