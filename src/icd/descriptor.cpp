// Descriptor set layouts, pools, sets and updates. The driver remembers each set's layout so
// that it can clean VkWriteDescriptorSet before encoding: Vulkan lets applications leave
// garbage in the members a descriptor type ignores (pointers of the other two kinds, samplers
// of immutable-sampler bindings, image views of sampler descriptors), and the encoder would
// follow those pointers and the renderer would reject those ids. Update templates exist only
// in the driver: the protocol has no vkUpdateDescriptorSetWithTemplate, so each template
// update becomes vkUpdateDescriptorSets (vkCmdPushDescriptorSetKHR for push templates).
#include <algorithm>
#include <cstring>
#include <functional>

#include "icd/generated_support.h"
#include "icd/log.h"

namespace venus::icd {

namespace {

enum class Kind { Image, TexelBuffer, Buffer, Other };

Kind kind_of(VkDescriptorType t) {
    switch (t) {
    case VK_DESCRIPTOR_TYPE_SAMPLER:
    case VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER:
    case VK_DESCRIPTOR_TYPE_SAMPLED_IMAGE:
    case VK_DESCRIPTOR_TYPE_STORAGE_IMAGE:
    case VK_DESCRIPTOR_TYPE_INPUT_ATTACHMENT:
        return Kind::Image;
    case VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER:
    case VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER:
        return Kind::TexelBuffer;
    case VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER:
    case VK_DESCRIPTOR_TYPE_STORAGE_BUFFER:
    case VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER_DYNAMIC:
    case VK_DESCRIPTOR_TYPE_STORAGE_BUFFER_DYNAMIC:
        return Kind::Buffer;
    default:
        return Kind::Other;
    }
}

// Clean copies of a batch of descriptor writes; the storage lives as long as this object.
class CleanWrites {
public:
    CleanWrites(uint32_t count, const VkWriteDescriptorSet* writes,
                const std::function<std::shared_ptr<const SetLayout>(const VkWriteDescriptorSet&)>& layout_of) {
        size_t images = 0;
        for (uint32_t i = 0; i < count; ++i)
            if (kind_of(writes[i].descriptorType) == Kind::Image) images += writes[i].descriptorCount;
        image_infos_.reserve(images);
        writes_.assign(writes, writes + count);
        for (auto& w : writes_) {
            const Kind k = kind_of(w.descriptorType);
            if (k != Kind::Image) w.pImageInfo = nullptr;
            if (k != Kind::Buffer) w.pBufferInfo = nullptr;
            if (k != Kind::TexelBuffer) w.pTexelBufferView = nullptr;
            if (k != Kind::Image || !w.pImageInfo) continue;
            bool immutable = false;
            if (w.descriptorType == VK_DESCRIPTOR_TYPE_SAMPLER ||
                w.descriptorType == VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER) {
                auto layout = layout_of(w);
                const SetLayout::Binding* b = layout ? layout->binding(w.dstBinding) : nullptr;
                immutable = b && b->immutable_samplers;
            }
            const size_t first = image_infos_.size();
            for (uint32_t j = 0; j < w.descriptorCount; ++j) {
                VkDescriptorImageInfo info = w.pImageInfo[j];
                switch (w.descriptorType) {
                case VK_DESCRIPTOR_TYPE_SAMPLER:
                    info.imageView = VK_NULL_HANDLE;
                    info.imageLayout = VK_IMAGE_LAYOUT_UNDEFINED;
                    if (immutable) info.sampler = VK_NULL_HANDLE;
                    break;
                case VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER:
                    if (immutable) info.sampler = VK_NULL_HANDLE;
                    break;
                default:
                    info.sampler = VK_NULL_HANDLE;
                    break;
                }
                image_infos_.push_back(info);
            }
            w.pImageInfo = image_infos_.data() + first;
        }
    }
    uint32_t count() const { return static_cast<uint32_t>(writes_.size()); }
    const VkWriteDescriptorSet* data() const { return writes_.data(); }
    void clear_sets() {
        for (auto& w : writes_) w.dstSet = VK_NULL_HANDLE;
    }

private:
    std::vector<VkWriteDescriptorSet> writes_;
    std::vector<VkDescriptorImageInfo> image_infos_;
};

template <class Fn>
VkResult guarded_result(Connection& conn, Fn&& fn) {
    if (conn.lost()) return VK_ERROR_DEVICE_LOST;
    try {
        return fn();
    } catch (...) {
        return conn.on_exception();
    }
}

template <class Fn>
void guarded(Connection& conn, Fn&& fn) {
    if (conn.lost()) return;
    try {
        fn();
    } catch (...) {
        conn.on_exception();
    }
}

void update_sets(Device* dev, uint32_t writeCount, const VkWriteDescriptorSet* pWrites, uint32_t copyCount,
                 const VkCopyDescriptorSet* pCopies) {
    Connection& conn = dev->conn();
    VkDevice device = dev->handle();
    guarded(conn, [&] {
        CleanWrites clean(writeCount, pWrites, [&](const VkWriteDescriptorSet& w) {
            return dev->set_layout_of_set(id_of(w.dstSet));
        });
        const uint32_t n = clean.count();
        const VkWriteDescriptorSet* writes = clean.data();
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkUpdateDescriptorSets(c, device, n, writes, copyCount, pCopies); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkUpdateDescriptorSets(e, f, device, n, writes, copyCount, pCopies); });
    });
}

void push_descriptors(CommandBuffer* cb, VkPipelineBindPoint bind_point, VkPipelineLayout layout, uint32_t set,
                      uint32_t count, const VkWriteDescriptorSet* writes) {
    Device* dev = cb->device();
    std::shared_ptr<const SetLayout> set_layout;
    {
        std::lock_guard lock(dev->mutex);
        auto it = dev->pipeline_layouts.find(id_of(layout));
        if (it != dev->pipeline_layouts.end() && set < it->second.size()) set_layout = it->second[set];
    }
    VkCommandBuffer h = cb->handle();
    try {
        CleanWrites clean(count, writes, [&](const VkWriteDescriptorSet&) { return set_layout; });
        clean.clear_sets();  // dstSet is ignored for push descriptors
        const uint32_t n = clean.count();
        const VkWriteDescriptorSet* w = clean.data();
        cb->record([&](const WireCaps& c) { return guest::sizeof_vkCmdPushDescriptorSetKHR(c, h, bind_point, layout, set, n, w); },
                   [&](Encoder& e) { guest::encode_vkCmdPushDescriptorSetKHR(e, 0, h, bind_point, layout, set, n, w); });
    } catch (...) {
        cb->fail(dev->conn().on_exception());
    }
}

// The writes a template update means.
class TemplateWrites {
public:
    TemplateWrites(const UpdateTemplate& t, VkDescriptorSet set, const void* data) {
        const auto* base = static_cast<const uint8_t*>(data);
        size_t images = 0, buffers = 0, views = 0;
        for (const auto& e : t.entries) {
            switch (kind_of(e.descriptorType)) {
            case Kind::Image: images += e.descriptorCount; break;
            case Kind::Buffer: buffers += e.descriptorCount; break;
            case Kind::TexelBuffer: views += e.descriptorCount; break;
            default: break;
            }
        }
        images_.reserve(images);
        buffers_.reserve(buffers);
        views_.reserve(views);
        inline_.reserve(t.entries.size());
        for (const auto& e : t.entries) {
            if (!e.descriptorCount) continue;
            VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
            w.dstSet = set;
            w.dstBinding = e.dstBinding;
            w.dstArrayElement = e.dstArrayElement;
            w.descriptorCount = e.descriptorCount;
            w.descriptorType = e.descriptorType;
            const uint8_t* p = base + e.offset;
            switch (kind_of(e.descriptorType)) {
            case Kind::Image:
                w.pImageInfo = images_.data() + images_.size();
                for (uint32_t j = 0; j < e.descriptorCount; ++j) {
                    VkDescriptorImageInfo info;
                    std::memcpy(&info, p + j * e.stride, sizeof(info));
                    images_.push_back(info);
                }
                break;
            case Kind::Buffer:
                w.pBufferInfo = buffers_.data() + buffers_.size();
                for (uint32_t j = 0; j < e.descriptorCount; ++j) {
                    VkDescriptorBufferInfo info;
                    std::memcpy(&info, p + j * e.stride, sizeof(info));
                    buffers_.push_back(info);
                }
                break;
            case Kind::TexelBuffer:
                w.pTexelBufferView = views_.data() + views_.size();
                for (uint32_t j = 0; j < e.descriptorCount; ++j) {
                    VkBufferView v;
                    std::memcpy(&v, p + j * e.stride, sizeof(v));
                    views_.push_back(v);
                }
                break;
            default:
                if (e.descriptorType == VK_DESCRIPTOR_TYPE_INLINE_UNIFORM_BLOCK) {
                    // descriptorCount bytes at offset; dstArrayElement is a byte offset
                    inline_.push_back({VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET_INLINE_UNIFORM_BLOCK, nullptr,
                                       e.descriptorCount, p});
                    w.pNext = &inline_.back();
                } else {
                    continue;  // a type this driver does not serve
                }
                break;
            }
            writes_.push_back(w);
        }
    }
    uint32_t count() const { return static_cast<uint32_t>(writes_.size()); }
    const VkWriteDescriptorSet* data() const { return writes_.data(); }

private:
    std::vector<VkWriteDescriptorSet> writes_;
    std::vector<VkDescriptorImageInfo> images_;
    std::vector<VkDescriptorBufferInfo> buffers_;
    std::vector<VkBufferView> views_;
    std::vector<VkWriteDescriptorSetInlineUniformBlock> inline_;
};

std::shared_ptr<const UpdateTemplate> find_template(Device* dev, VkDescriptorUpdateTemplate t) {
    std::lock_guard lock(dev->mutex);
    auto it = dev->templates.find(id_of(t));
    return it == dev->templates.end() ? nullptr : it->second;
}

}  // namespace

// ------------------------------------------------------------------------------------ layouts

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreateDescriptorSetLayout(VkDevice device, const VkDescriptorSetLayoutCreateInfo* pCreateInfo,
                                                               const VkAllocationCallbacks*, VkDescriptorSetLayout* pSetLayout) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    *pSetLayout = new_handle<VkDescriptorSetLayout>();
    const VkResult r = guarded_result(conn, [&] {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkCreateDescriptorSetLayout(c, device, pCreateInfo, nullptr, pSetLayout); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkCreateDescriptorSetLayout(e, f, device, pCreateInfo, nullptr, pSetLayout); });
        return VK_SUCCESS;
    });
    if (r != VK_SUCCESS) {
        *pSetLayout = VK_NULL_HANDLE;
        return r;
    }
    auto layout = std::make_shared<SetLayout>();
    for (uint32_t i = 0; i < pCreateInfo->bindingCount; ++i) {
        const auto& b = pCreateInfo->pBindings[i];
        SetLayout::Binding info;
        info.type = b.descriptorType;
        info.count = b.descriptorCount;
        info.immutable_samplers = b.pImmutableSamplers != nullptr &&
                                  (b.descriptorType == VK_DESCRIPTOR_TYPE_SAMPLER ||
                                   b.descriptorType == VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER);
        layout->bindings[b.binding] = info;
    }
    std::lock_guard lock(dev->mutex);
    dev->set_layouts[id_of(*pSetLayout)] = std::move(layout);
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkDestroyDescriptorSetLayout(VkDevice device, VkDescriptorSetLayout descriptorSetLayout,
                                                            const VkAllocationCallbacks*) {
    if (!descriptorSetLayout) return;
    Device* dev = Device::from(device);
    {
        std::lock_guard lock(dev->mutex);
        dev->set_layouts.erase(id_of(descriptorSetLayout));
    }
    Connection& conn = dev->conn();
    guarded(conn, [&] {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkDestroyDescriptorSetLayout(c, device, descriptorSetLayout, nullptr); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkDestroyDescriptorSetLayout(e, f, device, descriptorSetLayout, nullptr); });
    });
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreatePipelineLayout(VkDevice device, const VkPipelineLayoutCreateInfo* pCreateInfo,
                                                          const VkAllocationCallbacks*, VkPipelineLayout* pPipelineLayout) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    *pPipelineLayout = new_handle<VkPipelineLayout>();
    const VkResult r = guarded_result(conn, [&] {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkCreatePipelineLayout(c, device, pCreateInfo, nullptr, pPipelineLayout); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkCreatePipelineLayout(e, f, device, pCreateInfo, nullptr, pPipelineLayout); });
        return VK_SUCCESS;
    });
    if (r != VK_SUCCESS) {
        *pPipelineLayout = VK_NULL_HANDLE;
        return r;
    }
    std::lock_guard lock(dev->mutex);
    auto& sets = dev->pipeline_layouts[id_of(*pPipelineLayout)];
    for (uint32_t i = 0; i < pCreateInfo->setLayoutCount; ++i) {
        auto it = dev->set_layouts.find(id_of(pCreateInfo->pSetLayouts[i]));
        sets.push_back(it == dev->set_layouts.end() ? nullptr : it->second);
    }
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkDestroyPipelineLayout(VkDevice device, VkPipelineLayout pipelineLayout,
                                                       const VkAllocationCallbacks*) {
    if (!pipelineLayout) return;
    Device* dev = Device::from(device);
    {
        std::lock_guard lock(dev->mutex);
        dev->pipeline_layouts.erase(id_of(pipelineLayout));
    }
    Connection& conn = dev->conn();
    guarded(conn, [&] {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkDestroyPipelineLayout(c, device, pipelineLayout, nullptr); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkDestroyPipelineLayout(e, f, device, pipelineLayout, nullptr); });
    });
}

// ------------------------------------------------------------------------------------ pools and sets

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreateDescriptorPool(VkDevice device, const VkDescriptorPoolCreateInfo* pCreateInfo,
                                                          const VkAllocationCallbacks*, VkDescriptorPool* pDescriptorPool) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    *pDescriptorPool = new_handle<VkDescriptorPool>();
    const VkResult r = guarded_result(conn, [&] {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkCreateDescriptorPool(c, device, pCreateInfo, nullptr, pDescriptorPool); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkCreateDescriptorPool(e, f, device, pCreateInfo, nullptr, pDescriptorPool); });
        return VK_SUCCESS;
    });
    if (r != VK_SUCCESS) {
        *pDescriptorPool = VK_NULL_HANDLE;
        return r;
    }
    std::lock_guard lock(dev->mutex);
    dev->pool_sets[id_of(*pDescriptorPool)];
    return VK_SUCCESS;
}

namespace {
void forget_pool_sets_locked(Device* dev, uint64_t pool) {
    auto it = dev->pool_sets.find(pool);
    if (it == dev->pool_sets.end()) return;
    for (uint64_t s : it->second) dev->sets.erase(s);
    it->second.clear();
}
}  // namespace

VKAPI_ATTR void VKAPI_CALL icd_vkDestroyDescriptorPool(VkDevice device, VkDescriptorPool descriptorPool,
                                                       const VkAllocationCallbacks*) {
    if (!descriptorPool) return;
    Device* dev = Device::from(device);
    {
        std::lock_guard lock(dev->mutex);
        forget_pool_sets_locked(dev, id_of(descriptorPool));
        dev->pool_sets.erase(id_of(descriptorPool));
    }
    Connection& conn = dev->conn();
    guarded(conn, [&] {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkDestroyDescriptorPool(c, device, descriptorPool, nullptr); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkDestroyDescriptorPool(e, f, device, descriptorPool, nullptr); });
    });
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkResetDescriptorPool(VkDevice device, VkDescriptorPool descriptorPool,
                                                         VkDescriptorPoolResetFlags flags) {
    Device* dev = Device::from(device);
    {
        std::lock_guard lock(dev->mutex);
        forget_pool_sets_locked(dev, id_of(descriptorPool));
    }
    Connection& conn = dev->conn();
    return guarded_result(conn, [&] {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkResetDescriptorPool(c, device, descriptorPool, flags); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkResetDescriptorPool(e, f, device, descriptorPool, flags); });
        return VK_SUCCESS;
    });
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkAllocateDescriptorSets(VkDevice device, const VkDescriptorSetAllocateInfo* pAllocateInfo,
                                                            VkDescriptorSet* pDescriptorSets) {
    Device* dev = Device::from(device);
    Connection& conn = dev->conn();
    const uint32_t n = pAllocateInfo->descriptorSetCount;
    for (uint32_t i = 0; i < n; ++i) pDescriptorSets[i] = new_handle<VkDescriptorSet>();
    // a round trip: pools run out, and applications rely on hearing it
    VkResult r = guarded_result(conn, [&] {
        return conn.call(
            [&](const WireCaps& c) { return guest::sizeof_vkAllocateDescriptorSets(c, device, pAllocateInfo, pDescriptorSets); },
            [&](Encoder& e, uint32_t f) { guest::encode_vkAllocateDescriptorSets(e, f, device, pAllocateInfo, pDescriptorSets); },
            [&](const WireCaps& c) { return guest::sizeof_vkAllocateDescriptorSets_reply(c, device, pAllocateInfo, pDescriptorSets); },
            [&](Decoder& d) { return guest::decode_vkAllocateDescriptorSets_reply(d, device, pAllocateInfo, pDescriptorSets); });
    });
    if (r != VK_SUCCESS) {
        for (uint32_t i = 0; i < n; ++i) pDescriptorSets[i] = VK_NULL_HANDLE;
        return r;
    }
    std::lock_guard lock(dev->mutex);
    auto& pool = dev->pool_sets[id_of(pAllocateInfo->descriptorPool)];
    for (uint32_t i = 0; i < n; ++i) {
        auto it = dev->set_layouts.find(id_of(pAllocateInfo->pSetLayouts[i]));
        dev->sets[id_of(pDescriptorSets[i])] = it == dev->set_layouts.end() ? nullptr : it->second;
        pool.insert(id_of(pDescriptorSets[i]));
    }
    return VK_SUCCESS;
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkFreeDescriptorSets(VkDevice device, VkDescriptorPool descriptorPool,
                                                        uint32_t descriptorSetCount, const VkDescriptorSet* pDescriptorSets) {
    Device* dev = Device::from(device);
    {
        std::lock_guard lock(dev->mutex);
        auto pool = dev->pool_sets.find(id_of(descriptorPool));
        for (uint32_t i = 0; i < descriptorSetCount; ++i) {
            dev->sets.erase(id_of(pDescriptorSets[i]));
            if (pool != dev->pool_sets.end()) pool->second.erase(id_of(pDescriptorSets[i]));
        }
    }
    Connection& conn = dev->conn();
    return guarded_result(conn, [&] {
        conn.submit([&](const WireCaps& c) { return guest::sizeof_vkFreeDescriptorSets(c, device, descriptorPool, descriptorSetCount, pDescriptorSets); },
                    [&](Encoder& e, uint32_t f) { guest::encode_vkFreeDescriptorSets(e, f, device, descriptorPool, descriptorSetCount, pDescriptorSets); });
        return VK_SUCCESS;
    });
}

VKAPI_ATTR void VKAPI_CALL icd_vkUpdateDescriptorSets(VkDevice device, uint32_t descriptorWriteCount,
                                                      const VkWriteDescriptorSet* pDescriptorWrites, uint32_t descriptorCopyCount,
                                                      const VkCopyDescriptorSet* pDescriptorCopies) {
    update_sets(Device::from(device), descriptorWriteCount, pDescriptorWrites, descriptorCopyCount, pDescriptorCopies);
}

VKAPI_ATTR void VKAPI_CALL icd_vkCmdPushDescriptorSetKHR(VkCommandBuffer commandBuffer, VkPipelineBindPoint pipelineBindPoint,
                                                         VkPipelineLayout layout, uint32_t set, uint32_t descriptorWriteCount,
                                                         const VkWriteDescriptorSet* pDescriptorWrites) {
    push_descriptors(CommandBuffer::from(commandBuffer), pipelineBindPoint, layout, set, descriptorWriteCount, pDescriptorWrites);
}

// ------------------------------------------------------------------------------------ templates

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreateDescriptorUpdateTemplate(VkDevice device,
                                                                    const VkDescriptorUpdateTemplateCreateInfo* pCreateInfo,
                                                                    const VkAllocationCallbacks*,
                                                                    VkDescriptorUpdateTemplate* pDescriptorUpdateTemplate) {
    Device* dev = Device::from(device);
    auto t = std::make_shared<UpdateTemplate>();
    t->entries.assign(pCreateInfo->pDescriptorUpdateEntries,
                      pCreateInfo->pDescriptorUpdateEntries + pCreateInfo->descriptorUpdateEntryCount);
    t->type = pCreateInfo->templateType;
    t->bind_point = pCreateInfo->pipelineBindPoint;
    t->set_layout = id_of(pCreateInfo->descriptorSetLayout);
    *pDescriptorUpdateTemplate = new_handle<VkDescriptorUpdateTemplate>();
    std::lock_guard lock(dev->mutex);
    dev->templates[id_of(*pDescriptorUpdateTemplate)] = std::move(t);
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkDestroyDescriptorUpdateTemplate(VkDevice device, VkDescriptorUpdateTemplate descriptorUpdateTemplate,
                                                                 const VkAllocationCallbacks*) {
    if (!descriptorUpdateTemplate) return;
    Device* dev = Device::from(device);
    std::lock_guard lock(dev->mutex);
    dev->templates.erase(id_of(descriptorUpdateTemplate));
}

VKAPI_ATTR void VKAPI_CALL icd_vkUpdateDescriptorSetWithTemplate(VkDevice device, VkDescriptorSet descriptorSet,
                                                                 VkDescriptorUpdateTemplate descriptorUpdateTemplate, const void* pData) {
    Device* dev = Device::from(device);
    auto t = find_template(dev, descriptorUpdateTemplate);
    if (!t) return;
    TemplateWrites writes(*t, descriptorSet, pData);
    update_sets(dev, writes.count(), writes.data(), 0, nullptr);
}

VKAPI_ATTR void VKAPI_CALL icd_vkCmdPushDescriptorSetWithTemplateKHR(VkCommandBuffer commandBuffer,
                                                                     VkDescriptorUpdateTemplate descriptorUpdateTemplate,
                                                                     VkPipelineLayout layout, uint32_t set, const void* pData) {
    CommandBuffer* cb = CommandBuffer::from(commandBuffer);
    auto t = find_template(cb->device(), descriptorUpdateTemplate);
    if (!t) return;
    TemplateWrites writes(*t, VK_NULL_HANDLE, pData);
    push_descriptors(cb, t->bind_point, layout, set, writes.count(), writes.data());
}

}  // namespace venus::icd
