"""Emits the guest driver's generated parts (src/icd is the hand-written rest):

* icd/icd_gen.h          declarations of every entry point and the entry-point table type
* icd/entrypoints_gen.cpp the table: every name (aliases included) with its scope, its core
                         version and the extensions that provide it, for vkGet*ProcAddr
* icd/commands_gen_N.cpp bodies of every command without behaviour of its own, in styles:
    record   vkCmd*: encoded into the command buffer's own stream (no ring write, no reply)
    async    no outputs: written to the ring, no reply; a VkResult is predicted VK_SUCCESS
    create   vkCreate* of non-dispatchable objects: the driver picks the ids, no reply
    call     everything that answers the application: a round trip through a reply stream

Commands with behaviour of their own are in MANUAL and implemented in src/icd/; the
generator only declares them and lists them in the table."""

from __future__ import annotations

from cpp import BANNER, Writer, c_param
from emit_codec import CodecEmitter, SCALAR_WIRE, shard_of
from model import Protocol

# Hand-written in src/icd/ (instance and physical-device caching, devices and queues, memory
# mapping, command buffers, blocking waits, descriptor templates, private data, pipelines).
MANUAL = {
    'vkCreateInstance', 'vkDestroyInstance', 'vkEnumerateInstanceVersion',
    'vkEnumerateInstanceExtensionProperties', 'vkEnumerateInstanceLayerProperties',
    'vkEnumeratePhysicalDevices', 'vkEnumeratePhysicalDeviceGroups',
    'vkGetPhysicalDeviceProperties', 'vkGetPhysicalDeviceProperties2',
    'vkGetPhysicalDeviceFeatures', 'vkGetPhysicalDeviceFeatures2',
    'vkGetPhysicalDeviceMemoryProperties', 'vkGetPhysicalDeviceMemoryProperties2',
    'vkGetPhysicalDeviceQueueFamilyProperties', 'vkGetPhysicalDeviceQueueFamilyProperties2',
    'vkEnumerateDeviceExtensionProperties', 'vkEnumerateDeviceLayerProperties',
    'vkGetPhysicalDeviceImageFormatProperties2',
    'vkGetPhysicalDeviceExternalBufferProperties', 'vkGetPhysicalDeviceExternalFenceProperties',
    'vkGetPhysicalDeviceExternalSemaphoreProperties',
    'vkCreateDevice', 'vkDestroyDevice', 'vkGetDeviceQueue', 'vkGetDeviceQueue2',
    'vkQueueWaitIdle', 'vkDeviceWaitIdle', 'vkWaitForFences', 'vkWaitSemaphores',
    'vkGetQueryPoolResults',
    'vkAllocateMemory', 'vkFreeMemory', 'vkUnmapMemory',
    'vkCreateCommandPool', 'vkDestroyCommandPool', 'vkResetCommandPool', 'vkTrimCommandPool',
    'vkAllocateCommandBuffers', 'vkFreeCommandBuffers', 'vkBeginCommandBuffer',
    'vkEndCommandBuffer', 'vkResetCommandBuffer',
    'vkCreateDescriptorSetLayout', 'vkDestroyDescriptorSetLayout',
    'vkCreateDescriptorPool', 'vkDestroyDescriptorPool', 'vkResetDescriptorPool',
    'vkAllocateDescriptorSets', 'vkFreeDescriptorSets',
    'vkCreatePipelineLayout', 'vkDestroyPipelineLayout',
    'vkUpdateDescriptorSets', 'vkCmdPushDescriptorSetKHR',
    'vkCreateDescriptorUpdateTemplate', 'vkDestroyDescriptorUpdateTemplate',
    'vkCreateGraphicsPipelines', 'vkCreateComputePipelines', 'vkCmdBeginRendering',
    'vkCreatePrivateDataSlot', 'vkDestroyPrivateDataSlot', 'vkSetPrivateData', 'vkGetPrivateData',
}

# Entry points the protocol has no command for; hand-written (the last three are converted
# in the driver: vkMapMemory to blobs, the template commands to plain descriptor writes).
EXTRA = ['vkGetInstanceProcAddr', 'vkGetDeviceProcAddr', 'vkMapMemory',
         'vkUpdateDescriptorSetWithTemplate', 'vkCmdPushDescriptorSetWithTemplateKHR']

# Commands without outputs whose VkResult the application needs (no prediction possible).
SYNC_RESULT = {
    'vkGetFenceStatus', 'vkGetEventStatus', 'vkInvalidateMappedMemoryRanges',
    'vkGetDeferredOperationResultKHR', 'vkDeferredOperationJoinKHR',
    'vkCopyAccelerationStructureKHR', 'vkCopyAccelerationStructureToMemoryKHR',
    'vkCopyMemoryToAccelerationStructureKHR', 'vkBuildAccelerationStructuresKHR',
}

OWNER = {'VkInstance': 'Instance', 'VkPhysicalDevice': 'PhysicalDevice', 'VkDevice': 'Device',
         'VkQueue': 'Queue', 'VkCommandBuffer': 'CommandBuffer'}
SCOPE = {'global': 'Scope::Global', 'instance': 'Scope::Instance',
         'physical_device': 'Scope::PhysicalDevice', 'device': 'Scope::Device'}


def outputs(shards):
    return (['icd/icd_gen.h', 'icd/entrypoints_gen.cpp']
            + [f'icd/commands_gen_{i}.cpp' for i in range(shards)])


class IcdEmitter:
    def __init__(self, p: Protocol, shards: int):
        self.p = p
        self.reg = p.reg
        self.shards = shards
        self.codec = CodecEmitter(p, 1)
        self.cmds = [c for c in p.commands if not c.private]
        self.by_name = {c.name: c for c in self.cmds}
        for name in EXTRA:
            c = self.reg.commands[self.reg.canonical_command(name)]
            self.by_name[c.name] = c
        missing = [n for n in MANUAL if n not in self.by_name]
        if missing:
            raise SystemExit(f'emit_icd: MANUAL names commands the protocol lacks: {missing}')

    # ------------------------------------------------------------------ classification
    def outs(self, cmd):
        return [f for f in self.p.fields(cmd.name) if self.p.param_is_out(cmd, f)]

    def style(self, cmd) -> str:
        if cmd.name.startswith('vkCmd'):
            return 'record'
        outs = self.outs(cmd)
        if not outs:
            if cmd.ret == 'void' or (cmd.ret == 'VkResult' and cmd.name not in SYNC_RESULT):
                return 'async'
            return 'call'
        if cmd.name.startswith('vkCreate') and len(outs) == 1 and outs[0].is_handle \
                and not outs[0].elem.dispatchable and outs[0] is self.p.fields(cmd.name)[-1]:
            return 'create'
        return 'call'

    def scope(self, cmd) -> str:
        if cmd.name in ('vkGetInstanceProcAddr',):
            return 'global'
        if cmd.name == 'vkGetDeviceProcAddr':
            return 'device'
        return self.p.dispatch_kind(cmd)

    # ------------------------------------------------------------------ entry points
    def all_names(self, cmd) -> list:
        names = [cmd.name] + list(cmd.aliases)
        names += self.p.cmd_all_names.get(cmd.name, [])
        out = []
        for n in names:
            known = n in self.reg.commands or n in self.reg.command_alias
            if known and n not in out:
                out.append(n)
        return out

    def providers(self):
        """name -> (core version tuple or None, [extension names])."""
        core = {}
        for feat in self.reg.features:
            for c in feat.commands:
                core.setdefault(c, feat.version)
        exts = {}
        for e in self.reg.extensions.values():
            if 'vulkan' not in e.supported:
                continue
            for c in e.commands:
                lst = exts.setdefault(c, [])
                if e.name not in lst:
                    lst.append(e.name)
        return core, exts

    def header(self) -> str:
        h = Writer()
        h(BANNER)
        h('#pragma once')
        h('#include <vulkan/vulkan.h>')
        h()
        h('#include <cstdint>')
        h()
        h('namespace venus::icd {')
        h()
        h('enum class Scope : uint8_t { Global, Instance, PhysicalDevice, Device };')
        h()
        h('// One name a loader or application may ask vkGet*ProcAddr for.')
        h('struct EntryPoint {')
        h('    const char* name;')
        h('    PFN_vkVoidFunction fn;')
        h('    Scope scope;')
        h('    uint32_t core_version;          // VK_API_VERSION_1_x when the name is core, else 0')
        h('    const char* const* extensions;  // extensions that provide the name, NULL-terminated')
        h('};')
        h()
        h('// Sorted by name.')
        h('extern const EntryPoint kEntryPoints[];')
        h('extern const uint32_t kEntryPointCount;')
        h('const EntryPoint* find_entry_point(const char* name);')
        h()
        for name in sorted(self.by_name):
            cmd = self.by_name[name]
            params = ', '.join(c_param(v) for v in cmd.params)
            h(f'VKAPI_ATTR {cmd.ret} VKAPI_CALL icd_{name}({params});')
        h()
        h('}  // namespace venus::icd')
        return h.text()

    def table(self) -> str:
        core, exts = self.providers()
        entries = []
        for cname, cmd in self.by_name.items():
            for n in self.all_names(cmd):
                entries.append((n, cmd))
        entries.sort(key=lambda t: t[0])
        w = Writer()
        w(BANNER)
        w('#include <cstring>')
        w()
        w('#include "icd/icd_gen.h"')
        w()
        w('namespace venus::icd {')
        w()
        w('namespace {')
        ext_lists = {}
        for n, cmd in entries:
            lst = tuple(exts.get(n, []))
            if lst not in ext_lists:
                ext_lists[lst] = f'kExt{len(ext_lists)}'
                items = ''.join(f'"{e}", ' for e in lst)
                w(f'const char* const {ext_lists[lst]}[] = {{{items}nullptr}};')
        w('}  // namespace')
        w()
        w('const EntryPoint kEntryPoints[] = {')
        for n, cmd in entries:
            ver = core.get(n)
            v = f'VK_MAKE_API_VERSION(0, {ver[0]}, {ver[1]}, 0)' if ver else '0'
            lst = ext_lists[tuple(exts.get(n, []))]
            w(f'    {{"{n}", reinterpret_cast<PFN_vkVoidFunction>(&icd_{cmd.name}), '
              f'{SCOPE[self.scope(cmd)]}, {v}, {lst}}},')
        w('};')
        w(f'const uint32_t kEntryPointCount = {len(entries)};')
        w()
        w('const EntryPoint* find_entry_point(const char* name) {')
        w('    uint32_t lo = 0, hi = kEntryPointCount;')
        w('    while (lo < hi) {')
        w('        const uint32_t mid = (lo + hi) / 2;')
        w('        const int c = std::strcmp(kEntryPoints[mid].name, name);')
        w('        if (c == 0) return &kEntryPoints[mid];')
        w('        if (c < 0) lo = mid + 1;')
        w('        else hi = mid;')
        w('    }')
        w('    return nullptr;')
        w('}')
        w()
        w('}  // namespace venus::icd')
        return w.text()

    # ------------------------------------------------------------------ bodies
    def args(self, cmd) -> str:
        out = []
        for f in self.p.fields(cmd.name):
            out.append('nullptr' if f.shape == 'opaque' else f.name)
        return ', '.join(out)

    def simple(self, cmd) -> bool:
        """All parameters are plain scalars or handles: encoded inline, constant size."""
        for f in self.p.fields(cmd.name):
            if f.shape != 'value' or not (f.scalar or f.is_handle):
                return False
        return True

    def simple_size(self, cmd) -> int:
        n = 8
        for f in self.p.fields(cmd.name):
            n += 8 if f.is_handle else SCALAR_WIRE[f.scalar]
        return n

    def lambdas(self, cmd, reply: bool) -> str:
        name = cmd.name
        a = self.args(cmd)
        parts = [f'[&](const WireCaps& c_) {{ return guest::sizeof_{name}(c_, {a}); }}',
                 f'[&](Encoder& e_, uint32_t f_) {{ guest::encode_{name}(e_, f_, {a}); }}']
        if reply:
            parts.append(f'[&](const WireCaps& c_) {{ return guest::sizeof_{name}_reply(c_, {a}); }}')
            parts.append(f'[&](Decoder& d_) {{ return guest::decode_{name}_reply(d_, {a}); }}')
        return ',\n    '.join(parts)

    def default_ret(self, cmd) -> str:
        return {'void': '', 'VkResult': 'VK_ERROR_DEVICE_LOST'}.get(cmd.ret, '0')

    def emit_record(self, w: Writer, cmd):
        fields = self.p.fields(cmd.name)
        first = fields[0].name
        params = ', '.join(c_param(v) for v in cmd.params)
        w.open(f'VKAPI_ATTR void VKAPI_CALL icd_{cmd.name}({params})')
        w(f'CommandBuffer* cb_ = CommandBuffer::from({first});')
        if self.simple(cmd):
            n = self.simple_size(cmd)
            w(f'uint8_t* p_ = cb_->reserve({n});')
            w('if (!p_) return;')
            w(f'Encoder e(p_, {n});')
            w(f'e.u32({self.p.cmd_id[cmd.name]});')
            w('e.u32(0);')
            for f in fields:
                w(self.codec.elem_encode(f, f.name, 'valid'))
            w(f'cb_->commit({n});')
        else:
            a = self.args(cmd)
            w(f'cb_->record([&](const WireCaps& c_) {{ return guest::sizeof_{cmd.name}(c_, {a}); }},')
            w(f'            [&](Encoder& e_) {{ guest::encode_{cmd.name}(e_, 0, {a}); }});')
        w.close()
        w()

    def emit_command(self, w: Writer, cmd):
        style = self.style(cmd)
        if style == 'record':
            self.emit_record(w, cmd)
            return
        fields = self.p.fields(cmd.name)
        first = fields[0]
        owner_type = self.reg.canonical_type(first.var.type_name)
        if owner_type not in OWNER:
            raise SystemExit(f'emit_icd: {cmd.name} has no owning dispatchable object')
        params = ', '.join(c_param(v) for v in cmd.params)
        ret = cmd.ret
        dflt = self.default_ret(cmd)
        w.open(f'VKAPI_ATTR {ret} VKAPI_CALL icd_{cmd.name}({params})')
        w(f'Connection& conn_ = connection_of({first.name});')
        w(f'if (conn_.lost()) return {dflt};' if ret != 'void' else 'if (conn_.lost()) return;')
        w('try {')
        w.depth += 1
        handle_outs = [f for f in self.outs(cmd) if f.is_handle]
        for f in handle_outs:
            if f.elem.dispatchable:
                raise SystemExit(f'emit_icd: {cmd.name} returns dispatchable handles: add it to MANUAL')
            if f.shape == 'ptr':
                w(f'*{f.name} = new_handle<{f.var.type_name}>();')
            elif f.shape == 'dyn':
                count = f.count.render({x.name: x for x in fields}, '')
                w(f'for (uint64_t i_ = 0; i_ < {count}; ++i_) {f.name}[i_] = new_handle<{f.var.type_name}>();')
            else:
                raise SystemExit(f'emit_icd: {cmd.name}.{f.name}: handle output of shape {f.shape}')
        if style in ('async', 'create'):
            w(f'conn_.submit({self.lambdas(cmd, False)});')
            if ret == 'VkResult':
                w('return VK_SUCCESS;')
        else:
            if ret == 'void':
                w(f'conn_.call({self.lambdas(cmd, True)});')
            else:
                w(f'const {ret} r_ = conn_.call({self.lambdas(cmd, True)});')
                if ret == 'VkResult' and handle_outs:
                    w('if (r_ < 0) {')
                    for f in handle_outs:
                        if f.shape == 'ptr':
                            w(f'    *{f.name} = VK_NULL_HANDLE;')
                        else:
                            count = f.count.render({x.name: x for x in fields}, '')
                            w(f'    for (uint64_t i_ = 0; i_ < {count}; ++i_) {f.name}[i_] = VK_NULL_HANDLE;')
                    w('}')
                w('return r_;')
        w.depth -= 1
        w('} catch (...) {')
        if ret == 'VkResult':
            w('    return conn_.on_exception();')
        elif ret == 'void':
            w('    conn_.on_exception();')
        else:
            w('    conn_.on_exception();')
            w('    return 0;')
        w('}')
        w.close()
        w()

    def sources(self) -> list:
        writers = [Writer() for _ in range(self.shards)]
        for w in writers:
            w(BANNER)
            w('#include "icd/generated_support.h"')
            w()
            w('namespace venus::icd {')
            w()
        for cmd in self.cmds:
            if cmd.name in MANUAL:
                continue
            self.emit_command(writers[shard_of(cmd.name, self.shards)], cmd)
        for w in writers:
            w('}  // namespace venus::icd')
        return [w.text() for w in writers]

    def summary(self) -> dict:
        out = {}
        for cmd in self.cmds:
            out[cmd.name] = 'manual' if cmd.name in MANUAL else self.style(cmd)
        return out


def emit(p: Protocol, shards: int) -> dict:
    e = IcdEmitter(p, shards)
    files = {'icd/icd_gen.h': e.header(), 'icd/entrypoints_gen.cpp': e.table()}
    for i, text in enumerate(e.sources()):
        files[f'icd/commands_gen_{i}.cpp'] = text
    return files
