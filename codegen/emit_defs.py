"""Emits venus_defs.h/.cpp: the Venus transport types (MESA structs), command ids, the
extension table and the name tables used in error messages."""

from __future__ import annotations

from cpp import BANNER, Writer, c_param
from model import Protocol

WIRE_FORMAT_VERSION = 1
COMMAND_SERIALIZATION_SPEC = 1
VENUS_PROTOCOL_SPEC = 2   # VkRingPriorityInfoMESA; spec 3 needs VK_EXT_host_image_copy (vk.xml 1.3.258+)


def emit_defs(p: Protocol, command_ids: dict) -> tuple[str, str]:
    reg = p.reg
    h = Writer()
    h(BANNER)
    h('#pragma once')
    h('#include <vulkan/vulkan.h>')
    h('#include <cstddef>')
    h('#include <cstdint>')
    h()
    h('// ---- Venus transport types (VK_EXT_command_serialization, VK_MESA_venus_protocol)')
    for ty in sorted((t for t in reg.types.values() if t.private), key=lambda t: t.name):
        if ty.category == 'bitmask':
            h(f'typedef {ty.underlying} {ty.name};')
    h()
    mesa_stypes = []
    for name, value in sorted(reg.enum_values.items(), key=lambda kv: kv[1]):
        if name.startswith('VK_STRUCTURE_TYPE_') and 1000384000 <= value < 1000386000:
            mesa_stypes.append((name, value))
            h(f'inline constexpr VkStructureType {name} = static_cast<VkStructureType>({value});')
    h('inline constexpr uint32_t VK_COMMAND_GENERATE_REPLY_BIT_EXT = 0x1;')
    h('inline constexpr uint32_t VK_RING_STATUS_IDLE_BIT_MESA = 0x1;')
    h('inline constexpr uint32_t VK_RING_STATUS_FATAL_BIT_MESA = 0x2;')
    h('inline constexpr uint32_t VK_RING_STATUS_ALIVE_BIT_MESA = 0x4;')
    h()
    for ty in sorted((t for t in reg.types.values() if t.private and t.category == 'struct'),
                     key=lambda t: t.name):
        h(f'struct {ty.name} {{')
        for m in ty.members:
            h(f'    {c_param(m)};')
        h('};')
    h()
    h('namespace venus::protocol {')
    h()
    h(f'inline constexpr uint32_t kWireFormatVersion = {WIRE_FORMAT_VERSION};')
    h(f'inline constexpr uint32_t kVkXmlVersion = VK_MAKE_API_VERSION(0, 1, 3, {reg.header_version});')
    h(f'inline constexpr uint32_t kCommandSerializationSpecVersion = {COMMAND_SERIALIZATION_SPEC};')
    h(f'inline constexpr uint32_t kVenusProtocolSpecVersion = {VENUS_PROTOCOL_SPEC};')
    max_id = max(cid for cid, _ in command_ids.values())
    h(f'inline constexpr uint32_t kCommandTableSize = {max_id + 1};')
    h()
    h('// VkCommandTypeEXT values (venus-protocol.md §10), with every alias name.')
    h('namespace cmd {')
    emitted = set()
    for cmd in p.commands:
        cid = p.cmd_id[cmd.name]
        for n in p.cmd_all_names[cmd.name]:
            if n not in emitted:
                h(f'inline constexpr uint32_t {n} = {cid};')
                emitted.add(n)
    h('}  // namespace cmd')
    h()
    h('struct ExtensionInfo {')
    h('    const char* name;')
    h('    uint32_t number;')
    h('    uint32_t spec_version;')
    h('};')
    h('// Extensions the protocol serves (protocol/venus_extensions.txt), sorted by name.')
    h('extern const ExtensionInfo kExtensions[];')
    h('extern const size_t kExtensionCount;')
    h('const ExtensionInfo* find_extension(const char* name);')
    h()
    h('// Name of a command id, or nullptr for ids the protocol does not define.')
    h('const char* command_name(uint32_t id);')
    h('const char* structure_type_name(int32_t stype);')
    h('const char* object_type_name(VkObjectType type);')
    h('// Ids that this build can decode (a generated codec exists).')
    h('bool command_is_generated(uint32_t id);')
    h()
    h('}  // namespace venus::protocol')

    c = Writer()
    c(BANNER)
    c('#include "protocol/venus_defs.h"')
    c('#include <cstring>')
    c()
    c('namespace venus::protocol {')
    c()
    exts = sorted(p.served_extensions, key=lambda e: e.name)
    c('const ExtensionInfo kExtensions[] = {')
    for e in exts:
        c(f'    {{"{e.name}", {e.number}, {spec_of(p, e)}}},')
    c('};')
    c(f'const size_t kExtensionCount = {len(exts)};')
    c()
    c('const ExtensionInfo* find_extension(const char* name) {')
    c('    size_t lo = 0, hi = kExtensionCount;')
    c('    while (lo < hi) {')
    c('        const size_t mid = (lo + hi) / 2;')
    c('        const int r = std::strcmp(name, kExtensions[mid].name);')
    c('        if (r == 0) return &kExtensions[mid];')
    c('        if (r < 0) hi = mid; else lo = mid + 1;')
    c('    }')
    c('    return nullptr;')
    c('}')
    c()
    names = {cid: name for name, (cid, _) in command_ids.items()}
    c('const char* command_name(uint32_t id) {')
    c('    switch (id) {')
    for cid in sorted(names):
        c(f'    case {cid}: return "{names[cid]}";')
    c('    default: return nullptr;')
    c('    }')
    c('}')
    c()
    c('bool command_is_generated(uint32_t id) {')
    c('    switch (id) {')
    for cmd in p.commands:
        c(f'    case {p.cmd_id[cmd.name]}:')
    c('        return true;')
    c('    default: return false;')
    c('    }')
    c('}')
    c()
    c('const char* structure_type_name(int32_t stype) {')
    c('    switch (stype) {')
    seen = set()
    for name in reg.enum_members.get('VkStructureType', []):
        value = reg.enum_values.get(name)
        if value is None or value in seen:
            continue
        seen.add(value)
        c(f'    case {value}: return "{name}";')
    c('    default: return nullptr;')
    c('    }')
    c('}')
    c()
    c('const char* object_type_name(VkObjectType type) {')
    c('    switch (type) {')
    handles = sorted((t for t in reg.types.values() if t.category == 'handle' and not t.alias_of),
                     key=lambda t: t.name)
    seen = set()
    for t in handles:
        ot = p.object_type(t)
        if ot in seen or ot not in reg.enum_values:
            continue
        seen.add(ot)
        c(f'    case {ot}: return "{t.name}";')
    c('    default: return "object";')
    c('    }')
    c('}')
    c()
    c('}  // namespace venus::protocol')
    return h.text(), c.text()


def spec_of(p: Protocol, ext) -> int:
    if ext.name == 'VK_EXT_command_serialization':
        return COMMAND_SERIALIZATION_SPEC
    if ext.name == 'VK_MESA_venus_protocol':
        return VENUS_PROTOCOL_SPEC
    return ext.spec_version
