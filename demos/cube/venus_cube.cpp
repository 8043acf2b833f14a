// venus-cube: a textured, depth-tested cube rendered offscreen for N frames (two frames in flight,
// fences), rotation driven by the frame index only; writes the last frame as a PPM.
//
// Every face shows a procedurally generated checkerboard (uploaded through a staging buffer,
// sampled with NEAREST) times a per-face tint; back faces are not culled, so the picture is
// right only if the depth test works.

#include "args.hpp"
#include "mat4.hpp"
#include "offscreen.hpp"
#include "vkdemo.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cube.frag.h"
#include "cube.vert.h"

namespace {

constexpr VkExtent2D kExtent{256, 256};
constexpr VkFormat kColorFormat = VK_FORMAT_R8G8B8A8_UNORM;
// Background (16, 16, 40): k/255 converts to exactly k on every driver.
constexpr VkClearColorValue kBackground{{16.0f / 255.0f, 16.0f / 255.0f, 40.0f / 255.0f, 1.0f}};
constexpr uint32_t kFramesInFlight = 2;

constexpr uint32_t kTextureSize = 64;
constexpr uint32_t kCheckerSquare = 8;
constexpr uint8_t kTexelLight[3] = {255, 255, 255};
constexpr uint8_t kTexelDark[3] = {64, 64, 64};

constexpr float kHalfExtent = 0.6f;
constexpr float kCameraDistance = 3.0f;
constexpr float kFovY = 0.785398163f;  // 45 degrees

// Rotation of frame f (radians): model = rotate_x(x) * rotate_y(y). tests/apps/check_image.py
// repeats these numbers to predict which face covers the centre.
constexpr float kAngleY0 = 0.30f, kAngleYStep = 0.15f;
constexpr float kAngleX0 = 0.30f, kAngleXStep = 0.10f;

struct Vertex {
  float position[3];
  float uv[2];
  float tint[3];
};

struct Face {
  float normal[3];
  float up[3];  // "v" direction of the face; u = up x normal
  float tint[3];
};

// Draw order matters for the no-depth picture: +X, -X, +Y, -Y, +Z, -Z.
constexpr Face kFaces[6] = {
    {{1, 0, 0}, {0, 1, 0}, {1.0f, 0.25f, 0.25f}},   // red
    {{-1, 0, 0}, {0, 1, 0}, {0.25f, 1.0f, 0.25f}},  // green
    {{0, 1, 0}, {0, 0, -1}, {0.25f, 0.25f, 1.0f}},  // blue
    {{0, -1, 0}, {0, 0, 1}, {1.0f, 1.0f, 0.25f}},   // yellow
    {{0, 0, 1}, {0, 1, 0}, {0.25f, 1.0f, 1.0f}},    // cyan
    {{0, 0, -1}, {0, 1, 0}, {1.0f, 0.25f, 1.0f}},   // magenta
};

void build_cube(std::vector<Vertex>& vertices, std::vector<uint16_t>& indices) {
  constexpr float kCorners[4][2] = {{-1, -1}, {1, -1}, {1, 1}, {-1, 1}};
  for (const Face& face : kFaces) {
    const float* n = face.normal;
    const float* v = face.up;
    const float u[3] = {v[1] * n[2] - v[2] * n[1], v[2] * n[0] - v[0] * n[2], v[0] * n[1] - v[1] * n[0]};
    const auto base = static_cast<uint16_t>(vertices.size());
    for (const auto& corner : kCorners) {
      Vertex vertex{};
      for (int k = 0; k < 3; ++k) {
        vertex.position[k] = kHalfExtent * (n[k] + corner[0] * u[k] + corner[1] * v[k]);
        vertex.tint[k] = face.tint[k];
      }
      vertex.uv[0] = (corner[0] + 1.0f) * 0.5f;
      vertex.uv[1] = (1.0f - corner[1]) * 0.5f;
      vertices.push_back(vertex);
    }
    for (uint16_t i : {0, 1, 2, 0, 2, 3}) indices.push_back(static_cast<uint16_t>(base + i));
  }
}

std::vector<std::byte> checkerboard_rgba() {
  std::vector<std::byte> texels(kTextureSize * kTextureSize * 4);
  for (uint32_t y = 0; y < kTextureSize; ++y) {
    for (uint32_t x = 0; x < kTextureSize; ++x) {
      const bool light = ((x / kCheckerSquare) + (y / kCheckerSquare)) % 2 == 0;
      const uint8_t* rgb = light ? kTexelLight : kTexelDark;
      std::byte* texel = &texels[(y * kTextureSize + x) * 4];
      for (int c = 0; c < 3; ++c) texel[c] = std::byte{rgb[c]};
      texel[3] = std::byte{255};
    }
  }
  return texels;
}

vkdemo::Mat4 frame_mvp(uint32_t frame) {
  const float angle_y = kAngleY0 + kAngleYStep * static_cast<float>(frame);
  const float angle_x = kAngleX0 + kAngleXStep * static_cast<float>(frame);
  const vkdemo::Mat4 model = vkdemo::Mat4::rotate_x(angle_x) * vkdemo::Mat4::rotate_y(angle_y);
  const vkdemo::Mat4 view = vkdemo::Mat4::translate(0.0f, 0.0f, -kCameraDistance);
  const vkdemo::Mat4 projection = vkdemo::Mat4::perspective(
      kFovY, static_cast<float>(kExtent.width) / static_cast<float>(kExtent.height), 0.1f, 10.0f);
  return projection * view * model;
}

// Depth formats in order of preference; at least one of D32_SFLOAT and D24_UNORM_S8_UINT is
// guaranteed to support depth attachments.
constexpr VkFormat kDepthCandidates[] = {VK_FORMAT_D32_SFLOAT, VK_FORMAT_D32_SFLOAT_S8_UINT,
                                         VK_FORMAT_D24_UNORM_S8_UINT, VK_FORMAT_D16_UNORM};

const char* format_name(VkFormat format) {
  switch (format) {
    case VK_FORMAT_D32_SFLOAT: return "D32_SFLOAT";
    case VK_FORMAT_D32_SFLOAT_S8_UINT: return "D32_SFLOAT_S8_UINT";
    case VK_FORMAT_D24_UNORM_S8_UINT: return "D24_UNORM_S8_UINT";
    case VK_FORMAT_D16_UNORM: return "D16_UNORM";
    default: return "?";
  }
}

// Everything one frame in flight owns.
struct FrameSlot {
  vkdemo::Buffer uniforms;
  vkdemo::Buffer readback;
  VkDescriptorSet descriptor_set = VK_NULL_HANDLE;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  vkdemo::UniqueFence fence;
  int64_t frame = -1;  // frame last submitted from this slot, -1 if none
};

}  // namespace

int main(int argc, char** argv) {
  vkdemo::set_program_name("venus-cube");
  uint32_t device_index = 0;
  uint32_t frames = 3;
  bool no_depth = false;
  std::string out_path = "venus-cube.ppm";
  vkdemo::ArgParser args("venus-cube",
                         "Renders a textured, depth-tested, rotating cube offscreen (256x256) for N "
                         "frames and writes the last one as a PPM.");
  args.add_uint("device", "physical device index (default 0)", &device_index);
  args.add_uint("frames", "frames to render (default 3)", &frames, 1, 100000);
  args.add_flag("no-depth", "disable the depth test (shows why it is needed)", &no_depth);
  args.add_string("out", "FILE", "output PPM of the last frame (default venus-cube.ppm)", &out_path);
  args.parse(argc, argv);

  vkdemo::Context context({"venus-cube", device_index, VK_QUEUE_GRAPHICS_BIT});
  context.print_summary();
  VkDevice device = context.device();

  const VkFormat depth_format = vkdemo::find_format(context, kDepthCandidates,
                                                    VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT);
  if (depth_format == VK_FORMAT_UNDEFINED) vkdemo::fail("no depth format supports depth attachments");

  // Geometry: vertex and index buffers, device-local, filled through staging buffers.
  std::vector<Vertex> vertices;
  std::vector<uint16_t> indices;
  build_cube(vertices, indices);
  vkdemo::Buffer vertex_buffer = vkdemo::upload_buffer(
      context, std::as_bytes(std::span(vertices)), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT);
  vkdemo::Buffer index_buffer = vkdemo::upload_buffer(
      context, std::as_bytes(std::span(indices)), VK_BUFFER_USAGE_INDEX_BUFFER_BIT);

  // Texture: checkerboard through a staging buffer and vkCmdCopyBufferToImage.
  vkdemo::Image texture(context, {kTextureSize, kTextureSize}, VK_FORMAT_R8G8B8A8_UNORM,
                        VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT,
                        VK_IMAGE_ASPECT_COLOR_BIT);
  {
    const std::vector<std::byte> texels = checkerboard_rgba();
    vkdemo::Buffer staging(context, texels.size(), VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                           vkdemo::MemoryUse::Upload);
    std::memcpy(staging.mapped(), texels.data(), texels.size());
    staging.flush();
    context.run_once([&](VkCommandBuffer cmd) {
      vkdemo::image_barrier(cmd, texture, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                            VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, 0, VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_ACCESS_TRANSFER_WRITE_BIT);
      VkBufferImageCopy region{};
      region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      region.imageExtent = {kTextureSize, kTextureSize, 1};
      vkCmdCopyBufferToImage(cmd, staging.get(), texture.get(), VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1,
                             &region);
      vkdemo::image_barrier(cmd, texture, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                            VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL, VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT,
                            VK_ACCESS_SHADER_READ_BIT);
    });
  }
  VkSamplerCreateInfo sampler_info{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
  sampler_info.magFilter = VK_FILTER_NEAREST;
  sampler_info.minFilter = VK_FILTER_NEAREST;
  sampler_info.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
  sampler_info.addressModeU = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
  sampler_info.addressModeV = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
  sampler_info.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
  sampler_info.maxLod = 0.0f;
  VkSampler raw_sampler = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateSampler(device, &sampler_info, nullptr, &raw_sampler));
  vkdemo::UniqueSampler sampler(device, raw_sampler);

  // Attachments, render pass, framebuffer.
  vkdemo::Image color(context, kExtent, kColorFormat,
                      VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                      VK_IMAGE_ASPECT_COLOR_BIT);
  vkdemo::Image depth(context, kExtent, depth_format, VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT,
                      VK_IMAGE_ASPECT_DEPTH_BIT);
  vkdemo::UniqueRenderPass render_pass =
      vkdemo::create_offscreen_render_pass(context, kColorFormat, depth_format);
  const VkImageView views[] = {color.view(), depth.view()};
  vkdemo::UniqueFramebuffer framebuffer =
      vkdemo::create_framebuffer(context, render_pass.get(), views, kExtent);

  // Descriptors: binding 0 = MVP uniform buffer, binding 1 = checkerboard sampler; one set per slot.
  const VkDescriptorSetLayoutBinding bindings[] = {
      {0, VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, 1, VK_SHADER_STAGE_VERTEX_BIT, nullptr},
      {1, VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 1, VK_SHADER_STAGE_FRAGMENT_BIT, nullptr},
  };
  vkdemo::UniqueDescriptorSetLayout set_layout = vkdemo::create_descriptor_set_layout(context, bindings);
  const VkDescriptorPoolSize pool_sizes[] = {
      {VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, kFramesInFlight},
      {VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, kFramesInFlight},
  };
  vkdemo::UniqueDescriptorPool descriptor_pool =
      vkdemo::create_descriptor_pool(context, kFramesInFlight, pool_sizes);

  // Pipeline.
  const VkDescriptorSetLayout set_layouts[] = {set_layout.get()};
  vkdemo::UniquePipelineLayout pipeline_layout = vkdemo::create_pipeline_layout(context, set_layouts);
  vkdemo::UniqueShaderModule vs = context.create_shader_module(cube_vert_spv);
  vkdemo::UniqueShaderModule fs = context.create_shader_module(cube_frag_spv);
  vkdemo::GraphicsPipelineDesc desc;
  desc.vertex_shader = vs.get();
  desc.fragment_shader = fs.get();
  desc.layout = pipeline_layout.get();
  desc.render_pass = render_pass.get();
  desc.extent = kExtent;
  desc.bindings = {{0, sizeof(Vertex), VK_VERTEX_INPUT_RATE_VERTEX}};
  desc.attributes = {
      {0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(Vertex, position)},
      {1, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(Vertex, uv)},
      {2, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(Vertex, tint)},
  };
  desc.cull_mode = VK_CULL_MODE_NONE;
  desc.depth_test = !no_depth;
  vkdemo::UniquePipeline pipeline = vkdemo::create_graphics_pipeline(context, desc);

  // Frame slots.
  const VkDeviceSize frame_bytes = VkDeviceSize{kExtent.width} * kExtent.height * 4;
  std::array<FrameSlot, kFramesInFlight> slots;
  for (FrameSlot& slot : slots) {
    slot.uniforms = vkdemo::Buffer(context, sizeof(vkdemo::Mat4), VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT,
                                   vkdemo::MemoryUse::Upload);
    slot.readback = vkdemo::Buffer(context, frame_bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                   vkdemo::MemoryUse::Readback);
    slot.descriptor_set = vkdemo::allocate_descriptor_set(context, descriptor_pool.get(), set_layout.get());
    slot.fence = context.create_fence(/*signaled=*/true);

    VkDescriptorBufferInfo buffer_info{slot.uniforms.get(), 0, sizeof(vkdemo::Mat4)};
    VkDescriptorImageInfo image_info{sampler.get(), texture.view(), VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL};
    VkWriteDescriptorSet writes[2]{};
    writes[0].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    writes[0].dstSet = slot.descriptor_set;
    writes[0].dstBinding = 0;
    writes[0].descriptorCount = 1;
    writes[0].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
    writes[0].pBufferInfo = &buffer_info;
    writes[1].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    writes[1].dstSet = slot.descriptor_set;
    writes[1].dstBinding = 1;
    writes[1].descriptorCount = 1;
    writes[1].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    writes[1].pImageInfo = &image_info;
    vkUpdateDescriptorSets(device, 2, writes, 0, nullptr);

    VkCommandBufferAllocateInfo alloc_info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc_info.commandPool = context.command_pool();
    alloc_info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc_info.commandBufferCount = 1;
    VKD_CHECK(vkAllocateCommandBuffers(device, &alloc_info, &slot.cmd));
  }

  std::printf("rendering: %u frame(s) of a textured cube, %ux%u R8G8B8A8_UNORM, depth %s%s\n", frames,
              kExtent.width, kExtent.height, format_name(depth_format),
              no_depth ? " (depth test OFF)" : "");

  std::vector<std::byte> last_ppm;
  // Waits for the slot's frame (if any), reports it and keeps its picture.
  auto retire = [&](FrameSlot& slot) {
    VKD_CHECK(vkWaitForFences(device, 1, slot.fence.ptr(), VK_TRUE, UINT64_MAX));
    if (slot.frame < 0) return;
    slot.readback.invalidate();
    last_ppm = vkdemo::encode_ppm_from_rgba(slot.readback.mapped_span<const uint8_t>(), kExtent.width,
                                            kExtent.height);
    std::printf("frame %lld: fnv1a64=%s\n", static_cast<long long>(slot.frame),
                vkdemo::hex64(vkdemo::fnv1a64(last_ppm)).c_str());
    slot.frame = -1;
  };

  for (uint32_t frame = 0; frame < frames; ++frame) {
    FrameSlot& slot = slots[frame % kFramesInFlight];
    retire(slot);
    VKD_CHECK(vkResetFences(device, 1, slot.fence.ptr()));

    const vkdemo::Mat4 mvp = frame_mvp(frame);
    std::memcpy(slot.uniforms.mapped(), mvp.m.data(), sizeof(mvp.m));
    slot.uniforms.flush();

    VkCommandBuffer cmd = slot.cmd;
    VKD_CHECK(vkResetCommandBuffer(cmd, 0));
    VkCommandBufferBeginInfo begin_info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin_info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VKD_CHECK(vkBeginCommandBuffer(cmd, &begin_info));
    VkClearValue clears[2]{};
    clears[0].color = kBackground;
    clears[1].depthStencil = {1.0f, 0};
    VkRenderPassBeginInfo pass_begin{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    pass_begin.renderPass = render_pass.get();
    pass_begin.framebuffer = framebuffer.get();
    pass_begin.renderArea = {{0, 0}, kExtent};
    pass_begin.clearValueCount = 2;
    pass_begin.pClearValues = clears;
    vkCmdBeginRenderPass(cmd, &pass_begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline.get());
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline_layout.get(), 0, 1,
                            &slot.descriptor_set, 0, nullptr);
    const VkDeviceSize vertex_offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, vertex_buffer.ptr(), &vertex_offset);
    vkCmdBindIndexBuffer(cmd, index_buffer.get(), 0, VK_INDEX_TYPE_UINT16);
    vkCmdDrawIndexed(cmd, static_cast<uint32_t>(indices.size()), 1, 0, 0, 0);
    vkCmdEndRenderPass(cmd);
    vkdemo::record_readback(cmd, color, slot.readback);
    VKD_CHECK(vkEndCommandBuffer(cmd));

    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    VKD_CHECK(vkQueueSubmit(context.queue(), 1, &submit, slot.fence.get()));
    slot.frame = frame;
  }
  // Retire what is still in flight, oldest first, so that last_ppm ends as the last frame.
  for (uint32_t i = 0; i < kFramesInFlight; ++i) retire(slots[(frames + i) % kFramesInFlight]);

  vkdemo::write_file(out_path, last_ppm);
  std::printf("output: %s (last frame, %zu bytes)\n", out_path.c_str(), last_ppm.size());
  std::printf("checksum: fnv1a64=%s\n", vkdemo::hex64(vkdemo::fnv1a64(last_ppm)).c_str());
  return 0;
}
