// Offscreen rendering helpers: a render pass whose color result is copied out, graphics pipelines
// with fixed viewport, and readback of a color image into a host-visible buffer.
#pragma once

#include "vkdemo.hpp"

#include <span>
#include <vector>

namespace vkdemo {

// One subpass; the color attachment is cleared, stored and left in TRANSFER_SRC_OPTIMAL for a
// copy; the optional depth attachment (depth_format != UNDEFINED) is cleared and discarded.
// Its dependencies order it after an earlier use of the same attachments (render or copy) and
// before a following transfer read of the color attachment.
UniqueRenderPass create_offscreen_render_pass(const Context& context, VkFormat color_format,
                                              VkFormat depth_format);

UniqueFramebuffer create_framebuffer(const Context& context, VkRenderPass render_pass,
                                     std::span<const VkImageView> attachments, VkExtent2D extent);

struct GraphicsPipelineDesc {
  VkShaderModule vertex_shader = VK_NULL_HANDLE;
  VkShaderModule fragment_shader = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkRenderPass render_pass = VK_NULL_HANDLE;
  VkExtent2D extent{};
  std::vector<VkVertexInputBindingDescription> bindings;
  std::vector<VkVertexInputAttributeDescription> attributes;
  VkCullModeFlags cull_mode = VK_CULL_MODE_NONE;
  bool depth_test = false;  // LESS, with depth writes
};

UniquePipeline create_graphics_pipeline(const Context& context, const GraphicsPipelineDesc& desc);

// Records a copy of a color image (in TRANSFER_SRC_OPTIMAL) into a tightly packed buffer, then
// a barrier that makes it visible to the host.
void record_readback(VkCommandBuffer cmd, const Image& image, const Buffer& buffer);

}  // namespace vkdemo
