// Instance and physical-device commands (§5.11): one host VkInstance per context, physical
// devices registered under the guest's ids, versions capped to what the protocol carries and
// extensions filtered to what the protocol knows and the host offers.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "protocol/venus_defs.h"
#include "renderer/dispatch_support.h"
#include "renderer/memory.h"
#include "renderer/renderer.h"
#include "util/log.h"

namespace venus::renderer {

using namespace protocol::host;

void unsupported_by_host(const InstanceObject&, uint32_t command) {
    throw ContextError(fmt::format("{} is not available on the host instance", protocol::command_name(command)));
}

void unsupported_by_host(const DeviceObject& dev, uint32_t command) {
    throw ContextError(fmt::format("{} is not available on host device {} (its extension is not enabled)",
                                   protocol::command_name(command), dev.id));
}

protocol::Encoder* RendererDispatcher::reply_encoder() { return path_.replies().encoder(); }
void RendererDispatcher::reply_begin() { path_.replies().lock(); }
void RendererDispatcher::reply_end() noexcept { path_.replies().unlock(); }

bool PhysicalDeviceObject::has_host_extension(const char* name) const {
    return std::any_of(host_extensions.begin(), host_extensions.end(),
                       [&](const auto& e) { return std::strcmp(e.extensionName, name) == 0; });
}

namespace {

uint32_t max_api_version(const Renderer& r) {
    const uint32_t xml = VK_MAKE_API_VERSION(0, VK_API_VERSION_MAJOR(protocol::kVkXmlVersion),
                                             VK_API_VERSION_MINOR(protocol::kVkXmlVersion), 0xfff);
    return std::min({r.config().max_api_version | 0xfff, xml, r.host().loader_version | 0xfff});
}

// Standard two-call enumeration into the guest's arrays.
template <class T>
VkResult enumerate(const std::vector<T>& all, uint32_t* count, T* out) {
    if (!count) return VK_ERROR_INITIALIZATION_FAILED;
    if (!out) {
        *count = static_cast<uint32_t>(all.size());
        return VK_SUCCESS;
    }
    const uint32_t n = std::min<uint32_t>(*count, static_cast<uint32_t>(all.size()));
    std::copy_n(all.begin(), n, out);
    *count = n;
    return n < all.size() ? VK_INCOMPLETE : VK_SUCCESS;
}

void init_physical_device(Context& ctx, InstanceObject& inst, PhysicalDeviceObject& pd) {
    Renderer& r = ctx.renderer();
    inst.fn.GetPhysicalDeviceProperties(pd.vk, &pd.properties);
    pd.api_version = std::min(pd.properties.apiVersion, max_api_version(r));
    inst.fn.GetPhysicalDeviceMemoryProperties(pd.vk, &pd.host_memory);
    uint32_t n = 0;
    inst.fn.EnumerateDeviceExtensionProperties(pd.vk, nullptr, &n, nullptr);
    pd.host_extensions.resize(n);
    inst.fn.EnumerateDeviceExtensionProperties(pd.vk, nullptr, &n, pd.host_extensions.data());
    pd.host_extensions.resize(n);
    pd.extensions.clear();
    for (const auto& e : pd.host_extensions) {
        const protocol::ExtensionInfo* info = protocol::find_extension(e.extensionName);
        if (!info || r.extension_hidden(e.extensionName)) continue;
        VkExtensionProperties out = e;
        out.specVersion = std::min(e.specVersion, info->spec_version);
        pd.extensions.push_back(out);
    }
    pd.memory_plan = r.memory_plan(inst.vk, inst.fn, pd.vk, pd.host_extensions);
    log::info("ctx {}: physical device {} is \"{}\", Vulkan {}.{}, {} of {} extensions, memory: {}", ctx.id(), pd.id,
              pd.properties.deviceName, VK_API_VERSION_MAJOR(pd.api_version), VK_API_VERSION_MINOR(pd.api_version),
              pd.extensions.size(), pd.host_extensions.size(), pd.memory_plan->summary());
}

// Memory types as the guest sees them: shadowed types are cached and non-coherent. Types no
// strategy can share keep their flags: mapping them fails with VK_ERROR_MEMORY_MAP_FAILED and a
// logged reason, rather than the memory silently vanishing from the guest.
void filter_memory_properties(const PhysicalDeviceObject& pd, VkPhysicalDeviceMemoryProperties& mp) {
    const auto& plan = *pd.memory_plan;
    for (uint32_t i = 0; i < mp.memoryTypeCount && i < plan.types.size(); ++i)
        mp.memoryTypes[i].propertyFlags = guest_memory_flags(plan.types[i].strategy, mp.memoryTypes[i].propertyFlags);
}

}  // namespace

void RendererDispatcher::vkEnumerateInstanceVersion(vkEnumerateInstanceVersion_args& a) {
    if (!a.pApiVersion) throw ContextError("vkEnumerateInstanceVersion without pApiVersion");
    *a.pApiVersion = max_api_version(ctx_.renderer());
    a.ret = VK_SUCCESS;
}

void RendererDispatcher::vkEnumerateInstanceExtensionProperties(vkEnumerateInstanceExtensionProperties_args& a) {
    // The guest's instance extensions are the guest driver's business: the renderer offers none.
    if (a.pLayerName) {
        a.ret = VK_ERROR_LAYER_NOT_PRESENT;
        return;
    }
    a.ret = enumerate(std::vector<VkExtensionProperties>{}, a.pPropertyCount, a.pProperties);
}

void RendererDispatcher::vkEnumerateInstanceLayerProperties(vkEnumerateInstanceLayerProperties_args& a) {
    a.ret = enumerate(std::vector<VkLayerProperties>{}, a.pPropertyCount, a.pProperties);
}

void RendererDispatcher::vkCreateInstance(vkCreateInstance_args& a) {
    if (ctx_.instance()) throw ContextError("a second vkCreateInstance in one context");
    const uint64_t id = a.pInstance ? reinterpret_cast<uint64_t>(*a.pInstance) : 0;
    ctx_.check_new_object(id, VK_OBJECT_TYPE_INSTANCE);
    const VkInstanceCreateInfo& gi = *a.pCreateInfo;
    if (gi.enabledLayerCount) {
        a.ret = VK_ERROR_LAYER_NOT_PRESENT;
        return;
    }
    if (gi.enabledExtensionCount) {
        a.ret = VK_ERROR_EXTENSION_NOT_PRESENT;
        return;
    }
    Renderer& r = ctx_.renderer();
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    if (gi.pApplicationInfo) app = *gi.pApplicationInfo;
    app.pNext = nullptr;
    app.apiVersion = std::clamp<uint32_t>(app.apiVersion, VK_API_VERSION_1_1, max_api_version(r));
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, gi.pNext};
    info.pApplicationInfo = &app;
    const auto& iexts = r.host().instance_extensions;
    const bool portability =
        std::find(iexts.begin(), iexts.end(), VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME) != iexts.end();
    VkInstance vk = VK_NULL_HANDLE;
    a.ret = create_host_instance(r.get_instance_proc_addr(), info, portability, &vk);
    if (a.ret != VK_SUCCESS) {
        log::warn("ctx {}: host vkCreateInstance failed ({})", ctx_.id(), static_cast<int>(a.ret));
        return;
    }
    auto inst = std::make_unique<InstanceObject>();
    inst->id = id;
    inst->type = VK_OBJECT_TYPE_INSTANCE;
    inst->handle = reinterpret_cast<uint64_t>(vk);
    inst->vk = vk;
    inst->api_version = app.apiVersion;
    inst->instance = inst.get();
    load_instance_fns(inst->fn, r.get_instance_proc_addr(), vk);
    InstanceObject* raw = inst.get();
    ctx_.objects().insert(std::move(inst));
    ctx_.set_instance(raw);
    *a.pInstance = vk;
    log::info("ctx {}: instance {} created (Vulkan {}.{})", ctx_.id(), id, VK_API_VERSION_MAJOR(app.apiVersion),
              VK_API_VERSION_MINOR(app.apiVersion));
}

void RendererDispatcher::vkDestroyInstance(vkDestroyInstance_args& a) {
    if (!a.instance_ref) return;
    if (&object_of(a.instance_ref) != ctx_.instance()) throw ContextError("vkDestroyInstance of a foreign instance");
    ctx_.destroy_instance();
}

void RendererDispatcher::vkEnumeratePhysicalDevices(vkEnumeratePhysicalDevices_args& a) {
    InstanceObject& inst = instance_of(a.instance_ref);
    uint32_t n = 0;
    inst.fn.EnumeratePhysicalDevices(inst.vk, &n, nullptr);
    std::vector<VkPhysicalDevice> all(n);
    inst.fn.EnumeratePhysicalDevices(inst.vk, &n, all.data());
    all.resize(n);
    // Devices below Vulkan 1.1 cannot carry the protocol (Mesa drops them too).
    std::erase_if(all, [&](VkPhysicalDevice pd) {
        VkPhysicalDeviceProperties p{};
        inst.fn.GetPhysicalDeviceProperties(pd, &p);
        return p.apiVersion < VK_API_VERSION_1_1;
    });
    if (!a.pPhysicalDeviceCount) throw ContextError("vkEnumeratePhysicalDevices without a count");
    if (!a.pPhysicalDevices) {
        *a.pPhysicalDeviceCount = static_cast<uint32_t>(all.size());
        a.ret = VK_SUCCESS;
        return;
    }
    const uint32_t k = std::min<uint32_t>(*a.pPhysicalDeviceCount, static_cast<uint32_t>(all.size()));
    for (uint32_t i = 0; i < k; ++i) {
        const uint64_t id = reinterpret_cast<uint64_t>(a.pPhysicalDevices[i]);
        const uint64_t existing = ctx_.objects().id_of(VK_OBJECT_TYPE_PHYSICAL_DEVICE, reinterpret_cast<uint64_t>(all[i]));
        if (existing && existing != id)
            throw ContextError(fmt::format("physical device already enumerated as {}, now named {}", existing, id));
        if (!existing) {
            ctx_.check_new_object(id, VK_OBJECT_TYPE_PHYSICAL_DEVICE);
            auto pd = std::make_unique<PhysicalDeviceObject>();
            pd->id = id;
            pd->type = VK_OBJECT_TYPE_PHYSICAL_DEVICE;
            pd->handle = reinterpret_cast<uint64_t>(all[i]);
            pd->vk = all[i];
            pd->instance = &inst;
            init_physical_device(ctx_, inst, *pd);
            ctx_.objects().insert(std::move(pd));
        }
        a.pPhysicalDevices[i] = all[i];
    }
    *a.pPhysicalDeviceCount = k;
    a.ret = k < all.size() ? VK_INCOMPLETE : VK_SUCCESS;
}

void RendererDispatcher::vkEnumeratePhysicalDeviceGroups(vkEnumeratePhysicalDeviceGroups_args& a) {
    InstanceObject& inst = instance_of(a.instance_ref);
    if (!a.pPhysicalDeviceGroupCount) throw ContextError("vkEnumeratePhysicalDeviceGroups without a count");
    uint32_t n = 0;
    inst.fn.EnumeratePhysicalDeviceGroups(inst.vk, &n, nullptr);
    std::vector<VkPhysicalDeviceGroupProperties> groups(n, {VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_GROUP_PROPERTIES});
    inst.fn.EnumeratePhysicalDeviceGroups(inst.vk, &n, groups.data());
    groups.resize(n);
    // only groups whose devices the guest can see
    std::erase_if(groups, [&](const VkPhysicalDeviceGroupProperties& g) {
        for (uint32_t j = 0; j < g.physicalDeviceCount; ++j)
            if (!ctx_.objects().id_of(VK_OBJECT_TYPE_PHYSICAL_DEVICE, reinterpret_cast<uint64_t>(g.physicalDevices[j])))
                return true;
        return false;
    });
    if (!a.pPhysicalDeviceGroupProperties) {
        *a.pPhysicalDeviceGroupCount = static_cast<uint32_t>(groups.size());
        a.ret = VK_SUCCESS;
        return;
    }
    const uint32_t k = std::min<uint32_t>(*a.pPhysicalDeviceGroupCount, static_cast<uint32_t>(groups.size()));
    for (uint32_t i = 0; i < k; ++i) {
        VkPhysicalDeviceGroupProperties& out = a.pPhysicalDeviceGroupProperties[i];
        out.physicalDeviceCount = groups[i].physicalDeviceCount;
        std::copy_n(groups[i].physicalDevices, VK_MAX_DEVICE_GROUP_SIZE, out.physicalDevices);
        out.subsetAllocation = groups[i].subsetAllocation;
    }
    *a.pPhysicalDeviceGroupCount = k;
    a.ret = k < groups.size() ? VK_INCOMPLETE : VK_SUCCESS;
}

void RendererDispatcher::vkGetPhysicalDeviceProperties(vkGetPhysicalDeviceProperties_args& a) {
    auto& pd = object_as<PhysicalDeviceObject>(a.physicalDevice_ref);
    InstanceObject& inst = instance_of(a.physicalDevice_ref);
    inst.fn.GetPhysicalDeviceProperties(pd.vk, a.pProperties);
    a.pProperties->apiVersion = pd.api_version;
}

void RendererDispatcher::vkGetPhysicalDeviceProperties2(vkGetPhysicalDeviceProperties2_args& a) {
    auto& pd = object_as<PhysicalDeviceObject>(a.physicalDevice_ref);
    InstanceObject& inst = instance_of(a.physicalDevice_ref);
    inst.fn.GetPhysicalDeviceProperties2(pd.vk, a.pProperties);
    a.pProperties->properties.apiVersion = pd.api_version;
}

void RendererDispatcher::vkEnumerateDeviceExtensionProperties(vkEnumerateDeviceExtensionProperties_args& a) {
    auto& pd = object_as<PhysicalDeviceObject>(a.physicalDevice_ref);
    if (a.pLayerName) {
        a.ret = VK_ERROR_LAYER_NOT_PRESENT;
        return;
    }
    a.ret = enumerate(pd.extensions, a.pPropertyCount, a.pProperties);
}

void RendererDispatcher::vkEnumerateDeviceLayerProperties(vkEnumerateDeviceLayerProperties_args& a) {
    a.ret = enumerate(std::vector<VkLayerProperties>{}, a.pPropertyCount, a.pProperties);
}

void RendererDispatcher::vkGetPhysicalDeviceMemoryProperties(vkGetPhysicalDeviceMemoryProperties_args& a) {
    auto& pd = object_as<PhysicalDeviceObject>(a.physicalDevice_ref);
    instance_of(a.physicalDevice_ref).fn.GetPhysicalDeviceMemoryProperties(pd.vk, a.pMemoryProperties);
    filter_memory_properties(pd, *a.pMemoryProperties);
}

void RendererDispatcher::vkGetPhysicalDeviceMemoryProperties2(vkGetPhysicalDeviceMemoryProperties2_args& a) {
    auto& pd = object_as<PhysicalDeviceObject>(a.physicalDevice_ref);
    instance_of(a.physicalDevice_ref).fn.GetPhysicalDeviceMemoryProperties2(pd.vk, a.pMemoryProperties);
    filter_memory_properties(pd, a.pMemoryProperties->memoryProperties);
}

void RendererDispatcher::vkGetPhysicalDeviceFeatures(vkGetPhysicalDeviceFeatures_args& a) {
    auto& pd = object_as<PhysicalDeviceObject>(a.physicalDevice_ref);
    instance_of(a.physicalDevice_ref).fn.GetPhysicalDeviceFeatures(pd.vk, a.pFeatures);
}

void RendererDispatcher::vkGetPhysicalDeviceFeatures2(vkGetPhysicalDeviceFeatures2_args& a) {
    auto& pd = object_as<PhysicalDeviceObject>(a.physicalDevice_ref);
    instance_of(a.physicalDevice_ref).fn.GetPhysicalDeviceFeatures2(pd.vk, a.pFeatures);
}

}  // namespace venus::renderer
