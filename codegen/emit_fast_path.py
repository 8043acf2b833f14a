"""Emits the renderer's fast path for plain recording commands, and its equivalence test table.

A plain recording command is a vkCmd* that returns nothing and whose parameters are all single
values: the command buffer, scalars, enums, flags and non-dispatchable handles — vkCmdDraw,
vkCmdSetLineWidth, vkCmdBindIndexBuffer, vkCmdDispatch and some eighty more. Their wire form
has a fixed size, so the fast path reads the arguments straight from the stream into the host
driver call: one bounds check, the command buffer resolved through the path's object cache, no
argument structure, no virtual calls.

The fast path never reports an error. Anything it would have to refuse — a reply request, a
short stream, an unknown or mistyped object, a null required handle, a negative enum, a host
without the function — makes it decline the command (return 0), and the general decoder runs
the command instead and reports what is wrong exactly as it always does. The generated test
table (testfast/) lets a unit test check, for every command covered, that both paths make the
same driver call from the same bytes."""

from __future__ import annotations

from cpp import BANNER, Writer
from emit_codec import CodecEmitter
from emit_dispatch import deferrable
from model import VALID, Protocol

# bytes on the wire and the type read from them, per scalar kind (§4: 4-byte units, size_t as 8)
WIRE = {'u8': (4, 'uint32_t'), 'u16': (4, 'uint32_t'), 'u32': (4, 'uint32_t'), 'i32': (4, 'int32_t'),
        'f32': (4, 'float'), 'u64': (8, 'uint64_t'), 'i64': (8, 'int64_t'), 'f64': (8, 'double'),
        'size': (8, 'uint64_t')}
HEADER = 8  # command id + flags


def outputs() -> list[str]:
    return ['renderer/fast_path_gen.cpp', 'testfast/fast_cases.cpp']


def fast_fields(p: Protocol, cmd):
    """The fields of `cmd` if the fast path can run it, else None."""
    if not deferrable(cmd) or p.dispatch_kind(cmd) != 'device':
        return None
    fields = p.fields(cmd.name)
    if not fields or not fields[0].is_handle or fields[0].elem.name != 'VkCommandBuffer':
        return None
    for i, f in enumerate(fields):
        if f.shape != 'value' or p.param_validity(cmd, f) != VALID:
            return None
        if f.is_handle:
            if i > 0 and f.elem.dispatchable:
                return None
        elif f.scalar not in WIRE:
            return None
    return fields


def fast_commands(p: Protocol) -> list:
    return [c for c in p.commands if fast_fields(p, c)]


class FastPathEmitter:
    def __init__(self, p: Protocol):
        self.p = p
        self.codec = CodecEmitter(p, 1)

    def required(self, i, f) -> bool:
        # the general decoder's rule (emit_codec.emit_command_host)
        return (i == 0 and f.is_handle and f.elem.dispatchable) or \
            (not f.var.is_optional() and not f.var.noautovalidity)

    def emit_command(self, w: Writer, cmd):
        """fast_<cmd><Run>: runs the command at p; with Run, also the commands right after it for
        as long as they are the same command on the same command buffer (one lookup of the
        command buffer and its host function for the whole run). Returns the bytes run (0: the
        first command declined) and counts the commands in `ran`."""
        p = self.p
        fields = fast_fields(p, cmd)
        size = HEADER + sum(8 if f.is_handle else WIRE[f.scalar][0] for f in fields)
        fn = cmd.name[2:]
        cid = p.cmd_id[cmd.name]
        w('template <bool Run>')
        w.open(f'[[gnu::always_inline]] inline size_t fast_{cmd.name}(FastPath& f, const uint8_t* p, size_t n, uint64_t& ran)')
        w(f'if (n < {size}) return 0;')
        cb = fields[0].name
        w(f'VkCommandBuffer {cb};')
        w('const DeviceFns* fn;')
        w(f'if (!f.command_buffer(p + {HEADER}, {cb}, fn) || !fn->{fn}) return 0;')
        w(f'const PFN_{cmd.name} call = fn->{fn};')
        w('const uint64_t cb_id = f.command_buffer_id();')
        w('size_t used = 0;')
        w.open('for (;;)')
        if len(fields) > 1:
            w('const uint8_t* q = p + used;')
        at = HEADER + 8
        args = [cb]
        for i, f in enumerate(fields[1:], start=1):
            t = f.var.type_name
            if f.is_handle:
                req = 'true' if self.required(i, f) else 'false'
                w(f'{t} {f.name};')
                w(f'if (!f.handle(q + {at}, {p.object_type(f.elem)}, {req}, {f.name})) return used;')
                args.append(f.name)
                at += 8
                continue
            nbytes, load = WIRE[f.scalar]
            w(f'const {load} {f.name} = load_once<{load}>(q + {at});')
            if f.elem.category == 'enum' and load == 'int32_t' and \
                    not self.codec.enum_allows_negative(f.elem.name):
                w(f'if ({f.name} < 0) return used;')
            args.append(f.name if t == load else f'static_cast<{t}>({f.name})')
            at += nbytes
        assert at == size, cmd.name
        w(f'call({", ".join(args)});')
        w(f'used += {size};')
        w('++ran;')
        w('// the guest wrote the stream on another core just before; hardware prefetchers stop at')
        w('// page boundaries (a prefetch never faults, even past the end of the stream)')
        w('if (Run) __builtin_prefetch(p + used + 1024);')
        w(f'if (!Run || n - used < {size} || load_once<uint64_t>(p + used) != {cid}u ||')
        w(f'    load_once<uint64_t>(p + used + {HEADER}) != cb_id)')
        w('    return used;')
        w.close()
        w.close()
        w()

    def source(self) -> str:
        w = Writer()
        w(BANNER)
        w('#include "renderer/fast_path.h"')
        w()
        w('namespace venus::renderer {')
        w('namespace {')
        w()
        cmds = fast_commands(self.p)
        for cmd in cmds:
            self.emit_command(w, cmd)
        # one command (a run of it, with Run): header, then the command's own code, inlined
        w('template <bool Run>')
        w('[[gnu::always_inline]] inline size_t step(FastPath& f, const uint8_t* p, size_t n, uint64_t& ran) {')
        w('    if (n < 8) return 0;')
        w('    const uint32_t id = load_once<uint32_t>(p);')
        w('    if (load_once<uint32_t>(p + 4) != 0) return 0;  // flags: a reply was asked for')
        w('    switch (id) {')
        for cmd in cmds:
            w(f'    case {self.p.cmd_id[cmd.name]}: return fast_{cmd.name}<Run>(f, p, n, ran);')
        w('    default: return 0;')
        w('    }')
        w('}')
        w()
        w('}  // namespace')
        w()
        w('size_t FastPath::run(const uint8_t* p, size_t n) {')
        w('    uint64_t ran = 0;')
        w('    return step<false>(*this, p, n, ran);')
        w('}')
        w()
        w('size_t FastPath::run_all(const uint8_t* p, size_t n, uint64_t& count) {')
        w('    size_t used = 0;')
        w('    uint64_t ran = 0;')
        w('    while (const size_t k = step<true>(*this, p + used, n - used, ran)) used += k;')
        w('    count += ran;')
        w('    return used;')
        w('}')
        w()
        w('bool FastPath::covers(uint32_t id) {')
        w('    switch (id) {')
        for cmd in cmds:
            w(f'    case {self.p.cmd_id[cmd.name]}:')
        w('        return true;')
        w('    default:')
        w('        return false;')
        w('    }')
        w('}')
        w()
        w(f'const size_t FastPath::kCommandCount = {len(cmds)};')
        w()
        w('}  // namespace venus::renderer')
        return w.text()

    def test_cases(self) -> str:
        """For each covered command: install a capturing host function, and make the call the
        general path makes (decode into the argument structure, call with its fields)."""
        p = self.p
        w = Writer()
        w(BANNER)
        w('#include "fast_path_support.h"')
        w()
        w('namespace venus::testgen {')
        w('namespace {')
        w()
        cmds = fast_commands(p)
        for cmd in cmds:
            fn = cmd.name[2:]
            cid = p.cmd_id[cmd.name]
            w(f'void install_{cmd.name}(renderer::DeviceFns& fn) {{ fn.{fn} = &Capture<PFN_{cmd.name}, {cid}>::call; }}')
            w.open(f'void reference_{cmd.name}(protocol::Decoder& d, const renderer::DeviceFns& fn)')
            w(f'protocol::host::{cmd.name}_args a{{}};')
            w(f'protocol::host::decode_{cmd.name}(d, a);')
            w(f'fn.{fn}({", ".join("a." + f.name for f in p.fields(cmd.name))});')
            w.close()
            w()
        w('}  // namespace')
        w()
        w('const FastCase kFastCases[] = {')
        for cmd in cmds:
            w(f'    {{{p.cmd_id[cmd.name]}, "{cmd.name}", request_{cmd.name}, install_{cmd.name}, '
              f'reference_{cmd.name}}},')
        w('};')
        w(f'const size_t kFastCaseCount = {len(cmds)};')
        w()
        w('}  // namespace venus::testgen')
        return w.text()


def emit(p: Protocol) -> dict:
    e = FastPathEmitter(p)
    return {'renderer/fast_path_gen.cpp': e.source(), 'testfast/fast_cases.cpp': e.test_cases()}
