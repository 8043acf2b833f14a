// venus-triangle: renders one RGB triangle offscreen (256x256 R8G8B8A8_UNORM, render pass),
// copies it to a host-visible buffer and writes it as a PPM.

#include "args.hpp"
#include "offscreen.hpp"
#include "vkdemo.hpp"

#include <cstdint>
#include <cstdio>

#include "triangle.frag.h"
#include "triangle.vert.h"

namespace {

constexpr VkExtent2D kExtent{256, 256};
constexpr VkFormat kColorFormat = VK_FORMAT_R8G8B8A8_UNORM;
// Background (32, 32, 64): k/255 converts to exactly k on every driver.
constexpr VkClearColorValue kBackground{{32.0f / 255.0f, 32.0f / 255.0f, 64.0f / 255.0f, 1.0f}};

}  // namespace

int main(int argc, char** argv) {
  vkdemo::set_program_name("venus-triangle");
  uint32_t device_index = 0;
  std::string out_path = "venus-triangle.ppm";
  vkdemo::ArgParser args("venus-triangle",
                         "Renders an RGB triangle offscreen (256x256) and writes it as a PPM.");
  args.add_uint("device", "physical device index (default 0)", &device_index);
  args.add_string("out", "FILE", "output PPM (default venus-triangle.ppm)", &out_path);
  args.parse(argc, argv);

  vkdemo::Context context({"venus-triangle", device_index, VK_QUEUE_GRAPHICS_BIT});
  context.print_summary();

  vkdemo::Image color(context, kExtent, kColorFormat,
                      VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                      VK_IMAGE_ASPECT_COLOR_BIT);
  vkdemo::Buffer readback(context, VkDeviceSize{kExtent.width} * kExtent.height * 4,
                          VK_BUFFER_USAGE_TRANSFER_DST_BIT, vkdemo::MemoryUse::Readback);

  vkdemo::UniqueRenderPass render_pass =
      vkdemo::create_offscreen_render_pass(context, kColorFormat, VK_FORMAT_UNDEFINED);
  const VkImageView views[] = {color.view()};
  vkdemo::UniqueFramebuffer framebuffer =
      vkdemo::create_framebuffer(context, render_pass.get(), views, kExtent);

  vkdemo::UniquePipelineLayout layout = vkdemo::create_pipeline_layout(context, {});
  vkdemo::UniqueShaderModule vs = context.create_shader_module(triangle_vert_spv);
  vkdemo::UniqueShaderModule fs = context.create_shader_module(triangle_frag_spv);
  vkdemo::GraphicsPipelineDesc desc;
  desc.vertex_shader = vs.get();
  desc.fragment_shader = fs.get();
  desc.layout = layout.get();
  desc.render_pass = render_pass.get();
  desc.extent = kExtent;
  vkdemo::UniquePipeline pipeline = vkdemo::create_graphics_pipeline(context, desc);

  context.run_once([&](VkCommandBuffer cmd) {
    VkClearValue clear{};
    clear.color = kBackground;
    VkRenderPassBeginInfo begin{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    begin.renderPass = render_pass.get();
    begin.framebuffer = framebuffer.get();
    begin.renderArea = {{0, 0}, kExtent};
    begin.clearValueCount = 1;
    begin.pClearValues = &clear;
    vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline.get());
    vkCmdDraw(cmd, 3, 1, 0, 0);
    vkCmdEndRenderPass(cmd);
    vkdemo::record_readback(cmd, color, readback);
  });
  readback.invalidate();
  std::printf("rendered: RGB triangle, %ux%u R8G8B8A8_UNORM, background (32,32,64)\n", kExtent.width,
              kExtent.height);

  const std::vector<std::byte> ppm = vkdemo::encode_ppm_from_rgba(
      readback.mapped_span<const uint8_t>(), kExtent.width, kExtent.height);
  vkdemo::write_file(out_path, ppm);
  std::printf("output: %s (%zu bytes)\n", out_path.c_str(), ppm.size());
  std::printf("checksum: fnv1a64=%s\n", vkdemo::hex64(vkdemo::fnv1a64(ppm)).c_str());
  return 0;
}
