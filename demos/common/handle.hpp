// Owning wrappers for Vulkan device objects: destroyed with their device when they go out of scope.
#pragma once

#include <vulkan/vulkan.h>

#include <utility>

namespace vkdemo {

template <typename T, void (*Destroy)(VkDevice, T, const VkAllocationCallbacks*)>
class Unique {
 public:
  Unique() = default;
  Unique(VkDevice device, T handle) : device_(device), handle_(handle) {}
  Unique(const Unique&) = delete;
  Unique& operator=(const Unique&) = delete;
  Unique(Unique&& other) noexcept
      : device_(other.device_), handle_(std::exchange(other.handle_, VK_NULL_HANDLE)) {}
  Unique& operator=(Unique&& other) noexcept {
    if (this != &other) {
      reset();
      device_ = other.device_;
      handle_ = std::exchange(other.handle_, VK_NULL_HANDLE);
    }
    return *this;
  }
  ~Unique() { reset(); }

  void reset() {
    if (handle_ != VK_NULL_HANDLE) Destroy(device_, handle_, nullptr);
    handle_ = VK_NULL_HANDLE;
  }

  T get() const { return handle_; }
  const T* ptr() const { return &handle_; }
  explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  T handle_ = VK_NULL_HANDLE;
};

using UniqueBuffer = Unique<VkBuffer, vkDestroyBuffer>;
using UniqueMemory = Unique<VkDeviceMemory, vkFreeMemory>;
using UniqueImage = Unique<VkImage, vkDestroyImage>;
using UniqueImageView = Unique<VkImageView, vkDestroyImageView>;
using UniqueSampler = Unique<VkSampler, vkDestroySampler>;
using UniqueShaderModule = Unique<VkShaderModule, vkDestroyShaderModule>;
using UniquePipeline = Unique<VkPipeline, vkDestroyPipeline>;
using UniquePipelineLayout = Unique<VkPipelineLayout, vkDestroyPipelineLayout>;
using UniqueDescriptorSetLayout = Unique<VkDescriptorSetLayout, vkDestroyDescriptorSetLayout>;
using UniqueDescriptorPool = Unique<VkDescriptorPool, vkDestroyDescriptorPool>;
using UniqueRenderPass = Unique<VkRenderPass, vkDestroyRenderPass>;
using UniqueFramebuffer = Unique<VkFramebuffer, vkDestroyFramebuffer>;
using UniqueCommandPool = Unique<VkCommandPool, vkDestroyCommandPool>;
using UniqueFence = Unique<VkFence, vkDestroyFence>;

}  // namespace vkdemo
