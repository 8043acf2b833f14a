// vkdemo: what every venus-cpp demo needs, in plain core Vulkan 1.0/1.1 (no driver-specific code).
#pragma once

#include "check.hpp"
#include "handle.hpp"

#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace vkdemo {

// ---- instance, physical device, device, queue --------------------------------------------------

struct ContextOptions {
  const char* app_name = "vkdemo";
  uint32_t device_index = 0;          // index into vkEnumeratePhysicalDevices
  VkQueueFlags queue_flags = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
};

class Context {
 public:
  explicit Context(const ContextOptions& options);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical_device() const { return physical_device_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  const VkPhysicalDeviceProperties& properties() const { return properties_; }
  const VkPhysicalDeviceMemoryProperties& memory_properties() const { return memory_properties_; }

  // "llvmpipe (LLVM 15.0.6, 256 bits)"
  std::string device_name() const { return properties_.deviceName; }
  // "llvmpipe (Mesa 22.3.6 (LLVM 15.0.6)), Vulkan 1.3.230" — driver name/info where the device
  // reports VkPhysicalDeviceDriverProperties, else vendor id and raw driver version.
  std::string driver_description() const { return driver_description_; }
  // Prints "device: ..." and "driver: ..." lines.
  void print_summary() const;

  // First memory type allowed by type_bits that has required|preferred, else one that has
  // required; fails (exit 1) if none has required.
  uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred = 0) const;
  VkMemoryPropertyFlags memory_type_flags(uint32_t type_index) const;

  // Records with record(), submits on the queue and waits for it to finish (a fence).
  void run_once(const std::function<void(VkCommandBuffer)>& record) const;

  VkCommandPool command_pool() const { return command_pool_.get(); }

  UniqueShaderModule create_shader_module(std::span<const uint32_t> spirv) const;
  UniqueFence create_fence(bool signaled = false) const;

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkPhysicalDeviceProperties properties_{};
  VkPhysicalDeviceMemoryProperties memory_properties_{};
  std::string driver_description_;
  UniqueCommandPool command_pool_;
};

// ---- buffers -----------------------------------------------------------------------------------

enum class MemoryUse {
  DeviceLocal,  // prefers DEVICE_LOCAL; never mapped
  Upload,       // HOST_VISIBLE, prefers HOST_COHERENT: the host writes, the device reads
  Readback,     // HOST_VISIBLE, prefers HOST_COHERENT|HOST_CACHED: the device writes, the host reads
};

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Context& context, VkDeviceSize size, VkBufferUsageFlags usage, MemoryUse use);
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;

  VkBuffer get() const { return buffer_.get(); }
  const VkBuffer* ptr() const { return buffer_.ptr(); }
  VkDeviceSize size() const { return size_; }
  uint32_t memory_type() const { return memory_type_; }

  // Mapped for the buffer's lifetime (Upload/Readback only).
  void* mapped() const;
  template <typename T>
  std::span<T> mapped_span() const {
    return {static_cast<T*>(mapped()), static_cast<size_t>(size_ / sizeof(T))};
  }
  // Makes host writes visible to the device / device writes visible to the host; nothing to do
  // (and nothing done) for HOST_COHERENT memory.
  void flush() const;
  void invalidate() const;

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  UniqueBuffer buffer_;
  UniqueMemory memory_;
  VkDeviceSize size_ = 0;
  uint32_t memory_type_ = 0;
  bool coherent_ = true;
  void* mapped_ = nullptr;
};

// A device-local buffer filled from bytes through a staging buffer and vkCmdCopyBuffer.
Buffer upload_buffer(const Context& context, std::span<const std::byte> bytes, VkBufferUsageFlags usage);

// ---- images ------------------------------------------------------------------------------------

class Image {
 public:
  Image() = default;
  // 2D, one mip level, one layer, OPTIMAL tiling, device-local-preferred memory, plus a view.
  Image(const Context& context, VkExtent2D extent, VkFormat format, VkImageUsageFlags usage,
        VkImageAspectFlags aspect);
  Image(Image&&) noexcept = default;
  Image& operator=(Image&&) noexcept = default;

  VkImage get() const { return image_.get(); }
  VkImageView view() const { return view_.get(); }
  VkExtent2D extent() const { return extent_; }
  VkFormat format() const { return format_; }
  VkImageAspectFlags aspect() const { return aspect_; }

 private:
  UniqueImage image_;
  UniqueMemory memory_;
  UniqueImageView view_;
  VkExtent2D extent_{};
  VkFormat format_ = VK_FORMAT_UNDEFINED;
  VkImageAspectFlags aspect_ = 0;
};

// One image layout transition (whole image) as a vkCmdPipelineBarrier.
void image_barrier(VkCommandBuffer cmd, const Image& image, VkImageLayout old_layout,
                   VkImageLayout new_layout, VkPipelineStageFlags src_stage, VkAccessFlags src_access,
                   VkPipelineStageFlags dst_stage, VkAccessFlags dst_access);

// A whole-buffer memory barrier (e.g. shader/transfer write -> host read).
void buffer_barrier(VkCommandBuffer cmd, const Buffer& buffer, VkPipelineStageFlags src_stage,
                    VkAccessFlags src_access, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access);

// First format of candidates whose OPTIMAL tiling supports features; VK_FORMAT_UNDEFINED if none.
VkFormat find_format(const Context& context, std::span<const VkFormat> candidates,
                     VkFormatFeatureFlags features);

// ---- descriptors ---------------------------------------------------------------------------------

UniqueDescriptorSetLayout create_descriptor_set_layout(
    const Context& context, std::span<const VkDescriptorSetLayoutBinding> bindings);
UniqueDescriptorPool create_descriptor_pool(const Context& context, uint32_t max_sets,
                                            std::span<const VkDescriptorPoolSize> sizes);
// Freed with the pool.
VkDescriptorSet allocate_descriptor_set(const Context& context, VkDescriptorPool pool,
                                        VkDescriptorSetLayout layout);

UniquePipelineLayout create_pipeline_layout(const Context& context,
                                            std::span<const VkDescriptorSetLayout> set_layouts,
                                            std::span<const VkPushConstantRange> push_constants = {});

// ---- output ------------------------------------------------------------------------------------

// 64-bit FNV-1a.
uint64_t fnv1a64(std::span<const std::byte> bytes);
std::string hex64(uint64_t value);

// Writes a binary P6 PPM from tightly packed RGBA8 pixels (alpha dropped) and returns the bytes
// written (whose checksum the demos print).
std::vector<std::byte> encode_ppm_from_rgba(std::span<const uint8_t> rgba, uint32_t width,
                                            uint32_t height);
void write_file(const std::string& path, std::span<const std::byte> bytes);

}  // namespace vkdemo
