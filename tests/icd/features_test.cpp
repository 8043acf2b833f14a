// Paths of the driver the demos do not take, natively and through the stack, compared:
// descriptor update templates (converted to vkUpdateDescriptorSets in the driver), push
// descriptors plain and by template (with garbage in the members Vulkan ignores), secondary
// command buffers, events, timestamp queries read with WAIT, a command buffer large enough to be
// flushed in pieces while it is recorded, and a command larger than the ring's inline limit.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "icd_test_support.h"
// after <cstdint>: the generated header uses uint32_t
#include "descriptors_spv.h"

namespace venus::icd_test {
namespace {

constexpr uint32_t kCount = 4096;

struct Buffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    void* map = nullptr;
};

Buffer make_buffer(Vk& vk, VkDeviceSize size, VkBufferUsageFlags usage) {
    Buffer b;
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = size;
    bi.usage = usage;
    if (vkCreateBuffer(vk.device, &bi, nullptr, &b.buffer) != VK_SUCCESS) throw std::runtime_error("vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk.device, b.buffer, &req);
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size,
                            vk.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)};
    if (vkAllocateMemory(vk.device, &ai, nullptr, &b.memory) != VK_SUCCESS) throw std::runtime_error("vkAllocateMemory");
    vkBindBufferMemory(vk.device, b.buffer, b.memory, 0);
    if (vkMapMemory(vk.device, b.memory, 0, VK_WHOLE_SIZE, 0, &b.map) != VK_SUCCESS) throw std::runtime_error("vkMapMemory");
    return b;
}

void destroy(Vk& vk, Buffer& b) {
    vkUnmapMemory(vk.device, b.memory);
    vkDestroyBuffer(vk.device, b.buffer, nullptr);
    vkFreeMemory(vk.device, b.memory, nullptr);
}

uint64_t fnv(const void* data, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(data)[i]) * 0x100000001b3ull;
    return h;
}

std::vector<std::string> workload(const DriverEnv& env) {
    std::vector<std::string> out;
    Vk vk(env, VK_API_VERSION_1_3, {VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME});
    VkDevice d = vk.device;
    Buffer src = make_buffer(vk, kCount * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
    Buffer dst = make_buffer(vk, kCount * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    Buffer params = make_buffer(vk, 256, VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT);
    for (uint32_t i = 0; i < kCount; ++i) static_cast<uint32_t*>(src.map)[i] = i * 2654435761u;
    auto set_params = [&](uint32_t mul, uint32_t add) {
        static_cast<uint32_t*>(params.map)[0] = mul;
        static_cast<uint32_t*>(params.map)[1] = add;
    };
    auto result = [&](const char* what) {
        out.push_back(std::string(what) + ": " + std::to_string(fnv(dst.map, kCount * 4)));
        std::memset(dst.map, 0, kCount * 4);
    };

    VkShaderModuleCreateInfo smi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    smi.codeSize = sizeof(descriptors_spv);
    smi.pCode = descriptors_spv;
    VkShaderModule module;
    vkCreateShaderModule(d, &smi, nullptr, &module);
    const VkDescriptorSetLayoutBinding bindings[3] = {
        {0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr},
        {1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr},
        {2, VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr}};
    VkDescriptorSetLayoutCreateInfo dli{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dli.bindingCount = 3;
    dli.pBindings = bindings;
    VkDescriptorSetLayout set_layout, push_layout;
    vkCreateDescriptorSetLayout(d, &dli, nullptr, &set_layout);
    dli.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
    vkCreateDescriptorSetLayout(d, &dli, nullptr, &push_layout);
    const VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, 4};
    VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pli.setLayoutCount = 1;
    pli.pushConstantRangeCount = 1;
    pli.pPushConstantRanges = &range;
    VkPipelineLayout layout, push_pipeline_layout;
    pli.pSetLayouts = &set_layout;
    vkCreatePipelineLayout(d, &pli, nullptr, &layout);
    pli.pSetLayouts = &push_layout;
    vkCreatePipelineLayout(d, &pli, nullptr, &push_pipeline_layout);
    VkComputePipelineCreateInfo cpi{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpi.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT, module, "main"};
    // garbage where Vulkan ignores it
    cpi.basePipelineHandle = reinterpret_cast<VkPipeline>(uintptr_t{0xdead0000});
    cpi.layout = layout;
    VkPipeline pipeline, push_pipeline;
    out.push_back("pipeline: " + std::to_string(vkCreateComputePipelines(d, VK_NULL_HANDLE, 1, &cpi, nullptr, &pipeline)));
    cpi.layout = push_pipeline_layout;
    vkCreateComputePipelines(d, VK_NULL_HANDLE, 1, &cpi, nullptr, &push_pipeline);
    // an application that asks to hear when a pipeline would have to be compiled gets the
    // driver's answer (a round trip; the driver has compiled this one above)
    cpi.flags = VK_PIPELINE_CREATE_FAIL_ON_PIPELINE_COMPILE_REQUIRED_BIT;
    VkPipeline asked = reinterpret_cast<VkPipeline>(uintptr_t{0xdead0000});
    const VkResult asked_result = vkCreateComputePipelines(d, VK_NULL_HANDLE, 1, &cpi, nullptr, &asked);
    const std::string asked_line = "pipeline, fail if compile required: " + std::to_string(asked_result) +
                                   (asked ? ", a pipeline" : ", no pipeline");
    if (asked) vkDestroyPipeline(d, asked, nullptr);
    cpi.flags = 0;

    // ---- a descriptor set written through an update template, used from a secondary buffer
    VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2}, {VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, 1}};
    VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpi.maxSets = 1;
    dpi.poolSizeCount = 2;
    dpi.pPoolSizes = sizes;
    VkDescriptorPool pool;
    vkCreateDescriptorPool(d, &dpi, nullptr, &pool);
    VkDescriptorSetAllocateInfo dsa{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, nullptr, pool, 1, &set_layout};
    VkDescriptorSet set;
    out.push_back("allocate set: " + std::to_string(vkAllocateDescriptorSets(d, &dsa, &set)));
    VkDescriptorSet second;
    out.push_back("pool exhausted: " + std::to_string(vkAllocateDescriptorSets(d, &dsa, &second)));
    // the application's data: buffer infos at odd offsets and strides
    struct Data {
        uint32_t pad;
        VkDescriptorBufferInfo storage[2];
        uint64_t pad2;
        VkDescriptorBufferInfo uniform;
    } data{};
    data.storage[0] = {src.buffer, 0, VK_WHOLE_SIZE};
    data.storage[1] = {dst.buffer, 0, VK_WHOLE_SIZE};
    data.uniform = {params.buffer, 0, 8};
    const VkDescriptorUpdateTemplateEntry entries[2] = {
        {0, 0, 2, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, offsetof(Data, storage), sizeof(VkDescriptorBufferInfo)},
        {2, 0, 1, VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, offsetof(Data, uniform), 0}};
    VkDescriptorUpdateTemplateCreateInfo ti{VK_STRUCTURE_TYPE_DESCRIPTOR_UPDATE_TEMPLATE_CREATE_INFO};
    ti.descriptorUpdateEntryCount = 2;
    ti.pDescriptorUpdateEntries = entries;
    ti.templateType = VK_DESCRIPTOR_UPDATE_TEMPLATE_TYPE_DESCRIPTOR_SET;
    ti.descriptorSetLayout = set_layout;
    VkDescriptorUpdateTemplate set_template;
    vkCreateDescriptorUpdateTemplate(d, &ti, nullptr, &set_template);
    vkUpdateDescriptorSetWithTemplate(d, set, set_template, &data);

    VkCommandPoolCreateInfo cpo{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpo.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    VkCommandPool cmd_pool;
    vkCreateCommandPool(d, &cpo, nullptr, &cmd_pool);
    VkCommandBufferAllocateInfo cba{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, cmd_pool,
                                    VK_COMMAND_BUFFER_LEVEL_SECONDARY, 1};
    VkCommandBuffer secondary;
    vkAllocateCommandBuffers(d, &cba, &secondary);
    VkCommandBufferInheritanceInfo inherit{VK_STRUCTURE_TYPE_COMMAND_BUFFER_INHERITANCE_INFO};
    inherit.renderPass = reinterpret_cast<VkRenderPass>(uintptr_t{0xbad0000});  // ignored without RENDER_PASS_CONTINUE
    VkCommandBufferBeginInfo sbi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr, 0, &inherit};
    vkBeginCommandBuffer(secondary, &sbi);
    const uint32_t offset = 7;
    vkCmdBindPipeline(secondary, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkCmdBindDescriptorSets(secondary, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, nullptr);
    vkCmdPushConstants(secondary, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, 4, &offset);
    vkCmdDispatch(secondary, kCount / 64, 1, 1);
    out.push_back("end secondary: " + std::to_string(vkEndCommandBuffer(secondary)));
    set_params(3, 11);
    out.push_back("run secondary: " + std::to_string(vk.run([&](VkCommandBuffer cb) { vkCmdExecuteCommands(cb, 1, &secondary); })));
    result("template set, secondary");

    // ---- push descriptors, plain, with garbage in the image/texel members
    set_params(5, 1);
    VkDescriptorBufferInfo infos[3] = {{src.buffer, 0, VK_WHOLE_SIZE}, {dst.buffer, 0, VK_WHOLE_SIZE}, {params.buffer, 0, 8}};
    VkWriteDescriptorSet writes[2] = {};
    for (auto& w : writes) {
        w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        w.dstSet = reinterpret_cast<VkDescriptorSet>(uintptr_t{0xbad1000});  // ignored for push descriptors
        w.pImageInfo = reinterpret_cast<const VkDescriptorImageInfo*>(uintptr_t{0x8});
        w.pTexelBufferView = reinterpret_cast<const VkBufferView*>(uintptr_t{0x10});
    }
    writes[0].dstBinding = 0;
    writes[0].descriptorCount = 2;
    writes[0].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[0].pBufferInfo = infos;
    writes[1].dstBinding = 2;
    writes[1].descriptorCount = 1;
    writes[1].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
    writes[1].pBufferInfo = infos + 2;
    auto push_set = reinterpret_cast<PFN_vkCmdPushDescriptorSetKHR>(vkGetDeviceProcAddr(d, "vkCmdPushDescriptorSetKHR"));
    auto push_template = reinterpret_cast<PFN_vkCmdPushDescriptorSetWithTemplateKHR>(
        vkGetDeviceProcAddr(d, "vkCmdPushDescriptorSetWithTemplateKHR"));
    if (!push_set || !push_template) throw std::runtime_error("push descriptor commands missing");
    out.push_back("run push: " + std::to_string(vk.run([&](VkCommandBuffer cb) {
        vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, push_pipeline);
        push_set(cb, VK_PIPELINE_BIND_POINT_COMPUTE, push_pipeline_layout, 0, 2, writes);
        vkCmdPushConstants(cb, push_pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, 4, &offset);
        vkCmdDispatch(cb, kCount / 64, 1, 1);
    })));
    result("push descriptors");

    // ---- push descriptors by template
    set_params(9, 4);
    ti.templateType = VK_DESCRIPTOR_UPDATE_TEMPLATE_TYPE_PUSH_DESCRIPTORS_KHR;
    ti.descriptorSetLayout = VK_NULL_HANDLE;
    ti.pipelineBindPoint = VK_PIPELINE_BIND_POINT_COMPUTE;
    ti.pipelineLayout = push_pipeline_layout;
    ti.set = 0;
    VkDescriptorUpdateTemplate push_tmpl;
    vkCreateDescriptorUpdateTemplate(d, &ti, nullptr, &push_tmpl);
    out.push_back("run push template: " + std::to_string(vk.run([&](VkCommandBuffer cb) {
        vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, push_pipeline);
        push_template(cb, push_tmpl, push_pipeline_layout, 0, &data);
        vkCmdPushConstants(cb, push_pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, 4, &offset);
        vkCmdDispatch(cb, kCount / 64, 1, 1);
    })));
    result("push template");

    // ---- events and timestamp queries
    VkEventCreateInfo ei{VK_STRUCTURE_TYPE_EVENT_CREATE_INFO};
    VkEvent event;
    vkCreateEvent(d, &ei, nullptr, &event);
    out.push_back("event before: " + std::to_string(vkGetEventStatus(d, event)));
    out.push_back("host set: " + std::to_string(vkSetEvent(d, event)) + " -> " + std::to_string(vkGetEventStatus(d, event)));
    vkResetEvent(d, event);
    VkQueryPoolCreateInfo qpi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qpi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qpi.queryCount = 2;
    VkQueryPool queries;
    vkCreateQueryPool(d, &qpi, nullptr, &queries);
    out.push_back("run events: " + std::to_string(vk.run([&](VkCommandBuffer cb) {
        vkCmdResetQueryPool(cb, queries, 0, 2);
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries, 0);
        vkCmdSetEvent(cb, event, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
        vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries, 1);
    })));
    out.push_back("event after: " + std::to_string(vkGetEventStatus(d, event)));
    uint64_t stamps[4] = {};
    const VkResult qr = vkGetQueryPoolResults(d, queries, 0, 2, sizeof(stamps), stamps, 16,
                                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT | VK_QUERY_RESULT_WITH_AVAILABILITY_BIT);
    out.push_back("timestamps: " + std::to_string(qr) + " available " + std::to_string(stamps[1]) + " " +
                  std::to_string(stamps[3]) + " ordered " + std::to_string(stamps[2] >= stamps[0]));

    // ---- a command buffer flushed in pieces while recorded, and one command over the inline limit
    std::vector<uint32_t> words(kCount);
    for (uint32_t i = 0; i < kCount; ++i) words[i] = i ^ 0x5a5a;
    out.push_back("run big: " + std::to_string(vk.run([&](VkCommandBuffer cb) {
        for (int i = 0; i < 200000; ++i) vkCmdSetLineWidth(cb, 1.0f);  // ~4 MB of commands
        vkCmdFillBuffer(cb, dst.buffer, 0, VK_WHOLE_SIZE, 0x01020304);
        for (int i = 0; i < 16; ++i)  // 16 KiB each, ordered after the fill
            vkCmdUpdateBuffer(cb, dst.buffer, 0, kCount * 4, words.data());
    })));
    result("big command buffer");
    // a pNext-free host command over 32 KiB: 4096 descriptor writes at once
    std::vector<VkWriteDescriptorSet> many(4096, writes[0]);
    for (auto& w : many) {
        w.dstSet = set;
        w.descriptorCount = 1;
    }
    vkUpdateDescriptorSets(d, static_cast<uint32_t>(many.size()), many.data(), 0, nullptr);
    out.push_back("after big update: " + std::to_string(vkDeviceWaitIdle(d)));

    // ---- dynamic rendering: a clear through vkCmdBeginRendering, garbage in the ignored resolve view
    {
        const VkImageCreateInfo ii = image_2d(VK_FORMAT_R8G8B8A8_UNORM, 16, 16,
                                              VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
        VkImage image;
        vkCreateImage(d, &ii, nullptr, &image);
        VkMemoryRequirements req;
        vkGetImageMemoryRequirements(d, image, &req);
        VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size, vk.memory_type(req.memoryTypeBits, 0)};
        VkDeviceMemory image_memory;
        vkAllocateMemory(d, &mai, nullptr, &image_memory);
        vkBindImageMemory(d, image, image_memory, 0);
        VkImageViewCreateInfo vi{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vi.image = image;
        vi.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vi.format = ii.format;
        vi.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView view;
        vkCreateImageView(d, &vi, nullptr, &view);
        out.push_back("run rendering: " + std::to_string(vk.run([&](VkCommandBuffer cb) {
            VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
            b.dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
            b.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
            b.newLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
            b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
            b.image = image;
            b.subresourceRange = vi.subresourceRange;
            vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, 0, 0,
                                 nullptr, 0, nullptr, 1, &b);
            VkRenderingAttachmentInfo color{VK_STRUCTURE_TYPE_RENDERING_ATTACHMENT_INFO};
            color.imageView = view;
            color.imageLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
            color.resolveMode = VK_RESOLVE_MODE_NONE;
            color.resolveImageView = reinterpret_cast<VkImageView>(uintptr_t{0xbad2000});  // ignored
            color.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
            color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
            color.clearValue.color = {{0.25f, 0.5f, 0.75f, 1.0f}};
            VkRenderingInfo ri{VK_STRUCTURE_TYPE_RENDERING_INFO};
            ri.renderArea = {{0, 0}, {16, 16}};
            ri.layerCount = 1;
            ri.colorAttachmentCount = 1;
            ri.pColorAttachments = &color;
            vkCmdBeginRendering(cb, &ri);
            vkCmdEndRendering(cb);
            b.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
            b.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
            b.oldLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
            b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
            vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0,
                                 nullptr, 0, nullptr, 1, &b);
            VkBufferImageCopy copy{};
            copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
            copy.imageExtent = {16, 16, 1};
            vkCmdCopyImageToBuffer(cb, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, dst.buffer, 1, &copy);
        })));
        result("dynamic rendering clear");
        vkDestroyImageView(d, view, nullptr);
        vkDestroyImage(d, image, nullptr);
        vkFreeMemory(d, image_memory, nullptr);
    }

    vkDestroyQueryPool(d, queries, nullptr);
    vkDestroyEvent(d, event, nullptr);
    vkDestroyDescriptorUpdateTemplate(d, push_tmpl, nullptr);
    vkDestroyDescriptorUpdateTemplate(d, set_template, nullptr);
    vkDestroyCommandPool(d, cmd_pool, nullptr);
    vkDestroyDescriptorPool(d, pool, nullptr);
    vkDestroyPipeline(d, pipeline, nullptr);
    vkDestroyPipeline(d, push_pipeline, nullptr);
    vkDestroyPipelineLayout(d, layout, nullptr);
    vkDestroyPipelineLayout(d, push_pipeline_layout, nullptr);
    vkDestroyDescriptorSetLayout(d, set_layout, nullptr);
    vkDestroyDescriptorSetLayout(d, push_layout, nullptr);
    vkDestroyShaderModule(d, module, nullptr);
    destroy(vk, src);
    destroy(vk, dst);
    destroy(vk, params);
    out.push_back(asked_line);
    return out;
}

TEST(Features, TemplatesPushDescriptorsSecondariesEventsQueriesBigStreams) {
    Server server;
    const auto native = workload(native_env());
    const auto venus = workload(venus_env(server));
    EXPECT_EQ(venus, native);
    // and native did what Vulkan says
    ASSERT_GE(native.size(), 10u);
    EXPECT_EQ(native[1], "allocate set: 0");
    // (lavapipe does not run out of a descriptor pool: native[2] is whatever the host says)
    for (const auto& line : venus) std::cout << "  " << line << "\n";
    EXPECT_EQ(server.log().find("fatal"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace venus::icd_test

namespace venus::icd_test {
namespace {

// Four threads at once, each creating, mapping, recording, submitting (the queue under a mutex,
// as Vulkan requires) and waiting on its own fence: the driver's shared state (ring, pools,
// registry, reply buffers, wait rings) under contention.
std::vector<std::string> threaded(const DriverEnv& env) {
    Vk vk(env);
    std::mutex queue_mutex;
    std::vector<std::string> results(4);
    auto worker = [&](int t) {
        VkDevice d = vk.device;
        VkCommandPoolCreateInfo cpi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        VkCommandPool pool;
        vkCreateCommandPool(d, &cpi, nullptr, &pool);
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool,
                                       VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
        VkCommandBuffer cb;
        vkAllocateCommandBuffers(d, &ai, &cb);
        VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        VkFence fence;
        vkCreateFence(d, &fi, nullptr, &fence);
        uint64_t sum = 0;
        int ok = 0;
        for (int i = 0; i < 100; ++i) {
            Buffer a = make_buffer(vk, 4096, VK_BUFFER_USAGE_TRANSFER_SRC_BIT);
            Buffer b = make_buffer(vk, 4096, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
            for (uint32_t k = 0; k < 1024; ++k) static_cast<uint32_t*>(a.map)[k] = k * 31u + static_cast<uint32_t>(t * 1000 + i);
            VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
            vkBeginCommandBuffer(cb, &bi);
            VkBufferCopy region{0, 0, 4096};
            vkCmdCopyBuffer(cb, a.buffer, b.buffer, 1, &region);
            vkEndCommandBuffer(cb);
            VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
            si.commandBufferCount = 1;
            si.pCommandBuffers = &cb;
            VkResult r;
            {
                std::lock_guard lock(queue_mutex);
                r = vkQueueSubmit(vk.queue, 1, &si, fence);
            }
            if (r == VK_SUCCESS) r = vkWaitForFences(d, 1, &fence, VK_TRUE, UINT64_MAX);
            vkResetFences(d, 1, &fence);
            if (r == VK_SUCCESS) ++ok;
            sum += fnv(b.map, 4096);
            destroy(vk, a);
            destroy(vk, b);
        }
        vkDestroyFence(d, fence, nullptr);
        vkDestroyCommandPool(d, pool, nullptr);
        results[t] = "thread " + std::to_string(t) + ": " + std::to_string(ok) + " ok, sum " + std::to_string(sum);
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            try {
                worker(t);
            } catch (const std::exception& e) {
                results[t] = "thread " + std::to_string(t) + ": " + e.what();
            }
        });
    for (auto& th : threads) th.join();
    return results;
}

TEST(Features, FourThreadsAtOnce) {
    Server server;
    const auto native = threaded(native_env());
    const auto venus = threaded(venus_env(server));
    EXPECT_EQ(venus, native);
    EXPECT_EQ(native[0].find("100 ok"), 10u) << native[0];
    EXPECT_EQ(server.log().find("fatal"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace venus::icd_test

namespace venus::icd_test {
namespace {

// A long command buffer whose result depends on the order of its commands: 20,000 fills of one
// of 16 slots, each followed by a transfer barrier, so every slot ends with the value of the
// last fill that wrote it. Through the stack the renderer runs these recording commands on its
// executor thread (VENUS_DEFERRED_EXECUTION=on), batch after batch, while it decodes the next
// ones: the buffer must come out as natively, and as Vulkan's ordering says.
constexpr uint32_t kSlots = 16, kFills = 20000;

std::vector<uint32_t> ordered_fills(const DriverEnv& env) {
    Vk vk(env);
    Buffer b = make_buffer(vk, kSlots * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    std::memset(b.map, 0xff, kSlots * 4);
    std::vector<uint32_t> out;
    for (uint32_t round = 0; round < 2; ++round) {
        const VkResult r = vk.run([&](VkCommandBuffer cb) {
            VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT,
                                    VK_ACCESS_TRANSFER_WRITE_BIT};
            for (uint32_t i = 0; i < kFills; ++i) {
                vkCmdFillBuffer(cb, b.buffer, ((i * 7 + round) % kSlots) * 4, 4, i + round * kFills);
                vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &barrier,
                                     0, nullptr, 0, nullptr);
            }
        });
        if (r != VK_SUCCESS) throw std::runtime_error("ordered fills: VkResult " + std::to_string(r));
        const auto* v = static_cast<const uint32_t*>(b.map);
        out.insert(out.end(), v, v + kSlots);
    }
    destroy(vk, b);
    return out;
}

std::vector<uint32_t> expected_fills() {
    std::vector<uint32_t> expected(2 * kSlots);
    for (uint32_t round = 0; round < 2; ++round)
        for (uint32_t i = 0; i < kFills; ++i) expected[round * kSlots + (i * 7 + round) % kSlots] = i + round * kFills;
    return expected;
}

// Every "<what> of N bytes" / "N <what>" number the server logged.
std::vector<uint64_t> logged_numbers(const std::string& log, const std::string& before, const std::string& after) {
    std::vector<uint64_t> out;
    for (size_t at = log.find(before); at != std::string::npos; at = log.find(before, at + 1)) {
        const size_t start = at + before.size();
        size_t end = start;
        while (end < log.size() && std::isdigit(static_cast<unsigned char>(log[end]))) ++end;
        if (end > start && log.compare(end, after.size(), after) == 0) out.push_back(std::stoull(log.substr(start, end - start)));
    }
    return out;
}

TEST(Features, DeferredRecordingKeepsStreamOrder) {
    Server server({"--no-fork", "-v"}, {{"VENUS_DEFERRED_EXECUTION", "on"}});
    const auto native = ordered_fills(native_env());
    const auto venus = ordered_fills(venus_env(server));
    EXPECT_EQ(native, expected_fills());
    EXPECT_EQ(venus, native);
    server.stop();
    const std::string log = server.log();
    EXPECT_EQ(log.find("fatal"), std::string::npos) << log;
    // the executor did take part
    EXPECT_NE(log.find("batches of recording commands ran on the executor thread"), std::string::npos) << log;
}

// The same stream through the renderer's fast path (the fills) interleaved with the general
// decoder (the barriers), and with the fast path off: the same buffer both ways. The recording
// reaches the renderer in pieces that start at 16 KiB and double up to 256 KiB.
TEST(Features, FastPathKeepsStreamOrder) {
    const auto native = ordered_fills(native_env());
    ASSERT_EQ(native, expected_fills());
    for (const char* fast : {"on", "off"}) {
        SCOPED_TRACE(std::string("VENUS_FAST_PATH=") + fast);
        // the executor (on in the deferred.* run of this suite) would take the fills off the fast path
        Server server({"--no-fork", "-v"}, {{"VENUS_FAST_PATH", fast}, {"VENUS_DEFERRED_EXECUTION", "off"}});
        EXPECT_EQ(ordered_fills(venus_env(server)), native);
        server.stop();
        const std::string log = server.log();
        EXPECT_EQ(log.find("fatal"), std::string::npos) << log;
        const auto fast_counts = logged_numbers(log, "path: ", " recording commands took the fast path");
        uint64_t fast_total = 0;
        for (uint64_t n : fast_counts) fast_total += n;
        if (std::string(fast) == "on")
            EXPECT_GE(fast_total, 2u * kFills) << log;  // every fill
        else
            EXPECT_EQ(fast_total, 0u) << log;
        const auto streams = logged_numbers(log, "command stream of ", " bytes");
        ASSERT_FALSE(streams.empty()) << log;
        EXPECT_LE(*std::max_element(streams.begin(), streams.end()), 256u << 10);
        // the 16 and 32 KiB pieces fit the ring (inline limit 32 KiB); the first indirect one is
        // the 64 KiB piece (a recording used to go out in 256 KiB pieces only)
        EXPECT_TRUE(std::any_of(streams.begin(), streams.end(), [](uint64_t n) { return n > 32u << 10 && n <= 64u << 10; }))
            << "no 64 KiB piece: " << ::testing::PrintToString(streams);
        EXPECT_TRUE(std::any_of(streams.begin(), streams.end(), [](uint64_t n) { return n > 128u << 10; }))
            << "no piece grew past 128 KiB: " << ::testing::PrintToString(streams);
    }
}

// A recording with commands of every size in one command buffer: runs of fills (the renderer's
// fast path; within a run they write distinct words, so their order does not matter), barriers,
// and vkCmdUpdateBuffer of 4 bytes up to 64 KiB (the general decoder; bigger than the first
// pieces of a recording). Pieces of every size reach the renderer; those recorded straight into
// shared memory run partly in place, partly from a copy. The buffer must come out as natively.
std::vector<uint8_t> pieces_of_every_size(const DriverEnv& env) {
    constexpr VkDeviceSize kSize = 256 << 10;
    Vk vk(env);
    Buffer b = make_buffer(vk, kSize, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    std::memset(b.map, 0, kSize);
    std::mt19937 rng(20261126);
    std::vector<uint32_t> data(65536 / 4);
    for (auto& w : data) w = rng();
    const VkResult r = vk.run([&](VkCommandBuffer cb) {
        const VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT,
                                      VK_ACCESS_TRANSFER_WRITE_BIT};
        auto sync = [&] {
            vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &barrier, 0,
                                 nullptr, 0, nullptr);
        };
        for (int i = 0; i < 400; ++i) {
            const uint32_t run = 1 + rng() % 600;
            const uint32_t first = rng() % (kSize / 4);
            for (uint32_t j = 0; j < run; ++j)
                vkCmdFillBuffer(cb, b.buffer, ((first + j) % (kSize / 4)) * 4, 4, rng());
            sync();
            // mostly small updates, one in four up to the 64 KiB that vkCmdUpdateBuffer allows
            const uint32_t words = 1 + (rng() % 4 ? rng() % 256 : rng() % (65536 / 4));
            const VkDeviceSize offset = (rng() % (kSize / 4 - words + 1)) * 4;
            vkCmdUpdateBuffer(cb, b.buffer, offset, words * 4, data.data() + rng() % (data.size() - words + 1));
            sync();
        }
    });
    if (r != VK_SUCCESS) throw std::runtime_error("pieces of every size: VkResult " + std::to_string(r));
    std::vector<uint8_t> out(static_cast<const uint8_t*>(b.map), static_cast<const uint8_t*>(b.map) + kSize);
    destroy(vk, b);
    return out;
}

TEST(Features, PiecesOfEverySize) {
    const auto native = pieces_of_every_size(native_env());
    ASSERT_NE(std::count(native.begin(), native.end(), 0), static_cast<std::ptrdiff_t>(native.size()));
    Server server({"--no-fork", "-v"}, {{"VENUS_DEFERRED_EXECUTION", "off"}});
    EXPECT_TRUE(pieces_of_every_size(venus_env(server)) == native) << "the buffer differs from native";
    server.stop();
    const std::string log = server.log();
    EXPECT_EQ(log.find("fatal"), std::string::npos) << log;
    const auto streams = logged_numbers(log, "command stream of ", " bytes");
    EXPECT_TRUE(std::any_of(streams.begin(), streams.end(), [](uint64_t n) { return n > 200u << 10; }))
        << "no piece near 256 KiB: " << ::testing::PrintToString(streams);
    EXPECT_FALSE(logged_numbers(log, "path: ", " recording commands took the fast path").empty()) << log;
}

// Past the ring's idle timeout (1 ms) the renderer's ring thread sleeps until the guest notifies
// it. A recording sends nothing until its first piece is full or it ends, so vkBeginCommandBuffer
// wakes the thread itself: the wake-up overlaps the application's recording.
TEST(Features, BeginWakesAnIdleRing) {
    Server server({"--no-fork", "-v"});
    Vk vk(venus_env(server));
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, nullptr, 0, vk.family};
    VkCommandPool pool;
    VK_OK(vkCreateCommandPool(vk.device, &pci, nullptr, &pool));
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, nullptr, pool,
                                    VK_COMMAND_BUFFER_LEVEL_PRIMARY, 1};
    VkCommandBuffer cb;
    VK_OK(vkAllocateCommandBuffers(vk.device, &cai, &cb));
    VK_OK(vkDeviceWaitIdle(vk.device));  // a round trip: everything before it has run
    auto wakes = [&] { return logged_numbers(server.log(), "ring ", ": woken by the guest").size(); };
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the ring goes IDLE
    const size_t before = wakes();
    const VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    VK_OK(vkBeginCommandBuffer(cb, &bi));
    size_t after = before;
    for (int i = 0; i < 200 && after == before; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        after = wakes();
    }
    EXPECT_EQ(after, before + 1) << server.log();
    VK_OK(vkEndCommandBuffer(cb));
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    VK_OK(vkQueueSubmit(vk.queue, 1, &si, VK_NULL_HANDLE));
    VK_OK(vkQueueWaitIdle(vk.queue));
    vkDestroyCommandPool(vk.device, pool, nullptr);
}

}  // namespace
}  // namespace venus::icd_test
