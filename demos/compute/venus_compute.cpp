// venus-compute: a compute shader mixes 1<<20 integers; the result is read back through a
// host-visible mapping, checked against a CPU reference, written out and checksummed.

#include "args.hpp"
#include "vkdemo.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "compute.comp.h"

namespace {

// The input pattern: deterministic, covers all low-bit combinations (round counts).
uint32_t input_value(uint32_t i) { return (i * 2654435761u + 12345u) ^ (i >> 7); }

// CPU reference of shaders/compute.comp.
uint32_t mix32(uint32_t x, uint32_t index) {
  uint32_t h = x ^ (index * 0x9e3779b9u);
  const uint32_t rounds = 3u + (x & 3u);
  for (uint32_t r = 0; r < rounds; ++r) {
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    h = (h << 5) | (h >> 27);
    h += r * 0x632be5abu;
  }
  return h;
}

constexpr uint32_t kWorkgroupSize = 64;  // local_size_x in compute.comp

}  // namespace

int main(int argc, char** argv) {
  vkdemo::set_program_name("venus-compute");
  uint32_t device_index = 0;
  uint32_t count = 1u << 20;
  std::string out_path = "venus-compute.bin";
  vkdemo::ArgParser args("venus-compute",
                         "Runs a hash-like integer mix over N values in a compute shader, verifies it "
                         "against the CPU and writes the raw little-endian uint32 output.");
  args.add_uint("device", "physical device index (default 0)", &device_index);
  args.add_uint("count", "number of values (default 1048576)", &count, 1, 1u << 26);
  args.add_string("out", "FILE", "output file (default venus-compute.bin)", &out_path);
  args.parse(argc, argv);

  vkdemo::Context context({"venus-compute", device_index, VK_QUEUE_COMPUTE_BIT});
  context.print_summary();
  VkDevice device = context.device();

  const VkDeviceSize bytes = VkDeviceSize{count} * sizeof(uint32_t);
  vkdemo::Buffer input(context, bytes, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, vkdemo::MemoryUse::Upload);
  vkdemo::Buffer output(context, bytes, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, vkdemo::MemoryUse::Readback);
  {
    std::span<uint32_t> values = input.mapped_span<uint32_t>();
    for (uint32_t i = 0; i < count; ++i) values[i] = input_value(i);
    input.flush();
    // Poison the output so that a shader that writes nothing cannot pass.
    std::memset(output.mapped(), 0xa5, bytes);
    output.flush();
  }

  // Descriptor set: binding 0 = input, binding 1 = output.
  VkDescriptorSetLayoutBinding bindings[2]{};
  for (uint32_t b = 0; b < 2; ++b) {
    bindings[b].binding = b;
    bindings[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    bindings[b].descriptorCount = 1;
    bindings[b].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  vkdemo::UniqueDescriptorSetLayout set_layout = vkdemo::create_descriptor_set_layout(context, bindings);
  const VkDescriptorPoolSize pool_sizes[] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2}};
  vkdemo::UniqueDescriptorPool descriptor_pool = vkdemo::create_descriptor_pool(context, 1, pool_sizes);
  VkDescriptorSet set = vkdemo::allocate_descriptor_set(context, descriptor_pool.get(), set_layout.get());

  VkDescriptorBufferInfo buffer_infos[2] = {{input.get(), 0, VK_WHOLE_SIZE},
                                            {output.get(), 0, VK_WHOLE_SIZE}};
  VkWriteDescriptorSet writes[2]{};
  for (uint32_t b = 0; b < 2; ++b) {
    writes[b].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    writes[b].dstSet = set;
    writes[b].dstBinding = b;
    writes[b].descriptorCount = 1;
    writes[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[b].pBufferInfo = &buffer_infos[b];
  }
  vkUpdateDescriptorSets(device, 2, writes, 0, nullptr);

  const VkPushConstantRange push_ranges[] = {{VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(uint32_t)}};
  const VkDescriptorSetLayout set_layouts[] = {set_layout.get()};
  vkdemo::UniquePipelineLayout pipeline_layout =
      vkdemo::create_pipeline_layout(context, set_layouts, push_ranges);

  vkdemo::UniqueShaderModule shader = context.create_shader_module(compute_comp_spv);
  VkComputePipelineCreateInfo pipeline_info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  pipeline_info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  pipeline_info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  pipeline_info.stage.module = shader.get();
  pipeline_info.stage.pName = "main";
  pipeline_info.layout = pipeline_layout.get();
  VkPipeline raw_pipeline = VK_NULL_HANDLE;
  VKD_CHECK(vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &pipeline_info, nullptr, &raw_pipeline));
  vkdemo::UniquePipeline pipeline(device, raw_pipeline);

  const uint32_t groups = (count + kWorkgroupSize - 1) / kWorkgroupSize;
  if (groups > context.properties().limits.maxComputeWorkGroupCount[0]) {
    vkdemo::fail("--count " + std::to_string(count) + " needs " + std::to_string(groups) +
                 " workgroups; the device allows " +
                 std::to_string(context.properties().limits.maxComputeWorkGroupCount[0]));
  }
  context.run_once([&](VkCommandBuffer cmd) {
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.get());
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline_layout.get(), 0, 1, &set, 0,
                            nullptr);
    vkCmdPushConstants(cmd, pipeline_layout.get(), VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(count), &count);
    vkCmdDispatch(cmd, groups, 1, 1);
    vkdemo::buffer_barrier(cmd, output, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                           VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  });
  std::printf("computed: mix32 over %u uint32 values (%u workgroups of %u)\n", count, groups,
              kWorkgroupSize);

  output.invalidate();
  std::span<const uint32_t> result = output.mapped_span<uint32_t>();
  uint32_t mismatches = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t expected = mix32(input_value(i), i);
    if (result[i] != expected) {
      if (mismatches < 8) {
        std::fprintf(stderr, "venus-compute: mismatch at %u: GPU 0x%08x, CPU 0x%08x\n", i, result[i],
                     expected);
      }
      ++mismatches;
    }
  }
  if (mismatches != 0) {
    vkdemo::fail(std::to_string(mismatches) + " of " + std::to_string(count) +
                 " values differ from the CPU reference");
  }
  std::printf("verified: all %u values match the CPU reference\n", count);

  std::span<const std::byte> out_bytes = std::as_bytes(result);
  vkdemo::write_file(out_path, out_bytes);
  std::printf("output: %s (%zu bytes)\n", out_path.c_str(), out_bytes.size());
  std::printf("checksum: fnv1a64=%s\n", vkdemo::hex64(vkdemo::fnv1a64(out_bytes)).c_str());
  return 0;
}
