// DIAGNOSIS: every known cause of the seed symptom (guest vkCreateInstance ->
// VK_ERROR_OUT_OF_HOST_MEMORY; venus-protocol.md §6.4, §7, §11), recognised from the facts and
// explained in one line of cause and one line of fix. Status: FAIL breaks guests; WARN works at
// a cost or with a risk; OK is a cause that is present but fully handled by venus-server.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "checks.h"
#include "protocol/venus_defs.h"

namespace venus::doctor {

namespace {

// The N of a probe's "the allocation starts N bytes into the exported fd" (empty if absent).
std::string allocation_offset(const std::string& reason) {
    static constexpr std::string_view kBefore = "the allocation starts ", kAfter = " bytes into the exported fd";
    const size_t at = reason.find(kBefore);
    if (at == std::string::npos) return {};
    const size_t digits = at + kBefore.size();
    size_t end = digits;
    while (end < reason.size() && reason[end] >= '0' && reason[end] <= '9') ++end;
    if (end == digits || reason.compare(end, kAfter.size(), kAfter) != 0) return {};
    return reason.substr(digits, end - digits);
}

using renderer::MemoryStrategy;

std::string indices(const std::vector<uint32_t>& v) {
    return fmt::format("{} {}", v.size() == 1 ? "type" : "types", fmt::join(v, ", "));
}

// "type 0: host-pointer, type 2: shadow" for the host-visible types of a device
std::string plan_words(const DeviceFact& d) {
    std::vector<std::string> parts;
    for (const auto& t : d.types)
        if (t.host_visible) parts.push_back(fmt::format("type {}: {}", t.index, renderer::strategy_name(t.strategy)));
    return fmt::format("{}", fmt::join(parts, ", "));
}

Status worst_of(const DeviceFact& d, const std::vector<uint32_t>& types) {
    Status st = Status::Ok;
    for (uint32_t i : types) {
        const MemoryStrategy s = d.types[i].strategy;
        if (s == MemoryStrategy::None) return Status::Fail;
        if (s == MemoryStrategy::Shadow) st = Status::Warn;
    }
    return st;
}

std::string ext_state(const DeviceFact& d, const char* name) {
    const ExtensionFact* e = d.extension(name);
    if (!e || !e->offered) return fmt::format("no {}", name);
    return fmt::format("{} hidden by VENUS_HIDE_EXTENSIONS", name);
}

void diagnose_host(const HostFacts& h, const ServerFacts& s, Report& r) {
    if (!h.config_error.empty())
        r.find("bad-environment", Status::Fail,
               fmt::format("{}: venus-server exits at start-up with this environment, so guests find no server",
                           h.config_error),
               "fix the variable (VENUS_BLOB_ALIGNMENT is a power of two such as 16K; sizes take K/M/G suffixes)");
    if (!h.renderer_host.error.empty())
        r.find("renderer-probe", Status::Fail, fmt::format("the renderer's host probe failed: {}", h.renderer_host.error),
               "make a Vulkan 1.1 driver visible to the server's process (VK_DRIVER_FILES, installed ICDs)");

    const bool any_usable = std::any_of(h.devices.begin(), h.devices.end(), [](const auto& d) { return d.usable; });
    if (!any_usable) {
        if (!h.portability_enumeration)
            r.find("no-device", Status::Fail,
                   "the host's Vulkan loader lists no usable (Vulkan 1.1) device and lacks VK_KHR_portability_enumeration, "
                   "so a portability driver such as MoltenVK stays invisible: guests see no GPU",
                   "install a Vulkan driver (lavapipe: mesa-vulkan-drivers); on macOS a Khronos loader >= 1.3.216 with "
                   "MoltenVK's ICD");
        else
            r.find("no-device", Status::Fail,
                   fmt::format("the host's Vulkan loader lists no usable (Vulkan 1.1) physical device{}: guests see no GPU",
                               h.instance_error.empty() ? "" : " (" + h.instance_error + ")"),
                   "install a Vulkan 1.1 driver (lavapipe: mesa-vulkan-drivers) and check VK_DRIVER_FILES / "
                   "VK_ICD_FILENAMES");
    } else if (!h.portability_enumeration) {
        r.find("portability-not-enumerated", Status::Warn,
               "the Vulkan loader lacks VK_KHR_portability_enumeration: a portability driver (MoltenVK) would not be "
               "listed and guests would see no GPU",
               "a Vulkan loader >= 1.3.216 (venus-server enables the extension whenever the loader offers it)");
    }
    for (const auto& d : h.devices)
        if (d.portability_only)
            r.find("portability-driver", Status::Ok,
                   fmt::format("device {} ({}) is a portability driver, listed only with VK_KHR_portability_enumeration; "
                               "upstream vkr creates its instance without it and would see no device",
                               d.index, d.name),
                   "none needed: venus-server creates its instances with portability enumeration");

    if (!h.memfd)
        r.find("no-memfd", Status::Fail,
               fmt::format("memfd_create fails ({}): no shared-memory blobs (ring, reply stream at vkCreateInstance), "
                           "no host-pointer or shadow memory",
                           h.memfd_error),
               "a kernel with memfd_create (Linux >= 3.17) and no seccomp filter that blocks it");

    // Pages: guests assume 4 KiB; blobs must cover whole host pages and import granules.
    uint64_t import = 0, effective = 0;
    for (const auto& d : h.devices) {
        import = std::max(import, d.import_alignment);
        effective = std::max(effective, d.alignment);
    }
    const uint64_t need = std::max<uint64_t>({h.page_size, import, kGuestPageSize});
    if (effective && effective % need)
        r.find("page-size", Status::Fail,
               fmt::format("blobs are aligned to {} bytes, not a multiple of the host page {} / import alignment {}: "
                           "mappings fail or show the wrong page",
                           effective, h.page_size, import),
               fmt::format("set VENUS_BLOB_ALIGNMENT to a multiple of {}", need));
    else if (h.config.blob_alignment < need)
        r.find("page-size", Status::Warn,
               fmt::format("VENUS_BLOB_ALIGNMENT {} is smaller than the host page {} or minImportedHostPointerAlignment {}: "
                           "blobs must cover whole host pages (16 KiB on Apple Silicon) or a VMM cannot map them and "
                           "host-pointer imports fail",
                           h.config.blob_alignment, h.page_size, import),
               fmt::format("none needed for venus-server, which aligns blobs to {} anyway; set VENUS_BLOB_ALIGNMENT >= {} "
                           "to say so",
                           effective ? effective : need, need));
    else if (h.page_size > kGuestPageSize)
        r.find("page-size", Status::Warn,
               fmt::format("host pages are {} bytes but guest drivers assume {}: every blob takes whole host pages", h.page_size,
                           kGuestPageSize),
               fmt::format("none needed: blobs are aligned to {} (keep VENUS_BLOB_ALIGNMENT >= {})", effective, h.page_size));

    for (const auto& d : h.devices) {
        if (!d.usable || !d.has_plan) continue;
        std::vector<uint32_t> visible, none, shadow, offset, unmappable;
        std::string offset_words, none_reason;
        for (const auto& t : d.types) {
            if (!t.host_visible) continue;
            visible.push_back(t.index);
            if (t.strategy == MemoryStrategy::None) {
                none.push_back(t.index);
                if (none_reason.empty()) none_reason = t.reason;
            }
            if (t.strategy == MemoryStrategy::Shadow) shadow.push_back(t.index);
            if (const std::string bytes = allocation_offset(t.reason); !bytes.empty()) {
                offset.push_back(t.index);
                offset_words = bytes;
            }
            if (t.reason.find("opaque-fd: mmap of the exported fd") != std::string::npos) unmappable.push_back(t.index);
        }
        if (visible.empty()) continue;
        const std::string dev = fmt::format("device {} ({})", d.index, d.name);

        // MoltenVK class: no fd export at all.
        const bool fd = d.usable_extension(VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
        const bool host_ptr = d.usable_extension(VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
        if (!fd) {
            const Status st = worst_of(d, visible);
            std::string fix;
            if (st == Status::Ok)
                fix = fmt::format("none needed with venus-server: the plan imports memfd mappings as device memory "
                                  "(host-pointer strategy, zero copy): {}",
                                  plan_words(d));
            else if (st == Status::Warn)
                fix = fmt::format("venus-server's plan uses shadow copies ({}): one copy per changed page at "
                                  "flush/invalidate/submit/wait; a driver with VK_EXT_external_memory_host gives zero copy",
                                  plan_words(d));
            else
                fix = fmt::format("the plan shares no memory for {} (see no-strategy); allow host-pointer or shadow "
                                  "(VENUS_MEMORY_STRATEGY unset)",
                                  indices(none));
            r.find("no-fd-export", st,
                   fmt::format("{}: the driver exports no memory as an fd ({}; {}){}: the MoltenVK-class seed failure, "
                               "where upstream virglrenderer has no blob for the guest and vkCreateInstance/vkMapMemory "
                               "fail with VK_ERROR_OUT_OF_HOST_MEMORY",
                               dev, ext_state(d, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME),
                               ext_state(d, VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME),
                               host_ptr ? "" : fmt::format(" and imports no host pointer ({})",
                                                           ext_state(d, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME))),
                   fix);
        }
        if (!offset.empty())
            r.find("opaque-fd-offset", worst_of(d, offset),
                   fmt::format("{} {}: the driver's opaque fd holds the allocation {} bytes into the file (lavapipe: a "
                               "memfd with a header page), but a guest maps blobs from offset 0 and would read the wrong "
                               "bytes",
                               dev, indices(offset), offset_words),
                   worst_of(d, offset) == Status::Fail
                       ? fmt::format("no other strategy works for {}: see no-strategy", indices(offset))
                       : fmt::format("none needed with venus-server, which does not use that fd ({})", plan_words(d)));
        if (!unmappable.empty())
            r.find("opaque-fd-unmappable", worst_of(d, unmappable),
                   fmt::format("{} {}: the driver's opaque fd cannot be mapped (NVIDIA: an fd of /dev/nvidiactl)", dev,
                               indices(unmappable)),
                   fmt::format("none needed: venus-server shares these types otherwise ({})", plan_words(d)));
        if (!none.empty()) {
            std::string fix;
            const std::string& forced = h.config.memory_strategy;
            if (forced == "none") fix = "unset VENUS_MEMORY_STRATEGY: 'none' disables every strategy";
            else if (!forced.empty())
                fix = fmt::format("unset VENUS_MEMORY_STRATEGY={}: the forced strategy does not work for these types", forced);
            else if (!h.config.hidden_extensions.empty())
                fix = "hide fewer extensions (VENUS_HIDE_EXTENSIONS): even shadow copies fail here";
            else
                fix = "the host cannot even map this type itself (shadow failed): report the driver, or keep guests off it";
            r.find("no-strategy", Status::Fail,
                   fmt::format("{} {} cannot be shared with the guest ({}): vkMapMemory fails with "
                               "VK_ERROR_MEMORY_MAP_FAILED, and Mesa's venus maps memory already in vkCreateDevice",
                               dev, indices(none), none_reason),
                   fix);
        }
        const bool coherent = std::any_of(d.types.begin(), d.types.end(), [](const MemoryTypeFact& t) {
            const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
            return t.host_visible && t.strategy != MemoryStrategy::None && (t.guest_flags & want) == want;
        });
        if (!coherent && !shadow.empty())
            r.find("no-coherent-memory", Status::Warn,
                   fmt::format("{}: no memory type is HOST_VISIBLE|HOST_COHERENT for the guest (shadowed types are cached "
                               "and non-coherent): Mesa's venus hides such types, so Mesa guests get no mappable memory",
                               dev),
                   "offer VK_EXT_external_memory_host (or fd export) on the host for coherent zero-copy types; guest "
                   "drivers that flush (venus-cpp's) work with shadow copies");

        // "A blob type the server refuses": upstream vtest takes only dma-buf (or shm) fds.
        if (s.connected && is_upstream_virglrenderer(s.capset)) {
            std::vector<uint32_t> no_dmabuf;
            for (uint32_t i : visible)
                if (d.types[i].strategy != MemoryStrategy::DmaBuf) no_dmabuf.push_back(i);
            if (!no_dmabuf.empty())
                r.find("server-refuses-blob-type", Status::Fail,
                       fmt::format("the server is {}, whose vtest maps VkDeviceMemory only as dma-buf (it refuses OPAQUE "
                                   "fds and has no host-pointer or shadow path), and {} {} has no dma-buf export: guests "
                                   "cannot map that memory",
                                   identify_renderer(s.capset), dev, indices(no_dmabuf)),
                       fmt::format("run venus-server on this host (its plan: {})", plan_words(d)));
        }
    }
}

void diagnose_server(const HostFacts& h, const ServerFacts& s, Report& r) {
    (void)h;
    const std::string start = "start venus-server --socket-path P (guests: VTEST_SOCKET_NAME=P), or virgl_test_server "
                              "--venus --render-server";
    if (!s.checked) {
        if (s.not_checked != "--no-server")
            r.find("no-server", Status::Warn,
                   fmt::format("{}: guests have nothing to connect to (Mesa's venus then finds no device)", s.not_checked),
                   start + "; or point venus-doctor at one with --socket PATH");
        return;
    }
    if (s.timed_out) {
        r.find("server-hung", Status::Fail, s.error,
               "the server accepted the connection but stopped answering: check its log and restart it");
        if (!s.connected) return;
    }
    if (!s.connected) {
        if (s.step == "connect")
            r.find("no-server", Status::Fail, fmt::format("no server at {}: {}", s.socket, s.error), start);
        else if (s.step == "protocol")
            r.find("protocol-too-old", Status::Fail,
                   fmt::format("the server speaks vtest protocol {}; Venus needs 3 (GET_CAPSET, CONTEXT_INIT, blobs, "
                               "syncs){}",
                               s.protocol_version,
                               s.protocol_version == 0 ? " (0 also means the server could not create memfds)" : ""),
                   "venus-server (protocol 4), virglrenderer >= 1.0.1, or Debian 12's 0.10.4 (built with protocol 3)");
        else if (s.step == "timelines")
            r.find("no-timelines", Status::Fail,
                   "the server has no timelines (MAX_TIMELINE_COUNT 0): Mesa's venus refuses it (\"no timeline support\")",
                   "unset VIRGL_DISABLE_MT on the server and make sure eventfd works; venus-server offers 64");
        else if (s.step == "capset")
            r.find("no-venus-capset", Status::Fail,
                   "the server offers no Venus capset (id 4): it is a virgl-only server (virgl_test_server without --venus)",
                   "virgl_test_server --venus --render-server, or venus-server");
        else if (!s.timed_out)
            r.find("handshake", Status::Fail, fmt::format("the vtest handshake failed: {}", s.error),
                   "is it a vtest server? check the server's log");
        return;
    }

    const auto& c = s.capset;
    const CapsetFields f = CapsetFields::present(s.capset_size);
    const std::string who = identify_renderer(c);
    const std::string who_words = who.empty() ? "" : fmt::format(" ({})", who);
    if (s.protocol_version < 3)
        r.find("protocol-too-old", Status::Fail, fmt::format("the server speaks vtest protocol {}; Venus needs 3", s.protocol_version),
               "venus-server (protocol 4) or virglrenderer >= 1.0.1");
    if (s.max_timelines < 2)
        r.find("no-timelines", Status::Fail,
               fmt::format("MAX_TIMELINE_COUNT is {}: ring_idx 0 is the CPU timeline, so no VkQueue can get one",
                           s.max_timelines),
               "unset VIRGL_DISABLE_MT on the server; venus-server offers 64");
    if (c.wire_format_version != protocol::kWireFormatVersion) {
        const bool known = c.wire_format_version == 0;
        std::string cause = fmt::format(
            "wire format skew: the server speaks wire format {}{}; virglrenderer <= 0.10.4 (Debian 12's) and Mesa <= 23.0 "
            "speak 0, virglrenderer >= 1.0.0 and Mesa >= 23.2 speak 1, venus-cpp's driver both, and Mesa answers a "
            "mismatch with an instance that has no devices{}",
            c.wire_format_version, who_words,
            known ? "" : fmt::format("; wire format {} is newer than this driver knows", c.wire_format_version));
        if (c.vk_mesa_venus_protocol_spec_version == 100000)
            cause += " (its venus protocol spec 100000 is the experimental one)";
        r.find("wire-format-skew", known ? Status::Warn : Status::Fail, cause,
               "for Mesa >= 23.2 guests run venus-server (wire format 1, its default) or virglrenderer >= 1.0.0; a wire-0 "
               "renderer (venus-server --wire-format 0, virglrenderer 0.10.x) pairs with Mesa <= 23.0 and venus-cpp's "
               "driver — serve both generations with two venus-servers on two sockets");
    }
    if (c.vk_xml_version < VK_API_VERSION_1_1)
        r.find("vk-xml-too-old", Status::Fail,
               fmt::format("the capset's vk_xml_version is {}, below 1.1: Mesa's venus gives a stub instance with no devices",
                           version_string(c.vk_xml_version)),
               "any released virglrenderer (0.10.4 is 1.3.228) or venus-server");
    if (!f.supports_blob_id_0 || !c.supports_blob_id_0)
        r.find("blob-id-0-unsupported", Status::Fail,
               fmt::format("the renderer{} does not allocate shared memory for HOST3D blob_id 0{}: the guest's first blob, the "
                           "ring shmem of vkCreateInstance, fails (the seed symptom); virglrenderer 0.10.4 reports 0 when "
                           "vkr runs in-process (no render server)",
                           who_words, f.supports_blob_id_0 ? "" : fmt::format(" (its {}-byte capset predates the field)", s.capset_size)),
               "virgl_test_server --venus --render-server, or venus-server (always 1)");
    if (f.supports_multiple_timelines && !c.supports_multiple_timelines)
        r.find("no-multiple-timelines", Status::Warn,
               "supports_multiple_timelines = 0 (virglrenderer < 0.10.4): debug builds of Mesa's venus assert",
               "virglrenderer >= 0.10.4 or venus-server");
    if (f.allow_vk_wait_syncs && !c.allow_vk_wait_syncs)
        r.find("no-wait-syncs", Status::Warn,
               "allow_vk_wait_syncs = 0 (virglrenderer < 0.10.0): debug builds of Mesa's venus assert",
               "virglrenderer >= 0.10.0 or venus-server");

    const auto& b = s.blob;
    if (b.attempted && !b.ok) {
        if (b.failure == "refused")
            r.find("blob-refused", Status::Fail,
                   fmt::format("the server refused a HOST3D blob_id-0 MAPPABLE blob (res_id 0): {}", b.error),
                   "the server's log names the reason ('blob ... refused: ...')");
        else if (b.failure == "closed")
            r.find("blob-refused", Status::Fail,
                   "the server dropped the connection at RESOURCE_CREATE_BLOB, as upstream vtest does for a blob type it "
                   "refuses (an OPAQUE fd export: only dma-buf and shm fds pass) or when its context failed",
                   "venus-server (memfd blobs for every strategy), or a host driver with dma-buf export");
        else
            r.find("blob-unmappable", Status::Fail,
                   fmt::format("the blob's fd ({}) is not usable shared memory: {}", b.fd_kind, b.error),
                   "the server must return a memfd or dma-buf the guest can mmap; check its log");
    }
    const auto& g = s.guest;
    if (g.attempted && !g.ok && !s.timed_out)
        r.find("guest-instance", Status::Fail,
               g.create_called && g.create_result != VK_SUCCESS
                   ? fmt::format("a guest's vkCreateInstance returns VkResult {} through this server", g.create_result)
                   : fmt::format("a guest's instance creation fails at {}: {}", g.step, g.error),
               "the server's log has the reason (run it with -v)");
    if (g.ok && g.physical_devices == 0)
        r.find("no-guest-device", Status::Fail,
               "vkEnumeratePhysicalDevices through the server returns no device",
               "the server's host has no Vulkan 1.1 device for it: see its log");
}

}  // namespace

void diagnose(const HostFacts& h, const ServerFacts& s, Report& r) {
    diagnose_server(h, s, r);
    diagnose_host(h, s, r);
    std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
        return static_cast<int>(a.status) > static_cast<int>(b.status);
    });
}

}  // namespace venus::doctor
