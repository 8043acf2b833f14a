"""Emits test support code: for every struct and command, random valid inputs (what a guest
application would pass), output skeletons (what the guest sends for outputs), random reply
values (what the host driver would write) and deep comparisons between the guest's and the
host's view. tests/unit/codec_roundtrip_test.cpp drives it over every generated command."""

from __future__ import annotations

from cpp import BANNER, Writer
from emit_codec import CodecEmitter, shard_of
from model import INVALID, PARTIAL, VALID, Field, Protocol

RAND = 'rand'      # full input
SKEL = 'skel'      # output skeleton (guest side)
FILL = 'fill'      # reply values (host side)


def outputs(shards):
    return ['testgen/testgen.h'] + [f'testgen/testgen_{i}.cpp' for i in range(shards)]


class TestGenEmitter:
    def __init__(self, p: Protocol, shards: int):
        self.p = p
        self.reg = p.reg
        self.shards = shards
        self.codec = CodecEmitter(p, shards)

    # which structs get which helpers
    def remote_counts(self) -> set:
        """(struct, member) pairs that size an array of another owner (`pInfo->count`)."""
        if hasattr(self, '_remote'):
            return self._remote
        out = set()
        owners = [c.name for c in self.p.commands] + list(self.p.structs)
        for owner in owners:
            for f in self.p.fields(owner):
                if f.count is None:
                    continue
                for part in f.count.parts:
                    if part[0] == 'ref' and part[2]:
                        head = {x.name: x for x in self.p.fields(owner)}[part[1]]
                        out.add((self.reg.canonical_type(head.var.type_name), part[2]))
        self._remote = out
        return out

    def wanted(self):
        need = self.p.need
        names = sorted(set(need['encode']) | set(need['partial']) | set(need['reply']))
        return [n for n in names if n in self.p.structs]

    # ------------------------------------------------------------------ expressions
    def count_expr(self, f: Field, fields, prefix) -> str:
        return f.count.render(fields, prefix)

    def is_count_ref(self, owner, name) -> bool:
        return name in self.p.len_referenced(owner)

    def scalar_rand(self, f: Field) -> str:
        t = f.var.type_name
        if f.elem.category == 'enum':
            return f'static_cast<{t}>(g.u32() & 0x7fffffffu)'  # what a C++ enum of Vulkan can hold
        return {'u8': f'static_cast<{t}>(g.u32())', 'u16': f'static_cast<{t}>(g.u32())',
                'u32': 'g.u32()', 'i32': 'g.i32()', 'f32': 'g.f32()', 'u64': 'g.u64()',
                'i64': 'static_cast<int64_t>(g.u64())', 'f64': 'g.f64()',
                'size': 'static_cast<size_t>(g.u64())'}[f.scalar]

    def handle_rand(self, f: Field) -> str:
        ot = self.p.object_type(f.elem)
        if f.elem.dispatchable:
            return f'g.dispatchable<{f.var.type_name}>({ot})'
        return f'g.handle<{f.var.type_name}>({ot})'

    # ------------------------------------------------------------------ random input
    def emit_rand_fields(self, w: Writer, owner, fields_list, prefix, mode, partial=False,
                         is_command=False, cmd=None):
        """Random values (RAND), skeletons (SKEL) or reply values (FILL) for fields."""
        fields = {f.name: f for f in fields_list}
        referenced = self.p.len_referenced(owner)
        # counts first: every field that sizes an array gets a small value
        if mode in (RAND, SKEL):
            for f in fields_list:
                if f.name not in referenced or f.shape not in ('value',):
                    continue
                if f.scalar is None:
                    continue
                if mode == SKEL and not is_command and self.validity(owner, f, mode, cmd) != VALID:
                    continue
                w(f'{prefix}{f.name} = static_cast<{f.var.type_name}>(g.small());')
            # pointer counts (in/out) of commands
            if is_command:
                for f in fields_list:
                    if f.name in referenced and f.shape == 'ptr' and f.scalar:
                        w(f'{{ auto* p = g.alloc<{f.var.type_name}>(1); *p = static_cast<{f.var.type_name}>(g.small()); {prefix}{f.name} = p; }}')
        strides = {f.var.stride: f for f in fields_list if f.var.stride}
        for f in fields_list:
            validity = self.validity(owner, f, mode, cmd)
            if is_command and f.name in referenced and f.shape == 'ptr' and f.scalar and mode != FILL:
                continue
            if f.name in strides and mode == RAND:
                w(f'{prefix}{f.name} = sizeof({strides[f.name].var.type_name});')
                continue
            self.emit_rand_field(w, owner, f, fields, prefix, mode, validity, referenced, is_command)

    def validity(self, owner, f, mode, cmd):
        if cmd is not None:
            return self.p.param_validity(cmd, f)
        if mode == SKEL:
            return self.p.member_validity(owner, f, True)
        return VALID

    def emit_rand_field(self, w, owner, f: Field, fields, prefix, mode, validity, referenced, is_command):
        acc = f'{prefix}{f.name}'
        t = f.var.type_name
        if f.name == 'sType' and owner in self.p.structs:
            if mode != FILL:
                w(f'{acc} = {self.reg.types[owner].stype};')
            return
        if f.shape == 'pnext':
            if mode == RAND:
                w(f'{acc} = rand_chain_{owner}(g, depth);')
            elif mode == SKEL:
                w(f'{acc} = skel_chain_{owner}(g, depth);')
            else:
                w(f'fill_chain(g, {acc});')
            return
        if f.shape == 'opaque':
            if mode != FILL:
                w(f'{acc} = nullptr;')
            return
        out_param = is_command and mode != FILL and validity != VALID
        in_param_of_command_in_fill = is_command and mode == FILL and not self.param_out(f)
        if in_param_of_command_in_fill:
            return
        if out_param and mode == RAND:
            return
        if mode == RAND or (mode == SKEL and validity == VALID and not out_param):
            self.emit_rand_input(w, owner, f, fields, prefix, referenced)
        elif mode == SKEL:
            self.emit_skeleton(w, owner, f, fields, prefix, validity)
        else:
            self.emit_fill(w, owner, f, fields, prefix, referenced, is_command)

    def param_out(self, f):
        return f.var.ptr_depth > 0 and not f.var.is_const and f.shape != 'opaque'

    def emit_rand_input(self, w, owner, f: Field, fields, prefix, referenced):
        acc = f'{prefix}{f.name}'
        t = f.var.type_name
        optional = f.var.is_optional()
        if f.shape == 'value':
            if f.name in referenced:
                return
            if (owner, f.name) in self.remote_counts() and f.scalar:
                w(f'{acc} = static_cast<{t}>(g.small());')
                return
            w(self.rand_elem(f, acc, RAND))
        elif f.shape == 'static':
            if f.scalar:
                if t == 'char':
                    w(f'g.text({acc}, {f.static_n});')
                else:
                    w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.rand_elem(f, acc + "[i]", RAND)}')
            else:
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.rand_elem(f, acc + "[i]", RAND)}')
        elif f.shape == 'ptr':
            cond = 'g.coin()' if optional else 'false'
            w(f'if ({cond} || depth > 3) {{ {acc} = nullptr; }} else {{')
            w(f'    auto* p = g.alloc<{t}>(1);')
            w('    ' + self.rand_elem(f, '*p', RAND))
            w(f'    {acc} = p;')
            w('}')
            if not optional:
                pass
        elif f.shape == 'string':
            w(f'{acc} = ({"g.coin()" if optional else "false"}) ? nullptr : g.string();')
        elif f.shape == 'strings':
            n = self.count_expr(f, fields, prefix)
            w(f'{{ const uint64_t n = {n}; auto** p = g.alloc<const char*>(n); '
              f'for (uint64_t i = 0; i < n; ++i) p[i] = g.string(); {acc} = n ? p : nullptr; }}')
        elif f.shape == 'blob':
            n = self.count_expr(f, fields, prefix)
            w(f'{{ const uint64_t n = {n}; auto* p = g.alloc<uint8_t>(n); g.fill_bytes(p, n); '
              f'{acc} = (n == 0 || {"g.coin()" if optional else "false"}) ? nullptr : p; }}')
        elif f.shape == 'dyn':
            n = self.count_expr(f, fields, prefix)
            w('{')
            w(f'    const uint64_t n = {n};')
            w(f'    auto* p = g.alloc<{t}>(n);')
            w(f'    for (uint64_t i = 0; i < n; ++i) {self.rand_elem(f, "p[i]", RAND)}')
            w(f'    {acc} = (n == 0 || {"g.coin()" if optional else "false"}) ? nullptr : p;')
            w('}')

    def rand_elem(self, f: Field, x: str, mode: str) -> str:
        if f.scalar:
            return f'{x} = {self.scalar_rand(f)};'
        if f.is_handle:
            return f'{x} = {self.handle_rand(f)};'
        if f.is_union:
            return f'g.fill_bytes(&{x}, sizeof({x}));'
        name = f.elem.name
        return f'{mode}_{name}(g, {x}, depth + 1);'

    def emit_skeleton(self, w, owner, f: Field, fields, prefix, validity):
        """Output storage as the guest prepares it before the call."""
        acc = f'{prefix}{f.name}'
        t = f.var.type_name
        if validity == VALID:
            return
        if f.shape == 'value':
            if validity == PARTIAL:
                w(self.skel_elem(f, acc))
        elif f.shape == 'static':
            if validity == PARTIAL:
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.skel_elem(f, acc + "[i]")}')
        elif f.shape == 'ptr':
            w(f'{{ auto* p = g.alloc<{t}>(1); {self.skel_elem(f, "*p") if validity == PARTIAL else ""} {acc} = p; }}')
        elif f.shape in ('dyn', 'blob'):
            n = self.count_expr(f, fields, prefix)
            et = 'uint8_t' if f.shape == 'blob' else t
            w('{')
            w(f'    const uint64_t n = {n};')
            w(f'    auto* p = g.alloc<{et}>(n);')
            if validity == PARTIAL:
                w(f'    for (uint64_t i = 0; i < n; ++i) {self.skel_elem(f, "p[i]")}')
            w(f'    {acc} = n ? p : nullptr;')
            w('}')

    def skel_elem(self, f: Field, x: str) -> str:
        if f.is_handle:
            return f'{x} = {self.handle_rand(f)};'
        if f.is_struct:
            return f'skel_{f.elem.name}(g, {x}, depth + 1);'
        return ''

    def emit_fill(self, w, owner, f: Field, fields, prefix, referenced, is_command):
        """Values the host writes into outputs (after decoding their skeleton)."""
        acc = f'{prefix}{f.name}'
        if f.shape == 'value':
            if f.name in referenced or f.is_handle:
                return
            w(self.fill_elem(f, acc))
        elif f.shape == 'static':
            if f.scalar and f.var.type_name == 'char':
                w(f'g.text({acc}, {f.static_n});')
            elif f.is_handle:
                return
            else:
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.fill_elem(f, acc + "[i]")}')
        elif f.shape == 'ptr':
            if is_command and f.name in referenced:
                # in/out count: a query with no array gets a fresh count
                arrays = [o for o in fields.values() if o.count is not None and f.name in o.count.refs]
                cond = ' && '.join(f'!{prefix}{o.name}' for o in arrays) or 'true'
                w(f'if ({acc} && {cond}) *{acc} = static_cast<{f.var.type_name}>(g.small());')
                return
            if f.is_handle:
                return
            w(f'if ({acc}) {self.fill_elem(f, "*" + acc)}')
        elif f.shape == 'blob':
            n = self.count_expr(f, fields, prefix)
            w(f'if ({acc}) g.fill_bytes({acc}, {n});')
        elif f.shape == 'dyn':
            if f.is_handle:
                return
            n = self.count_expr(f, fields, prefix)
            w(f'if ({acc}) for (uint64_t i = 0; i < {n}; ++i) {self.fill_elem(f, acc + "[i]")}')

    def fill_elem(self, f: Field, x: str) -> str:
        if f.scalar:
            return f'{x} = {self.scalar_rand(f)};'
        if f.is_union:
            return f'g.fill_bytes(&{x}, sizeof({x}));'
        if f.is_struct:
            return f'fill_{f.elem.name}(g, {x});'
        return ''

    # ------------------------------------------------------------------ comparison
    def emit_cmp_fields(self, w: Writer, owner, fields_list, gp, hp, mode, cmd=None):
        """Compare the guest's view (gp) with the host's (hp). mode: VALID, PARTIAL or 'reply'."""
        fields = {f.name: f for f in fields_list}
        for f in fields_list:
            if cmd is not None:
                if mode == 'reply':
                    if not self.param_out(f):
                        continue
                    validity = VALID
                else:
                    validity = self.p.param_validity(cmd, f)
            else:
                validity = VALID if mode in (VALID, 'reply') else self.p.member_validity(owner, f, True)
            self.emit_cmp_field(w, owner, f, fields, gp, hp, validity, 'reply' if mode == 'reply' else validity)

    def emit_cmp_field(self, w, owner, f: Field, fields, gp, hp, validity, sub):
        ga, ha = f'{gp}{f.name}', f'{hp}{f.name}'
        path = f'"{owner}.{f.name}"'
        if f.name == 'sType' and owner in self.p.structs:
            w(f'k.eq({ga}, {ha}, {path});')
            return
        if f.shape == 'pnext':
            w(f'cmp_chain(k, {ga}, {ha}, {self.mode_const(sub)});')
            return
        if f.shape == 'opaque':
            w(f'k.is_null({ha}, {path});')
            return
        if validity == INVALID:
            if f.shape == 'ptr':
                w(f'k.same_presence({ga}, {ha}, {path});')
            elif f.shape in ('dyn', 'blob'):
                n = self.count_expr(f, fields, gp)
                w(f'k.same_presence({ga} && ({n}) != 0, {ha}, {path});')
            return
        if f.shape == 'value':
            w(self.cmp_elem(f, ga, ha, path, sub))
        elif f.shape == 'static':
            if f.scalar:
                w(f'k.bytes({ga}, {ha}, sizeof({ga}), {path});')
            else:
                w(f'for (uint32_t i = 0; i < {f.static_n}; ++i) {self.cmp_elem(f, ga + "[i]", ha + "[i]", path, sub)}')
        elif f.shape == 'ptr':
            w(f'if (k.same_presence({ga}, {ha}, {path})) {self.cmp_elem(f, "*" + ga, "*" + ha, path, sub)}')
        elif f.shape == 'string':
            w(f'k.str({ga}, {ha}, {path});')
        elif f.shape == 'strings':
            n = self.count_expr(f, fields, gp)
            w(f'if (k.same_presence({ga} && ({n}) != 0, {ha}, {path})) '
              f'for (uint64_t i = 0; i < {n}; ++i) k.str({ga}[i], {ha}[i], {path});')
        elif f.shape in ('blob', 'dyn'):
            n = self.count_expr(f, fields, gp)
            cond = f'{ga} && ({n}) != 0'
            if f.condition and sub != 'reply':
                cond += f' && ({f.condition.format(v=gp)})'
            w(f'if (k.same_presence({cond}, {ha}, {path})) {{')
            if f.shape == 'blob':
                w(f'    k.bytes({ga}, {ha}, {n}, {path});')
            elif f.scalar:
                w(f'    k.bytes({ga}, {ha}, ({n}) * sizeof(*{ga}), {path});')
            else:
                w(f'    for (uint64_t i = 0; i < {n}; ++i) {self.cmp_elem(f, ga + "[i]", ha + "[i]", path, sub)}')
            w('}')

    def mode_const(self, sub):
        return {VALID: 'CmpMode::Full', PARTIAL: 'CmpMode::Skeleton', 'reply': 'CmpMode::Reply',
                INVALID: 'CmpMode::Skeleton'}[sub]

    def cmp_elem(self, f: Field, ga, ha, path, sub) -> str:
        if f.scalar:
            return f'k.bytes(&{ga}, &{ha}, sizeof({ga}), {path});'
        if f.is_handle:
            if f.elem.dispatchable:
                return f'k.eq(venus::protocol::guest_object_id({ga}), reinterpret_cast<uint64_t>({ha}), {path});'
            return f'k.eq(reinterpret_cast<uint64_t>({ga}), reinterpret_cast<uint64_t>({ha}), {path});'
        if f.is_union:
            return f'k.bytes(&{ga}, &{ha}, sizeof({ga}), {path});'
        return f'cmp_{f.elem.name}(k, {ga}, {ha}, {self.mode_const(sub)});'

    # ------------------------------------------------------------------ structs
    def emit_struct(self, w: Writer, name: str):
        ty = self.reg.types[name]
        fl = self.p.fields(name)
        body = [f for f in fl if f.name not in ('sType', 'pNext')] if ty.stype else fl
        if ty.category == 'union':
            return
        need = self.p.need
        for mode in (RAND, SKEL, FILL):
            if mode == RAND and name not in need['encode']:
                continue
            if mode == SKEL and name not in need['partial']:
                continue
            if mode == FILL and name not in need['reply']:
                continue
            sig = f'{name}& v, int depth' if mode != FILL else f'{name}& v'
            if ty.stype:
                w.open(f'void {mode}_{name}_self(Gen& g, {sig})')
                if mode != FILL:
                    w('(void)depth;')
                self.emit_rand_fields(w, name, body, 'v.', mode)
                w.close()
                w()
                w.open(f'void {mode}_{name}(Gen& g, {sig})')
                if mode != FILL:
                    w(f'v.sType = {ty.stype};')
                    w(f'v.pNext = {mode}_chain_{name}(g, depth);')
                    w(f'{mode}_{name}_self(g, v, depth);')
                else:
                    w('fill_chain(g, v.pNext);')
                    w(f'fill_{name}_self(g, v);')
                w.close()
                w()
                if mode != FILL:
                    self.emit_chain_builder(w, name, mode)
            else:
                w.open(f'void {mode}_{name}(Gen& g, {sig})')
                if mode != FILL:
                    w('(void)depth;')
                self.emit_rand_fields(w, name, fl, 'v.', mode)
                w.close()
                w()
        # comparison (all modes in one function)
        if ty.stype:
            w.open(f'void cmp_{name}_self(Checker& k, const {name}& g, const {name}& h, CmpMode m)')
            self.emit_cmp_body(w, name, body)
            w.close()
            w()
            w.open(f'void cmp_{name}(Checker& k, const {name}& g, const {name}& h, CmpMode m)')
            w(f'k.eq(g.sType, h.sType, "{name}.sType");')
            w('cmp_chain(k, g.pNext, h.pNext, m);')
            w(f'cmp_{name}_self(k, g, h, m);')
            w.close()
            w()
        else:
            w.open(f'void cmp_{name}(Checker& k, const {name}& g, const {name}& h, CmpMode m)')
            self.emit_cmp_body(w, name, fl)
            w.close()
            w()

    def emit_cmp_body(self, w, name, fields_list):
        w('switch (m) {')
        for mode, label in ((VALID, 'Full'), (PARTIAL, 'Skeleton'), ('reply', 'Reply')):
            w(f'case CmpMode::{label}: {{')
            w.depth += 1
            self.emit_cmp_fields(w, name, fields_list, 'g.', 'h.', mode)
            w('break;')
            w.close()
        w('}')

    def emit_chain_builder(self, w: Writer, name: str, mode: str):
        chain = self.p.pnext.get(name, [])
        kind = 'encode' if mode == RAND else 'partial'
        chain = [c for c in chain if c in self.p.need[kind]]
        w.open(f'void* {mode}_chain_{name}(Gen& g, int depth)')
        if chain:
            w(f'static const int kCandidates = {len(chain)};')
            w('VkBaseOutStructure* head = nullptr;')
            w('const int count = depth > 2 ? 0 : static_cast<int>(g.u32() % 3);')
            w('int picked[2] = {-1, -1};')
            w('for (int i = 0; i < count; ++i) {')
            w('    int which = static_cast<int>(g.u32() % kCandidates);')
            w('    if (which == picked[0] || which == picked[1]) continue;')
            w('    picked[i] = which;')
            w('    VkBaseOutStructure* s = nullptr;')
            w('    switch (which) {')
            for i, ext in enumerate(chain):
                w(f'    case {i}: {{ auto* e = g.alloc<{ext}>(1); e->sType = {self.reg.types[ext].stype}; '
                  f'{mode}_{ext}_self(g, *e, depth + 1); s = reinterpret_cast<VkBaseOutStructure*>(e); break; }}')
            w('    default: break;')
            w('    }')
            w('    s->pNext = head;')
            w('    head = s;')
            w('}')
            w('return head;')
        else:
            w('(void)g; (void)depth;')
            w('return nullptr;')
        w.close()
        w()

    # ------------------------------------------------------------------ chains (dispatch by sType)
    def emit_chain_dispatch(self, w: Writer):
        chain_structs = sorted({e for v in self.p.pnext.values() for e in v if e in self.p.structs})
        w.open('void fill_chain(Gen& g, const void* p)')
        w('for (auto* s = static_cast<const VkBaseInStructure*>(p); s; s = s->pNext) {')
        w('    void* m = const_cast<VkBaseInStructure*>(s);')
        w('    switch (static_cast<int32_t>(s->sType)) {')
        for e in chain_structs:
            if e in self.p.need['reply']:
                w(f'    case {self.reg.types[e].stype}: fill_{e}_self(g, *static_cast<{e}*>(m)); break;')
        w('    default: break;')
        w('    }')
        w('}')
        w.close()
        w()
        w.open('void cmp_chain(Checker& k, const void* gp, const void* hp, CmpMode m)')
        w('auto* g = static_cast<const VkBaseInStructure*>(gp);')
        w('auto* h = static_cast<const VkBaseInStructure*>(hp);')
        w('for (; g && h; g = g->pNext, h = h->pNext) {')
        w('    k.eq(static_cast<int32_t>(g->sType), static_cast<int32_t>(h->sType), "pNext sType");')
        w('    if (g->sType != h->sType) return;')
        w('    switch (static_cast<int32_t>(g->sType)) {')
        for e in chain_structs:
            w(f'    case {self.reg.types[e].stype}: cmp_{e}_self(k, *reinterpret_cast<const {e}*>(g), '
              f'*reinterpret_cast<const {e}*>(h), m); break;')
        w('    default: k.fail("pNext: unexpected sType"); break;')
        w('    }')
        w('}')
        w('k.same_presence(g, h, "pNext chain length");')
        w.close()
        w()

    # ------------------------------------------------------------------ commands
    def emit_command(self, w: Writer, cmd):
        p = self.p
        name = cmd.name
        fl = p.fields(name)
        args = f'venus::protocol::host::{name}_args'
        w.open(f'static void rand_{name}(Gen& g, {args}& c)')
        w('const int depth = 0;')
        w('(void)depth;')
        # inputs and in/out counts
        self.emit_rand_fields(w, name, fl, 'c.', RAND, is_command=True, cmd=cmd)
        w.close()
        w()
        w.open(f'static void skel_{name}(Gen& g, {args}& c)')
        w('const int depth = 0;')
        w('(void)depth;')
        for f in fl:
            validity = p.param_validity(cmd, f)
            if self.param_out(f) and validity != VALID:
                self.emit_skeleton(w, name, f, {x.name: x for x in fl}, 'c.', validity)
        w('(void)g; (void)c;')
        w.close()
        w()
        w.open(f'static void fill_{name}(Gen& g, {args}& a)')
        if cmd.ret != 'void':
            w(f'a.ret = static_cast<{cmd.ret}>(g.{"u64" if self.codec.ret_wire(cmd) == "u64" else "i32"}());')
        for f in fl:
            if self.param_out(f):
                self.emit_fill(w, name, f, {x.name: x for x in fl}, 'a.', p.len_referenced(name), True)
        w('(void)g; (void)a;')
        w.close()
        w()
        w.open(f'static void cmp_request_{name}(Checker& k, const {args}& g, const {args}& h)')
        self.emit_cmp_fields(w, name, fl, 'g.', 'h.', VALID, cmd=cmd)
        w.close()
        w()
        w.open(f'static void cmp_reply_{name}(Checker& k, const {args}& g, const {args}& h)')
        if cmd.ret != 'void':
            w(f'k.eq(g.ret, h.ret, "{name} result");')
        self.emit_cmp_fields(w, name, fl, 'g.', 'h.', 'reply', cmd=cmd)
        w.close()
        w()
        params = ', '.join(f'c.{f.name}' for f in fl)
        sep = ', ' if params else ''
        w.open(f'void request_{name}(Harness& h, std::vector<uint8_t>& out)')
        w(f'{args} c{{}};')
        w(f'rand_{name}(h.gen, c);')
        w(f'skel_{name}(h.gen, c);')
        w(f'const size_t size = venus::protocol::guest::sizeof_{name}(h.caps{sep}{params});')
        w('out.assign(size, 0);')
        w('venus::protocol::Encoder e(out.data(), out.size(), &h.caps);')
        w(f'venus::protocol::guest::encode_{name}(e, 0{sep}{params});')
        w.close()
        w()
        w.open(f'void run_{name}(Harness& h)')
        w(f'{args} c{{}};')
        w(f'rand_{name}(h.gen, c);')
        w(f'skel_{name}(h.gen, c);')
        w(f'const size_t size = venus::protocol::guest::sizeof_{name}(h.caps{sep}{params});')
        w('auto& e = h.request_encoder(size);')
        w(f'venus::protocol::guest::encode_{name}(e, VK_COMMAND_GENERATE_REPLY_BIT_EXT{sep}{params});')
        w('h.check_request_size(size, e.size());')
        w(f'{args} a{{}};')
        w('auto& d = h.request_decoder();')
        w(f'h.expect_header(d, {p.cmd_id[name]});')
        w(f'venus::protocol::host::decode_{name}(d, a);')
        w('h.check_consumed(d);')
        w(f'cmp_request_{name}(h.checker, c, a);')
        w(f'fill_{name}(h.gen, a);')
        w('auto& r = h.reply_encoder();')
        w(f'venus::protocol::host::encode_{name}_reply(r, a);')
        w(f'const size_t reply_size = venus::protocol::guest::sizeof_{name}_reply(h.caps{sep}{params});')
        w('h.check_reply_size(reply_size, r.size());')
        w('auto& rd = h.reply_decoder();')
        if cmd.ret != 'void':
            w(f'c.ret = venus::protocol::guest::decode_{name}_reply(rd{sep}{params});')
        else:
            w(f'venus::protocol::guest::decode_{name}_reply(rd{sep}{params});')
        w('h.check_consumed(rd);')
        w(f'cmp_reply_{name}(h.checker, c, a);')
        w.close()
        w()

    # ------------------------------------------------------------------ files
    def header(self) -> str:
        w = Writer()
        w(BANNER)
        w('#pragma once')
        w('#include "protocol/guest_codec.h"')
        w('#include "protocol/host_codec.h"')
        w('#include "testgen_support.h"')
        w()
        w('namespace venus::testgen {')
        w()
        for name in self.wanted():
            ty = self.reg.types[name]
            if ty.category == 'union':
                continue
            for mode, kind in ((RAND, 'encode'), (SKEL, 'partial'), (FILL, 'reply')):
                if name not in self.p.need[kind]:
                    continue
                sig = f'{name}& v, int depth' if mode != FILL else f'{name}& v'
                w(f'void {mode}_{name}(Gen& g, {sig});')
                if ty.stype:
                    w(f'void {mode}_{name}_self(Gen& g, {sig});')
                    if mode == RAND:
                        w(f'void* rand_chain_{name}(Gen& g, int depth);')
                    elif mode == SKEL:
                        w(f'void* skel_chain_{name}(Gen& g, int depth);')
            w(f'void cmp_{name}(Checker& k, const {name}& g, const {name}& h, CmpMode m);')
            if ty.stype:
                w(f'void cmp_{name}_self(Checker& k, const {name}& g, const {name}& h, CmpMode m);')
        w('void fill_chain(Gen& g, const void* p);')
        w('void cmp_chain(Checker& k, const void* gp, const void* hp, CmpMode m);')
        w()
        for cmd in self.p.commands:
            w(f'void run_{cmd.name}(Harness& h);')
            w(f'void request_{cmd.name}(Harness& h, std::vector<uint8_t>& out);')
        w()
        w('struct CommandCase {')
        w('    uint32_t id;')
        w('    const char* name;')
        w('    void (*run)(Harness&);')
        w('    void (*request)(Harness&, std::vector<uint8_t>&);')
        w('};')
        w('extern const CommandCase kCommandCases[];')
        w('extern const size_t kCommandCaseCount;')
        w()
        w('}  // namespace venus::testgen')
        return w.text()

    def sources(self) -> list[str]:
        writers = [Writer() for _ in range(self.shards)]
        for w in writers:
            w(BANNER)
            w('#include "testgen/testgen.h"')
            w()
            w('namespace venus::testgen {')
            w()
        # keep unions' structs ordering irrelevant: everything is declared in the header
        for name in self.wanted():
            if self.reg.types[name].category == 'union':
                continue
            self.emit_struct(writers[shard_of(name, self.shards)], name)
        for cmd in self.p.commands:
            self.emit_command(writers[shard_of(cmd.name, self.shards)], cmd)
        w0 = writers[0]
        self.emit_chain_dispatch(w0)
        w0('const CommandCase kCommandCases[] = {')
        for cmd in self.p.commands:
            w0(f'    {{{self.p.cmd_id[cmd.name]}, "{cmd.name}", run_{cmd.name}, request_{cmd.name}}},')
        w0('};')
        w0(f'const size_t kCommandCaseCount = {len(self.p.commands)};')
        w0()
        for w in writers:
            w('}  // namespace venus::testgen')
        return [w.text() for w in writers]


def emit(p: Protocol, shards: int) -> dict:
    t = TestGenEmitter(p, shards)
    files = {'testgen/testgen.h': t.header()}
    for i, text in enumerate(t.sources()):
        files[f'testgen/testgen_{i}.cpp'] = text
    return files
