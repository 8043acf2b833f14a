// Pipelines are created asynchronously (their ids are the driver's) unless the application
// asked to hear about compile failures (VK_PIPELINE_CREATE_FAIL_ON_PIPELINE_COMPILE_REQUIRED_BIT).
// Before encoding, members that Vulkan ignores in the given state are cleared: they may be
// garbage (pTessellationState without tessellation shaders, the fragment-side states under
// static rasterizer discard, viewports and scissors that are dynamic, basePipelineHandle
// without VK_PIPELINE_CREATE_DERIVATIVE_BIT, vertex input that is dynamic). Creation feedback is reported as not available.
#include <algorithm>
#include <vector>

#include "icd/generated_support.h"
#include "icd/log.h"

namespace venus::icd {

namespace {

bool has_dynamic(const VkPipelineDynamicStateCreateInfo* d, VkDynamicState s) {
    if (!d) return false;
    for (uint32_t i = 0; i < d->dynamicStateCount; ++i)
        if (d->pDynamicStates[i] == s) return true;
    return false;
}

bool is_library_part(const VkGraphicsPipelineCreateInfo& info) {
    if (info.flags & VK_PIPELINE_CREATE_LIBRARY_BIT_KHR) return true;
    for (auto* s = static_cast<const VkBaseInStructure*>(info.pNext); s; s = s->pNext)
        if (s->sType == VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_LIBRARY_CREATE_INFO_EXT ||
            s->sType == VK_STRUCTURE_TYPE_PIPELINE_LIBRARY_CREATE_INFO_KHR)
            return true;
    return false;
}

// Clean copies of graphics create infos; storage lives as long as this object.
class CleanGraphics {
public:
    CleanGraphics(uint32_t n, const VkGraphicsPipelineCreateInfo* infos) : infos_(infos, infos + n), viewports_(n) {
        for (uint32_t i = 0; i < n; ++i) {
            VkGraphicsPipelineCreateInfo& c = infos_[i];
            if (!(c.flags & VK_PIPELINE_CREATE_DERIVATIVE_BIT)) c.basePipelineHandle = VK_NULL_HANDLE;
            if (is_library_part(c)) continue;  // partial state: leave it to the application
            bool tess = false;
            for (uint32_t s = 0; s < c.stageCount; ++s)
                tess |= (c.pStages[s].stage & (VK_SHADER_STAGE_TESSELLATION_CONTROL_BIT |
                                               VK_SHADER_STAGE_TESSELLATION_EVALUATION_BIT)) != 0;
            if (!tess) c.pTessellationState = nullptr;
            if (has_dynamic(c.pDynamicState, VK_DYNAMIC_STATE_VERTEX_INPUT_EXT)) c.pVertexInputState = nullptr;
            const bool discard = c.pRasterizationState && c.pRasterizationState->rasterizerDiscardEnable &&
                                 !has_dynamic(c.pDynamicState, VK_DYNAMIC_STATE_RASTERIZER_DISCARD_ENABLE);
            if (discard) {
                c.pViewportState = nullptr;
                c.pMultisampleState = nullptr;
                c.pDepthStencilState = nullptr;
                c.pColorBlendState = nullptr;
            }
            if (c.pViewportState) {
                VkPipelineViewportStateCreateInfo vp = *c.pViewportState;
                if (has_dynamic(c.pDynamicState, VK_DYNAMIC_STATE_VIEWPORT)) vp.pViewports = nullptr;
                if (has_dynamic(c.pDynamicState, VK_DYNAMIC_STATE_SCISSOR)) vp.pScissors = nullptr;
                if (has_dynamic(c.pDynamicState, VK_DYNAMIC_STATE_VIEWPORT_WITH_COUNT)) {
                    vp.viewportCount = 0;
                    vp.pViewports = nullptr;
                }
                if (has_dynamic(c.pDynamicState, VK_DYNAMIC_STATE_SCISSOR_WITH_COUNT)) {
                    vp.scissorCount = 0;
                    vp.pScissors = nullptr;
                }
                viewports_[i] = vp;
                c.pViewportState = &viewports_[i];
            }
        }
    }
    const VkGraphicsPipelineCreateInfo* data() const { return infos_.data(); }

private:
    std::vector<VkGraphicsPipelineCreateInfo> infos_;
    std::vector<VkPipelineViewportStateCreateInfo> viewports_;
};

void no_feedback(const void* chain) {
    for (auto* s = static_cast<const VkBaseInStructure*>(chain); s; s = s->pNext) {
        if (s->sType != VK_STRUCTURE_TYPE_PIPELINE_CREATION_FEEDBACK_CREATE_INFO) continue;
        const auto* fb = reinterpret_cast<const VkPipelineCreationFeedbackCreateInfo*>(s);
        if (fb->pPipelineCreationFeedback) *fb->pPipelineCreationFeedback = {};
        for (uint32_t i = 0; i < fb->pipelineStageCreationFeedbackCount; ++i)
            if (fb->pPipelineStageCreationFeedbacks) fb->pPipelineStageCreationFeedbacks[i] = {};
    }
}

template <class Info>
bool wants_result(uint32_t n, const Info* infos) {
    for (uint32_t i = 0; i < n; ++i)
        if (infos[i].flags & VK_PIPELINE_CREATE_FAIL_ON_PIPELINE_COMPILE_REQUIRED_BIT) return true;
    return false;
}

// The wire form of vkCreate{Graphics,Compute}Pipelines: the same but for the create info.
template <class Info>
struct PipelineWire;
#define VENUS_PIPELINE_WIRE(Info, cmd)                                   \
    template <>                                                          \
    struct PipelineWire<Info> {                                          \
        static constexpr auto size = &guest::sizeof_##cmd;               \
        static constexpr auto encode = &guest::encode_##cmd;             \
        static constexpr auto reply_size = &guest::sizeof_##cmd##_reply; \
        static constexpr auto decode = &guest::decode_##cmd##_reply;     \
    }
VENUS_PIPELINE_WIRE(VkGraphicsPipelineCreateInfo, vkCreateGraphicsPipelines);
VENUS_PIPELINE_WIRE(VkComputePipelineCreateInfo, vkCreateComputePipelines);
#undef VENUS_PIPELINE_WIRE

// Encodes the create infos, with a round trip only when the application needs the result.
template <class Info>
VkResult send_pipelines(VkDevice device, VkPipelineCache cache, uint32_t count, const Info* infos, VkPipeline* out,
                        bool result) {
    using W = PipelineWire<Info>;
    auto size = [&](const WireCaps& c) { return W::size(c, device, cache, count, infos, nullptr, out); };
    auto enc = [&](Encoder& e, uint32_t f) { W::encode(e, f, device, cache, count, infos, nullptr, out); };
    Connection& conn = Device::from(device)->conn();
    if (!result) {
        conn.submit(size, enc);
        return VK_SUCCESS;
    }
    return conn.call(size, enc, [&](const WireCaps& c) { return W::reply_size(c, device, cache, count, infos, nullptr, out); },
                     [&](Decoder& d) { return W::decode(d, device, cache, count, infos, nullptr, out); });
}

// vkCreate{Graphics,Compute}Pipelines: the handles are chosen here, `clean()` gives the create
// infos without garbage in ignored members (an object with data()), send_pipelines() sends them.
template <class Info, class Clean>
VkResult create_pipelines(VkDevice device, VkPipelineCache cache, uint32_t count, const Info* pCreateInfos,
                          VkPipeline* pPipelines, Clean&& clean) {
    Connection& conn = Device::from(device)->conn();
    auto clear = [&] {
        for (uint32_t i = 0; i < count; ++i) pPipelines[i] = VK_NULL_HANDLE;
    };
    clear();
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        for (uint32_t i = 0; i < count; ++i) pPipelines[i] = new_handle<VkPipeline>();
        auto cleaned = clean();
        const VkResult r = send_pipelines(device, cache, count, cleaned.data(), pPipelines, wants_result(count, pCreateInfos));
        for (uint32_t i = 0; i < count; ++i) no_feedback(pCreateInfos[i].pNext);
        if (r < 0) clear();
        return r;
    } catch (...) {
        clear();
        return conn.on_exception();
    }
}

}  // namespace

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreateGraphicsPipelines(VkDevice device, VkPipelineCache pipelineCache, uint32_t createInfoCount,
                                                             const VkGraphicsPipelineCreateInfo* pCreateInfos,
                                                             const VkAllocationCallbacks*, VkPipeline* pPipelines) {
    return create_pipelines(device, pipelineCache, createInfoCount, pCreateInfos, pPipelines,
                            [&] { return CleanGraphics(createInfoCount, pCreateInfos); });
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreateComputePipelines(VkDevice device, VkPipelineCache pipelineCache, uint32_t createInfoCount,
                                                            const VkComputePipelineCreateInfo* pCreateInfos,
                                                            const VkAllocationCallbacks*, VkPipeline* pPipelines) {
    return create_pipelines(device, pipelineCache, createInfoCount, pCreateInfos, pPipelines, [&] {
        std::vector<VkComputePipelineCreateInfo> copy(pCreateInfos, pCreateInfos + createInfoCount);
        for (auto& c : copy)
            if (!(c.flags & VK_PIPELINE_CREATE_DERIVATIVE_BIT)) c.basePipelineHandle = VK_NULL_HANDLE;
        return copy;
    });
}

}  // namespace venus::icd
