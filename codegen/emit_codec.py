"""Emits the Venus codec: guest encoders, sizes and reply decoders; host decoders and reply
encoders. All functions are plain (non-template) functions spread over several translation
units; the headers hold declarations and the host argument structs only."""

from __future__ import annotations

import zlib

from cpp import BANNER, Writer, c_member_storage_type, c_param
from model import INVALID, PARTIAL, UNION_DEFAULT_TAGS, VALID, Field, Protocol

SCALAR_WIRE = {'u8': 4, 'u16': 4, 'u32': 4, 'i32': 4, 'f32': 4,
               'u64': 8, 'i64': 8, 'f64': 8, 'size': 8}
SCALAR_WRITE = {'u8': 'u32', 'u16': 'u32', 'u32': 'u32', 'i32': 'i32', 'f32': 'f32',
                'u64': 'u64', 'i64': 'i64', 'f64': 'f64', 'size': 'u64'}
# element size in memory for arrays of scalars written as packed bytes
PACKED = {'u8': 1, 'u16': 2}


def shard_of(name: str, shards: int) -> int:
    return zlib.crc32(name.encode()) % shards



# Wire format 0's one struct workaround ("WA1", wire-format-0-vs-1.md §4.4): in the partial
# (guest-to-host) form of these structs the count member is not sent; the array's length prefix
# stands for it. Wire format 1 sends it.
WA1_OMITTED_COUNTS = {
    ('VkDrmFormatModifierPropertiesListEXT', 'drmFormatModifierCount'),
    ('VkDrmFormatModifierPropertiesList2EXT', 'drmFormatModifierCount'),
}

class CodecEmitter:
    def __init__(self, proto: Protocol, shards: int):
        self.p = proto
        self.reg = proto.reg
        self.shards = shards
        self._min_cache = {}

    # ------------------------------------------------------------------ helpers
    def ctype(self, f: Field) -> str:
        """Non-const element type of a field, for allocations."""
        return f.var.type_name

    def objtype(self, f: Field) -> str:
        return self.p.object_type(f.elem)

    def stype_of(self, name: str) -> str:
        return self.reg.types[name].stype

    def min_wire(self, name: str, partial=False) -> int:
        """Smallest number of bytes a struct can take on the wire (0 for empty partials)."""
        key = (name, partial)
        if key in self._min_cache:
            return self._min_cache[key]
        self._min_cache[key] = 0     # recursion guard
        ty = self.reg.types[name]
        if ty.category == 'union':
            sizes = []
            for f in self.p.fields(name):
                sizes.append(self.field_min(name, f, False))
            total = 4 + min(sizes)
        else:
            total = 0
            for f in self.p.fields(name):
                validity = self.p.member_validity(name, f, partial)
                total += self.field_min(name, f, partial, validity)
        self._min_cache[key] = total
        return total

    def field_min(self, owner, f: Field, partial, validity=VALID) -> int:
        if f.shape == 'pnext':
            return 8
        if f.name == 'sType':
            return 4
        if validity == INVALID:
            if f.shape in ('ptr', 'dyn', 'blob', 'string', 'strings', 'opaque'):
                return 8
            return 0
        if f.shape == 'value':
            return self.elem_min(f, validity == PARTIAL)
        if f.shape == 'static':
            return 8 + f.static_n * self.elem_min(f, validity == PARTIAL)
        return 8

    def elem_min(self, f: Field, partial=False) -> int:
        if f.scalar:
            return SCALAR_WIRE[f.scalar]
        if f.is_handle:
            return 8
        if f.elem is not None and f.elem.category in ('struct', 'union'):
            return self.min_wire(f.elem.name, partial)
        return 0

    def elem_alloc_min(self, f: Field, validity: str) -> int:
        """Bytes each element of an input array needs on the wire (0 for outputs)."""
        if validity != VALID:
            return 0
        if f.scalar and f.scalar in PACKED:
            return PACKED[f.scalar]
        return self.elem_min(f)

    def union_tag(self, f: Field) -> str:
        if f.var.selector:
            raise NotImplementedError(f'union selector for {f.owner}.{f.name}')
        return str(UNION_DEFAULT_TAGS[f.elem.name])

    def count_of(self, f: Field, fields: dict, prefix: str) -> str:
        return f.count.render(fields, prefix)

    # ------------------------------------------------------------------ element code
    def elem_size(self, f: Field, x: str, validity: str) -> str:
        if f.scalar:
            return str(SCALAR_WIRE[f.scalar])
        if f.is_handle:
            return '8'
        name = f.elem.name
        if f.is_union:
            return f'sizeof_{name}(c, {x}, {self.union_tag(f)})'
        suffix = '_partial' if validity == PARTIAL else ''
        return f'sizeof_{name}{suffix}(c, {x})'

    def elem_encode(self, f: Field, x: str, validity: str) -> str:
        if f.scalar:
            w = SCALAR_WRITE[f.scalar]
            if f.elem.category == 'enum':
                return f'e.{w}(static_cast<{"int32_t" if w == "i32" else "uint64_t"}>({x}));'
            return f'e.{w}({x});'
        if f.is_handle:
            if f.elem.dispatchable:
                return f'e.handle(guest_object_id({x}));'
            return f'e.handle(reinterpret_cast<uint64_t>({x}));'
        name = f.elem.name
        if f.is_union:
            return f'encode_{name}(e, {x}, {self.union_tag(f)});'
        suffix = '_partial' if validity == PARTIAL else ''
        return f'encode_{name}{suffix}(e, {x});'

    def elem_host_encode(self, f: Field, x: str) -> str:
        if f.scalar:
            return self.elem_encode(f, x, VALID)
        if f.is_handle:
            return f'e.handle(e.reply_id({self.objtype(f)}, reinterpret_cast<uint64_t>({x})));'
        name = f.elem.name
        if f.is_union:
            return f'encode_{name}(e, {x}, {self.union_tag(f)});'
        return f'encode_{name}(e, {x});'

    def enum_allows_negative(self, name: str) -> bool:
        values = [self.reg.enum_values.get(m) for m in self.reg.enum_members.get(name, [])]
        return any(v is not None and v < 0 for v in values)

    def scalar_read(self, f: Field) -> str:
        w = SCALAR_WRITE[f.scalar]
        t = f.var.type_name
        if f.elem.category == 'enum':
            # A Vulkan enum can hold 0..0x7fffffff (its MAX_ENUM); any other value read into it
            # would be undefined behaviour, so the decoder refuses it (VkResult may be negative).
            if w == 'i32' and not self.enum_allows_negative(f.elem.name):
                return f'static_cast<{t}>(d.enum32())'
            return f'static_cast<{t}>(d.{w}())'
        if f.scalar in ('u8', 'u16'):
            return f'static_cast<{t}>(d.u32())'
        if f.scalar == 'size':
            return 'static_cast<size_t>(d.u64())'
        return f'd.{w}()'

    def elem_host_decode(self, f: Field, x: str, validity: str) -> str:
        if f.scalar:
            if validity == INVALID:
                return f'{x} = {{}};'
            return f'{x} = {self.scalar_read(f)};'
        if f.is_handle:
            t = f.var.type_name
            if validity == PARTIAL:
                return f'{x} = to_handle<{t}>(d.u64());'
            return f'{x} = d.handle<{t}>({self.objtype(f)});'
        name = f.elem.name
        if f.is_union:
            return f'decode_{name}(d, {x});'
        if validity == INVALID:
            return f'{x} = {{}};'
        suffix = '_partial' if validity == PARTIAL else ''
        return f'decode_{name}{suffix}(d, {x});'

    def elem_guest_decode(self, f: Field, x: str) -> str:
        if f.scalar:
            return f'{x} = {self.scalar_read(f)};'
        if f.is_handle:
            t = f.var.type_name
            if f.elem.dispatchable:
                return f'{x} = d.guest_object<{t}>({self.objtype(f)});'
            return f'{x} = to_handle<{t}>(d.u64());'
        name = f.elem.name
        if f.is_union:
            return f'decode_{name}(d, {x});'
        return f'decode_{name}(d, {x});'

    # ------------------------------------------------------------------ field code
    def field_size(self, w: Writer, f: Field, acc: str, validity: str, fields, prefix):
        if f.shape == 'pnext':
            suffix = '_partial' if validity == PARTIAL else ''
            w(f'n += sizeof_pnext_{f.owner}{suffix}(c, {acc});')
            return
        if f.name == 'sType' and f.owner in self.p.structs:
            w('n += 4;')
            return
        if f.shape == 'opaque':
            w('n += 8;')
            return
        if validity == INVALID:
            if f.shape in ('ptr', 'dyn', 'blob', 'string', 'strings'):
                w('n += 8;')
            return
        if f.shape == 'value':
            w(f'n += {self.elem_size(f, acc, validity)};')
        elif f.shape == 'static':
            if f.scalar:
                w(f'n += 8 + {self.packed_bytes(f, str(f.static_n))};')
            else:
                w('n += 8;')
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) n += {self.elem_size(f, acc + "[i]", validity)};')
        elif f.shape == 'ptr':
            w('n += 8;')
            w(f'if ({acc}) n += {self.elem_size(f, "*" + acc, validity)};')
        elif f.shape == 'string':
            w(f'n += 8 + ({acc} ? pad4(std::strlen({acc}) + 1) : 0);')
        elif f.shape == 'strings':
            cond = self.present(f, acc, prefix)
            w(f'n += 8;')
            w(f'if ({cond}) for (uint64_t i = 0; i < {self.count_of(f, fields, prefix)}; ++i) '
              f'n += 8 + ({acc}[i] ? pad4(std::strlen({acc}[i]) + 1) : 0);')
        elif f.shape == 'blob':
            cond = self.present(f, acc, prefix)
            w(f'n += 8 + ({cond} ? pad4({self.count_of(f, fields, prefix)}) : 0);')
        elif f.shape == 'dyn':
            cond = self.present(f, acc, prefix)
            count = self.count_of(f, fields, prefix)
            if f.scalar:
                w(f'n += 8 + ({cond} ? {self.packed_bytes(f, count)} : 0);')
            elif f.is_handle:
                w(f'n += 8 + ({cond} ? 8 * {count} : 0);')
            else:
                w(f'n += 8;')
                w(f'if ({cond}) for (uint64_t i = 0; i < {count}; ++i) '
                  f'n += {self.elem_size(f, self.element(f, acc, prefix), validity)};')

    @staticmethod
    def element(f: Field, acc: str, prefix: str) -> str:
        """Element i of an input array, honouring an application-chosen stride."""
        if f.var.stride:
            return (f'(*reinterpret_cast<const {f.var.type_name}*>(reinterpret_cast<const char*>({acc}) + '
                    f'i * {prefix}{f.var.stride}))')
        return acc + '[i]'

    def packed_bytes(self, f: Field, count: str) -> str:
        if f.scalar in PACKED:
            return f'pad4(static_cast<size_t>({count}) * {PACKED[f.scalar]})'
        return f'static_cast<size_t>({count}) * {SCALAR_WIRE[f.scalar]}'

    def present(self, f: Field, acc: str, prefix: str) -> str:
        if f.condition:
            return f'({acc} && ({f.condition.format(v=prefix)}))'
        return acc

    def field_encode(self, w: Writer, f: Field, acc: str, validity: str, fields, prefix):
        if f.shape == 'pnext':
            suffix = '_partial' if validity == PARTIAL else ''
            w(f'encode_pnext_{f.owner}{suffix}(e, {acc});')
            return
        if f.name == 'sType' and f.owner in self.p.structs:
            w(f'e.i32({self.stype_of(f.owner)});')
            return
        if f.shape == 'opaque':
            w('e.u64(0);  // host pointers never cross the wire')
            return
        if validity == INVALID:
            if f.shape == 'ptr':
                w(f'e.pointer({acc});')
            elif f.shape in ('dyn', 'blob'):
                w(f'e.array_size({acc} ? {self.count_of(f, fields, prefix)} : 0);')
            elif f.shape in ('string', 'strings'):
                w(f'e.array_size(0);')
            return
        if f.shape == 'value':
            w(self.elem_encode(f, acc, validity))
        elif f.shape == 'static':
            w(f'e.array_size({f.static_n});')
            if f.scalar:
                w(self.array_write(f, acc, str(f.static_n)))
            else:
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.elem_encode(f, acc + "[i]", validity)}')
        elif f.shape == 'ptr':
            w(f'if (e.pointer({acc})) {self.elem_encode(f, "*" + acc, validity)}')
        elif f.shape == 'string':
            w(f'e.string({acc});')
        elif f.shape in ('strings', 'blob', 'dyn'):
            if f.shape == 'strings':
                body = [f'for (uint64_t i = 0; i < count; ++i) e.string({acc}[i]);']
            elif f.shape == 'blob':
                body = [f'e.bytes({acc}, count);']
            elif f.scalar:
                body = [self.array_write(f, acc, 'count')]
            else:
                body = [f'for (uint64_t i = 0; i < count; ++i) {self.elem_encode(f, self.element(f, acc, prefix), validity)}']
            self.counted(w, self.present(f, acc, prefix), self.count_of(f, fields, prefix), body)
            if f.var.stride:
                # elements go out densely, so the renderer sees the tight stride
                w(f'{prefix}{f.var.stride} = sizeof({f.var.type_name});')

    def array_write(self, f: Field, acc: str, count: str) -> str:
        if f.scalar in PACKED:
            return f'e.bytes({acc}, static_cast<size_t>({count}) * {PACKED[f.scalar]});'
        if f.elem.category == 'enum' or f.scalar in ('u32', 'i32', 'f32', 'u64', 'i64', 'f64', 'size'):
            return f'e.raw_array({acc}, static_cast<size_t>({count}));'
        raise AssertionError(f.scalar)

    # host decode of one field into acc (an lvalue of the field's C type)
    def field_host_decode(self, w: Writer, f: Field, acc: str, validity: str, fields, prefix,
                          required: bool, top_level: bool):
        label = f'{f.owner}.{f.name}'
        if f.shape == 'pnext':
            suffix = '_partial' if validity == PARTIAL else ''
            w(f'{acc} = decode_pnext_{f.owner}{suffix}(d);')
            return
        if f.name == 'sType' and f.owner in self.p.structs:
            w(f'{acc} = d.expect_stype({self.stype_of(f.owner)});')
            return
        if f.shape == 'opaque':
            w(f'if (d.pointer()) d.fail("{label} must be NULL");')
            w(f'{acc} = nullptr;')
            return
        t = self.ctype(f)
        if f.shape == 'value':
            if validity == INVALID:
                return
            w(self.elem_host_decode(f, acc, validity))
            if top_level and f.is_handle and validity == VALID:
                pass
            return
        if f.shape == 'static':
            if validity == INVALID:
                return
            w(f'd.expect_array_size({f.static_n}, "{label}");')
            if f.scalar:
                w(self.array_read(f, acc, str(f.static_n)))
            else:
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.elem_host_decode(f, acc + "[i]", validity)}')
            return
        if f.shape == 'ptr':
            w('if (d.pointer()) {')
            min_bytes = self.elem_alloc_min(f, validity)
            w(f'    auto* p = d.alloc<{t}>(1, {min_bytes});')
            if validity != INVALID:
                w('    ' + self.elem_host_decode(f, '*p', validity))
            w(f'    {acc} = p;')
            w('} else {')
            w(f'    {acc} = nullptr;')
            if required:
                w(f'    d.fail("{label} must not be NULL");')
            w('}')
            return
        if f.shape == 'string':
            w(f'{acc} = d.string();')
            return
        if f.shape == 'strings':
            w('if (const uint64_t count = d.array_size()) {')
            w(f'    d.check_count(count, {self.count_of(f, fields, prefix)}, "{label}");')
            w('    auto** p = d.alloc<const char*>(count, 8);')
            w('    for (uint64_t i = 0; i < count; ++i) p[i] = d.string();')
            w(f'    {acc} = p;')
            w('} else {')
            w(f'    {acc} = nullptr;')
            w('}')
            return
        # dyn and blob
        expected = self.count_of(f, fields, prefix)
        check = not f.var.noautovalidity or validity != VALID or f.shape == 'blob'
        w('if (const uint64_t count = d.array_size()) {')
        w(f'    d.check_count(count, {expected}, "{label}");')
        if f.shape == 'blob':
            w(f'    auto* p = d.alloc<uint8_t>(count, {1 if validity == VALID else 0});')
            if validity == VALID:
                w('    d.bytes(p, count);')
            w(f'    {acc} = p;')
        else:
            min_bytes = self.elem_alloc_min(f, validity)
            w(f'    auto* p = d.alloc<{t}>(count, {min_bytes});')
            if validity == INVALID:
                pass     # zero-initialized by alloc
            elif f.scalar:
                w('    ' + self.array_read(f, 'p', 'count'))
            else:
                w(f'    for (uint64_t i = 0; i < count; ++i) {self.elem_host_decode(f, "p[i]", validity)}')
            w(f'    {acc} = p;')
        w('} else {')
        w(f'    {acc} = nullptr;')
        if required and not f.condition and check:
            w(f'    d.check_count(0, {expected}, "{label}");')
        w('}')

    def array_read(self, f: Field, acc: str, count: str) -> str:
        if f.scalar in PACKED:
            return f'd.bytes({acc}, static_cast<size_t>({count}) * {PACKED[f.scalar]});'
        return f'd.raw_array({acc}, static_cast<size_t>({count}));'

    # host reply encode of one field (always full)
    def field_host_encode(self, w: Writer, f: Field, acc: str, fields, prefix):
        if f.shape == 'pnext':
            w(f'encode_pnext_{f.owner}(e, {acc});')
            return
        if f.name == 'sType' and f.owner in self.p.structs:
            w(f'e.i32({self.stype_of(f.owner)});')
            return
        if f.shape == 'opaque':
            w('e.u64(0);')
            return
        if f.shape == 'value':
            w(self.elem_host_encode(f, acc))
        elif f.shape == 'static':
            w(f'e.array_size({f.static_n});')
            if f.scalar:
                w(self.array_write(f, acc, str(f.static_n)))
            else:
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.elem_host_encode(f, acc + "[i]")}')
        elif f.shape == 'ptr':
            w(f'if (e.pointer({acc})) {self.elem_host_encode(f, "*" + acc)}')
        elif f.shape == 'string':
            w(f'e.string({acc});')
        elif f.shape in ('dyn', 'blob', 'strings'):
            if f.shape == 'blob':
                body = [f'e.bytes({acc}, count);']
            elif f.shape == 'strings':
                body = [f'for (uint64_t i = 0; i < count; ++i) e.string({acc}[i]);']
            elif f.scalar:
                body = [self.array_write(f, acc, 'count')]
            else:
                body = [f'for (uint64_t i = 0; i < count; ++i) {self.elem_host_encode(f, acc + "[i]")}']
            self.counted(w, acc, self.count_of(f, fields, prefix), body)

    @staticmethod
    def counted(w: Writer, present: str, count: str, body: list):
        """An array on the wire: its element count, then the elements; count 0 when absent."""
        w(f'if ({present}) {{')
        w(f'    const uint64_t count = {count};')
        w('    e.array_size(count);')
        for line in body:
            w('    ' + line)
        w('} else {')
        w('    e.array_size(0);')
        w('}')

    # guest reply decode of one field into the application's storage
    def field_guest_decode(self, w: Writer, f: Field, acc: str, fields, prefix, caps: dict):
        label = f'{f.owner}.{f.name}'
        if f.shape == 'pnext':
            w(f'decode_pnext_{f.owner}(d, {acc});')
            return
        if f.name == 'sType' and f.owner in self.p.structs:
            w(f'd.expect_stype({self.stype_of(f.owner)});')
            return
        if f.shape == 'opaque':
            w(f'if (d.pointer()) d.fail("{label} must be NULL");')
            return
        if f.shape == 'value':
            w(self.elem_guest_decode(f, acc))
        elif f.shape == 'static':
            w(f'd.expect_array_size({f.static_n}, "{label}");')
            if f.scalar:
                w(self.array_read(f, acc, str(f.static_n)))
                if f.var.type_name == 'char':
                    w(f'{acc}[{f.static_n - 1}] = 0;')
            else:
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.elem_guest_decode(f, acc + "[i]")}')
        elif f.shape == 'ptr':
            w('if (d.pointer()) {')
            w(f'    if (!{acc}) d.fail("{label}: reply has data for a NULL pointer");')
            w('    ' + self.elem_guest_decode(f, '*' + acc))
            w('}')
        elif f.shape in ('dyn', 'blob'):
            cap, got = caps[f.name]
            w(f'{got} = d.array_size();')
            w(f'if ({got}) {{')
            w(f'    if (!{acc} || {got} > {cap}) d.fail("{label}: reply array larger than the request");')
            if f.shape == 'blob':
                w(f'    d.bytes({acc}, {got});')
            elif f.scalar:
                w('    ' + self.array_read(f, acc, got))
            else:
                w(f'    for (uint64_t i = 0; i < {got}; ++i) {self.elem_guest_decode(f, acc + "[i]")}')
            w('}')
        else:
            raise AssertionError(f'{label}: {f.shape} in a reply')

    # ------------------------------------------------------------------ structs
    def struct_fields(self, name):
        return self.p.fields(name)

    def emit_struct_guest(self, w: Writer, name: str):
        ty = self.reg.types[name]
        fields = {f.name: f for f in self.struct_fields(name)}
        need = self.p.need
        sized = name in need['encode'] or name in need['reply']
        if ty.category == 'union':
            self.emit_union_guest(w, name)
            return
        variants = []
        if sized:
            variants.append(('', VALID))
        if name in need['partial']:
            variants.append(('_partial', PARTIAL))
        for suffix, base_validity in variants:
            partial = base_validity == PARTIAL
            for self_only in ([True, False] if ty.stype else [False]):
                fn = f'sizeof_{name}{"_self" if self_only else ""}{suffix}'
                w.open(f'size_t {fn}(const WireCaps& c, const {name}& v)')
                w('size_t n = 0;')
                w('(void)c;')
                for f in self.struct_fields(name):
                    if self_only and f.name in ('sType', 'pNext'):
                        continue
                    if partial and (name, f.name) in WA1_OMITTED_COUNTS:
                        w('if (c.wire_format != 0) n += 4;  // WA1: not sent in wire format 0')
                        continue
                    validity = self.p.member_validity(name, f, partial)
                    self.field_size(w, f, f'v.{f.name}', validity, fields, 'v.')
                w('return n;')
                w.close()
                w()
            if name in need['encode'] or partial:
                for self_only in ([True, False] if ty.stype else [False]):
                    fn = f'encode_{name}{"_self" if self_only else ""}{suffix}'
                    w.open(f'void {fn}(Encoder& e, const {name}& v)')
                    for f in self.struct_fields(name):
                        if self_only and f.name in ('sType', 'pNext'):
                            continue
                        if partial and (name, f.name) in WA1_OMITTED_COUNTS:
                            w(f'if (e.caps().wire_format != 0) e.u32(v.{f.name});  // WA1: not sent in wire format 0')
                            continue
                        validity = self.p.member_validity(name, f, partial)
                        self.field_encode(w, f, f'v.{f.name}', validity, fields, 'v.')
                    w.close()
                    w()
            if ty.stype:
                kinds = ['sizeof'] + (['encode'] if name in need['encode'] or partial else [])
                self.emit_pnext_guest(w, name, suffix, kinds)
        if name in need['reply']:
            for self_only in ([True, False] if ty.stype else [False]):
                fn = f'decode_{name}{"_self" if self_only else ""}'
                w.open(f'void {fn}(Decoder& d, {name}& v)')
                caps = self.reply_caps(w, name, fields, 'v.')
                for f in self.struct_fields(name):
                    if self_only and f.name in ('sType', 'pNext'):
                        continue
                    self.field_guest_decode(w, f, f'v.{f.name}', fields, 'v.', caps)
                self.reply_count_checks(w, name, fields, 'v.', caps)
                w.close()
                w()
            if ty.stype:
                self.emit_pnext_guest_decode(w, name)

    def reply_caps(self, w: Writer, owner, fields, prefix) -> dict:
        caps = {}
        for f in fields.values():
            if f.shape in ('dyn', 'blob'):
                w(f'const uint64_t cap_{f.name} = {f.count.render(fields, prefix)};')
                w(f'uint64_t got_{f.name} = 0;')
                caps[f.name] = (f'cap_{f.name}', f'got_{f.name}')
        return caps

    def reply_count_checks(self, w: Writer, owner, fields, prefix, caps):
        """After a reply: an array's element count must match its count field. A count that
        came back for a zero-capacity array (a query the host saw without its array) is
        clamped to zero so that the application never reads past its own storage."""
        for f in fields.values():
            if f.name not in caps or not f.count.is_plain_ref:
                continue
            cap, got = caps[f.name]
            head = f.count.parts[0][1]
            ref = fields[head]
            lvalue = f'*{prefix}{head}' if ref.var.ptr_depth else f'{prefix}{head}'
            cur = f'({prefix}{head} ? static_cast<uint64_t>(*{prefix}{head}) : 0)' if ref.var.ptr_depth \
                else f'static_cast<uint64_t>({prefix}{head})'
            writable = ref.var.ptr_depth > 0 or owner not in self.reg.commands
            w(f'if ({prefix}{f.name} && {cur} != {got}) {{')
            if writable:
                guard = f'{prefix}{head} && ' if ref.var.ptr_depth else ''
                w(f'    if ({guard}{got} == 0 && {cap} == 0) {lvalue} = 0;')
                w(f'    else d.fail("{owner}.{f.name}: reply count does not match its array");')
            else:
                w(f'    d.fail("{owner}.{f.name}: reply count does not match its array");')
            w('}')

    def emit_pnext_guest(self, w: Writer, name: str, suffix: str, kinds: list):
        chain = self.p.pnext.get(name, [])
        for kind in kinds:
            if kind == 'sizeof':
                w.open(f'size_t sizeof_pnext_{name}{suffix}(const WireCaps& c, const void* p)')
            else:
                w.open(f'void encode_pnext_{name}{suffix}(Encoder& e, const void* p)')
                w('const WireCaps& c = e.caps();')
            w('(void)c;')
            if chain:
                w.open('for (; p; p = static_cast<const VkBaseInStructure*>(p)->pNext)')
                w.open('switch (static_cast<int32_t>(static_cast<const VkBaseInStructure*>(p)->sType))')
                for ext in chain:
                    gate = self.p.gate_expr(ext, 'c') if not self.reg.types[ext].private else None
                    w(f'case {self.stype_of(ext)}:')
                    w.depth += 1
                    if gate:
                        w(f'if (!({gate})) break;')
                    ext_suffix = suffix
                    if kind == 'sizeof':
                        w(f'return 12 + sizeof_pnext_{name}{suffix}(c, static_cast<const VkBaseInStructure*>(p)->pNext)'
                          f' + sizeof_{ext}_self{ext_suffix}(c, *static_cast<const {ext}*>(p));')
                    else:
                        w('e.u64(1);')
                        w(f'e.i32({self.stype_of(ext)});')
                        w(f'encode_pnext_{name}{suffix}(e, static_cast<const VkBaseInStructure*>(p)->pNext);')
                        w(f'encode_{ext}_self{ext_suffix}(e, *static_cast<const {ext}*>(p));')
                        w('return;')
                    w.depth -= 1
                w('default:')
                w('    break;')
                w.close()
                w.close()
            else:
                w('(void)p;')
            if kind == 'sizeof':
                w('return 8;')
            else:
                w('e.u64(0);')
            w.close()
            w()

    def emit_pnext_guest_decode(self, w: Writer, name: str):
        chain = self.p.pnext.get(name, [])
        w.open(f'void decode_pnext_{name}(Decoder& d, void* chain)')
        w('if (!d.pointer()) return;')
        w('const int32_t stype = d.i32();')
        w('auto* p = static_cast<VkBaseOutStructure*>(chain);')
        w('while (p && static_cast<int32_t>(p->sType) != stype) p = p->pNext;')
        w('if (!p) d.fail_stype(stype, "reply names a structure the request did not chain");')
        if chain:
            w.open('switch (stype)')
            for ext in chain:
                if ext not in self.p.need['reply']:
                    continue
                w(f'case {self.stype_of(ext)}:')
                w(f'    decode_pnext_{name}(d, p->pNext);')
                w(f'    decode_{ext}_self(d, *reinterpret_cast<{ext}*>(p));')
                w('    return;')
            w('default:')
            w('    break;')
            w.close()
        w('d.fail_stype(stype, "structure not allowed in this reply chain");')
        w.close()
        w()

    def emit_union_guest(self, w: Writer, name: str):
        fields = self.struct_fields(name)
        for kind in ('sizeof', 'encode'):
            if kind == 'sizeof':
                w.open(f'size_t sizeof_{name}(const WireCaps& c, const {name}& v, uint32_t tag)')
                w('size_t n = 4;')
            else:
                w.open(f'void encode_{name}(Encoder& e, const {name}& v, uint32_t tag)')
                w('e.u32(tag);')
            w('(void)v;')
            if kind == 'sizeof':
                w('(void)c;')
            w.open('switch (tag)')
            for i, f in enumerate(fields):
                w(f'case {i}: {{')
                w.depth += 1
                if kind == 'sizeof':
                    self.field_size(w, f, f'v.{f.name}', VALID, {}, 'v.')
                else:
                    self.field_encode(w, f, f'v.{f.name}', VALID, {}, 'v.')
                w('break;')
                w.close()
            w('default:')
            w('    break;')
            w.close()
            if kind == 'sizeof':
                w('return n;')
            w.close()
            w()

    def emit_union_host(self, w: Writer, name: str):
        fields = self.struct_fields(name)
        w.open(f'void decode_{name}(Decoder& d, {name}& v)')
        w('const uint32_t tag = d.u32();')
        w.open('switch (tag)')
        for i, f in enumerate(fields):
            w(f'case {i}: {{')
            w.depth += 1
            self.field_host_decode(w, f, f'v.{f.name}', VALID, {}, 'v.', False, False)
            w('break;')
            w.close()
        w('default:')
        w(f'    d.fail("{name}: unknown union tag");')
        w.close()
        w.close()
        w()
        if name not in self.p.need['reply']:
            return
        w.open(f'void encode_{name}(Encoder& e, const {name}& v, uint32_t tag)')
        w('e.u32(tag);')
        w.open('switch (tag)')
        for i, f in enumerate(fields):
            w(f'case {i}: {{')
            w.depth += 1
            self.field_host_encode(w, f, f'v.{f.name}', {}, 'v.')
            w('break;')
            w.close()
        w('default:')
        w('    break;')
        w.close()
        w.close()
        w()

    def member_required(self, f: Field) -> bool:
        return not f.var.is_optional() and not f.var.noautovalidity

    def emit_struct_host(self, w: Writer, name: str):
        ty = self.reg.types[name]
        need = self.p.need
        fields = {f.name: f for f in self.struct_fields(name)}
        if ty.category == 'union':
            self.emit_union_host(w, name)
            return
        variants = []
        if name in need['encode']:
            variants.append(('', VALID))
        if name in need['partial']:
            variants.append(('_partial', PARTIAL))
        for suffix, base in variants:
            partial = base == PARTIAL
            for self_only in ([True, False] if ty.stype else [False]):
                fn = f'decode_{name}{"_self" if self_only else ""}{suffix}'
                w.open(f'void {fn}(Decoder& d, {name}& v)')
                for f in self.struct_fields(name):
                    if self_only and f.name in ('sType', 'pNext'):
                        continue
                    if partial and (name, f.name) in WA1_OMITTED_COUNTS:
                        # wire format 0 leaves the count out of the partial struct (WA1); it is
                        # the length prefix of the array that follows
                        w(f'if (d.wire_format() == 0)')
                        w(f'    v.{f.name} = static_cast<uint32_t>(std::min<uint64_t>(d.peek_u64(), UINT32_MAX));')
                        w('else')
                        w(f'    v.{f.name} = d.u32();')
                        continue
                    validity = self.p.member_validity(name, f, partial)
                    self.field_host_decode(w, f, f'v.{f.name}', validity, fields, 'v.',
                                           self.member_required(f) and not partial, False)
                w.close()
                w()
            if ty.stype:
                self.emit_pnext_host_decode(w, name, suffix)
        if name in need['reply']:
            for self_only in ([True, False] if ty.stype else [False]):
                fn = f'encode_{name}{"_self" if self_only else ""}'
                w.open(f'void {fn}(Encoder& e, const {name}& v)')
                for f in self.struct_fields(name):
                    if self_only and f.name in ('sType', 'pNext'):
                        continue
                    self.field_host_encode(w, f, f'v.{f.name}', fields, 'v.')
                w.close()
                w()
            if ty.stype:
                self.emit_pnext_host_encode(w, name)

    def emit_pnext_host_decode(self, w: Writer, name: str, suffix: str):
        chain = self.p.pnext.get(name, [])
        w.open(f'void* decode_pnext_{name}{suffix}(Decoder& d)')
        w('if (!d.pointer()) return nullptr;')
        w('const ChainDepthGuard guard(d);')
        w('const int32_t stype = d.i32();')
        if chain:
            w.open('switch (stype)')
            for ext in chain:
                ext_suffix = suffix if ext in self.p.need['partial'] or not suffix else ''
                if suffix and ext not in self.p.need['partial']:
                    continue
                if not suffix and ext not in self.p.need['encode']:
                    continue
                w(f'case {self.stype_of(ext)}: {{')
                w(f'    auto* s = d.alloc<{ext}>(1, 0);')
                w(f'    s->sType = static_cast<VkStructureType>(stype);')
                w(f'    s->pNext = decode_pnext_{name}{suffix}(d);')
                w(f'    decode_{ext}_self{ext_suffix}(d, *s);')
                w('    return s;')
                w('}')
            w('default:')
            w('    break;')
            w.close()
        w(f'd.fail_stype(stype, "not allowed in the pNext chain of {name}");')
        w.close()
        w()

    def emit_pnext_host_encode(self, w: Writer, name: str):
        chain = [c for c in self.p.pnext.get(name, []) if c in self.p.need['reply']]
        w.open(f'void encode_pnext_{name}(Encoder& e, const void* p)')
        if chain:
            w.open('for (; p; p = static_cast<const VkBaseInStructure*>(p)->pNext)')
            w.open('switch (static_cast<int32_t>(static_cast<const VkBaseInStructure*>(p)->sType))')
            for ext in chain:
                w(f'case {self.stype_of(ext)}:')
                w('    e.u64(1);')
                w(f'    e.i32({self.stype_of(ext)});')
                w(f'    encode_pnext_{name}(e, static_cast<const VkBaseInStructure*>(p)->pNext);')
                w(f'    encode_{ext}_self(e, *static_cast<const {ext}*>(p));')
                w('    return;')
            w('default:')
            w('    break;')
            w.close()
            w.close()
        else:
            w('(void)p;')
        w('e.u64(0);')
        w.close()
        w()

    # ------------------------------------------------------------------ commands
    def cmd_params(self, cmd) -> str:
        return ', '.join(c_param(p) for p in cmd.params)

    def cmd_args(self, cmd) -> str:
        return ', '.join(p.name for p in cmd.params)

    def emit_command_guest(self, w: Writer, cmd):
        p = self.p
        fields = {f.name: f for f in p.fields(cmd.name)}
        cid = p.cmd_id[cmd.name]
        params = self.cmd_params(cmd)
        sep = ', ' if params else ''
        # request size
        w.open(f'size_t sizeof_{cmd.name}(const WireCaps& c{sep}{params})')
        w('size_t n = 8;')
        w('(void)c;')
        for f in p.fields(cmd.name):
            self.field_size(w, f, f.name, p.param_validity(cmd, f), fields, '')
        w('return n;')
        w.close()
        w()
        # request encode
        w.open(f'void encode_{cmd.name}(Encoder& e, uint32_t cmd_flags{sep}{params})')
        w(f'e.u32({cid});  // {cmd.name}')
        w('e.u32(cmd_flags);')
        for f in p.fields(cmd.name):
            self.field_encode(w, f, f.name, p.param_validity(cmd, f), fields, '')
        w.close()
        w()
        # reply size
        w.open(f'size_t sizeof_{cmd.name}_reply(const WireCaps& c{sep}{params})')
        w('size_t n = 4;')
        w('(void)c;')
        if cmd.ret != 'void':
            w(f'n += {8 if self.ret_wire(cmd) == "u64" else 4};')
        for f in p.fields(cmd.name):
            if p.param_in_reply(cmd, f):
                self.field_size(w, f, f.name, VALID, fields, '')
        w('return n;')
        w.close()
        w()
        # reply decode
        ret = cmd.ret
        w.open(f'{ret} decode_{cmd.name}_reply(Decoder& d{sep}{params})')
        w(f'd.expect_command({cid});')
        if ret != 'void':
            w(f'const {ret} ret = static_cast<{ret}>(d.{self.ret_wire(cmd)}());')
        caps = {}
        for f in p.fields(cmd.name):
            if p.param_in_reply(cmd, f) and f.shape in ('dyn', 'blob'):
                w(f'const uint64_t cap_{f.name} = {f.count.render(fields, "")};')
                w(f'uint64_t got_{f.name} = 0;')
                caps[f.name] = (f'cap_{f.name}', f'got_{f.name}')
        for f in p.fields(cmd.name):
            if p.param_in_reply(cmd, f):
                self.field_guest_decode(w, f, f.name, fields, '', caps)
        self.reply_count_checks(w, cmd.name, fields, '', caps)
        if ret != 'void':
            w('return ret;')
        w.close()
        w()

    def ret_wire(self, cmd) -> str:
        return {'VkResult': 'i32', 'uint32_t': 'u32', 'VkBool32': 'u32', 'uint64_t': 'u64',
                'VkDeviceAddress': 'u64', 'VkDeviceSize': 'u64'}[cmd.ret]

    def host_arg_type(self, f: Field) -> str:
        v = f.var
        if f.shape == 'strings':
            return 'const char* const*'
        if f.shape == 'string':
            return 'const char*'
        if v.ptr_depth == 0:
            return v.type_name
        if f.shape == 'blob' or (f.shape == 'opaque' and v.type_name == 'void'):
            return 'const void*' if v.is_const else 'void*'
        return c_member_storage_type(v)

    def emit_args_struct(self, w: Writer, cmd):
        p = self.p
        w.open(f'struct {cmd.name}_args')
        for f in p.fields(cmd.name):
            dims = f'[{f.static_n}]' if f.shape == 'static' else ''
            w(f'{self.host_arg_type(f)} {f.name}{dims}{{}};')
        for f in p.fields(cmd.name):
            if f.is_handle and f.shape == 'value':
                w(f'const ObjectRef* {f.name}_ref = nullptr;')
        if cmd.ret != 'void':
            w(f'{cmd.ret} ret{{}};')
        w.close('};')
        w()

    def emit_command_host(self, w: Writer, cmd):
        p = self.p
        fields = {f.name: f for f in p.fields(cmd.name)}
        w.open(f'void decode_{cmd.name}(Decoder& d, {cmd.name}_args& a)')
        for i, f in enumerate(p.fields(cmd.name)):
            validity = p.param_validity(cmd, f)
            required = (i == 0 and f.is_handle and f.elem.dispatchable) or \
                (not f.var.is_optional() and not f.var.noautovalidity)
            if f.is_handle and f.shape == 'value':
                w(f'a.{f.name}_ref = d.object({self.objtype(f)});')
                w(f'a.{f.name} = a.{f.name}_ref ? to_handle<{f.var.type_name}>(a.{f.name}_ref->handle) : VK_NULL_HANDLE;')
                if required:
                    w(f'if (!a.{f.name}_ref) d.fail("{cmd.name}.{f.name} must not be VK_NULL_HANDLE");')
                continue
            self.field_host_decode(w, f, f'a.{f.name}', validity, fields, 'a.', required, True)
        w.close()
        w()
        w.open(f'void encode_{cmd.name}_reply(Encoder& e, const {cmd.name}_args& a)')
        w(f'e.u32({p.cmd_id[cmd.name]});')
        if cmd.ret != 'void':
            w(f'e.{self.ret_wire(cmd)}(a.ret);')
        for f in p.fields(cmd.name):
            if p.param_in_reply(cmd, f):
                self.field_host_encode(w, f, f'a.{f.name}', fields, 'a.')
        w('(void)a;')
        w.close()
        w()

    # ------------------------------------------------------------------ files
    def guest_header(self) -> str:
        p = self.p
        w = Writer()
        w(BANNER)
        w('#pragma once')
        w('#include "protocol/codec.h"')
        w()
        w('namespace venus::protocol::guest {')
        w()
        for name, ty in self.ordered_structs():
            if ty.category == 'union':
                if name in p.need['encode'] or name in p.need['reply']:
                    w(f'size_t sizeof_{name}(const WireCaps& c, const {name}& v, uint32_t tag);')
                    w(f'void encode_{name}(Encoder& e, const {name}& v, uint32_t tag);')
                continue
            sized = name in p.need['encode'] or name in p.need['reply']
            for suffix, cond in (('', sized), ('_partial', name in p.need['partial'])):
                if not cond:
                    continue
                for so in (['_self', ''] if ty.stype else ['']):
                    w(f'size_t sizeof_{name}{so}{suffix}(const WireCaps& c, const {name}& v);')
                    if name in p.need['encode'] or suffix:
                        w(f'void encode_{name}{so}{suffix}(Encoder& e, const {name}& v);')
                if ty.stype:
                    w(f'size_t sizeof_pnext_{name}{suffix}(const WireCaps& c, const void* p);')
                    if name in p.need['encode'] or suffix:
                        w(f'void encode_pnext_{name}{suffix}(Encoder& e, const void* p);')
            if name in p.need['reply']:
                for so in (['_self', ''] if ty.stype else ['']):
                    w(f'void decode_{name}{so}(Decoder& d, {name}& v);')
                if ty.stype:
                    w(f'void decode_pnext_{name}(Decoder& d, void* chain);')
        w()
        for cmd in p.commands:
            params = self.cmd_params(cmd)
            sep = ', ' if params else ''
            w(f'size_t sizeof_{cmd.name}(const WireCaps& c{sep}{params});')
            w(f'void encode_{cmd.name}(Encoder& e, uint32_t cmd_flags{sep}{params});')
            w(f'size_t sizeof_{cmd.name}_reply(const WireCaps& c{sep}{params});')
            w(f'{cmd.ret} decode_{cmd.name}_reply(Decoder& d{sep}{params});')
        w()
        w('}  // namespace venus::protocol::guest')
        return w.text()

    def host_header(self) -> str:
        p = self.p
        w = Writer()
        w(BANNER)
        w('#pragma once')
        w('#include "protocol/codec.h"')
        w()
        w('namespace venus::protocol::host {')
        w()
        for name, ty in self.ordered_structs():
            if ty.category == 'union':
                w(f'void decode_{name}(Decoder& d, {name}& v);')
                if name in p.need['reply']:
                    w(f'void encode_{name}(Encoder& e, const {name}& v, uint32_t tag);')
                continue
            for suffix, cond in (('', name in p.need['encode']), ('_partial', name in p.need['partial'])):
                if not cond:
                    continue
                for so in (['_self', ''] if ty.stype else ['']):
                    w(f'void decode_{name}{so}{suffix}(Decoder& d, {name}& v);')
                if ty.stype:
                    w(f'void* decode_pnext_{name}{suffix}(Decoder& d);')
            if name in p.need['reply']:
                for so in (['_self', ''] if ty.stype else ['']):
                    w(f'void encode_{name}{so}(Encoder& e, const {name}& v);')
                if ty.stype:
                    w(f'void encode_pnext_{name}(Encoder& e, const void* p);')
        w()
        for cmd in p.commands:
            self.emit_args_struct(w, cmd)
        for cmd in p.commands:
            w(f'void decode_{cmd.name}(Decoder& d, {cmd.name}_args& a);')
            w(f'void encode_{cmd.name}_reply(Encoder& e, const {cmd.name}_args& a);')
        w()
        w('}  // namespace venus::protocol::host')
        return w.text()

    def ordered_structs(self):
        return sorted(self.p.structs.items())

    def sources(self, side: str) -> list[str]:
        writers = [Writer() for _ in range(self.shards)]
        for i, w in enumerate(writers):
            w(BANNER)
            w(f'#include "protocol/{side}_codec.h"')
            w('#include <cstring>')
            w()
            w(f'namespace venus::protocol::{side} {{')
            w()
        for name, ty in self.ordered_structs():
            w = writers[shard_of(name, self.shards)]
            if side == 'guest':
                if ty.category == 'union' and not (name in self.p.need['encode'] or name in self.p.need['reply']):
                    continue
                self.emit_struct_guest(w, name)
            else:
                self.emit_struct_host(w, name)
        for cmd in self.p.commands:
            w = writers[shard_of(cmd.name, self.shards)]
            if side == 'guest':
                self.emit_command_guest(w, cmd)
            else:
                self.emit_command_host(w, cmd)
        for w in writers:
            w(f'}}  // namespace venus::protocol::{side}')
        return [w.text() for w in writers]
