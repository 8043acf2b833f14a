"""Emits the renderer's generated parts: host Vulkan function tables and the
RendererDispatcher, whose methods forward decoded commands to the host driver.

Commands with behaviour of their own (instances, devices, memory, pools, queues, the Venus
transport) are implemented by hand in src/renderer/; they are listed in MANUAL and the
generated class only declares them. Every other command gets a generated body:
look up the owning instance or device, check that the host has the function, call it, and
keep the object table in step for create and destroy commands."""

from __future__ import annotations

from cpp import BANNER, Writer
from emit_codec import shard_of
from emit_dispatch import deferrable
from model import PARTIAL, Protocol

MANUAL = {
    # instance and physical devices: filtering, version capping, the host instance
    'vkCreateInstance', 'vkDestroyInstance', 'vkEnumerateInstanceVersion',
    'vkEnumerateInstanceExtensionProperties', 'vkEnumerateInstanceLayerProperties',
    'vkEnumeratePhysicalDevices', 'vkEnumeratePhysicalDeviceGroups',
    'vkGetPhysicalDeviceProperties', 'vkGetPhysicalDeviceProperties2',
    'vkEnumerateDeviceExtensionProperties', 'vkEnumerateDeviceLayerProperties',
    'vkGetPhysicalDeviceMemoryProperties', 'vkGetPhysicalDeviceMemoryProperties2',
    'vkGetPhysicalDeviceFeatures2', 'vkGetPhysicalDeviceFeatures',
    # devices and queues
    'vkCreateDevice', 'vkDestroyDevice', 'vkGetDeviceQueue', 'vkGetDeviceQueue2',
    'vkQueueSubmit', 'vkQueueSubmit2', 'vkQueueBindSparse', 'vkQueueWaitIdle', 'vkDeviceWaitIdle',
    # waits: the points where shadow copies catch up with the device
    'vkWaitForFences', 'vkGetFenceStatus', 'vkWaitSemaphores', 'vkGetSemaphoreCounterValue',
    # memory: the host-memory strategies
    'vkAllocateMemory', 'vkFreeMemory', 'vkUnmapMemory', 'vkFlushMappedMemoryRanges',
    'vkInvalidateMappedMemoryRanges', 'vkGetMemoryResourcePropertiesMESA',
    # pool-owned objects
    'vkAllocateCommandBuffers', 'vkFreeCommandBuffers', 'vkDestroyCommandPool',
    'vkAllocateDescriptorSets', 'vkFreeDescriptorSets', 'vkResetDescriptorPool',
    'vkDestroyDescriptorPool',
    # sync_fd-style MESA commands
    'vkResetFenceResourceMESA', 'vkWaitSemaphoreResourceMESA', 'vkImportSemaphoreResourceMESA',
    # the Venus transport
    'vkSetReplyCommandStreamMESA', 'vkSeekReplyCommandStreamMESA', 'vkExecuteCommandStreamsMESA',
    'vkCreateRingMESA', 'vkDestroyRingMESA', 'vkNotifyRingMESA', 'vkWriteRingExtraMESA',
    'vkSubmitVirtqueueSeqnoMESA', 'vkWaitVirtqueueSeqnoMESA', 'vkWaitRingSeqnoMESA',
    'vkGetVenusExperimentalFeatureData100000MESA',
}

# Host commands the renderer calls itself besides the protocol's (all core or in vulkan_core.h).
EXTRA_HOST_COMMANDS = [
    'vkMapMemory', 'vkGetMemoryHostPointerPropertiesEXT', 'vkGetMemoryFdKHR',
    'vkGetMemoryFdPropertiesKHR', 'vkGetFenceFdKHR', 'vkGetSemaphoreFdKHR',
    'vkImportSemaphoreFdKHR', 'vkImportFenceFdKHR', 'vkGetDeviceProcAddr',
    'vkUpdateDescriptorSetWithTemplate', 'vkCmdPushDescriptorSetWithTemplateKHR',
]


def outputs(shards):
    return (['renderer/vk_functions.h', 'renderer/vk_functions.cpp', 'renderer/dispatcher_gen.h',
             'renderer/object_destroy_gen.cpp']
            + [f'renderer/dispatcher_gen_{i}.cpp' for i in range(shards)])


class RendererEmitter:
    def __init__(self, p: Protocol, shards: int):
        self.p = p
        self.reg = p.reg
        self.shards = shards
        cmds = list(p.commands)
        for name in EXTRA_HOST_COMMANDS:
            c = self.reg.canonical_command(name)
            if c and self.reg.commands[c] not in cmds:
                cmds.append(self.reg.commands[c])
        self.host_cmds = [c for c in cmds if not c.private]

    def kind(self, cmd) -> str:
        return self.p.dispatch_kind(cmd)

    def fn_name(self, cmd) -> str:
        return cmd.name[2:]

    def all_names(self, cmd) -> list[str]:
        names = [cmd.name] + [a for a in cmd.aliases if a != cmd.name]
        names += [n for n in self.p.cmd_all_names.get(cmd.name, []) if n not in names]
        return names

    # ------------------------------------------------------------------ function tables
    def functions(self) -> tuple[str, str]:
        inst = [c for c in self.host_cmds if self.kind(c) in ('instance', 'physical_device')
                or c.name == 'vkGetDeviceProcAddr']
        dev = [c for c in self.host_cmds if self.kind(c) == 'device' and c.name != 'vkGetDeviceProcAddr']
        h = Writer()
        h(BANNER)
        h('#pragma once')
        h('#include <vulkan/vulkan.h>')
        h()
        h('namespace venus::renderer {')
        h()
        h('// Instance and physical-device level entry points of the host driver.')
        h('struct InstanceFns {')
        for c in inst:
            h(f'    PFN_{c.name} {self.fn_name(c)} = nullptr;')
        h('};')
        h()
        h('// Device level entry points, straight from vkGetDeviceProcAddr (no loader trampolines).')
        h('struct DeviceFns {')
        for c in dev:
            h(f'    PFN_{c.name} {self.fn_name(c)} = nullptr;')
        h('};')
        h()
        h('void load_instance_fns(InstanceFns& fn, PFN_vkGetInstanceProcAddr gipa, VkInstance instance);')
        h('void load_device_fns(DeviceFns& fn, PFN_vkGetDeviceProcAddr gdpa, VkDevice device);')
        h()
        h('}  // namespace venus::renderer')
        c = Writer()
        c(BANNER)
        c('#include "renderer/vk_functions.h"')
        c()
        c('namespace venus::renderer {')
        c()
        c('void load_instance_fns(InstanceFns& fn, PFN_vkGetInstanceProcAddr gipa, VkInstance instance) {')
        for cmd in inst:
            names = self.all_names(cmd)
            first = names[0]
            c(f'    fn.{self.fn_name(cmd)} = reinterpret_cast<PFN_{cmd.name}>(gipa(instance, "{first}"));')
            for alt in names[1:]:
                c(f'    if (!fn.{self.fn_name(cmd)}) fn.{self.fn_name(cmd)} = reinterpret_cast<PFN_{cmd.name}>(gipa(instance, "{alt}"));')
        c('}')
        c()
        c('void load_device_fns(DeviceFns& fn, PFN_vkGetDeviceProcAddr gdpa, VkDevice device) {')
        for cmd in dev:
            names = self.all_names(cmd)
            c(f'    fn.{self.fn_name(cmd)} = reinterpret_cast<PFN_{cmd.name}>(gdpa(device, "{names[0]}"));')
            for alt in names[1:]:
                c(f'    if (!fn.{self.fn_name(cmd)}) fn.{self.fn_name(cmd)} = reinterpret_cast<PFN_{cmd.name}>(gdpa(device, "{alt}"));')
        c('}')
        c()
        c('}  // namespace venus::renderer')
        return h.text(), c.text()

    # ------------------------------------------------------------------ dispatcher
    def header(self) -> str:
        h = Writer()
        h(BANNER)
        h('#pragma once')
        h('#include "protocol/host_dispatch.h"')
        h('#include "renderer/dispatch_path.h"')
        h()
        h('namespace venus::renderer {')
        h()
        h('class Context;')
        h()
        h('// Forwards decoded commands to the host driver. One instance per dispatch path (the')
        h('// context\'s control path and every ring); hand-written commands live in src/renderer/.')
        h('class RendererDispatcher : public protocol::host::Dispatcher {')
        h('public:')
        h('    RendererDispatcher(Context& ctx, DispatchPath& path) : ctx_(ctx), path_(path) {}')
        h('    Context& context() { return ctx_; }')
        h('    DispatchPath& path() { return path_; }')
        h('    protocol::Encoder* reply_encoder() override;')
        h('    void reply_begin() override;')
        h('    void reply_end() noexcept override;')
        for cmd in self.p.commands:
            h(f'    void {cmd.name}(protocol::host::{cmd.name}_args& a) override;')
        h()
        h('protected:')
        h('    Context& ctx_;')
        h('    DispatchPath& path_;')
        h('};')
        h()
        h('}  // namespace venus::renderer')
        return h.text()

    def create_info(self, cmd):
        """For generated create commands: the output handle field, or None."""
        if not cmd.name.startswith('vkCreate'):
            return None
        fields = self.p.fields(cmd.name)
        out = fields[-1]
        if out.is_handle and self.p.param_validity(cmd, out) == PARTIAL and out.shape in ('ptr', 'dyn'):
            return out
        return None

    def destroy_info(self, cmd):
        if not cmd.name.startswith('vkDestroy'):
            return None
        fields = self.p.fields(cmd.name)
        if len(fields) >= 2 and fields[1].is_handle and fields[1].shape == 'value':
            return fields[1]
        return None

    def emit_command(self, w: Writer, cmd):
        p = self.p
        kind = self.kind(cmd)
        fields = p.fields(cmd.name)
        fn = self.fn_name(cmd)
        w.open(f'void RendererDispatcher::{cmd.name}(protocol::host::{cmd.name}_args& a)')
        if kind in ('instance', 'physical_device'):
            w(f'auto& owner = instance_of(a.{fields[0].name}_ref);')
        elif kind == 'device':
            w(f'auto& owner = device_of(a.{fields[0].name}_ref);')
        else:
            raise AssertionError(f'{cmd.name}: no generated dispatch for global commands')
        w(f'if (!owner.fn.{fn}) unsupported_by_host(owner, {p.cmd_id[cmd.name]});')
        args = []
        for f in fields:
            if f.shape == 'opaque':
                args.append('nullptr')
            else:
                args.append(f'a.{f.name}')
        call = f'owner.fn.{fn}({", ".join(args)})'
        create = self.create_info(cmd)
        destroy = self.destroy_info(cmd)
        ot = p.object_type(create.elem) if create else None
        if create and create.shape == 'ptr':
            w(f'const uint64_t id = a.{create.name} ? reinterpret_cast<uint64_t>(*a.{create.name}) : 0;')
            w(f'ctx_.check_new_object(id, {ot});')
        elif create:
            count = create.count.render({f.name: f for f in fields}, 'a.')
            w(f'const uint64_t count = {count};')
            w(f'IdList ids(a.{create.name}, count);')
            w(f'for (uint64_t i = 0; i < count; ++i) ctx_.check_new_object(ids[i], {ot});')
        if cmd.ret != 'void':
            w(f'a.ret = {call};')
        else:
            w(f'{call};')
        if create and create.shape == 'ptr':
            w(f'if (a.ret >= 0 && a.{create.name} && *a.{create.name})')
            w(f'    ctx_.add_object(id, {ot}, reinterpret_cast<uint64_t>(*a.{create.name}), owner);')
        elif create:
            w(f'for (uint64_t i = 0; i < count; ++i)')
            w(f'    if (a.{create.name}[i]) ctx_.add_object(ids[i], {ot}, reinterpret_cast<uint64_t>(a.{create.name}[i]), owner);')
        if destroy:
            w(f'if (a.{destroy.name}_ref) ctx_.remove_object(a.{destroy.name}_ref->id);')
        w.close()
        w()

    def sources(self) -> list[str]:
        writers = [Writer() for _ in range(self.shards)]
        for w in writers:
            w(BANNER)
            w('#include "renderer/dispatcher_gen.h"')
            w('#include "renderer/dispatch_support.h"')
            w()
            w('namespace venus::renderer {')
            w()
        for cmd in self.p.commands:
            if cmd.name in MANUAL:
                continue
            self.emit_command(writers[shard_of(cmd.name, self.shards)], cmd)
        for w in writers:
            w('}  // namespace venus::renderer')
        return [w.text() for w in writers]

    def destroy_switch(self) -> str:
        """destroy_host_object(): how to free each device-level object type on teardown."""
        w = Writer()
        w(BANNER)
        w('#include "renderer/dispatch_support.h"')
        w()
        w('namespace venus::renderer {')
        w()
        w('// Frees one leftover object of a device whose guest went away. Objects owned by pools')
        w('// (command buffers, descriptor sets) go with their pool; queues are not freed.')
        w('bool destroy_host_object(DeviceObject& dev, const Object& obj) {')
        w('    switch (obj.type) {')
        done = set()
        for cmd in self.reg.commands.values():
            if not cmd.name.startswith('vkDestroy') or cmd.private:
                continue
            if len(cmd.params) != 3 or self.reg.canonical_type(cmd.params[0].type_name) != 'VkDevice':
                continue
            ht = self.reg.types.get(self.reg.canonical_type(cmd.params[1].type_name))
            if ht is None or ht.category != 'handle':
                continue
            if cmd.name not in [c.name for c in self.host_cmds]:
                continue
            ot = self.p.object_type(ht)
            if ot in done:
                continue
            done.add(ot)
            w(f'    case {ot}:')
            w(f'        if (!dev.fn.{self.fn_name(cmd)}) return false;')
            w(f'        dev.fn.{self.fn_name(cmd)}(dev.vk, to_handle<{ht.name}>(obj.handle), nullptr);')
            w('        return true;')
        w('    default:')
        w('        return false;')
        w('    }')
        w('}')
        w()
        w('}  // namespace venus::renderer')
        return w.text()


def emit(p: Protocol, shards: int) -> dict:
    # deferrable commands run on the renderer's executor thread: their bodies must be the
    # generated ones (driver call only), never hand-written code that touches shared state
    manual_deferrable = sorted(c.name for c in p.commands if deferrable(c) and c.name in MANUAL)
    assert not manual_deferrable, f'hand-written deferrable commands: {manual_deferrable}'
    e = RendererEmitter(p, shards)
    files = {}
    files['renderer/vk_functions.h'], files['renderer/vk_functions.cpp'] = e.functions()
    files['renderer/dispatcher_gen.h'] = e.header()
    files['renderer/object_destroy_gen.cpp'] = e.destroy_switch()
    for i, text in enumerate(e.sources()):
        files[f'renderer/dispatcher_gen_{i}.cpp'] = text
    return files
