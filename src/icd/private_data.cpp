// Private data lives in the driver: vkSetPrivateData names objects by raw 64-bit handle, which
// the renderer could not translate into its host handles, and nothing of it concerns the host.
#include "icd/generated_support.h"

namespace venus::icd {

VKAPI_ATTR VkResult VKAPI_CALL icd_vkCreatePrivateDataSlot(VkDevice device, const VkPrivateDataSlotCreateInfo*,
                                                           const VkAllocationCallbacks*, VkPrivateDataSlot* pPrivateDataSlot) {
    Device* dev = Device::from(device);
    *pPrivateDataSlot = new_handle<VkPrivateDataSlot>();
    std::lock_guard lock(dev->mutex);
    dev->private_slots.insert(id_of(*pPrivateDataSlot));
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkDestroyPrivateDataSlot(VkDevice device, VkPrivateDataSlot privateDataSlot,
                                                        const VkAllocationCallbacks*) {
    if (!privateDataSlot) return;
    Device* dev = Device::from(device);
    const uint64_t slot = id_of(privateDataSlot);
    std::lock_guard lock(dev->mutex);
    dev->private_slots.erase(slot);
    auto it = dev->private_data.lower_bound({slot, VkObjectType(0), 0});
    while (it != dev->private_data.end() && std::get<0>(it->first) == slot) it = dev->private_data.erase(it);
}

VKAPI_ATTR VkResult VKAPI_CALL icd_vkSetPrivateData(VkDevice device, VkObjectType objectType, uint64_t objectHandle,
                                                    VkPrivateDataSlot privateDataSlot, uint64_t data) {
    Device* dev = Device::from(device);
    std::lock_guard lock(dev->mutex);
    dev->private_data[{id_of(privateDataSlot), objectType, objectHandle}] = data;
    return VK_SUCCESS;
}

VKAPI_ATTR void VKAPI_CALL icd_vkGetPrivateData(VkDevice device, VkObjectType objectType, uint64_t objectHandle,
                                                VkPrivateDataSlot privateDataSlot, uint64_t* pData) {
    Device* dev = Device::from(device);
    std::lock_guard lock(dev->mutex);
    auto it = dev->private_data.find({id_of(privateDataSlot), objectType, objectHandle});
    *pData = it == dev->private_data.end() ? 0 : it->second;
}

}  // namespace venus::icd
