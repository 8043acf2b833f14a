// Golden byte vectors written from venus-protocol.md (§4), not from our encoder: the encoder
// must produce them byte for byte and the decoders must read them back.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "protocol/guest_codec.h"
#include "protocol/host_codec.h"
#include "protocol/host_dispatch.h"
#include "testgen/testgen.h"

namespace venus::protocol {
namespace {

// Little-endian byte vector written field by field, as the spec's tables list them.
struct Bytes {
    std::vector<uint8_t> v;
    Bytes& u32(uint32_t x) { return raw(&x, 4); }
    Bytes& i32(int32_t x) { return raw(&x, 4); }
    Bytes& f32(float x) { return raw(&x, 4); }
    Bytes& u64(uint64_t x) { return raw(&x, 8); }
    Bytes& str(const char* s, size_t padded) {
        const size_t n = std::strlen(s) + 1;
        raw(s, n);
        v.resize(v.size() + (padded - n), 0);
        return *this;
    }
    Bytes& raw(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        v.insert(v.end(), b, b + n);
        return *this;
    }
};

// Host resolver for golden tests: ids are registered with an explicit type.
class MapResolver : public HandleResolver {
public:
    void add(uint64_t id, VkObjectType type, uint64_t handle) { refs_.push_back({id, handle, type}); }
    const ObjectRef* find(uint64_t id) override {
        for (auto& r : refs_)
            if (r.id == id) return &r;
        return nullptr;
    }
    uint64_t id_of(VkObjectType type, uint64_t handle) override {
        for (auto& r : refs_)
            if (r.type == type && r.handle == handle) return r.id;
        return 0;
    }

private:
    std::vector<ObjectRef> refs_;
};

template <class F>
std::vector<uint8_t> encode(size_t size, F&& f) {
    std::vector<uint8_t> out(size, 0xee);
    WireCaps caps = WireCaps::everything();
    Encoder e(out.data(), out.size(), &caps);
    f(e);
    EXPECT_EQ(e.size(), size);
    return out;
}

GuestDispatchable g_device{nullptr, 7};
const VkDevice kDevice = reinterpret_cast<VkDevice>(&g_device);

// ---------------------------------------------------------------------------------------------
// §4.9: vkCreateBuffer request (92 bytes) and reply (24 bytes).

std::vector<uint8_t> CreateBufferRequest() {
    return Bytes()
        .u32(50)            // 0: command type
        .u32(1)             // 4: flags (GENERATE_REPLY)
        .u64(7)             // 8: device id
        .u64(1)             // 16: pCreateInfo present
        .i32(12)            // 24: sType VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        .u64(0)             // 28: pNext end
        .u32(0)             // 36: flags
        .u64(65536)         // 40: size
        .u32(0x20)          // 48: usage STORAGE_BUFFER
        .i32(0)             // 52: sharingMode EXCLUSIVE
        .u32(0)             // 56: queueFamilyIndexCount
        .u64(0)             // 60: pQueueFamilyIndices array size
        .u64(0)             // 68: pAllocator NULL
        .u64(1)             // 76: pBuffer present
        .u64(42)            // 84: the new buffer's id
        .v;
}

TEST(CodecGolden, CreateBufferRequestIs92Bytes) {
    VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    info.size = 65536;
    info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
    VkBuffer buffer = to_handle<VkBuffer>(42);
    const WireCaps caps = WireCaps::everything();
    const size_t size = guest::sizeof_vkCreateBuffer(caps, kDevice, &info, nullptr, &buffer);
    ASSERT_EQ(size, 92u);
    const auto bytes = encode(size, [&](Encoder& e) {
        guest::encode_vkCreateBuffer(e, VK_COMMAND_GENERATE_REPLY_BIT_EXT, kDevice, &info, nullptr, &buffer);
    });
    EXPECT_EQ(bytes, CreateBufferRequest());
}

TEST(CodecGolden, CreateBufferRequestDecodes) {
    const auto bytes = CreateBufferRequest();
    MapResolver objects;
    objects.add(7, VK_OBJECT_TYPE_DEVICE, 0x7000);
    TempArena arena;
    Decoder d(bytes.data(), bytes.size(), &arena, &objects);
    EXPECT_EQ(d.u32(), 50u);
    EXPECT_EQ(d.u32(), 1u);
    host::vkCreateBuffer_args a{};
    host::decode_vkCreateBuffer(d, a);
    EXPECT_TRUE(d.at_end());
    EXPECT_EQ(reinterpret_cast<uint64_t>(a.device), 0x7000u);
    ASSERT_NE(a.device_ref, nullptr);
    EXPECT_EQ(a.device_ref->id, 7u);
    ASSERT_NE(a.pCreateInfo, nullptr);
    EXPECT_EQ(a.pCreateInfo->sType, VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
    EXPECT_EQ(a.pCreateInfo->pNext, nullptr);
    EXPECT_EQ(a.pCreateInfo->size, 65536u);
    EXPECT_EQ(a.pCreateInfo->usage, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT);
    EXPECT_EQ(a.pCreateInfo->pQueueFamilyIndices, nullptr);
    EXPECT_EQ(a.pAllocator, nullptr);
    ASSERT_NE(a.pBuffer, nullptr);
    EXPECT_EQ(reinterpret_cast<uint64_t>(*a.pBuffer), 42u);  // the guest's id, before creation
}

TEST(CodecGolden, CreateBufferReplyIs24Bytes) {
    const auto expected = Bytes().u32(50).i32(VK_SUCCESS).u64(1).u64(42).v;
    // host side: the renderer created host buffer 0xb000 for id 42
    MapResolver objects;
    objects.add(42, VK_OBJECT_TYPE_BUFFER, 0xb000);
    host::vkCreateBuffer_args a{};
    VkBuffer host_buffer = to_handle<VkBuffer>(0xb000);
    a.pBuffer = &host_buffer;
    a.ret = VK_SUCCESS;
    std::vector<uint8_t> out(24);
    Encoder e(out.data(), out.size(), nullptr, &objects);
    host::encode_vkCreateBuffer_reply(e, a);
    EXPECT_EQ(out, expected);

    // guest side
    VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    VkBuffer buffer = to_handle<VkBuffer>(42);
    EXPECT_EQ(guest::sizeof_vkCreateBuffer_reply(WireCaps::everything(), kDevice, &info, nullptr, &buffer), 24u);
    Decoder d(expected.data(), expected.size());
    EXPECT_EQ(guest::decode_vkCreateBuffer_reply(d, kDevice, &info, nullptr, &buffer), VK_SUCCESS);
    EXPECT_TRUE(d.at_end());
    EXPECT_EQ(reinterpret_cast<uint64_t>(buffer), 42u);
}

// ---------------------------------------------------------------------------------------------
// §4.5: a two-element pNext chain is nested: [1][sType A][1][sType B][0][B.self][A.self].

TEST(CodecGolden, TwoElementChainIsNested) {
    VkMemoryDedicatedAllocateInfo dedicated{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO};
    dedicated.buffer = to_handle<VkBuffer>(42);
    VkMemoryAllocateFlagsInfo flags{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO, &dedicated};
    flags.flags = VK_MEMORY_ALLOCATE_DEVICE_MASK_BIT;
    flags.deviceMask = 1;
    VkMemoryAllocateInfo info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &flags};
    info.allocationSize = 4096;
    info.memoryTypeIndex = 3;

    const auto expected = Bytes()
                              .i32(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO)
                              .u64(1)
                              .i32(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO)
                              .u64(1)
                              .i32(VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO)
                              .u64(0)   // end of chain
                              .u64(0)   // dedicated.image
                              .u64(42)  // dedicated.buffer
                              .u32(VK_MEMORY_ALLOCATE_DEVICE_MASK_BIT)
                              .u32(1)     // flags.deviceMask
                              .u64(4096)  // allocationSize
                              .u32(3)     // memoryTypeIndex
                              .v;
    const WireCaps caps = WireCaps::everything();
    ASSERT_EQ(guest::sizeof_VkMemoryAllocateInfo(caps, info), expected.size());
    EXPECT_EQ(encode(expected.size(), [&](Encoder& e) { guest::encode_VkMemoryAllocateInfo(e, info); }), expected);

    MapResolver objects;
    objects.add(42, VK_OBJECT_TYPE_BUFFER, 0xb000);
    TempArena arena;
    Decoder d(expected.data(), expected.size(), &arena, &objects);
    VkMemoryAllocateInfo out{};
    host::decode_VkMemoryAllocateInfo(d, out);
    EXPECT_TRUE(d.at_end());
    EXPECT_EQ(out.allocationSize, 4096u);
    auto* f = static_cast<const VkMemoryAllocateFlagsInfo*>(out.pNext);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->sType, VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO);
    EXPECT_EQ(f->deviceMask, 1u);
    auto* ded = static_cast<const VkMemoryDedicatedAllocateInfo*>(f->pNext);
    ASSERT_NE(ded, nullptr);
    EXPECT_EQ(reinterpret_cast<uint64_t>(ded->buffer), 0xb000u);
    EXPECT_EQ(ded->pNext, nullptr);
}

TEST(CodecGolden, GuestLeavesOutStructsTheRendererDoesNotKnow) {
    VkMemoryDedicatedAllocateInfo dedicated{VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO};
    VkMemoryAllocateInfo info{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &dedicated};
    WireCaps caps{};
    caps.api_version = VK_API_VERSION_1_0;
    caps.extension_mask[0] = 1;  // a valid mask that lists no extension
    // VkMemoryDedicatedAllocateInfo is core 1.1: always known (1.0-1.2 structs are never gated)
    EXPECT_EQ(guest::sizeof_VkMemoryAllocateInfo(caps, info), 4u + 8 + 4 + 8 + 8 + 8 + 8 + 4);
    // VkPhysicalDeviceCustomBorderColorFeaturesEXT (ext 288) is dropped when the mask lacks it
    VkPhysicalDeviceCustomBorderColorFeaturesEXT border{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_CUSTOM_BORDER_COLOR_FEATURES_EXT};
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &border};
    const size_t without = guest::sizeof_VkPhysicalDeviceFeatures2(caps, features);
    caps.extension_mask[288 / 32] |= 1u << (288 % 32);
    const size_t with = guest::sizeof_VkPhysicalDeviceFeatures2(caps, features);
    EXPECT_EQ(with - without, 8u + 4 + 4 + 4);  // marker, sType, two VkBool32
}

// ---------------------------------------------------------------------------------------------
// §4.3: strings and string arrays.

TEST(CodecGolden, StringArray) {
    const char* names[] = {"ab", "cde"};
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.enabledExtensionCount = 2;
    info.ppEnabledExtensionNames = names;
    const auto expected = Bytes()
                              .i32(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO)
                              .u64(0)  // pNext
                              .u32(0)  // flags
                              .u64(0)  // pApplicationInfo
                              .u32(0)  // enabledLayerCount
                              .u64(0)  // ppEnabledLayerNames
                              .u32(2)  // enabledExtensionCount
                              .u64(2)  // array size
                              .u64(3)
                              .str("ab", 4)
                              .u64(4)
                              .str("cde", 4)
                              .v;
    EXPECT_EQ(encode(expected.size(), [&](Encoder& e) { guest::encode_VkInstanceCreateInfo(e, info); }), expected);
    TempArena arena;
    Decoder d(expected.data(), expected.size(), &arena);
    VkInstanceCreateInfo out{};
    host::decode_VkInstanceCreateInfo(d, out);
    ASSERT_EQ(out.enabledExtensionCount, 2u);
    EXPECT_STREQ(out.ppEnabledExtensionNames[0], "ab");
    EXPECT_STREQ(out.ppEnabledExtensionNames[1], "cde");
}

TEST(CodecGolden, StringWithoutTerminatorIsTerminatedByTheDecoder) {
    const auto bytes = Bytes().u64(3).raw("xyz", 3).u32(0).v;  // size 3, no NUL in the data
    TempArena arena;
    std::vector<uint8_t> b = bytes;
    b.resize(12);
    Decoder d(b.data(), b.size(), &arena);
    const char* s = d.string();
    ASSERT_NE(s, nullptr);
    EXPECT_STREQ(s, "xy");
}

// ---------------------------------------------------------------------------------------------
// §4.6: unions are a u32 tag and the selected member; VkClearColorValue uses tag 2.

TEST(CodecGolden, ClearColorValueUnion) {
    VkClearColorValue color{};
    color.uint32[0] = 1;
    color.uint32[1] = 2;
    color.uint32[2] = 3;
    color.uint32[3] = 4;
    VkImageSubresourceRange range{VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    GuestDispatchable cb{nullptr, 9};
    const auto expected = Bytes()
                              .u32(119)  // vkCmdClearColorImage
                              .u32(0)
                              .u64(9)   // commandBuffer
                              .u64(11)  // image
                              .i32(VK_IMAGE_LAYOUT_GENERAL)
                              .u64(1)  // pColor
                              .u32(2)  // union tag: uint32[4]
                              .u64(4)
                              .u32(1).u32(2).u32(3).u32(4)
                              .u32(1)  // rangeCount
                              .u64(1)  // pRanges array size
                              .u32(VK_IMAGE_ASPECT_COLOR_BIT).u32(0).u32(1).u32(0).u32(1)
                              .v;
    const auto cmd = reinterpret_cast<VkCommandBuffer>(&cb);
    const auto image = to_handle<VkImage>(11);
    EXPECT_EQ(encode(expected.size(),
                     [&](Encoder& e) {
                         guest::encode_vkCmdClearColorImage(e, 0, cmd, image, VK_IMAGE_LAYOUT_GENERAL, &color, 1,
                                                            &range);
                     }),
              expected);
    MapResolver objects;
    objects.add(9, VK_OBJECT_TYPE_COMMAND_BUFFER, 0x900);
    objects.add(11, VK_OBJECT_TYPE_IMAGE, 0x1100);
    TempArena arena;
    Decoder d(expected.data(), expected.size(), &arena, &objects);
    d.u32();
    d.u32();
    host::vkCmdClearColorImage_args a{};
    host::decode_vkCmdClearColorImage(d, a);
    ASSERT_NE(a.pColor, nullptr);
    EXPECT_EQ(a.pColor->uint32[3], 4u);
    EXPECT_EQ(a.rangeCount, 1u);
    EXPECT_EQ(a.pRanges[0].levelCount, 1u);
}

TEST(CodecGolden, UnknownUnionTagIsRejected) {
    auto bytes = Bytes().u32(7).u64(4).u32(0).u32(0).u32(0).u32(0).v;
    TempArena arena;
    Decoder d(bytes.data(), bytes.size(), &arena);
    VkClearColorValue v{};
    EXPECT_THROW(host::decode_VkClearColorValue(d, v), WireError);
}

// ---------------------------------------------------------------------------------------------
// §4.7: output structs travel as a skeleton: sType and the chain, no members.

TEST(CodecGolden, PartialOutputStruct) {
    VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &driver};
    GuestDispatchable pd{nullptr, 3};
    const auto phys = reinterpret_cast<VkPhysicalDevice>(&pd);
    const auto expected = Bytes()
                              .u32(148)  // vkGetPhysicalDeviceProperties2
                              .u32(1)
                              .u64(3)
                              .u64(1)
                              .i32(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2)
                              .u64(1)
                              .i32(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES)
                              .u64(0)
                              .v;
    EXPECT_EQ(encode(expected.size(),
                     [&](Encoder& e) {
                         guest::encode_vkGetPhysicalDeviceProperties2(e, VK_COMMAND_GENERATE_REPLY_BIT_EXT, phys,
                                                                       &props);
                     }),
              expected);

    // The host decodes the skeleton into storage the driver can fill.
    MapResolver objects;
    objects.add(3, VK_OBJECT_TYPE_PHYSICAL_DEVICE, 0x300);
    TempArena arena;
    Decoder d(expected.data(), expected.size(), &arena, &objects);
    d.u32();
    d.u32();
    host::vkGetPhysicalDeviceProperties2_args a{};
    host::decode_vkGetPhysicalDeviceProperties2(d, a);
    EXPECT_TRUE(d.at_end());
    ASSERT_NE(a.pProperties, nullptr);
    auto* chained = static_cast<VkPhysicalDeviceDriverProperties*>(a.pProperties->pNext);
    ASSERT_NE(chained, nullptr);
    EXPECT_EQ(chained->sType, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES);

    // ... and the reply carries everything back into the application's structs.
    a.pProperties->properties.apiVersion = VK_API_VERSION_1_3;
    std::strcpy(a.pProperties->properties.deviceName, "llvmpipe");
    chained->driverID = VK_DRIVER_ID_MESA_LLVMPIPE;
    std::strcpy(chained->driverName, "llvmpipe");
    std::vector<uint8_t> reply(4096);
    Encoder e(reply.data(), reply.size(), nullptr, &objects);
    host::encode_vkGetPhysicalDeviceProperties2_reply(e, a);
    const size_t reserved = guest::sizeof_vkGetPhysicalDeviceProperties2_reply(WireCaps::everything(), phys, &props);
    EXPECT_EQ(e.size(), reserved);
    Decoder rd(reply.data(), e.size());
    guest::decode_vkGetPhysicalDeviceProperties2_reply(rd, phys, &props);
    EXPECT_TRUE(rd.at_end());
    EXPECT_EQ(props.properties.apiVersion, VK_API_VERSION_1_3);
    EXPECT_STREQ(props.properties.deviceName, "llvmpipe");
    EXPECT_EQ(driver.driverID, VK_DRIVER_ID_MESA_LLVMPIPE);
    EXPECT_STREQ(driver.driverName, "llvmpipe");
}

// ---------------------------------------------------------------------------------------------
// Wire format 0's struct workaround (WA1, wire-format-0-vs-1.md §4.4): in the partial form of
// VkDrmFormatModifierPropertiesList(2)EXT the count is not sent; the array's length stands for it.

std::vector<uint8_t> FormatPropertiesWithModifierList(uint32_t wire_format) {
    VkDrmFormatModifierPropertiesEXT mods[2]{};
    VkDrmFormatModifierPropertiesListEXT list{VK_STRUCTURE_TYPE_DRM_FORMAT_MODIFIER_PROPERTIES_LIST_EXT};
    list.drmFormatModifierCount = 2;
    list.pDrmFormatModifierProperties = mods;
    VkFormatProperties2 props{VK_STRUCTURE_TYPE_FORMAT_PROPERTIES_2, &list};
    GuestDispatchable pd{nullptr, 3};
    const auto phys = reinterpret_cast<VkPhysicalDevice>(&pd);
    WireCaps caps = WireCaps::everything();
    caps.wire_format = wire_format;
    std::vector<uint8_t> out(guest::sizeof_vkGetPhysicalDeviceFormatProperties2(caps, phys, VK_FORMAT_R8G8B8A8_UNORM,
                                                                                 &props));
    Encoder e(out.data(), out.size(), &caps);
    guest::encode_vkGetPhysicalDeviceFormatProperties2(e, VK_COMMAND_GENERATE_REPLY_BIT_EXT, phys,
                                                       VK_FORMAT_R8G8B8A8_UNORM, &props);
    EXPECT_EQ(e.size(), out.size());
    return out;
}

TEST(CodecGolden, WireFormat0LeavesOutTheModifierCount) {
    const auto v1 = FormatPropertiesWithModifierList(1);
    const auto v0 = FormatPropertiesWithModifierList(0);
    ASSERT_EQ(v1.size(), v0.size() + 4);
    // header 8, physical device 8, format 4, pointer 8, sType 4, chain 8, sType 4, chain end 8
    const size_t at = 52;
    const auto prefix = Bytes()
                            .u32(149)
                            .u32(1)
                            .u64(3)
                            .i32(VK_FORMAT_R8G8B8A8_UNORM)
                            .u64(1)
                            .i32(VK_STRUCTURE_TYPE_FORMAT_PROPERTIES_2)
                            .u64(1)
                            .i32(VK_STRUCTURE_TYPE_DRM_FORMAT_MODIFIER_PROPERTIES_LIST_EXT)
                            .u64(0)
                            .v;
    ASSERT_EQ(prefix.size(), at);
    EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), v0.begin()));
    EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), v1.begin()));
    EXPECT_EQ(std::vector<uint8_t>(v1.begin() + at, v1.begin() + at + 12), Bytes().u32(2).u64(2).v);  // count, array
    EXPECT_EQ(std::vector<uint8_t>(v0.begin() + at, v0.begin() + at + 8), Bytes().u64(2).v);          // array only

    // each decodes in its own format to the same skeleton
    for (uint32_t wf : {0u, 1u}) {
        const auto& bytes = wf == 0 ? v0 : v1;
        MapResolver objects;
        objects.add(3, VK_OBJECT_TYPE_PHYSICAL_DEVICE, 0x300);
        TempArena arena;
        Decoder d(bytes.data(), bytes.size(), &arena, &objects);
        d.set_wire_format(wf);
        d.u32();
        d.u32();
        host::vkGetPhysicalDeviceFormatProperties2_args a{};
        host::decode_vkGetPhysicalDeviceFormatProperties2(d, a);
        EXPECT_TRUE(d.at_end()) << "wire format " << wf;
        ASSERT_NE(a.pFormatProperties, nullptr);
        auto* list = static_cast<VkDrmFormatModifierPropertiesListEXT*>(a.pFormatProperties->pNext);
        ASSERT_NE(list, nullptr);
        EXPECT_EQ(list->drmFormatModifierCount, 2u) << "wire format " << wf;
        EXPECT_NE(list->pDrmFormatModifierProperties, nullptr);
    }
    // read in the other format, the stream does not parse
    TempArena arena;
    MapResolver objects;
    objects.add(3, VK_OBJECT_TYPE_PHYSICAL_DEVICE, 0x300);
    Decoder d(v0.data(), v0.size(), &arena, &objects);
    d.set_wire_format(1);
    d.u32();
    d.u32();
    host::vkGetPhysicalDeviceFormatProperties2_args a{};
    EXPECT_THROW(host::decode_vkGetPhysicalDeviceFormatProperties2(d, a), WireError);
}

// Command 195 (wire format 0 only), as Mesa 22.3 sends it: pDataSize -> 16, pData an output of
// 16 bytes (only its length travels); the reply carries the size and the bytes.
TEST(CodecGolden, ExperimentalFeatureDataRequestAndReply) {
    size_t size = 16;
    uint32_t features[4] = {};
    const auto expected = Bytes().u32(195).u32(1).u64(1).u64(16).u64(16).v;
    EXPECT_EQ(encode(expected.size(),
                     [&](Encoder& e) {
                         guest::encode_vkGetVenusExperimentalFeatureData100000MESA(
                             e, VK_COMMAND_GENERATE_REPLY_BIT_EXT, &size, features);
                     }),
              expected);
    TempArena arena;
    Decoder d(expected.data(), expected.size(), &arena);
    d.u32();
    d.u32();
    host::vkGetVenusExperimentalFeatureData100000MESA_args a{};
    host::decode_vkGetVenusExperimentalFeatureData100000MESA(d, a);
    EXPECT_TRUE(d.at_end());
    ASSERT_NE(a.pDataSize, nullptr);
    EXPECT_EQ(*a.pDataSize, 16u);
    ASSERT_NE(a.pData, nullptr);
    const uint32_t host_features[4] = {1, 0, 1, 1};
    std::memcpy(a.pData, host_features, 16);
    std::vector<uint8_t> reply(64);
    Encoder e(reply.data(), reply.size());
    host::encode_vkGetVenusExperimentalFeatureData100000MESA_reply(e, a);
    const auto expected_reply = Bytes().u32(195).u64(1).u64(16).u64(16).u32(1).u32(0).u32(1).u32(1).v;
    ASSERT_EQ(e.size(), expected_reply.size());
    EXPECT_EQ(std::vector<uint8_t>(reply.begin(), reply.begin() + e.size()), expected_reply);
    Decoder rd(expected_reply.data(), expected_reply.size());
    guest::decode_vkGetVenusExperimentalFeatureData100000MESA_reply(rd, &size, features);
    EXPECT_TRUE(rd.at_end());
    EXPECT_EQ(size, 16u);
    EXPECT_EQ(std::vector<uint32_t>(features, features + 4), (std::vector<uint32_t>{1, 0, 1, 1}));
}

// ---------------------------------------------------------------------------------------------
// Malformed input: clean errors with the command, the offset and what was expected.

TEST(CodecErrors, TruncatedGoldenStreamFailsAtEveryOffset) {
    const auto full = CreateBufferRequest();
    MapResolver objects;
    objects.add(7, VK_OBJECT_TYPE_DEVICE, 0x7000);
    for (size_t len = 0; len < full.size(); ++len) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
        TempArena arena;
        Decoder d(cut.data(), cut.size(), &arena, &objects);
        host::NullDispatcher null;
        EXPECT_THROW(host::dispatch_command(d, null), WireError) << "prefix of " << len << " bytes";
    }
}

TEST(CodecErrors, ErrorNamesCommandOffsetAndExpectation) {
    auto bytes = CreateBufferRequest();
    bytes[24] = 99;  // sType of the create info
    MapResolver objects;
    objects.add(7, VK_OBJECT_TYPE_DEVICE, 0x7000);
    TempArena arena;
    Decoder d(bytes.data(), bytes.size(), &arena, &objects);
    std::vector<uint8_t> reply(64);
    Encoder e(reply.data(), reply.size());
    host::NullDispatcher null(&e);
    try {
        host::dispatch_command(d, null);
        FAIL() << "accepted a wrong sType";
    } catch (const WireError& err) {
        EXPECT_EQ(err.command(), 50u);
        EXPECT_EQ(err.offset(), 24u);
        const std::string msg = err.what();
        EXPECT_NE(msg.find("vkCreateBuffer"), std::string::npos) << msg;
        EXPECT_NE(msg.find("VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO"), std::string::npos) << msg;
        EXPECT_NE(msg.find("byte 24"), std::string::npos) << msg;
    }
}

TEST(CodecErrors, UnknownCommandIdsAreRejected) {
    for (uint32_t id : {9u, 23u, 195u, 348u, 1000u, 0xffffffffu}) {
        auto bytes = Bytes().u32(id).u32(0).u64(0).v;
        TempArena arena;
        Decoder d(bytes.data(), bytes.size(), &arena);
        host::NullDispatcher null;
        EXPECT_THROW(host::dispatch_command(d, null), WireError) << id;
    }
}

TEST(CodecErrors, UnknownFlagsAreRejected) {
    auto bytes = CreateBufferRequest();
    bytes[4] = 3;
    MapResolver objects;
    objects.add(7, VK_OBJECT_TYPE_DEVICE, 0x7000);
    TempArena arena;
    Decoder d(bytes.data(), bytes.size(), &arena, &objects);
    host::NullDispatcher null;
    EXPECT_THROW(host::dispatch_command(d, null), WireError);
}

TEST(CodecErrors, UnknownSTypeInChainIsRejected) {
    // VkBufferCreateInfo with a chained VkPhysicalDeviceFeatures2 (not allowed there)
    auto bytes = Bytes()
                     .i32(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO)
                     .u64(1)
                     .i32(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2)
                     .u64(0)
                     .v;
    bytes.resize(bytes.size() + 256, 0);
    TempArena arena;
    Decoder d(bytes.data(), bytes.size(), &arena);
    VkBufferCreateInfo info{};
    try {
        host::decode_VkBufferCreateInfo(d, info);
        FAIL();
    } catch (const WireError& e) {
        EXPECT_NE(std::string(e.what()).find("VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2"), std::string::npos)
            << e.what();
    }
    // a value no registry defines
    auto bytes2 = Bytes().i32(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO).u64(1).i32(0x7fff0000).u64(0).v;
    Decoder d2(bytes2.data(), bytes2.size(), &arena);
    EXPECT_THROW(host::decode_VkBufferCreateInfo(d2, info), WireError);
}

TEST(CodecErrors, DeepChainCannotExhaustTheStack) {
    Bytes b;
    b.i32(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
    for (int i = 0; i < 100000; ++i) b.u64(1).i32(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO);
    b.u64(0);
    TempArena arena;
    Decoder d(b.v.data(), b.v.size(), &arena);
    VkMemoryAllocateInfo info{};
    EXPECT_THROW(host::decode_VkMemoryAllocateInfo(d, info), WireError);
}

TEST(CodecErrors, CountsCannotForceLargeAllocations) {
    // vkCmdSetViewport with 2^40 viewports but only a few bytes
    GuestDispatchable cb{nullptr, 9};
    auto bytes = Bytes().u32(94).u32(0).u64(9).u32(0).u32(0).u64(uint64_t{1} << 40).u32(0).v;
    MapResolver objects;
    objects.add(9, VK_OBJECT_TYPE_COMMAND_BUFFER, 0x900);
    TempArena arena;
    Decoder d(bytes.data(), bytes.size(), &arena, &objects);
    host::NullDispatcher null;
    EXPECT_THROW(host::dispatch_command(d, null), WireError);
    EXPECT_LT(arena.used(), size_t{1} << 20);
    (void)cb;
}

TEST(CodecErrors, OutputArraysAreBoundedByTheScratchCap) {
    // vkGetQueryPoolResults asks for 2 GiB of results: larger than the 1 GiB cap
    auto bytes = Bytes()
                     .u32(49).u32(1).u64(7).u64(12).u32(0).u32(1)
                     .u64(uint64_t{2} << 30)  // dataSize
                     .u64(uint64_t{2} << 30)  // pData array size (output: size only)
                     .u64(8).u32(0)
                     .v;
    MapResolver objects;
    objects.add(7, VK_OBJECT_TYPE_DEVICE, 0x7000);
    objects.add(12, VK_OBJECT_TYPE_QUERY_POOL, 0x1200);
    TempArena arena;
    Decoder d(bytes.data(), bytes.size(), &arena, &objects);
    host::NullDispatcher null;
    try {
        host::dispatch_command(d, null);
        FAIL();
    } catch (const WireError& e) {
        EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos) << e.what();
    }
    // the cap is configurable
    TempArena small(1024);
    auto ok = Bytes().u32(49).u32(0).u64(7).u64(12).u32(0).u32(1).u64(2048).u64(2048).u64(8).u32(0).v;
    Decoder d2(ok.data(), ok.size(), &small, &objects);
    EXPECT_THROW(host::dispatch_command(d2, null), WireError);
}

TEST(CodecErrors, HandleTypesAreChecked) {
    auto bytes = CreateBufferRequest();
    MapResolver objects;
    objects.add(7, VK_OBJECT_TYPE_QUEUE, 0x7000);  // id 7 is a queue, not a device
    TempArena arena;
    Decoder d(bytes.data(), bytes.size(), &arena, &objects);
    host::NullDispatcher null;
    try {
        host::dispatch_command(d, null);
        FAIL();
    } catch (const WireError& e) {
        EXPECT_NE(std::string(e.what()).find("VkQueue"), std::string::npos) << e.what();
    }
    MapResolver empty;
    Decoder d2(bytes.data(), bytes.size(), &arena, &empty);
    EXPECT_THROW(host::dispatch_command(d2, null), WireError);
}

TEST(CodecErrors, ReplyArraysCannotOverflowTheApplication) {
    // a hostile renderer answers vkEnumeratePhysicalDevices with more devices than asked for
    GuestDispatchable instance{nullptr, 1};
    auto reply = Bytes().u32(2).i32(VK_SUCCESS).u64(1).u32(5).u64(5).u64(1).u64(2).u64(3).u64(4).u64(5).v;
    uint32_t count = 2;
    VkPhysicalDevice devices[2] = {};
    Decoder d(reply.data(), reply.size());
    EXPECT_THROW(guest::decode_vkEnumeratePhysicalDevices_reply(d, reinterpret_cast<VkInstance>(&instance), &count,
                                                                devices),
                 WireError);
}

// Every generated command: a random request cut at every offset decodes to a clean error.
TEST(CodecErrors, EveryCommandTruncatedAtEveryOffset) {
    testgen::Harness h(99);
    size_t checked = 0;
    for (size_t i = 0; i < testgen::kCommandCaseCount; ++i) {
        std::vector<uint8_t> full;
        testgen::kCommandCases[i].request(h, full);
        for (size_t len = 0; len < full.size(); len += (full.size() > 512 ? 7 : 1)) {
            TempArena arena;
            Decoder d(full.data(), len, &arena, &h.host_objects);
            host::NullDispatcher null;
            bool threw = false;
            try {
                host::dispatch_command(d, null);
            } catch (const WireError&) {
                threw = true;
            }
            EXPECT_TRUE(threw) << testgen::kCommandCases[i].name << " decoded from " << len << " of " << full.size()
                               << " bytes";
            ++checked;
        }
    }
    EXPECT_GT(checked, 10000u);
}

}  // namespace
}  // namespace venus::protocol

namespace venus::protocol {
namespace {

// vkCmdDrawMultiEXT reads elements at the application's stride and sends them densely, with the
// dense stride, so that the renderer can hand the array to its driver as is.
TEST(CodecGolden, StridedArraysGoOutDense) {
    struct Padded {
        VkMultiDrawInfoEXT info;
        uint32_t pad[2];
    };
    Padded draws[2] = {{{1, 2}, {0xdead, 0xbeef}}, {{3, 4}, {0xdead, 0xbeef}}};
    GuestDispatchable cb{nullptr, 9};
    const auto cmd = reinterpret_cast<VkCommandBuffer>(&cb);
    const auto expected =
        Bytes().u32(247).u32(0).u64(9).u32(2).u64(2).u32(1).u32(2).u32(3).u32(4).u32(1).u32(0).u32(8).v;
    const WireCaps caps = WireCaps::everything();
    ASSERT_EQ(guest::sizeof_vkCmdDrawMultiEXT(caps, cmd, 2, &draws[0].info, 1, 0, sizeof(Padded)), expected.size());
    EXPECT_EQ(encode(expected.size(),
                     [&](Encoder& e) {
                         guest::encode_vkCmdDrawMultiEXT(e, 0, cmd, 2, &draws[0].info, 1, 0, sizeof(Padded));
                     }),
              expected);
}

}  // namespace
}  // namespace venus::protocol
