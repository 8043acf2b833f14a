#include "renderer/memory.h"

#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "renderer/context.h"
#include "renderer/errors.h"
#include "renderer/renderer.h"
#include "transport/error.h"
#include "transport/vtest_protocol.h"
#include "util/log.h"

namespace venus::renderer {

const char* strategy_name(MemoryStrategy s) {
    switch (s) {
    case MemoryStrategy::DmaBuf: return "dma-buf";
    case MemoryStrategy::OpaqueFd: return "opaque-fd";
    case MemoryStrategy::HostPointer: return "host-pointer";
    case MemoryStrategy::Shadow: return "shadow";
    case MemoryStrategy::None: break;
    }
    return "none";
}

MemoryStrategy strategy_from_name(const std::string& name) {
    for (MemoryStrategy s : {MemoryStrategy::DmaBuf, MemoryStrategy::OpaqueFd, MemoryStrategy::HostPointer,
                             MemoryStrategy::Shadow})
        if (name == strategy_name(s)) return s;
    return MemoryStrategy::None;
}

std::string MemoryPlan::summary() const {
    std::string out;
    for (size_t i = 0; i < types.size(); ++i) {
        if (!out.empty()) out += ", ";
        out += fmt::format("type {}: {}", i, strategy_name(types[i].strategy));
    }
    return out;
}

MemoryObject::~MemoryObject() = default;

namespace {

bool has_ext(const std::vector<VkExtensionProperties>& exts, const char* name) {
    return std::any_of(exts.begin(), exts.end(), [&](const auto& e) { return std::strcmp(e.extensionName, name) == 0; });
}

// A mapping of an fd that a Vulkan driver exported; unmapped on destruction.
class FdMapping {
public:
    FdMapping(int fd, size_t size) : size_(size) {
        addr_ = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (addr_ == MAP_FAILED) {
            error_ = transport::errno_message("mmap of the exported fd");
            addr_ = nullptr;
        }
    }
    ~FdMapping() {
        if (addr_) munmap(addr_, size_);
    }
    uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
    const std::string& error() const { return error_; }

private:
    void* addr_ = nullptr;
    size_t size_;
    std::string error_;
};

size_t file_size_of(int fd) {
    struct stat st {};
    return fstat(fd, &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

// Writes through one view and reads through the other, both ways.
std::string check_coherent(uint8_t* vk_view, uint8_t* fd_view, size_t size) {
    for (size_t i = 0; i < size; i += 4) {
        const uint32_t v = 0xa5a50000u ^ static_cast<uint32_t>(i);
        std::memcpy(vk_view + i, &v, 4);
    }
    for (size_t i = 0; i < size; i += 4) {
        uint32_t got;
        std::memcpy(&got, fd_view + i, 4);
        if (got != (0xa5a50000u ^ static_cast<uint32_t>(i)))
            return fmt::format("a write through vkMapMemory is not visible through the fd at byte {}", i);
    }
    std::memset(fd_view, 0x3c, size);
    if (vk_view[size - 1] != 0x3c) return "a write through the fd is not visible through vkMapMemory";
    return {};
}

struct Probe {
    VkPhysicalDevice physical;
    VkDevice device = VK_NULL_HANDLE;
    DeviceFns fn;
    PFN_vkDestroyDevice destroy = nullptr;
    bool fd_ext = false, dma_ext = false, host_ext = false;
    VkDeviceSize import_alignment = 0;

    ~Probe() {
        if (device && destroy) destroy(device, nullptr);
    }

    // Allocates one page with the given export type and tests the exported fd: a guest maps a
    // blob from offset 0, so the allocation must start at the beginning of the file.
    std::string try_export(uint32_t type, VkExternalMemoryHandleTypeFlagBits handle_type, size_t size) {
        VkExportMemoryAllocateInfo exp{VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO};
        exp.handleTypes = handle_type;
        VkMemoryAllocateInfo info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &exp, size, type};
        VkDeviceMemory mem = VK_NULL_HANDLE;
        VkResult r = fn.AllocateMemory(device, &info, nullptr, &mem);
        if (r != VK_SUCCESS) return fmt::format("an exportable allocation failed (VkResult {})", static_cast<int>(r));
        std::string why;
        VkMemoryGetFdInfoKHR get{VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR, nullptr, mem, handle_type};
        int raw = -1;
        r = fn.GetMemoryFdKHR(device, &get, &raw);
        transport::UniqueFd fd(raw);
        void* vk_view = nullptr;
        if (r != VK_SUCCESS) {
            why = fmt::format("vkGetMemoryFdKHR failed (VkResult {})", static_cast<int>(r));
        } else if ((r = fn.MapMemory(device, mem, 0, VK_WHOLE_SIZE, 0, &vk_view)) != VK_SUCCESS) {
            why = fmt::format("vkMapMemory failed (VkResult {})", static_cast<int>(r));
        } else {
            const size_t file_size = file_size_of(fd.get());
            FdMapping map(fd.get(), std::max(file_size, size));
            if (!map.data()) {
                why = map.error();
            } else {
                why = check_coherent(static_cast<uint8_t*>(vk_view), map.data(), size);
                if (!why.empty()) {
                    // say where the driver put the allocation, when it is elsewhere in the file
                    const auto* v = static_cast<const uint8_t*>(vk_view);
                    for (size_t off = 4; off + size <= file_size; off += 4)
                        if (std::memcmp(map.data() + off, v, 64) == 0) {
                            why = fmt::format("the allocation starts {} bytes into the exported fd, but a guest maps "
                                              "blobs from offset 0",
                                              off);
                            break;
                        }
                }
            }
            fn.UnmapMemory(device, mem);
        }
        fn.FreeMemory(device, mem, nullptr);
        return why;
    }

    std::string try_shadow(uint32_t type, size_t size) {
        VkMemoryAllocateInfo info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, size, type};
        VkDeviceMemory mem = VK_NULL_HANDLE;
        VkResult r = fn.AllocateMemory(device, &info, nullptr, &mem);
        if (r != VK_SUCCESS) return fmt::format("an allocation failed (VkResult {})", static_cast<int>(r));
        void* p = nullptr;
        r = fn.MapMemory(device, mem, 0, VK_WHOLE_SIZE, 0, &p);
        if (r == VK_SUCCESS) fn.UnmapMemory(device, mem);
        fn.FreeMemory(device, mem, nullptr);
        return r == VK_SUCCESS ? std::string() : fmt::format("vkMapMemory failed (VkResult {})", static_cast<int>(r));
    }

    std::string try_host_pointer(uint32_t type, size_t size) {
        transport::SharedMemory shm;
        try {
            shm = transport::SharedMemory::create("venus-probe", size);
        } catch (const std::exception& e) {
            return fmt::format("memfd: {}", e.what());
        }
        VkMemoryHostPointerPropertiesEXT props{VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT};
        VkResult r = fn.GetMemoryHostPointerPropertiesEXT(
            device, VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT, shm.data(), &props);
        if (r != VK_SUCCESS)
            return fmt::format("vkGetMemoryHostPointerPropertiesEXT refused a memfd mapping (VkResult {})",
                               static_cast<int>(r));
        if (!(props.memoryTypeBits & (1u << type)))
            return fmt::format("the driver imports host memory only into types 0x{:x}", props.memoryTypeBits);
        VkImportMemoryHostPointerInfoEXT imp{VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT, nullptr,
                                             VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT, shm.data()};
        VkMemoryAllocateInfo info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &imp, size, type};
        VkDeviceMemory mem = VK_NULL_HANDLE;
        r = fn.AllocateMemory(device, &info, nullptr, &mem);
        if (r != VK_SUCCESS) return fmt::format("importing a memfd mapping failed (VkResult {})", static_cast<int>(r));
        std::string why;
        void* vk_view = nullptr;
        r = fn.MapMemory(device, mem, 0, VK_WHOLE_SIZE, 0, &vk_view);
        if (r != VK_SUCCESS) why = fmt::format("vkMapMemory failed (VkResult {})", static_cast<int>(r));
        else {
            why = check_coherent(static_cast<uint8_t*>(vk_view), shm.data(), size);
            fn.UnmapMemory(device, mem);
        }
        fn.FreeMemory(device, mem, nullptr);
        return why;
    }
};

}  // namespace

std::shared_ptr<MemoryPlan> probe_memory_plan(VkInstance instance, const InstanceFns& ifn, VkPhysicalDevice physical,
                                              const RendererConfig& config,
                                              const std::vector<VkExtensionProperties>& host_extensions) {
    auto plan = std::make_shared<MemoryPlan>();
    VkPhysicalDeviceMemoryProperties mp{};
    ifn.GetPhysicalDeviceMemoryProperties(physical, &mp);
    plan->types.resize(mp.memoryTypeCount);

    auto usable = [&](const char* name) {
        if (!has_ext(host_extensions, name)) return false;
        return std::find(config.hidden_extensions.begin(), config.hidden_extensions.end(), name) ==
               config.hidden_extensions.end();
    };
    Probe probe;
    probe.physical = physical;
    probe.fd_ext = usable(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
    probe.dma_ext = probe.fd_ext && usable(VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME);
    probe.host_ext = usable(VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);

    std::vector<const char*> exts;
    if (probe.fd_ext) exts.push_back(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
    if (probe.dma_ext) exts.push_back(VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME);
    if (probe.host_ext) exts.push_back(VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
    for (const char* e : exts) plan->device_extensions.emplace_back(e);

    if (probe.host_ext) {
        VkPhysicalDeviceExternalMemoryHostPropertiesEXT host_props{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT};
        VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &host_props};
        ifn.GetPhysicalDeviceProperties2(physical, &props2);
        probe.import_alignment = host_props.minImportedHostPointerAlignment;
    }
    plan->import_alignment = probe.host_ext ? probe.import_alignment : 0;
    plan->alignment = std::max<VkDeviceSize>({transport::page_size(), probe.import_alignment, config.blob_alignment});

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, 0, 1, &priority};
    VkDeviceCreateInfo dinfo{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dinfo.queueCreateInfoCount = 1;
    dinfo.pQueueCreateInfos = &queue;
    dinfo.enabledExtensionCount = static_cast<uint32_t>(exts.size());
    dinfo.ppEnabledExtensionNames = exts.data();
    std::string device_error;
    if (ifn.CreateDevice(physical, &dinfo, nullptr, &probe.device) != VK_SUCCESS) {
        probe.device = VK_NULL_HANDLE;
        device_error = "a probe device could not be created";
    } else {
        auto gdpa = reinterpret_cast<PFN_vkGetDeviceProcAddr>(ifn.GetDeviceProcAddr);
        load_device_fns(probe.fn, gdpa, probe.device);
        probe.destroy = probe.fn.DestroyDevice;
    }
    (void)instance;

    const MemoryStrategy forced = strategy_from_name(config.memory_strategy);
    const bool disabled = config.memory_strategy == "none";
    if (!config.memory_strategy.empty() && forced == MemoryStrategy::None && !disabled)
        log::warn("VENUS_MEMORY_STRATEGY={} is not a strategy (dma-buf, opaque-fd, host-pointer, shadow, none)",
                  config.memory_strategy);
    const size_t test_size = plan->alignment;
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
        MemoryTypeChoice& choice = plan->types[i];
        if (!(mp.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
            choice.reason = "not host visible: never mapped by the guest";
            continue;
        }
        std::vector<MemoryStrategy> order = {MemoryStrategy::DmaBuf, MemoryStrategy::OpaqueFd,
                                             MemoryStrategy::HostPointer, MemoryStrategy::Shadow};
        if (forced != MemoryStrategy::None) order = {forced};
        if (disabled) order.clear();
        std::vector<std::string> reasons;
        for (MemoryStrategy s : order) {
            std::string why;
            if (!probe.device) why = device_error;
            else if (s == MemoryStrategy::DmaBuf)
                why = probe.dma_ext ? probe.try_export(i, VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT, test_size)
                                    : "VK_EXT_external_memory_dma_buf is not offered";
            else if (s == MemoryStrategy::OpaqueFd)
                why = probe.fd_ext ? probe.try_export(i, VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT, test_size)
                                   : "VK_KHR_external_memory_fd is not offered";
            else if (s == MemoryStrategy::HostPointer)
                why = probe.host_ext ? probe.try_host_pointer(i, test_size)
                                     : "VK_EXT_external_memory_host is not offered";
            else
                why = probe.try_shadow(i, test_size);
            if (why.empty()) {
                choice.strategy = s;
                reasons.push_back(fmt::format("{} works", strategy_name(s)));
                break;
            }
            reasons.push_back(fmt::format("{}: {}", strategy_name(s), why));
        }
        for (size_t k = 0; k < reasons.size(); ++k) choice.reason += (k ? "; " : "") + reasons[k];
        if (forced != MemoryStrategy::None) choice.reason = "forced by VENUS_MEMORY_STRATEGY; " + choice.reason;
        if (disabled) choice.reason = "every strategy is disabled (VENUS_MEMORY_STRATEGY=none)";
    }
    return plan;
}

// ------------------------------------------------------------------------------ backings

namespace {

class ExportBacking : public MemoryBacking {
public:
    ExportBacking(MemoryStrategy s, VkExternalMemoryHandleTypeFlagBits type) : strategy_(s), type_(type) {}
    MemoryStrategy strategy() const override { return strategy_; }
    transport::UniqueFd export_fd(DeviceObject& dev, MemoryObject& mem) override {
        VkMemoryGetFdInfoKHR get{VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR, nullptr, mem.vk, type_};
        int raw = -1;
        const VkResult r = dev.fn.GetMemoryFdKHR(dev.vk, &get, &raw);
        if (r != VK_SUCCESS)
            throw ContextError(fmt::format("memory {}: vkGetMemoryFdKHR failed (VkResult {})", mem.id, static_cast<int>(r)));
        return transport::UniqueFd(raw);
    }

private:
    MemoryStrategy strategy_;
    VkExternalMemoryHandleTypeFlagBits type_;
};

class HostPointerBacking : public MemoryBacking {
public:
    explicit HostPointerBacking(std::shared_ptr<transport::SharedMemory> shm) : shm_(std::move(shm)) {}
    MemoryStrategy strategy() const override { return MemoryStrategy::HostPointer; }
    transport::UniqueFd export_fd(DeviceObject&, MemoryObject& mem) override {
        transport::UniqueFd fd = transport::UniqueFd::duplicate(shm_->fd());
        if (!fd) throw ContextError(fmt::format("memory {}: dup of its memfd failed", mem.id));
        return fd;
    }
    std::shared_ptr<transport::SharedMemory> mapping() const override { return shm_; }

private:
    std::shared_ptr<transport::SharedMemory> shm_;
};

// Ordinary device memory plus a shared memfd the guest maps. The two are reconciled page by page
// against a snapshot of what both last agreed on: a page the guest changed goes to the device, a
// page the device changed goes to the guest, so neither side's writes are lost to the other's.
class ShadowBacking : public MemoryBacking {
public:
    ShadowBacking(std::shared_ptr<transport::SharedMemory> shm, uint8_t* host, VkDeviceSize size, bool host_coherent)
        : shm_(std::move(shm)), host_(host), snapshot_(new uint8_t[size]), size_(size), host_coherent_(host_coherent) {
        std::memcpy(shm_->data(), host_, size_);
        std::memcpy(snapshot_.get(), host_, size_);
    }
    MemoryStrategy strategy() const override { return MemoryStrategy::Shadow; }
    transport::UniqueFd export_fd(DeviceObject&, MemoryObject& mem) override {
        transport::UniqueFd fd = transport::UniqueFd::duplicate(shm_->fd());
        if (!fd) throw ContextError(fmt::format("memory {}: dup of its shadow memfd failed", mem.id));
        return fd;
    }
    std::shared_ptr<transport::SharedMemory> mapping() const override { return shm_; }

    void guest_to_host(DeviceObject& dev, MemoryObject& mem, VkDeviceSize offset, VkDeviceSize size) override {
        std::lock_guard lock(mutex_);
        auto [begin, end] = pages(offset, size);
        bool wrote = false;
        for (VkDeviceSize p = begin; p < end; p += kPage) {
            const size_t n = std::min<VkDeviceSize>(kPage, size_ - p);
            if (std::memcmp(shm_->data() + p, snapshot_.get() + p, n) == 0) continue;
            std::memcpy(host_ + p, shm_->data() + p, n);
            std::memcpy(snapshot_.get() + p, host_ + p, n);
            wrote = true;
        }
        if (wrote && !host_coherent_) {
            VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, mem.vk, 0, VK_WHOLE_SIZE};
            dev.fn.FlushMappedMemoryRanges(dev.vk, 1, &range);
        }
    }
    void host_to_guest(DeviceObject& dev, MemoryObject& mem, VkDeviceSize offset, VkDeviceSize size) override {
        std::lock_guard lock(mutex_);
        if (!host_coherent_) {
            VkMappedMemoryRange range{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, mem.vk, 0, VK_WHOLE_SIZE};
            dev.fn.InvalidateMappedMemoryRanges(dev.vk, 1, &range);
        }
        auto [begin, end] = pages(offset, size);
        for (VkDeviceSize p = begin; p < end; p += kPage) {
            const size_t n = std::min<VkDeviceSize>(kPage, size_ - p);
            if (std::memcmp(host_ + p, snapshot_.get() + p, n) == 0) continue;
            std::memcpy(snapshot_.get() + p, host_ + p, n);
            std::memcpy(shm_->data() + p, snapshot_.get() + p, n);
        }
    }
    void release(DeviceObject&) override { host_ = nullptr; }

private:
    static constexpr VkDeviceSize kPage = 4096;
    std::pair<VkDeviceSize, VkDeviceSize> pages(VkDeviceSize offset, VkDeviceSize size) const {
        if (offset >= size_) return {0, 0};
        const VkDeviceSize end = size == VK_WHOLE_SIZE || size > size_ - offset ? size_ : offset + size;
        return {offset / kPage * kPage, end};
    }
    std::mutex mutex_;
    std::shared_ptr<transport::SharedMemory> shm_;
    uint8_t* host_;
    std::unique_ptr<uint8_t[]> snapshot_;
    VkDeviceSize size_;
    bool host_coherent_;
};

}  // namespace

VkResult allocate_memory(Context& ctx, DeviceObject& dev, const VkMemoryAllocateInfo& guest_info, uint64_t id) {
    PhysicalDeviceObject& pd = *dev.physical;
    const uint32_t type = guest_info.memoryTypeIndex;
    if (type >= pd.host_memory.memoryTypeCount) {
        log::warn("ctx {}: memory {}: type {} does not exist ({} types)", ctx.id(), id, type,
                  pd.host_memory.memoryTypeCount);
        return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    const VkMemoryPropertyFlags flags = pd.host_memory.memoryTypes[type].propertyFlags;
    const MemoryPlan& plan = *pd.memory_plan;
    MemoryStrategy strategy = (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) ? plan.types[type].strategy
                                                                            : MemoryStrategy::None;

    // The chain is rebuilt without our own structs; the guest's structs stay in their order.
    std::vector<const VkBaseInStructure*> kept;
    uint32_t import_resource = 0;
    for (auto* s = static_cast<const VkBaseInStructure*>(guest_info.pNext); s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_IMPORT_MEMORY_RESOURCE_INFO_MESA) {
            import_resource = reinterpret_cast<const VkImportMemoryResourceInfoMESA*>(s)->resourceId;
            continue;
        }
        if (strategy == MemoryStrategy::HostPointer && s->sType == VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO)
            continue;  // a dedicated allocation cannot be a host-pointer import
        kept.push_back(s);
    }
    // The decoded structs live in this command's scratch memory: relink them in place.
    auto link = [&](const void* tail) -> const void* {
        const void* next = tail;
        for (size_t i = kept.size(); i-- > 0;) {
            const_cast<VkBaseInStructure*>(kept[i])->pNext = static_cast<const VkBaseInStructure*>(next);
            next = kept[i];
        }
        return next;
    };

    VkMemoryAllocateInfo info = guest_info;
    auto mem = std::make_unique<MemoryObject>();
    mem->id = id;
    mem->type = VK_OBJECT_TYPE_DEVICE_MEMORY;
    mem->type_index = type;
    mem->guest_size = guest_info.allocationSize;
    mem->property_flags = flags;
    VkResult r;
    if (import_resource) {
        // Guest-allocated shared memory as device memory: import our own mapping of it.
        auto res = ctx.find_resource(import_resource);
        if (!res || !res->mapping || !dev.external_memory_host) return VK_ERROR_INVALID_EXTERNAL_HANDLE;
        if (info.allocationSize > res->size) return VK_ERROR_INVALID_EXTERNAL_HANDLE;
        VkImportMemoryHostPointerInfoEXT imp{VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT, nullptr,
                                             VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT, res->data()};
        imp.pNext = link(nullptr);
        info.pNext = &imp;
        info.allocationSize = transport::align_up(info.allocationSize, std::max<VkDeviceSize>(plan.import_alignment, 1));
        r = dev.fn.AllocateMemory(dev.vk, &info, nullptr, &mem->vk);
        if (r == VK_SUCCESS) mem->backing = std::make_unique<HostPointerBacking>(res->mapping);
    } else if (strategy == MemoryStrategy::HostPointer) {
        info.allocationSize = transport::align_up(std::max<VkDeviceSize>(info.allocationSize, 1), plan.alignment);
        std::shared_ptr<transport::SharedMemory> shm;
        try {
            shm = std::make_shared<transport::SharedMemory>(
                transport::SharedMemory::create(fmt::format("venus-ctx{}-mem{}", ctx.id(), id), info.allocationSize));
            shm->seal();
        } catch (const transport::TransportError& e) {
            log::error("ctx {}: memory {}: {}", ctx.id(), id, e.what());
            return VK_ERROR_OUT_OF_HOST_MEMORY;
        }
        VkImportMemoryHostPointerInfoEXT imp{VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT, nullptr,
                                             VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT, shm->data()};
        imp.pNext = link(nullptr);
        info.pNext = &imp;
        r = dev.fn.AllocateMemory(dev.vk, &info, nullptr, &mem->vk);
        if (r == VK_SUCCESS) mem->backing = std::make_unique<HostPointerBacking>(std::move(shm));
    } else if (strategy == MemoryStrategy::OpaqueFd || strategy == MemoryStrategy::DmaBuf) {
        const auto handle = strategy == MemoryStrategy::DmaBuf ? VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT
                                                               : VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT;
        VkExportMemoryAllocateInfo exp{VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO, nullptr, handle};
        bool guest_exports = false;
        for (auto* s : kept) guest_exports |= s->sType == VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO;
        info.allocationSize = transport::align_up(std::max<VkDeviceSize>(info.allocationSize, 1), plan.alignment);
        if (guest_exports) {
            info.pNext = link(nullptr);
        } else {
            exp.pNext = link(nullptr);
            info.pNext = &exp;
        }
        r = dev.fn.AllocateMemory(dev.vk, &info, nullptr, &mem->vk);
        if (r == VK_SUCCESS) mem->backing = std::make_unique<ExportBacking>(strategy, handle);
    } else if (strategy == MemoryStrategy::Shadow) {
        info.allocationSize = transport::align_up(std::max<VkDeviceSize>(info.allocationSize, 1), plan.alignment);
        info.pNext = link(nullptr);
        r = dev.fn.AllocateMemory(dev.vk, &info, nullptr, &mem->vk);
        void* host = nullptr;
        if (r == VK_SUCCESS && (r = dev.fn.MapMemory(dev.vk, mem->vk, 0, VK_WHOLE_SIZE, 0, &host)) != VK_SUCCESS)
            dev.fn.FreeMemory(dev.vk, mem->vk, nullptr);
        if (r == VK_SUCCESS) {
            try {
                auto shm = std::make_shared<transport::SharedMemory>(transport::SharedMemory::create(
                    fmt::format("venus-ctx{}-shadow{}", ctx.id(), id), info.allocationSize));
                shm->seal();
                mem->backing = std::make_unique<ShadowBacking>(std::move(shm), static_cast<uint8_t*>(host),
                                                               info.allocationSize,
                                                               flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
            } catch (const transport::TransportError& e) {
                log::error("ctx {}: memory {}: shadow: {}", ctx.id(), id, e.what());
                dev.fn.FreeMemory(dev.vk, mem->vk, nullptr);
                return VK_ERROR_OUT_OF_HOST_MEMORY;
            }
        }
    } else {
        info.pNext = link(nullptr);
        r = dev.fn.AllocateMemory(dev.vk, &info, nullptr, &mem->vk);
        if (r == VK_SUCCESS && (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
            log::warn("ctx {}: memory {} (type {}) is host visible but cannot be shared with the guest: {}", ctx.id(),
                      id, type, plan.types[type].reason);
    }
    if (r != VK_SUCCESS) {
        log::debug("ctx {}: memory {}: vkAllocateMemory of {} bytes in type {} failed ({})", ctx.id(), id,
                   info.allocationSize, type, static_cast<int>(r));
        return r;
    }
    mem->size = info.allocationSize;
    mem->handle = reinterpret_cast<uint64_t>(mem->vk);
    log::debug("ctx {}: memory {}: {} bytes in type {} ({})", ctx.id(), id, mem->size, type,
               mem->backing ? strategy_name(mem->backing->strategy()) : "device only");
    MemoryObject* raw = mem.get();
    const bool shadow = mem->backing && mem->backing->strategy() == MemoryStrategy::Shadow;
    ctx.add_object(std::move(mem), &dev);
    if (shadow) {
        std::lock_guard lock(dev.shadow_mutex);
        dev.shadows.push_back(raw);
    }
    return VK_SUCCESS;
}

void shadows_to_host(DeviceObject& dev) {
    std::lock_guard lock(dev.shadow_mutex);
    for (MemoryObject* m : dev.shadows) m->backing->guest_to_host(dev, *m, 0, VK_WHOLE_SIZE);
}

void shadows_to_guest(DeviceObject& dev) {
    std::lock_guard lock(dev.shadow_mutex);
    for (MemoryObject* m : dev.shadows) m->backing->host_to_guest(dev, *m, 0, VK_WHOLE_SIZE);
}

VkMemoryPropertyFlags guest_memory_flags(MemoryStrategy strategy, VkMemoryPropertyFlags host_flags) {
    // A shadow copy is coherent only at flush/invalidate (and submit/wait): to the guest it is
    // cached, non-coherent memory. (Mesa's venus then hides such a type, having no flush.)
    if (strategy == MemoryStrategy::Shadow && (host_flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
        return (host_flags & ~VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    return host_flags;
}

void free_memory(DeviceObject& dev, MemoryObject& mem) {
    if (mem.backing && mem.backing->strategy() == MemoryStrategy::Shadow) {
        std::lock_guard lock(dev.shadow_mutex);
        std::erase(dev.shadows, &mem);
    }
    if (mem.vk) dev.fn.FreeMemory(dev.vk, mem.vk, nullptr);
    mem.vk = VK_NULL_HANDLE;
    if (mem.backing) mem.backing->release(dev);
    mem.backing.reset();  // the memfd mapping goes after the driver let go of the memory
}

ExportedMemory export_memory(Context& ctx, MemoryObject& mem, uint32_t blob_flags, uint64_t size) {
    if ((blob_flags & vtest::BLOB_FLAG_MAPPABLE) && !(mem.property_flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT))
        throw ContextError(fmt::format("memory {}: a mappable blob of memory that is not host visible", mem.id));
    if (!mem.backing) {
        const auto& plan = *mem.device->physical->memory_plan;
        throw ContextError(fmt::format("memory {} (type {}) cannot be shared with the guest: {}", mem.id, mem.type_index,
                                       mem.type_index < plan.types.size() ? plan.types[mem.type_index].reason
                                                                          : std::string("no strategy")));
    }
    if (size > mem.size)
        throw ContextError(fmt::format("memory {}: blob of {} bytes exceeds the {} byte allocation", mem.id, size, mem.size));
    if (mem.exported) throw ContextError(fmt::format("memory {} already has a blob (one per allocation, §6.2)", mem.id));
    ExportedMemory out;
    out.fd = mem.backing->export_fd(*mem.device, mem);
    out.mapping = mem.backing->mapping();
    mem.exported = true;
    log::debug("ctx {}: memory {} exported as a {} blob", ctx.id(), mem.id, strategy_name(mem.backing->strategy()));
    return out;
}

}  // namespace venus::renderer
