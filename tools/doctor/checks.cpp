#include "checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "probe.h"
#include "protocol/venus_defs.h"

namespace venus::doctor {

namespace {

using json = nlohmann::ordered_json;

json null_or(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

std::string join(const std::vector<std::string>& v, const char* sep = ", ") { return fmt::format("{}", fmt::join(v, sep)); }

std::string size_string(uint64_t v) {
    if (v && v % (1 << 20) == 0) return fmt::format("{} ({} MiB)", v, v >> 20);
    if (v && v % 1024 == 0) return fmt::format("{} ({} KiB)", v, v >> 10);
    return fmt::format("{}", v);
}

const char* strategy_label(renderer::MemoryStrategy s) { return renderer::strategy_name(s); }

// The largest import alignment over the usable devices (0: none imports host pointers).
uint64_t max_import_alignment(const HostFacts& h) {
    uint64_t a = 0;
    for (const auto& d : h.devices) a = std::max(a, d.import_alignment);
    return a;
}

json device_json(const DeviceFact& d) {
    json j;
    j["index"] = d.index;
    j["name"] = d.name;
    j["type"] = d.type;
    j["driver_name"] = null_or(d.driver_name);
    j["driver_info"] = null_or(d.driver_info);
    j["api_version"] = version_string(d.api_version);
    j["vendor_id"] = d.vendor_id;
    j["device_id"] = d.device_id;
    j["usable"] = d.usable;
    j["portability_only"] = d.portability_only;
    j["extensions"] = json::object();
    for (const auto& e : d.extensions) j["extensions"][e.name] = {{"offered", e.offered}, {"hidden", e.hidden}};
    json m;
    m["planned"] = d.has_plan;
    m["error"] = null_or(d.plan_error);
    m["alignment"] = d.alignment;
    m["import_alignment"] = d.import_alignment;
    m["plan_extensions"] = d.plan_extensions;
    m["types"] = json::array();
    for (const auto& t : d.types)
        m["types"].push_back({{"index", t.index},
                              {"heap", t.heap},
                              {"flags", memory_flags_string(t.flags)},
                              {"host_visible", t.host_visible},
                              {"strategy", t.host_visible ? json(strategy_label(t.strategy)) : json(nullptr)},
                              {"reason", t.reason},
                              {"guest_flags", memory_flags_string(t.guest_flags)}});
    j["memory"] = m;
    return j;
}

}  // namespace

json capset_json(const vtest::CapsetVenus& c, size_t size) {
    const CapsetFields f = CapsetFields::present(size);
    json j;
    j["size"] = size;
    j["wire_format_version"] = c.wire_format_version;
    j["vk_xml_version"] = version_string(c.vk_xml_version);
    j["vk_xml_version_raw"] = c.vk_xml_version;
    j["vk_ext_command_serialization_spec_version"] = c.vk_ext_command_serialization_spec_version;
    j["vk_mesa_venus_protocol_spec_version"] = c.vk_mesa_venus_protocol_spec_version;
    j["supports_blob_id_0"] = f.supports_blob_id_0 ? json(c.supports_blob_id_0) : json(nullptr);
    if (f.extension_mask) {
        const DecodedMask m = decode_extension_mask(c.vk_extension_mask1);
        j["extension_mask_valid"] = m.valid;
        j["extensions"] = m.names;
        j["unknown_extension_bits"] = m.unknown;
    } else {
        j["extension_mask_valid"] = nullptr;
        j["extensions"] = nullptr;
        j["unknown_extension_bits"] = nullptr;
    }
    j["allow_vk_wait_syncs"] = f.allow_vk_wait_syncs ? json(c.allow_vk_wait_syncs) : json(nullptr);
    j["supports_multiple_timelines"] = f.supports_multiple_timelines ? json(c.supports_multiple_timelines) : json(nullptr);
    j["use_guest_vram"] = f.use_guest_vram ? json(c.use_guest_vram) : json(nullptr);
    j["looks_like"] = null_or(identify_renderer(c));
    return j;
}

void host_checks(const HostFacts& h, Report& r) {
    // ---- facts for --json
    json& j = r.host;
    j["config"] = {{"hidden_extensions", h.config.hidden_extensions},
                   {"memory_strategy", null_or(h.config.memory_strategy)},
                   {"blob_alignment", h.config.blob_alignment},
                   {"error", null_or(h.config_error)}};
    j["loader_version"] = version_string(h.loader_version);
    j["instance_extensions"] = h.instance_extensions;
    j["portability_enumeration"] = h.portability_enumeration;
    j["instance_error"] = null_or(h.instance_error);
    j["devices_without_portability"] = h.devices_without_portability;
    j["devices"] = json::array();
    for (const auto& d : h.devices) j["devices"].push_back(device_json(d));
    j["pages"] = {{"host", h.page_size},
                  {"guest", kGuestPageSize},
                  {"import_alignment", max_import_alignment(h)},
                  {"blob_alignment", h.config.blob_alignment}};
    j["memfd_create"] = {{"available", h.memfd}, {"error", null_or(h.memfd_error)}};
    j["renderer"] = {{"error", null_or(h.renderer_host.error)},
                     {"device_names", h.renderer_host.device_names},
                     {"capset", capset_json(h.renderer_capset, sizeof(h.renderer_capset))}};
    j["sockets"] = json::array();
    for (const auto& s : h.sockets)
        j["sockets"].push_back({{"path", s.path},
                                {"source", s.source},
                                {"exists", s.exists},
                                {"is_socket", s.is_socket},
                                {"connect_tried", s.connect_tried},
                                {"connectable", s.connectable},
                                {"error", null_or(s.error)}});

    // ---- HOST
    const auto env_value = [](const std::string& v) { return v.empty() ? std::string("(unset)") : v; };
    if (!h.config_error.empty())
        r.add("HOST", "environment", Status::Fail, h.config_error + " (venus-server refuses to start with it)");
    else if (!h.config.memory_strategy.empty() && h.config.memory_strategy != "none" &&
             renderer::strategy_from_name(h.config.memory_strategy) == renderer::MemoryStrategy::None)
        r.add("HOST", "environment", Status::Warn,
              fmt::format("VENUS_MEMORY_STRATEGY={} is not a strategy (dma-buf, opaque-fd, host-pointer, shadow, none): "
                          "the renderer ignores it",
                          h.config.memory_strategy));
    else
        r.add("HOST", "environment", Status::Ok,
              fmt::format("VENUS_HIDE_EXTENSIONS={} VENUS_MEMORY_STRATEGY={} VENUS_BLOB_ALIGNMENT={}",
                          env_value(join(h.config.hidden_extensions, ",")), env_value(h.config.memory_strategy),
                          h.config.blob_alignment));
    r.add("HOST", "loader", h.loader_version >= VK_API_VERSION_1_1 ? Status::Ok : Status::Fail,
          fmt::format("Vulkan loader {}", version_string(h.loader_version)));
    if (h.portability_enumeration)
        r.add("HOST", "portability", Status::Ok,
              "VK_KHR_portability_enumeration offered; the renderer enables it, so portability drivers (MoltenVK) "
              "are listed");
    else
        r.add("HOST", "portability", Status::Warn,
              "VK_KHR_portability_enumeration is not offered by the loader: a portability driver (MoltenVK) would be "
              "invisible");
    r.add("HOST", "instance exts", Status::Ok, fmt::format("{} instance extensions", h.instance_extensions.size()),
          {join(h.instance_extensions)})
        .verbose_only = true;
    if (!h.instance_error.empty()) r.add("HOST", "instance", Status::Fail, h.instance_error);
    else if (h.devices.empty())
        r.add("HOST", "devices", Status::Fail, "the Vulkan loader lists no physical device");

    for (const auto& d : h.devices) {
        std::string msg = fmt::format("{} ({}), Vulkan {}", d.name, d.type, version_string(d.api_version));
        if (!d.driver_name.empty()) msg += fmt::format(", driver {} ({})", d.driver_name, d.driver_info);
        if (d.portability_only) msg += "; a portability driver, listed only with VK_KHR_portability_enumeration";
        Status st = Status::Ok;
        if (!d.usable) {
            st = Status::Warn;
            msg += ": below Vulkan 1.1, unusable (the renderer and Mesa's venus drop it)";
        }
        std::vector<std::string> exts;
        for (const auto& ne : kNotableExtensions) {
            const ExtensionFact* e = d.extension(ne.name);
            const char* state = !e->offered ? "no" : e->hidden ? "hidden" : "yes";
            if (!e->offered && ne.name == std::string(VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME) &&
                d.api_version >= VK_API_VERSION_1_2)
                state = "core";
            exts.push_back(fmt::format("{:<6} {}: {}", state, ne.name, ne.why));
        }
        r.add("HOST", fmt::format("device {}", d.index), st, msg, exts);
    }

    const uint64_t import = max_import_alignment(h);
    const uint64_t need = std::max<uint64_t>({h.page_size, import, kGuestPageSize});
    uint64_t effective = 0;
    for (const auto& d : h.devices) effective = std::max(effective, d.alignment);
    std::string pages = fmt::format(
        "host page {}, guest page {} (assumed), minImportedHostPointerAlignment {}, VENUS_BLOB_ALIGNMENT {}",
        h.page_size, kGuestPageSize, import ? std::to_string(import) : std::string("- (no host-pointer import)"),
        h.config.blob_alignment);
    if (effective) pages += fmt::format(": blobs aligned to {}", effective);
    Status page_status = Status::Ok;
    if (h.config.blob_alignment < need || h.page_size > kGuestPageSize) page_status = Status::Warn;
    if (effective && (effective % need)) page_status = Status::Fail;
    r.add("HOST", "pages", page_status, pages);

    r.add("HOST", "memfd_create", h.memfd ? Status::Ok : Status::Fail,
          h.memfd ? "available (shared-memory blobs, host-pointer and shadow strategies)"
                  : fmt::format("unavailable: {}", h.memfd_error));

    const auto& rc = h.renderer_capset;
    const DecodedMask mask = decode_extension_mask(rc.vk_extension_mask1);
    if (!h.renderer_host.error.empty())
        r.add("HOST", "renderer", Status::Fail, fmt::format("the renderer's host probe failed: {}", h.renderer_host.error));
    else
        r.add("HOST", "renderer", Status::Ok,
              fmt::format("a venus-server started here would announce wire format {}, vk.xml {}, {} of {} protocol "
                          "extensions, devices: {}",
                          rc.wire_format_version, version_string(rc.vk_xml_version), mask.names.size(),
                          protocol::kExtensionCount, join(h.renderer_host.device_names)));

    for (size_t i = 0; i < h.sockets.size(); ++i) {
        const SocketFact& s = h.sockets[i];
        const bool used = i == 0;  // guests read $VTEST_SOCKET_NAME, else the default (no fall-back)
        std::string msg = fmt::format("{} ({}): ", s.path, s.source);
        Status st = Status::Ok;
        if (s.connectable) msg += "a server is listening";
        else if (!s.connect_tried) msg += s.error.empty() ? "a socket (not connected to: --no-server)" : s.error;
        else {
            msg += s.error;
            st = !used ? Status::Ok : s.source == "default" ? Status::Warn : Status::Fail;
        }
        if (!used) msg += " (not used by guests here: $VTEST_SOCKET_NAME is set)";
        r.add("HOST", "socket", st, msg);
    }

    // ---- MEMORY
    for (const auto& d : h.devices) {
        if (!d.usable) continue;
        if (!d.has_plan) {
            r.add("MEMORY", fmt::format("device {}", d.index), Status::Fail,
                  fmt::format("{}: the memory probe failed: {}", d.name, d.plan_error));
            continue;
        }
        r.add("MEMORY", fmt::format("device {}", d.index), Status::Ok,
              fmt::format("{}: blob alignment {}, host-pointer import alignment {}; the plan enables {}", d.name,
                          size_string(d.alignment), d.import_alignment ? size_string(d.import_alignment) : "-",
                          d.plan_extensions.empty() ? "no extension" : join(d.plan_extensions)));
        for (const auto& t : d.types) {
            const std::string name = fmt::format("type {} (heap {})", t.index, t.heap);
            const std::string flags = memory_flags_string(t.flags);
            if (!t.host_visible) {
                r.add("MEMORY", name, Status::Ok, fmt::format("{}: not host visible, never mapped by a guest", flags));
                continue;
            }
            std::vector<std::string> details{t.reason};
            Status st = Status::Ok;
            std::string msg = fmt::format("{}: {}", strategy_label(t.strategy), flags);
            switch (t.strategy) {
            case renderer::MemoryStrategy::None:
                st = Status::Fail;
                msg = fmt::format("no strategy can share it: {}", flags);
                break;
            case renderer::MemoryStrategy::Shadow:
                st = Status::Warn;
                details.push_back(fmt::format("guests see {}: copies at flush/invalidate/submit/wait",
                                              memory_flags_string(t.guest_flags)));
                break;
            default: break;
            }
            r.add("MEMORY", name, st, msg, details);
        }
    }
}

void server_checks(const ServerFacts& s, const HostFacts& h, Report& r) {
    json& j = r.server;
    j["checked"] = s.checked;
    j["not_checked"] = null_or(s.not_checked);
    j["socket"] = null_or(s.socket);
    j["source"] = null_or(s.socket_source);
    j["connected"] = s.connected;
    j["failed_step"] = s.connected ? json(nullptr) : null_or(s.step);
    j["error"] = null_or(s.error);
    j["timed_out"] = s.timed_out;
    j["protocol_version"] = s.connected || s.protocol_version ? json(s.protocol_version) : json(nullptr);
    j["max_timelines"] = s.connected ? json(s.max_timelines) : json(nullptr);
    j["capset"] = s.connected ? capset_json(s.capset, s.capset_size) : json(nullptr);
    j["expected"] = {{"wire_format_version", protocol::kWireFormatVersion},
                     {"vk_xml_version", version_string(protocol::kVkXmlVersion)},
                     {"vk_ext_command_serialization_spec_version", protocol::kCommandSerializationSpecVersion},
                     {"vk_mesa_venus_protocol_spec_version", protocol::kVenusProtocolSpecVersion},
                     {"min_protocol_version", 3},
                     {"min_timelines", 2}};
    j["blob_round_trip"] = {{"attempted", s.blob.attempted},
                            {"ok", s.blob.ok},
                            {"type", "HOST3D"},
                            {"flags", "MAPPABLE"},
                            {"blob_id", 0},
                            {"size", s.blob.size},
                            {"res_id", s.blob.res_id},
                            {"fd", null_or(s.blob.fd_kind)},
                            {"failure", null_or(s.blob.failure)},
                            {"error", null_or(s.blob.error)}};
    j["guest_instance"] = {{"attempted", s.guest.attempted},
                           {"ok", s.guest.ok},
                           {"skipped", null_or(s.guest.skipped)},
                           {"instance_version", s.guest.instance_version ? json(version_string(s.guest.instance_version)) : json(nullptr)},
                           {"create_result", s.guest.create_called ? json(s.guest.create_result) : json(nullptr)},
                           {"physical_devices", s.guest.physical_devices},
                           {"failed_step", s.guest.ok ? json(nullptr) : null_or(s.guest.step)},
                           {"error", null_or(s.guest.error)}};

    if (!s.checked) {
        r.add("SERVER", "server", s.not_checked == "--no-server" ? Status::Ok : Status::Warn,
              fmt::format("not checked: {}", s.not_checked));
        return;
    }
    if (!s.connected) {
        r.add("SERVER", "handshake", Status::Fail,
              fmt::format("{}: {} failed: {}", s.socket, s.step.empty() ? "handshake" : s.step, s.error));
        return;
    }
    r.add("SERVER", "handshake", Status::Ok,
          fmt::format("{} ({}): CREATE_RENDERER, PING, PROTOCOL_VERSION, GET_PARAM, GET_CAPSET, CONTEXT_INIT", s.socket,
                      s.socket_source));
    r.add("SERVER", "protocol", s.protocol_version >= 3 ? Status::Ok : Status::Fail,
          fmt::format("vtest protocol {} (Venus needs 3 or later)", s.protocol_version));
    r.add("SERVER", "timelines", s.max_timelines >= 2 ? Status::Ok : Status::Fail,
          fmt::format("MAX_TIMELINE_COUNT {} (2 or more: ring_idx 0 is the CPU timeline)", s.max_timelines));

    const auto& c = s.capset;
    const CapsetFields f = CapsetFields::present(s.capset_size);
    const auto absent = [&](bool present, uint32_t v) {
        return present ? std::to_string(v) : fmt::format("absent (the capset is {} bytes)", s.capset_size);
    };
    std::vector<std::string> fields;
    fields.push_back(fmt::format("wire_format_version         {:<9} this driver: 0 and {}", c.wire_format_version,
                                 protocol::kWireFormatVersion));
    fields.push_back(fmt::format("vk_xml_version              {:<9} this driver: {}", version_string(c.vk_xml_version),
                                 version_string(protocol::kVkXmlVersion)));
    fields.push_back(fmt::format("vk_ext_command_serialization_spec_version  {}  (this driver: {})",
                                 c.vk_ext_command_serialization_spec_version, protocol::kCommandSerializationSpecVersion));
    fields.push_back(fmt::format("vk_mesa_venus_protocol_spec_version        {}  (this driver: {}{})",
                                 c.vk_mesa_venus_protocol_spec_version, protocol::kVenusProtocolSpecVersion,
                                 c.vk_mesa_venus_protocol_spec_version == 100000 ? "; 100000 = experimental" : ""));
    fields.push_back(fmt::format("supports_blob_id_0          {}", absent(f.supports_blob_id_0, c.supports_blob_id_0)));
    DecodedMask mask;
    if (f.extension_mask) {
        mask = decode_extension_mask(c.vk_extension_mask1);
        fields.push_back(fmt::format("vk_extension_mask1          {}, {} extensions{}{}",
                                     mask.valid ? "valid" : "bit 0 clear: the driver assumes every extension is known",
                                     mask.names.size(),
                                     mask.unknown.empty() ? std::string() : fmt::format(", unknown bits: {}", fmt::join(mask.unknown, " ")),
                                     " (names with -v or --json)"));
    } else {
        fields.push_back(fmt::format("vk_extension_mask1          absent (the capset is {} bytes)", s.capset_size));
    }
    fields.push_back(fmt::format("allow_vk_wait_syncs         {}", absent(f.allow_vk_wait_syncs, c.allow_vk_wait_syncs)));
    fields.push_back(fmt::format("supports_multiple_timelines {}",
                                 absent(f.supports_multiple_timelines, c.supports_multiple_timelines)));
    fields.push_back(fmt::format("use_guest_vram              {}", absent(f.use_guest_vram, c.use_guest_vram)));
    const std::string who = identify_renderer(c);
    Status cst = Status::Ok;
    if ((f.allow_vk_wait_syncs && !c.allow_vk_wait_syncs) || !f.supports_multiple_timelines ||
        !c.supports_multiple_timelines || !f.supports_blob_id_0)
        cst = Status::Warn;
    if (c.wire_format_version > protocol::kWireFormatVersion || c.vk_xml_version < VK_API_VERSION_1_1 ||
        (f.supports_blob_id_0 && !c.supports_blob_id_0))
        cst = Status::Fail;
    r.add("SERVER", "capset", cst,
          fmt::format("Venus capset, {} bytes{}", s.capset_size, who.empty() ? "" : fmt::format(", from {}", who)), fields);
    if (f.extension_mask) {
        std::vector<std::string> names{join(mask.names)};
        if (!mask.unknown.empty()) names.push_back(fmt::format("unknown extension numbers: {}", fmt::join(mask.unknown, ", ")));
        r.add("SERVER", "capset exts", Status::Ok, fmt::format("{} extensions in the mask", mask.names.size()), names)
            .verbose_only = true;
    }

    // venus-cpp's driver speaks both; Mesa speaks one (wire 0: <= 23.0, wire 1: >= 23.2)
    r.add("SERVER", "wire format",
          c.wire_format_version > protocol::kWireFormatVersion ? Status::Fail
          : c.wire_format_version == 0                          ? Status::Warn
                                                                : Status::Ok,
          c.wire_format_version > protocol::kWireFormatVersion
              ? fmt::format("server {}, this guest driver 0 and {}", c.wire_format_version, protocol::kWireFormatVersion)
          : c.wire_format_version == 0
              ? fmt::format("server 0: this guest driver and Mesa <= 23.0 pair with it; Mesa >= 23.2 does not")
              : fmt::format("server {}: this guest driver and Mesa >= 23.2 pair with it", c.wire_format_version));
    Status xst = Status::Ok;
    std::string xmsg = fmt::format("server {}, this guest driver {}", version_string(c.vk_xml_version),
                                   version_string(protocol::kVkXmlVersion));
    if (c.vk_xml_version < VK_API_VERSION_1_1) {
        xst = Status::Fail;
        xmsg += ": below 1.1, guests get no device";
    } else if (c.vk_xml_version < protocol::kVkXmlVersion) {
        xst = Status::Warn;
        xmsg += ": older, so newer structs and commands are not used";
    }
    r.add("SERVER", "vk.xml", xst, xmsg);

    // The server's extension set against what this environment's renderer would offer.
    if (who.rfind("venus-server", 0) == 0 && f.extension_mask) {
        std::vector<std::string> theirs = mask.names, mine = decode_extension_mask(h.renderer_capset.vk_extension_mask1).names;
        std::sort(theirs.begin(), theirs.end());
        std::sort(mine.begin(), mine.end());
        std::vector<std::string> only_server, only_here;
        std::set_difference(theirs.begin(), theirs.end(), mine.begin(), mine.end(), std::back_inserter(only_server));
        std::set_difference(mine.begin(), mine.end(), theirs.begin(), theirs.end(), std::back_inserter(only_here));
        if (!only_server.empty() || !only_here.empty()) {
            std::vector<std::string> d;
            if (!only_server.empty()) d.push_back("only the server: " + join(only_server));
            if (!only_here.empty()) d.push_back("only here: " + join(only_here));
            r.add("SERVER", "same host?", Status::Warn,
                  "the server offers other extensions than a venus-server started with this environment (another "
                  "VENUS_HIDE_EXTENSIONS or host driver): the HOST and MEMORY sections describe this environment",
                  d);
        }
    }

    const auto& b = s.blob;
    if (b.attempted) {
        if (b.ok)
            r.add("SERVER", "blob round trip", Status::Ok,
                  fmt::format("HOST3D blob_id 0 MAPPABLE, {} bytes (Mesa's ring shmem): res {}, fd {}; written and read "
                              "back both ways through two mappings",
                              b.size, b.res_id, b.fd_kind));
        else
            r.add("SERVER", "blob round trip", Status::Fail,
                  fmt::format("HOST3D blob_id 0 MAPPABLE, {} bytes: {}", b.size, b.error));
    } else if (s.timed_out) {
        r.add("SERVER", "blob round trip", Status::Fail, s.error);
    }
    const auto& g = s.guest;
    if (g.ok)
        r.add("SERVER", "guest instance", Status::Ok,
              fmt::format("ring + reply stream through shared memory; vkEnumerateInstanceVersion {}; vkCreateInstance "
                          "VK_SUCCESS; {} physical device(s); vkDestroyInstance",
                          version_string(g.instance_version), g.physical_devices));
    else if (g.attempted)
        r.add("SERVER", "guest instance", Status::Fail, fmt::format("failed at {}: {}", g.step, g.error));
    else if (!g.skipped.empty())
        r.add("SERVER", "guest instance", Status::Warn, fmt::format("not attempted: {}", g.skipped));
}

}  // namespace venus::doctor
