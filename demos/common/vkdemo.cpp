#include "vkdemo.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace vkdemo {
namespace {

std::string version_string(uint32_t version) {
  return std::to_string(VK_API_VERSION_MAJOR(version)) + "." +
         std::to_string(VK_API_VERSION_MINOR(version)) + "." +
         std::to_string(VK_API_VERSION_PATCH(version));
}

bool has_extension(const std::vector<VkExtensionProperties>& extensions, const char* name) {
  for (const VkExtensionProperties& extension : extensions) {
    if (std::strcmp(extension.extensionName, name) == 0) return true;
  }
  return false;
}

std::vector<VkExtensionProperties> instance_extensions() {
  uint32_t count = 0;
  VKD_CHECK(vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr));
  std::vector<VkExtensionProperties> extensions(count);
  VKD_CHECK(vkEnumerateInstanceExtensionProperties(nullptr, &count, extensions.data()));
  extensions.resize(count);
  return extensions;
}

std::vector<VkExtensionProperties> device_extensions(VkPhysicalDevice physical_device) {
  uint32_t count = 0;
  VKD_CHECK(vkEnumerateDeviceExtensionProperties(physical_device, nullptr, &count, nullptr));
  std::vector<VkExtensionProperties> extensions(count);
  VKD_CHECK(vkEnumerateDeviceExtensionProperties(physical_device, nullptr, &count, extensions.data()));
  extensions.resize(count);
  return extensions;
}

// Not in every vulkan_core.h this may be built with, so spelled out here.
constexpr const char* kPortabilityEnumeration = "VK_KHR_portability_enumeration";
constexpr const char* kPortabilitySubset = "VK_KHR_portability_subset";
constexpr VkInstanceCreateFlags kEnumeratePortabilityBit = 0x00000001;

}  // namespace

// ---- Context -----------------------------------------------------------------------------------

Context::Context(const ContextOptions& options) {
  uint32_t loader_version = VK_API_VERSION_1_0;
  VKD_CHECK(vkEnumerateInstanceVersion(&loader_version));
  if (loader_version < VK_API_VERSION_1_1) {
    fail("the Vulkan loader offers instance version " + version_string(loader_version) +
         "; Vulkan 1.1 is needed");
  }

  std::vector<const char*> enabled_instance_extensions;
  VkInstanceCreateFlags instance_flags = 0;
  if (has_extension(instance_extensions(), kPortabilityEnumeration)) {
    enabled_instance_extensions.push_back(kPortabilityEnumeration);
    instance_flags |= kEnumeratePortabilityBit;
  }

  VkApplicationInfo app_info{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app_info.pApplicationName = options.app_name;
  app_info.applicationVersion = 1;
  app_info.pEngineName = "vkdemo";
  app_info.engineVersion = 1;
  app_info.apiVersion = VK_API_VERSION_1_1;

  VkInstanceCreateInfo instance_info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  instance_info.flags = instance_flags;
  instance_info.pApplicationInfo = &app_info;
  instance_info.enabledExtensionCount = static_cast<uint32_t>(enabled_instance_extensions.size());
  instance_info.ppEnabledExtensionNames = enabled_instance_extensions.data();
  VKD_CHECK(vkCreateInstance(&instance_info, nullptr, &instance_));

  uint32_t device_count = 0;
  VKD_CHECK(vkEnumeratePhysicalDevices(instance_, &device_count, nullptr));
  if (device_count == 0) fail("vkEnumeratePhysicalDevices found no physical device");
  std::vector<VkPhysicalDevice> physical_devices(device_count);
  VKD_CHECK(vkEnumeratePhysicalDevices(instance_, &device_count, physical_devices.data()));
  if (options.device_index >= device_count) {
    fail("--device " + std::to_string(options.device_index) + " asked for, but only " +
         std::to_string(device_count) + " physical device(s) exist");
  }
  physical_device_ = physical_devices[options.device_index];
  vkGetPhysicalDeviceProperties(physical_device_, &properties_);
  vkGetPhysicalDeviceMemoryProperties(physical_device_, &memory_properties_);
  if (properties_.apiVersion < VK_API_VERSION_1_1) {
    fail(std::string("device '") + properties_.deviceName + "' supports Vulkan " +
         version_string(properties_.apiVersion) + "; Vulkan 1.1 is needed");
  }

  const std::vector<VkExtensionProperties> dev_extensions = device_extensions(physical_device_);
  std::vector<const char*> enabled_device_extensions;
  if (has_extension(dev_extensions, kPortabilitySubset)) {
    enabled_device_extensions.push_back(kPortabilitySubset);
  }

  // Driver identification: core in 1.2, VK_KHR_driver_properties before.
  driver_description_.clear();
  if (properties_.apiVersion >= VK_API_VERSION_1_2 ||
      has_extension(dev_extensions, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME)) {
    VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 properties2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    properties2.pNext = &driver;
    vkGetPhysicalDeviceProperties2(physical_device_, &properties2);
    driver_description_ = std::string(driver.driverName) + " (" + driver.driverInfo + ")";
  } else {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "vendor 0x%04x, driver version 0x%08x", properties_.vendorID,
                  properties_.driverVersion);
    driver_description_ = buffer;
  }
  driver_description_ += ", Vulkan " + version_string(properties_.apiVersion);

  uint32_t family_count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_device_, &family_count, nullptr);
  std::vector<VkQueueFamilyProperties> families(family_count);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_device_, &family_count, families.data());
  bool found_family = false;
  for (uint32_t i = 0; i < family_count; ++i) {
    if ((families[i].queueFlags & options.queue_flags) == options.queue_flags && families[i].queueCount > 0) {
      queue_family_ = i;
      found_family = true;
      break;
    }
  }
  if (!found_family) {
    char flags[16];
    std::snprintf(flags, sizeof flags, "0x%x", options.queue_flags);
    fail(std::string("device '") + properties_.deviceName + "' has no queue family with flags " + flags);
  }

  const float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = queue_family_;
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;
  VkDeviceCreateInfo device_info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  device_info.queueCreateInfoCount = 1;
  device_info.pQueueCreateInfos = &queue_info;
  device_info.enabledExtensionCount = static_cast<uint32_t>(enabled_device_extensions.size());
  device_info.ppEnabledExtensionNames = enabled_device_extensions.data();
  VKD_CHECK(vkCreateDevice(physical_device_, &device_info, nullptr, &device_));
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool_info.queueFamilyIndex = queue_family_;
  VkCommandPool pool = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateCommandPool(device_, &pool_info, nullptr, &pool));
  command_pool_ = UniqueCommandPool(device_, pool);
}

Context::~Context() {
  if (device_ != VK_NULL_HANDLE) {
    vkDeviceWaitIdle(device_);
    command_pool_.reset();
    vkDestroyDevice(device_, nullptr);
  }
  if (instance_ != VK_NULL_HANDLE) vkDestroyInstance(instance_, nullptr);
}

void Context::print_summary() const {
  std::printf("device: %s\n", properties_.deviceName);
  std::printf("driver: %s\n", driver_description_.c_str());
}

VkMemoryPropertyFlags Context::memory_type_flags(uint32_t type_index) const {
  return memory_properties_.memoryTypes[type_index].propertyFlags;
}

uint32_t Context::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                                   VkMemoryPropertyFlags preferred) const {
  for (VkMemoryPropertyFlags wanted : {required | preferred, required}) {
    for (uint32_t i = 0; i < memory_properties_.memoryTypeCount; ++i) {
      if ((type_bits & (1u << i)) != 0 && (memory_type_flags(i) & wanted) == wanted) return i;
    }
  }
  char buffer[128];
  std::snprintf(buffer, sizeof buffer, "no memory type among bits 0x%x has property flags 0x%x",
                type_bits, required);
  fail(buffer);
}

void Context::run_once(const std::function<void(VkCommandBuffer)>& record) const {
  VkCommandBufferAllocateInfo alloc_info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc_info.commandPool = command_pool_.get();
  alloc_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc_info.commandBufferCount = 1;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VKD_CHECK(vkAllocateCommandBuffers(device_, &alloc_info, &cmd));

  VkCommandBufferBeginInfo begin_info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  begin_info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VKD_CHECK(vkBeginCommandBuffer(cmd, &begin_info));
  record(cmd);
  VKD_CHECK(vkEndCommandBuffer(cmd));

  UniqueFence fence = create_fence();
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &cmd;
  VKD_CHECK(vkQueueSubmit(queue_, 1, &submit, fence.get()));
  VKD_CHECK(vkWaitForFences(device_, 1, fence.ptr(), VK_TRUE, UINT64_MAX));
  vkFreeCommandBuffers(device_, command_pool_.get(), 1, &cmd);
}

UniqueShaderModule Context::create_shader_module(std::span<const uint32_t> spirv) const {
  VkShaderModuleCreateInfo info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  info.codeSize = spirv.size_bytes();
  info.pCode = spirv.data();
  VkShaderModule module = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateShaderModule(device_, &info, nullptr, &module));
  return UniqueShaderModule(device_, module);
}

UniqueFence Context::create_fence(bool signaled) const {
  VkFenceCreateInfo info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  if (signaled) info.flags = VK_FENCE_CREATE_SIGNALED_BIT;
  VkFence fence = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateFence(device_, &info, nullptr, &fence));
  return UniqueFence(device_, fence);
}

// ---- Buffer ------------------------------------------------------------------------------------

Buffer::Buffer(const Context& context, VkDeviceSize size, VkBufferUsageFlags usage, MemoryUse use)
    : device_(context.device()), size_(size) {
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = size;
  info.usage = usage;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateBuffer(device_, &info, nullptr, &buffer));
  buffer_ = UniqueBuffer(device_, buffer);

  VkMemoryRequirements requirements;
  vkGetBufferMemoryRequirements(device_, buffer, &requirements);
  switch (use) {
    case MemoryUse::DeviceLocal:
      memory_type_ = context.find_memory_type(requirements.memoryTypeBits, 0,
                                              VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
      break;
    case MemoryUse::Upload:
      memory_type_ = context.find_memory_type(requirements.memoryTypeBits,
                                              VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                              VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
      break;
    case MemoryUse::Readback:
      memory_type_ = context.find_memory_type(
          requirements.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
          VK_MEMORY_PROPERTY_HOST_COHERENT_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
      break;
  }
  const VkMemoryPropertyFlags flags = context.memory_type_flags(memory_type_);
  coherent_ = (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;

  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = requirements.size;
  alloc.memoryTypeIndex = memory_type_;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VKD_CHECK(vkAllocateMemory(device_, &alloc, nullptr, &memory));
  memory_ = UniqueMemory(device_, memory);
  VKD_CHECK(vkBindBufferMemory(device_, buffer, memory, 0));

  if (use != MemoryUse::DeviceLocal) {
    VKD_CHECK(vkMapMemory(device_, memory, 0, VK_WHOLE_SIZE, 0, &mapped_));
  }
}

void* Buffer::mapped() const {
  if (mapped_ == nullptr) fail("internal: Buffer::mapped() on a buffer that is not host-visible");
  return mapped_;
}

void Buffer::flush() const {
  if (coherent_ || mapped_ == nullptr) return;
  VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE};
  range.memory = memory_.get();
  range.offset = 0;
  range.size = VK_WHOLE_SIZE;
  VKD_CHECK(vkFlushMappedMemoryRanges(device_, 1, &range));
}

void Buffer::invalidate() const {
  if (coherent_ || mapped_ == nullptr) return;
  VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE};
  range.memory = memory_.get();
  range.offset = 0;
  range.size = VK_WHOLE_SIZE;
  VKD_CHECK(vkInvalidateMappedMemoryRanges(device_, 1, &range));
}

Buffer upload_buffer(const Context& context, std::span<const std::byte> bytes, VkBufferUsageFlags usage) {
  Buffer staging(context, bytes.size(), VK_BUFFER_USAGE_TRANSFER_SRC_BIT, MemoryUse::Upload);
  std::memcpy(staging.mapped(), bytes.data(), bytes.size());
  staging.flush();
  Buffer buffer(context, bytes.size(), usage | VK_BUFFER_USAGE_TRANSFER_DST_BIT, MemoryUse::DeviceLocal);
  context.run_once([&](VkCommandBuffer cmd) {
    VkBufferCopy region{0, 0, bytes.size()};
    vkCmdCopyBuffer(cmd, staging.get(), buffer.get(), 1, &region);
    // The copy's writes must be visible to vertex input / index reads / shaders that follow.
    buffer_barrier(cmd, buffer, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                   VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_READ_BIT);
  });
  return buffer;
}

// ---- Image -------------------------------------------------------------------------------------

Image::Image(const Context& context, VkExtent2D extent, VkFormat format, VkImageUsageFlags usage,
             VkImageAspectFlags aspect)
    : extent_(extent), format_(format), aspect_(aspect) {
  VkDevice device = context.device();
  VkImageCreateInfo info{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
  info.imageType = VK_IMAGE_TYPE_2D;
  info.format = format;
  info.extent = {extent.width, extent.height, 1};
  info.mipLevels = 1;
  info.arrayLayers = 1;
  info.samples = VK_SAMPLE_COUNT_1_BIT;
  info.tiling = VK_IMAGE_TILING_OPTIMAL;
  info.usage = usage;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  info.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  VkImage image = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateImage(device, &info, nullptr, &image));
  image_ = UniqueImage(device, image);

  VkMemoryRequirements requirements;
  vkGetImageMemoryRequirements(device, image, &requirements);
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = requirements.size;
  alloc.memoryTypeIndex = context.find_memory_type(requirements.memoryTypeBits, 0,
                                                   VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VKD_CHECK(vkAllocateMemory(device, &alloc, nullptr, &memory));
  memory_ = UniqueMemory(device, memory);
  VKD_CHECK(vkBindImageMemory(device, image, memory, 0));

  VkImageViewCreateInfo view_info{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
  view_info.image = image;
  view_info.viewType = VK_IMAGE_VIEW_TYPE_2D;
  view_info.format = format;
  view_info.subresourceRange = {aspect, 0, 1, 0, 1};
  VkImageView view = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateImageView(device, &view_info, nullptr, &view));
  view_ = UniqueImageView(device, view);
}

void image_barrier(VkCommandBuffer cmd, const Image& image, VkImageLayout old_layout,
                   VkImageLayout new_layout, VkPipelineStageFlags src_stage, VkAccessFlags src_access,
                   VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
  VkImageMemoryBarrier barrier{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
  barrier.srcAccessMask = src_access;
  barrier.dstAccessMask = dst_access;
  barrier.oldLayout = old_layout;
  barrier.newLayout = new_layout;
  barrier.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  barrier.image = image.get();
  barrier.subresourceRange = {image.aspect(), 0, 1, 0, 1};
  vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, nullptr, 0, nullptr, 1, &barrier);
}

void buffer_barrier(VkCommandBuffer cmd, const Buffer& buffer, VkPipelineStageFlags src_stage,
                    VkAccessFlags src_access, VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
  VkBufferMemoryBarrier barrier{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
  barrier.srcAccessMask = src_access;
  barrier.dstAccessMask = dst_access;
  barrier.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  barrier.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  barrier.buffer = buffer.get();
  barrier.offset = 0;
  barrier.size = VK_WHOLE_SIZE;
  vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, nullptr, 1, &barrier, 0, nullptr);
}

VkFormat find_format(const Context& context, std::span<const VkFormat> candidates,
                     VkFormatFeatureFlags features) {
  for (VkFormat format : candidates) {
    VkFormatProperties properties;
    vkGetPhysicalDeviceFormatProperties(context.physical_device(), format, &properties);
    if ((properties.optimalTilingFeatures & features) == features) return format;
  }
  return VK_FORMAT_UNDEFINED;
}

// ---- descriptors ---------------------------------------------------------------------------------

UniqueDescriptorSetLayout create_descriptor_set_layout(
    const Context& context, std::span<const VkDescriptorSetLayoutBinding> bindings) {
  VkDescriptorSetLayoutCreateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  info.bindingCount = static_cast<uint32_t>(bindings.size());
  info.pBindings = bindings.data();
  VkDescriptorSetLayout layout = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateDescriptorSetLayout(context.device(), &info, nullptr, &layout));
  return UniqueDescriptorSetLayout(context.device(), layout);
}

UniqueDescriptorPool create_descriptor_pool(const Context& context, uint32_t max_sets,
                                            std::span<const VkDescriptorPoolSize> sizes) {
  VkDescriptorPoolCreateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  info.maxSets = max_sets;
  info.poolSizeCount = static_cast<uint32_t>(sizes.size());
  info.pPoolSizes = sizes.data();
  VkDescriptorPool pool = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateDescriptorPool(context.device(), &info, nullptr, &pool));
  return UniqueDescriptorPool(context.device(), pool);
}

VkDescriptorSet allocate_descriptor_set(const Context& context, VkDescriptorPool pool,
                                        VkDescriptorSetLayout layout) {
  VkDescriptorSetAllocateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  info.descriptorPool = pool;
  info.descriptorSetCount = 1;
  info.pSetLayouts = &layout;
  VkDescriptorSet set = VK_NULL_HANDLE;
  VKD_CHECK(vkAllocateDescriptorSets(context.device(), &info, &set));
  return set;
}

UniquePipelineLayout create_pipeline_layout(const Context& context,
                                            std::span<const VkDescriptorSetLayout> set_layouts,
                                            std::span<const VkPushConstantRange> push_constants) {
  VkPipelineLayoutCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  info.setLayoutCount = static_cast<uint32_t>(set_layouts.size());
  info.pSetLayouts = set_layouts.data();
  info.pushConstantRangeCount = static_cast<uint32_t>(push_constants.size());
  info.pPushConstantRanges = push_constants.data();
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VKD_CHECK(vkCreatePipelineLayout(context.device(), &info, nullptr, &layout));
  return UniquePipelineLayout(context.device(), layout);
}

// ---- output ------------------------------------------------------------------------------------

uint64_t fnv1a64(std::span<const std::byte> bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (std::byte b : bytes) {
    hash ^= static_cast<uint8_t>(b);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string hex64(uint64_t value) {
  char buffer[20];
  std::snprintf(buffer, sizeof buffer, "%016" PRIx64, value);
  return buffer;
}

std::vector<std::byte> encode_ppm_from_rgba(std::span<const uint8_t> rgba, uint32_t width,
                                            uint32_t height) {
  if (rgba.size() < static_cast<size_t>(width) * height * 4) {
    fail("internal: encode_ppm_from_rgba given fewer pixels than width*height");
  }
  const std::string header = "P6\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
  std::vector<std::byte> out(header.size() + static_cast<size_t>(width) * height * 3);
  std::memcpy(out.data(), header.data(), header.size());
  std::byte* dst = out.data() + header.size();
  for (size_t i = 0; i < static_cast<size_t>(width) * height; ++i) {
    dst[i * 3 + 0] = std::byte{rgba[i * 4 + 0]};
    dst[i * 3 + 1] = std::byte{rgba[i * 4 + 1]};
    dst[i * 3 + 2] = std::byte{rgba[i * 4 + 2]};
  }
  return out;
}

void write_file(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) fail("cannot open '" + path + "' for writing: " + std::strerror(errno));
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) fail("writing '" + path + "' failed");
}

}  // namespace vkdemo
