// The guest driver (libvulkan_venus_cpp.so through a venus-server child) against the native
// driver, in the same run, through the Vulkan loader for both:
//   BM_SubmitFence     empty vkQueueSubmit + vkWaitForFences + vkResetFences round trip
//   BM_SubmitCmdFence  the same with one empty command buffer in the submission
//   BM_RecordLineWidth N x vkCmdSetLineWidth recorded, ended, submitted and waited for
//   BM_RecordDraw      N x vkCmdDraw (one point, 1x1 target) likewise
//   BM_AllocMap        vkAllocateMemory + vkMapMemory (+ one write, unmap, free) of 64 KiB
// Each runs as /native and /venus. The native driver is VENUS_BENCH_NATIVE_ICD (default:
// lavapipe's manifest); the server is this build's venus-server unless VENUS_BENCH_SOCKET names a
// running one.
#include <benchmark/benchmark.h>
#include <vulkan/vulkan.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "point_vert_spv.h"
#include "server_process.h"
#include "white_frag_spv.h"

namespace venus::bench {
namespace {


void check(VkResult r, const char* what) {
    if (r != VK_SUCCESS) throw std::runtime_error(std::string(what) + " failed: VkResult " + std::to_string(r));
}

// One instance, device and queue on one driver, plus what the benchmarks record into.
struct Driver {
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice pd = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t host_visible_type = 0;
    VkCommandPool pool = VK_NULL_HANDLE;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    // a 1x1 render target and a point pipeline for draws
    VkImage image = VK_NULL_HANDLE;
    VkDeviceMemory image_memory = VK_NULL_HANDLE;
    VkImageView view = VK_NULL_HANDLE;
    VkRenderPass render_pass = VK_NULL_HANDLE;
    VkFramebuffer framebuffer = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkPipeline pipeline = VK_NULL_HANDLE;

    explicit Driver(const char* manifest, const char* socket) {
        // the loader reads these at every vkCreateInstance
        setenv("VK_DRIVER_FILES", manifest, 1);
        if (socket) setenv("VTEST_SOCKET_NAME", socket, 1);
        VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
        app.pApplicationName = "venus-bench";
        app.apiVersion = VK_API_VERSION_1_2;
        VkInstanceCreateInfo ii{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
        ii.pApplicationInfo = &app;
        check(vkCreateInstance(&ii, nullptr, &instance), "vkCreateInstance");
        uint32_t n = 1;
        VkResult r = vkEnumeratePhysicalDevices(instance, &n, &pd);
        if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || n == 0) throw std::runtime_error("no physical device");
        const float prio = 1.0f;
        VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
        qi.queueFamilyIndex = 0;
        qi.queueCount = 1;
        qi.pQueuePriorities = &prio;
        VkDeviceCreateInfo di{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
        di.queueCreateInfoCount = 1;
        di.pQueueCreateInfos = &qi;
        check(vkCreateDevice(pd, &di, nullptr, &device), "vkCreateDevice");
        vkGetDeviceQueue(device, 0, 0, &queue);
        VkPhysicalDeviceMemoryProperties mp;
        vkGetPhysicalDeviceMemoryProperties(pd, &mp);
        const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        host_visible_type = UINT32_MAX;
        for (uint32_t i = 0; i < mp.memoryTypeCount && host_visible_type == UINT32_MAX; ++i)
            if ((mp.memoryTypes[i].propertyFlags & want) == want) host_visible_type = i;
        if (host_visible_type == UINT32_MAX) throw std::runtime_error("no host-visible coherent memory");

        VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        check(vkCreateCommandPool(device, &pi, nullptr, &pool), "vkCreateCommandPool");
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = pool;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        check(vkAllocateCommandBuffers(device, &ai, &cmd), "vkAllocateCommandBuffers");
        VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        check(vkCreateFence(device, &fi, nullptr, &fence), "vkCreateFence");
        make_pipeline();
    }

    void make_pipeline() {
        VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
        ici.imageType = VK_IMAGE_TYPE_2D;
        ici.format = VK_FORMAT_R8G8B8A8_UNORM;
        ici.extent = {1, 1, 1};
        ici.mipLevels = 1;
        ici.arrayLayers = 1;
        ici.samples = VK_SAMPLE_COUNT_1_BIT;
        ici.tiling = VK_IMAGE_TILING_OPTIMAL;
        ici.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;
        check(vkCreateImage(device, &ici, nullptr, &image), "vkCreateImage");
        VkMemoryRequirements req;
        vkGetImageMemoryRequirements(device, image, &req);
        VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size, 0};
        VkPhysicalDeviceMemoryProperties mp;
        vkGetPhysicalDeviceMemoryProperties(pd, &mp);
        for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
            if (req.memoryTypeBits & (1u << i)) {
                mai.memoryTypeIndex = i;
                break;
            }
        check(vkAllocateMemory(device, &mai, nullptr, &image_memory), "vkAllocateMemory");
        check(vkBindImageMemory(device, image, image_memory, 0), "vkBindImageMemory");
        VkImageViewCreateInfo vi{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vi.image = image;
        vi.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vi.format = ici.format;
        vi.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        check(vkCreateImageView(device, &vi, nullptr, &view), "vkCreateImageView");
        VkAttachmentDescription att{};
        att.format = ici.format;
        att.samples = VK_SAMPLE_COUNT_1_BIT;
        att.loadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
        att.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
        att.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
        att.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
        att.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
        att.finalLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
        VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
        VkSubpassDescription sub{};
        sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
        sub.colorAttachmentCount = 1;
        sub.pColorAttachments = &ref;
        VkRenderPassCreateInfo rpi{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
        rpi.attachmentCount = 1;
        rpi.pAttachments = &att;
        rpi.subpassCount = 1;
        rpi.pSubpasses = &sub;
        check(vkCreateRenderPass(device, &rpi, nullptr, &render_pass), "vkCreateRenderPass");
        VkFramebufferCreateInfo fbi{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fbi.renderPass = render_pass;
        fbi.attachmentCount = 1;
        fbi.pAttachments = &view;
        fbi.width = fbi.height = fbi.layers = 1;
        check(vkCreateFramebuffer(device, &fbi, nullptr, &framebuffer), "vkCreateFramebuffer");
        VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
        check(vkCreatePipelineLayout(device, &pli, nullptr, &layout), "vkCreatePipelineLayout");
        VkShaderModule vs, fs;
        VkShaderModuleCreateInfo smi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        smi.codeSize = sizeof(point_vert_spv);
        smi.pCode = point_vert_spv;
        check(vkCreateShaderModule(device, &smi, nullptr, &vs), "vkCreateShaderModule");
        smi.codeSize = sizeof(white_frag_spv);
        smi.pCode = white_frag_spv;
        check(vkCreateShaderModule(device, &smi, nullptr, &fs), "vkCreateShaderModule");
        VkPipelineShaderStageCreateInfo stages[2] = {
            {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_VERTEX_BIT, vs, "main"},
            {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_FRAGMENT_BIT, fs, "main"}};
        VkPipelineVertexInputStateCreateInfo vin{VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
        VkPipelineInputAssemblyStateCreateInfo ia{VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
        ia.topology = VK_PRIMITIVE_TOPOLOGY_POINT_LIST;
        VkViewport viewport{0, 0, 1, 1, 0, 1};
        VkRect2D scissor{{0, 0}, {1, 1}};
        VkPipelineViewportStateCreateInfo vp{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
        vp.viewportCount = 1;
        vp.pViewports = &viewport;
        vp.scissorCount = 1;
        vp.pScissors = &scissor;
        VkPipelineRasterizationStateCreateInfo rs{VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
        rs.polygonMode = VK_POLYGON_MODE_FILL;
        rs.cullMode = VK_CULL_MODE_NONE;
        rs.lineWidth = 1.0f;
        VkPipelineMultisampleStateCreateInfo ms{VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
        ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
        VkPipelineColorBlendAttachmentState cba{};
        cba.colorWriteMask = 0xf;
        VkPipelineColorBlendStateCreateInfo cb{VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
        cb.attachmentCount = 1;
        cb.pAttachments = &cba;
        const VkDynamicState dyn = VK_DYNAMIC_STATE_LINE_WIDTH;
        VkPipelineDynamicStateCreateInfo ds{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
        ds.dynamicStateCount = 1;
        ds.pDynamicStates = &dyn;
        VkGraphicsPipelineCreateInfo gpi{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
        gpi.stageCount = 2;
        gpi.pStages = stages;
        gpi.pVertexInputState = &vin;
        gpi.pInputAssemblyState = &ia;
        gpi.pViewportState = &vp;
        gpi.pRasterizationState = &rs;
        gpi.pMultisampleState = &ms;
        gpi.pColorBlendState = &cb;
        gpi.pDynamicState = &ds;
        gpi.layout = layout;
        gpi.renderPass = render_pass;
        check(vkCreateGraphicsPipelines(device, VK_NULL_HANDLE, 1, &gpi, nullptr, &pipeline), "vkCreateGraphicsPipelines");
        vkDestroyShaderModule(device, vs, nullptr);
        vkDestroyShaderModule(device, fs, nullptr);
    }

    void submit_and_wait(VkCommandBuffer cb) {
        VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
        si.commandBufferCount = cb ? 1 : 0;
        si.pCommandBuffers = &cb;
        check(vkQueueSubmit(queue, 1, &si, fence), "vkQueueSubmit");
        check(vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
        check(vkResetFences(device, 1, &fence), "vkResetFences");
    }

    ~Driver() {
        vkDeviceWaitIdle(device);
        vkDestroyPipeline(device, pipeline, nullptr);
        vkDestroyPipelineLayout(device, layout, nullptr);
        vkDestroyFramebuffer(device, framebuffer, nullptr);
        vkDestroyRenderPass(device, render_pass, nullptr);
        vkDestroyImageView(device, view, nullptr);
        vkDestroyImage(device, image, nullptr);
        vkFreeMemory(device, image_memory, nullptr);
        vkDestroyFence(device, fence, nullptr);
        vkDestroyCommandPool(device, pool, nullptr);
        vkDestroyDevice(device, nullptr);
        vkDestroyInstance(instance, nullptr);
    }
};

struct Drivers {
    std::unique_ptr<test::ServerProcess> server;
    std::unique_ptr<Driver> native, venus;
    // the drivers go before the server they talk to
    ~Drivers() {
        venus.reset();
        native.reset();
        server.reset();
    }
};

Drivers& drivers() {
    static Drivers d;
    return d;
}

}  // namespace

void release_drivers() {
    Drivers& d = drivers();
    d.venus.reset();
    d.native.reset();
    d.server.reset();
}

namespace {

Driver& get(bool venus) {
    Drivers& d = drivers();
    if (!venus) {
        if (!d.native) {
            const char* icd = std::getenv("VENUS_BENCH_NATIVE_ICD");
            d.native = std::make_unique<Driver>(icd ? icd : "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", nullptr);
        }
        return *d.native;
    }
    if (!d.venus) {
        std::string socket;
        if (const char* s = std::getenv("VENUS_BENCH_SOCKET")) {
            socket = s;
        } else {
            d.server = std::make_unique<test::ServerProcess>();
            socket = d.server->socket_path();
        }
        d.venus = std::make_unique<Driver>(VENUS_ICD_MANIFEST, socket.c_str());
    }
    return *d.venus;
}

template <bool Venus>
void BM_SubmitFence(benchmark::State& state) {
    Driver& d = get(Venus);
    for (auto _ : state) d.submit_and_wait(VK_NULL_HANDLE);
    state.counters["us_per_roundtrip"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert,
                           benchmark::Counter::kIs1000);
}

// The same with one (empty) command buffer in the submission.
template <bool Venus>
void BM_SubmitCmdFence(benchmark::State& state) {
    Driver& d = get(Venus);
    const VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    check(vkBeginCommandBuffer(d.cmd, &bi), "vkBeginCommandBuffer");
    check(vkEndCommandBuffer(d.cmd), "vkEndCommandBuffer");
    for (auto _ : state) d.submit_and_wait(d.cmd);
    state.counters["us_per_roundtrip"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert,
                           benchmark::Counter::kIs1000);
}

// One recording of `n` cheap commands, ended, submitted and waited for.
void record_once(Driver& d, int64_t n, bool draw) {
    const VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, nullptr,
                                      VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT, nullptr};
    check(vkBeginCommandBuffer(d.cmd, &bi), "vkBeginCommandBuffer");
    if (draw) {
        VkRenderPassBeginInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
        rp.renderPass = d.render_pass;
        rp.framebuffer = d.framebuffer;
        rp.renderArea = {{0, 0}, {1, 1}};
        vkCmdBeginRenderPass(d.cmd, &rp, VK_SUBPASS_CONTENTS_INLINE);
        vkCmdBindPipeline(d.cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, d.pipeline);
        for (int64_t i = 0; i < n; ++i) vkCmdDraw(d.cmd, 1, 1, 0, 0);
        vkCmdEndRenderPass(d.cmd);
    } else {
        for (int64_t i = 0; i < n; ++i) vkCmdSetLineWidth(d.cmd, 1.0f);
    }
    check(vkEndCommandBuffer(d.cmd), "vkEndCommandBuffer");
    d.submit_and_wait(d.cmd);
}

template <bool Venus, bool Draw>
void BM_Record(benchmark::State& state) {
    Driver& d = get(Venus);
    const int64_t n = state.range(0);
    for (auto _ : state) record_once(d, n, Draw);
    state.SetItemsProcessed(state.iterations() * n);
}

// Native and venus side by side: each iteration makes one recording natively and one through
// the stack (in alternating order), each timed. The GPU VMs' speed drifts by tens of percent
// from one second to the next (docs/PERFORMANCE.md), which separate benchmarks measure as
// differences; recordings made side by side see the same machine. Counters: native and venus
// commands/s over all iterations, and venus / native.
template <bool Draw>
void BM_RecordSideBySide(benchmark::State& state) {
    Driver& native = get(false);
    Driver& venus = get(true);
    const int64_t n = state.range(0);
    using clock = std::chrono::steady_clock;
    double native_s = 0, venus_s = 0;
    bool native_first = true;
    for (auto _ : state) {
        Driver& first = native_first ? native : venus;
        Driver& second = native_first ? venus : native;
        const auto t0 = clock::now();
        record_once(first, n, Draw);
        const auto t1 = clock::now();
        record_once(second, n, Draw);
        const auto t2 = clock::now();
        const double a = std::chrono::duration<double>(t1 - t0).count();
        const double b = std::chrono::duration<double>(t2 - t1).count();
        (native_first ? native_s : venus_s) += a;
        (native_first ? venus_s : native_s) += b;
        state.SetIterationTime(a + b);
        native_first = !native_first;
    }
    const double cmds = static_cast<double>(state.iterations() * n);
    state.counters["native_Mps"] = cmds / native_s / 1e6;
    state.counters["venus_Mps"] = cmds / venus_s / 1e6;
    state.counters["venus_vs_native"] = native_s / venus_s;
}

template <bool Venus>
void BM_AllocMap(benchmark::State& state) {
    Driver& d = get(Venus);
    for (auto _ : state) {
        VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, 64 << 10, d.host_visible_type};
        VkDeviceMemory mem;
        check(vkAllocateMemory(d.device, &ai, nullptr, &mem), "vkAllocateMemory");
        void* p = nullptr;
        check(vkMapMemory(d.device, mem, 0, VK_WHOLE_SIZE, 0, &p), "vkMapMemory");
        static_cast<volatile uint8_t*>(p)[0] = 1;
        vkUnmapMemory(d.device, mem);
        vkFreeMemory(d.device, mem, nullptr);
    }
}

BENCHMARK(BM_SubmitFence<false>)->Name("BM_SubmitFence/native")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SubmitFence<true>)->Name("BM_SubmitFence/venus")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SubmitCmdFence<false>)->Name("BM_SubmitCmdFence/native")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SubmitCmdFence<true>)->Name("BM_SubmitCmdFence/venus")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Record<false, false>)->Name("BM_RecordLineWidth/native")->Arg(100000)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Record<true, false>)->Name("BM_RecordLineWidth/venus")->Arg(100000)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Record<false, true>)->Name("BM_RecordDraw/native")->Arg(100000)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Record<true, true>)->Name("BM_RecordDraw/venus")->Arg(100000)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RecordSideBySide<false>)->Name("BM_RecordLineWidth/side_by_side")->Arg(100000)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RecordSideBySide<true>)->Name("BM_RecordDraw/side_by_side")->Arg(100000)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AllocMap<false>)->Name("BM_AllocMap/native")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AllocMap<true>)->Name("BM_AllocMap/venus")->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace venus::bench
