#include "facts.h"

#include <fmt/format.h>

#include <map>
#include <optional>

#include "protocol/venus_defs.h"

namespace venus::doctor {

const ExtensionFact* DeviceFact::extension(const std::string& n) const {
    for (const auto& e : extensions)
        if (e.name == n) return &e;
    return nullptr;
}

bool DeviceFact::usable_extension(const std::string& n) const {
    const ExtensionFact* e = extension(n);
    return e && e->usable();
}

CapsetFields CapsetFields::present(size_t size) {
    CapsetFields f;
    f.supports_blob_id_0 = size >= offsetof(vtest::CapsetVenus, supports_blob_id_0) + 4;
    f.extension_mask = size >= offsetof(vtest::CapsetVenus, vk_extension_mask1) + 128;
    f.allow_vk_wait_syncs = size >= offsetof(vtest::CapsetVenus, allow_vk_wait_syncs) + 4;
    f.supports_multiple_timelines = size >= offsetof(vtest::CapsetVenus, supports_multiple_timelines) + 4;
    f.use_guest_vram = size >= offsetof(vtest::CapsetVenus, use_guest_vram) + 4;
    return f;
}

std::string version_string(uint32_t v) {
    return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v), VK_API_VERSION_PATCH(v));
}

namespace {

struct Release {
    uint32_t wire, xml, spec;
    const char* name;
};

// venus-protocol.md §3, "Values reported per release".
constexpr Release kReleases[] = {
    {0, VK_MAKE_API_VERSION(0, 1, 3, 228), 100000, "virglrenderer 0.10.4"},
    {1, VK_MAKE_API_VERSION(0, 1, 3, 252), 1, "virglrenderer 1.0.0"},
    {1, VK_MAKE_API_VERSION(0, 1, 3, 269), 1, "virglrenderer 1.0.1"},
    {1, VK_MAKE_API_VERSION(0, 1, 3, 269), 2, "virglrenderer 1.1.0"},
    {1, VK_MAKE_API_VERSION(0, 1, 4, 307), 3, "virglrenderer 1.1.1 or 1.2.0"},
    {1, VK_MAKE_API_VERSION(0, 1, 4, 334), 3, "virglrenderer 1.3.0"},
    {1, VK_MAKE_API_VERSION(0, 1, 4, 343), 4, "virglrenderer git HEAD (2026)"},
};

}  // namespace

std::string identify_renderer(const vtest::CapsetVenus& c) {
    if (c.wire_format_version == protocol::kWireFormatVersion && c.vk_xml_version == protocol::kVkXmlVersion &&
        c.vk_mesa_venus_protocol_spec_version == protocol::kVenusProtocolSpecVersion)
        return fmt::format("venus-server (venus-cpp, vk.xml {})", version_string(c.vk_xml_version));
    for (const Release& r : kReleases)
        if (c.wire_format_version == r.wire && c.vk_xml_version == r.xml && c.vk_mesa_venus_protocol_spec_version == r.spec)
            return r.name;
    if (c.wire_format_version == 0 && c.vk_xml_version == protocol::kVkXmlVersion &&
        c.vk_mesa_venus_protocol_spec_version == renderer::kExperimentalProtocolSpecVersion)
        return fmt::format("venus-server --wire-format 0 (venus-cpp, vk.xml {})", version_string(c.vk_xml_version));
    if (c.wire_format_version == 0) return "a pre-release (wire format 0) renderer, like virglrenderer <= 0.10.4";
    return {};
}

bool is_upstream_virglrenderer(const vtest::CapsetVenus& c) {
    for (const Release& r : kReleases)
        if (c.wire_format_version == r.wire && c.vk_xml_version == r.xml && c.vk_mesa_venus_protocol_spec_version == r.spec)
            return true;
    return false;
}

std::string memory_flags_string(VkMemoryPropertyFlags flags) {
    static const std::pair<VkMemoryPropertyFlags, const char*> names[] = {
        {VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, "DEVICE_LOCAL"},
        {VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, "HOST_VISIBLE"},
        {VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, "HOST_COHERENT"},
        {VK_MEMORY_PROPERTY_HOST_CACHED_BIT, "HOST_CACHED"},
        {VK_MEMORY_PROPERTY_LAZILY_ALLOCATED_BIT, "LAZILY_ALLOCATED"},
        {VK_MEMORY_PROPERTY_PROTECTED_BIT, "PROTECTED"},
        {VK_MEMORY_PROPERTY_DEVICE_COHERENT_BIT_AMD, "DEVICE_COHERENT_AMD"},
        {VK_MEMORY_PROPERTY_DEVICE_UNCACHED_BIT_AMD, "DEVICE_UNCACHED_AMD"},
        {VK_MEMORY_PROPERTY_RDMA_CAPABLE_BIT_NV, "RDMA_CAPABLE_NV"},
    };
    std::string out;
    VkMemoryPropertyFlags rest = flags;
    for (const auto& [bit, name] : names) {
        if (!(flags & bit)) continue;
        if (!out.empty()) out += '|';
        out += name;
        rest &= ~bit;
    }
    if (rest) out += fmt::format("{}0x{:x}", out.empty() ? "" : "|", rest);
    return out.empty() ? "0" : out;
}

DecodedMask decode_extension_mask(const uint32_t (&mask)[32]) {
    static const std::map<uint32_t, const char*> by_number = [] {
        std::map<uint32_t, const char*> m;
        for (size_t i = 0; i < protocol::kExtensionCount; ++i) m[protocol::kExtensions[i].number] = protocol::kExtensions[i].name;
        return m;
    }();
    DecodedMask d;
    d.valid = mask[0] & 1u;
    for (uint32_t n = 1; n < 1024; ++n) {
        if (!((mask[n / 32] >> (n % 32)) & 1u)) continue;
        auto it = by_number.find(n);
        if (it != by_number.end()) d.names.emplace_back(it->second);
        else d.unknown.push_back(n);
    }
    return d;
}

}  // namespace venus::doctor
