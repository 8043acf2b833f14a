// The driver's objects. Dispatchable ones (instance, physical device, device, queue, command
// buffer) are C++ objects that start with a Dispatchable; non-dispatchable handles are plain
// ids, and the device keeps a record only for the types with behaviour in the driver (memory
// mappings, command pools, descriptor layouts and sets, update templates, private data).
#pragma once

#include <vulkan/vulkan.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "icd/connection.h"
#include "icd/registry.h"

namespace venus::icd {

struct Instance;
struct PhysicalDevice;
struct Device;
struct Queue;
class CommandBuffer;

struct Instance : Dispatchable {
    explicit Instance(uint64_t id) : Dispatchable(id) {}
    static Instance* from(VkInstance h) { return reinterpret_cast<Instance*>(h); }
    VkInstance handle() { return reinterpret_cast<VkInstance>(this); }

    std::unique_ptr<Connection> conn;
    uint32_t app_api_version = VK_API_VERSION_1_0;
    std::vector<std::string> extensions;  // enabled instance extensions

    std::mutex mutex;  // physical device enumeration
    bool enumerated = false;
    std::vector<std::unique_ptr<PhysicalDevice>> physical_devices;
    std::vector<VkPhysicalDeviceGroupProperties> groups;
};

struct PhysicalDevice : Dispatchable {
    explicit PhysicalDevice(uint64_t id) : Dispatchable(id) {}
    static PhysicalDevice* from(VkPhysicalDevice h) { return reinterpret_cast<PhysicalDevice*>(h); }
    VkPhysicalDevice handle() { return reinterpret_cast<VkPhysicalDevice>(this); }
    Connection& conn() { return *instance->conn; }

    Instance* instance = nullptr;
    VkPhysicalDeviceProperties properties{};
    VkPhysicalDeviceFeatures features{};
    VkPhysicalDeviceMemoryProperties memory{};
    std::vector<VkQueueFamilyProperties> queue_families;
    std::vector<VkExtensionProperties> extensions;  // as the application sees them
    bool has_extension(const char* name) const;
};

struct Queue : Dispatchable {
    explicit Queue(uint64_t id) : Dispatchable(id) {}
    static Queue* from(VkQueue h) { return reinterpret_cast<Queue*>(h); }
    VkQueue handle() { return reinterpret_cast<VkQueue>(this); }

    Device* device = nullptr;
    uint32_t family = 0;
    uint32_t index = 0;
    VkDeviceQueueCreateFlags flags = 0;
    VkFence idle_fence = VK_NULL_HANDLE;  // for vkQueueWaitIdle, created on first use
    uint32_t ring_idx = 0;  // its vtest timeline (VkDeviceQueueTimelineInfoMESA); 0: none
};

// Host-visible memory maps through a blob of the renderer (§6.2).
struct Memory {
    uint64_t id = 0;
    VkDeviceSize size = 0;
    uint32_t type = 0;
    VkMemoryPropertyFlags flags = 0;
    uint32_t seqno = 0;  // instance-ring position of the allocation
    std::mutex mutex;
    std::optional<transport::VtestClient::Blob> blob;
    bool mapped = false;
};

struct CommandPool {
    uint64_t id = 0;
    uint32_t family = 0;
    VkCommandPoolCreateFlags flags = 0;
    std::unordered_set<CommandBuffer*> buffers;
};

// What the driver must know of a descriptor set layout to clean VkWriteDescriptorSet
// (pointers and handles the application may leave as garbage where Vulkan ignores them).
struct SetLayout {
    struct Binding {
        VkDescriptorType type = VK_DESCRIPTOR_TYPE_MAX_ENUM;
        uint32_t count = 0;
        bool immutable_samplers = false;
    };
    std::map<uint32_t, Binding> bindings;
    const Binding* binding(uint32_t b) const {
        auto it = bindings.find(b);
        return it == bindings.end() ? nullptr : &it->second;
    }
};

struct UpdateTemplate {
    std::vector<VkDescriptorUpdateTemplateEntry> entries;
    VkDescriptorUpdateTemplateType type = VK_DESCRIPTOR_UPDATE_TEMPLATE_TYPE_DESCRIPTOR_SET;
    VkPipelineBindPoint bind_point = VK_PIPELINE_BIND_POINT_GRAPHICS;
    uint64_t set_layout = 0;  // for descriptor-set templates
};

struct Device : Dispatchable {
    Device(uint64_t id, Instance* inst, PhysicalDevice* pd) : Dispatchable(id), instance(inst), physical(pd) {}
    static Device* from(VkDevice h) { return reinterpret_cast<Device*>(h); }
    VkDevice handle() { return reinterpret_cast<VkDevice>(this); }
    Connection& conn() { return *instance->conn; }
    bool has_extension(const char* name) const;

    Instance* instance;
    PhysicalDevice* physical;
    uint32_t api_version = 0;
    std::vector<std::string> extensions;  // enabled
    std::vector<std::unique_ptr<Queue>> queues;

    std::mutex mutex;  // everything below
    std::unordered_map<uint64_t, std::unique_ptr<Memory>> memories;
    std::unordered_map<uint64_t, std::unique_ptr<CommandPool>> command_pools;
    std::unordered_map<uint64_t, std::shared_ptr<const SetLayout>> set_layouts;
    std::unordered_map<uint64_t, std::vector<std::shared_ptr<const SetLayout>>> pipeline_layouts;
    std::unordered_map<uint64_t, std::shared_ptr<const SetLayout>> sets;   // descriptor set -> layout
    std::unordered_map<uint64_t, std::unordered_set<uint64_t>> pool_sets;  // descriptor pool -> sets
    std::unordered_map<uint64_t, std::shared_ptr<const UpdateTemplate>> templates;
    std::unordered_set<uint64_t> private_slots;
    std::map<std::tuple<uint64_t, VkObjectType, uint64_t>, uint64_t> private_data;

    std::shared_ptr<const SetLayout> set_layout_of_set(uint64_t set);
};

// The connection behind any dispatchable handle (used by the generated entry points).
inline Connection& connection_of(VkInstance h) { return *Instance::from(h)->conn; }
inline Connection& connection_of(VkPhysicalDevice h) { return PhysicalDevice::from(h)->conn(); }
inline Connection& connection_of(VkDevice h) { return Device::from(h)->conn(); }
inline Connection& connection_of(VkQueue h) { return Queue::from(h)->device->conn(); }

}  // namespace venus::icd
