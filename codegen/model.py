"""The Venus wire model: which commands and types exist, and how each variable is encoded.

Terminology used throughout the generator:

* A *field* is a struct member or a command parameter together with its wire shape.
* *Shapes*: `value` (plain member), `static` (fixed-size C array), `ptr` (pointer to one
  element, sent as a u64 presence marker then the element), `dyn` (pointer to `count`
  elements, sent as a u64 count then the elements), `string` (NUL-terminated char*),
  `strings` (array of strings), `blob` (void* with a byte length), `pnext` (extension chain).
* *Validity* of a field in a request (the rules of partial structs, §4.7 of venus-protocol.md):
  `VALID` fields are sent in full; `PARTIAL` ones (handles and structs that are outputs) are
  sent as a skeleton (handle ids, sType/pNext chains, counts); `INVALID` ones (pure outputs)
  are sent as a presence marker or an element count only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from registry import PRIMITIVES, Command, Registry, Type, Var

VALID, PARTIAL, INVALID = 'valid', 'partial', 'invalid'

# Unions without a discriminator: the tag the guest always uses (§4.6).
UNION_DEFAULT_TAGS = {
    'VkClearColorValue': 2,
    'VkClearValue': 0,
    'VkDeviceOrHostAddressKHR': 0,
    'VkDeviceOrHostAddressConstKHR': 0,
    'VkPipelineExecutableStatisticValueKHR': 2,
}

# Arrays that are only meaningful under a condition of their struct; the guest sends them
# only then (the pointer may be garbage otherwise, as the Vulkan spec allows).
CONDITIONAL_ARRAYS = {
    ('VkBufferCreateInfo', 'pQueueFamilyIndices'): '{v}sharingMode == VK_SHARING_MODE_CONCURRENT',
    ('VkImageCreateInfo', 'pQueueFamilyIndices'): '{v}sharingMode == VK_SHARING_MODE_CONCURRENT',
    ('VkPhysicalDeviceImageDrmFormatModifierInfoEXT', 'pQueueFamilyIndices'):
        '{v}sharingMode == VK_SHARING_MODE_CONCURRENT',
    ('VkFramebufferCreateInfo', 'pAttachments'):
        '!({v}flags & VK_FRAMEBUFFER_CREATE_IMAGELESS_BIT)',
}

# Structs never serialized (they carry host pointers or callbacks).
UNSERIALIZABLE_STRUCTS = {'VkBaseInStructure', 'VkBaseOutStructure', 'VkAllocationCallbacks'}


@dataclass
class Field:
    var: Var
    owner: str                      # struct or command name
    shape: str                      # value static ptr dyn string strings blob pnext opaque
    elem: Optional[Type] = None     # canonical element type (None for pnext/blob/opaque)
    scalar: Optional[str] = None    # wire scalar kind for scalar elements: u32 i32 f32 u64 i64 f64 u8 u16 size
    static_n: int = 0
    count: Optional['Expr'] = None  # dyn/strings/blob: element count expression
    condition: Optional[str] = None
    index: int = 0

    @property
    def name(self) -> str:
        return self.var.name

    @property
    def is_handle(self) -> bool:
        return self.elem is not None and self.elem.category == 'handle'

    @property
    def is_struct(self) -> bool:
        return self.elem is not None and self.elem.category == 'struct'

    @property
    def is_union(self) -> bool:
        return self.elem is not None and self.elem.category == 'union'

    @property
    def is_scalar(self) -> bool:
        return self.scalar is not None


class Expr:
    """A length expression over sibling fields, e.g. `codeSize / 4` or `pInfo->count`."""

    TOKEN = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(?:->[A-Za-z_][A-Za-z0-9_]*)*|\d+|[()+\-*/ ]')

    def __init__(self, text: str, siblings: dict, reg: Registry):
        self.text = text
        self.refs = []          # sibling fields referenced (first path component)
        self.parts = []         # ('lit', str) | ('ref', name, rest_path)
        pos = 0
        for m in self.TOKEN.finditer(text):
            if m.start() != pos:
                raise ValueError(f'cannot parse length "{text}"')
            pos = m.end()
            tok = m.group(0)
            if tok[0].isalpha() or tok[0] == '_':
                head, _, rest = tok.partition('->')
                if head in siblings:
                    self.parts.append(('ref', head, rest))
                    if head not in self.refs:
                        self.refs.append(head)
                elif head in reg.constants:
                    self.parts.append(('lit', str(reg.constant_int(head))))
                else:
                    raise ValueError(f'unknown name "{head}" in length "{text}"')
            else:
                self.parts.append(('lit', tok))
        if pos != len(text):
            raise ValueError(f'cannot parse length "{text}"')

    def render(self, fields: dict, prefix: str) -> str:
        """C++ for the count; pointer fields are dereferenced with a NULL guard."""
        out = []
        for p in self.parts:
            if p[0] == 'lit':
                out.append(p[1])
                continue
            _, head, rest = p
            f = fields[head]
            ref = f'{prefix}{head}'
            # every operand is widened first: counts come from the other side and must not overflow
            if rest:
                path = rest.replace('->', '.')
                out.append(f'({ref} ? static_cast<uint64_t>({ref}->{rest}) : 0)' if f.var.ptr_depth
                           else f'static_cast<uint64_t>({ref}.{path})')
            elif f.var.ptr_depth:
                out.append(f'({ref} ? static_cast<uint64_t>(*{ref}) : 0)')
            else:
                out.append(f'static_cast<uint64_t>({ref})')
        text = ''.join(out).strip()
        return f'static_cast<uint64_t>({text})'

    @property
    def is_plain_ref(self) -> bool:
        return len(self.parts) == 1 and self.parts[0][0] == 'ref' and not self.parts[0][2]


class Unsupported(Exception):
    pass


class Protocol:
    """Everything the emitters need, derived from the registry and our protocol tables."""

    def __init__(self, reg: Registry, command_ids: dict, extensions: list):
        self.reg = reg
        self.command_ids = command_ids              # canonical Venus name -> (id, [aliases])
        self.extension_names = extensions           # extensions the protocol serves
        self.skipped_commands = {}                  # name -> reason
        self.commands: list[Command] = []           # supported, sorted by id
        self.cmd_id: dict[str, int] = {}
        self.cmd_all_names: dict[str, list] = {}    # vk.xml name -> all names with that id
        self.structs: dict[str, Type] = {}          # canonical struct/union name -> Type
        self.pnext: dict[str, list] = {}            # struct -> [extending structs]
        self.struct_gate: dict[str, tuple] = {}     # struct -> (api_version or None, [ext numbers])
        self.fields_cache: dict[str, list] = {}
        self.need: dict[str, set] = {k: set() for k in
                                     ('encode', 'partial', 'reply')}
        self._build()

    # ------------------------------------------------------------------ building
    def _build(self):
        reg = self.reg
        served = [reg.extensions[n] for n in self.extension_names if n in reg.extensions]
        self.served_extensions = sorted(served, key=lambda e: e.number)
        core_types = set()
        self.type_version = {}
        for feat in reg.features:
            for t in feat.types:
                c = reg.canonical_type(t)
                core_types.add(c)
                self.type_version.setdefault(c, feat.version)
        ext_types = {}
        served_names = {e.name for e in self.served_extensions}
        # gate per type: a list of alternatives, each a list of extension numbers that must all
        # be known (a type of extension A that also needs extension B gates on A && B)
        for ext in self.served_extensions:
            for t in ext.types:
                ext_types.setdefault(reg.canonical_type(t), []).append([ext.number])
            for t, other in ext.conditional_types.items():
                if other in served_names:
                    ext_types.setdefault(reg.canonical_type(t), []).append(
                        [ext.number, reg.extensions[other].number])
        self.core_types = core_types
        self.ext_types = ext_types

        # commands: every id of our table that the registry (vk.xml + MESA) defines
        for venus_name, (cid, aliases) in sorted(self.command_ids.items(), key=lambda kv: kv[1][0]):
            cname = None
            for n in [venus_name] + aliases:
                cname = reg.canonical_command(n)
                if cname:
                    break
            if cname is None:
                self.skipped_commands[venus_name] = 'not defined by vk.xml %d' % reg.header_version
                continue
            cmd = reg.commands[cname]
            try:
                self._check_command(cmd)
            except Unsupported as e:
                self.skipped_commands[cname] = str(e)
                continue
            self.commands.append(cmd)
            self.cmd_id[cname] = cid
            names = [cname] + [a for a in cmd.aliases] + [a for a in aliases if a != cname]
            names = [n for i, n in enumerate(names) if n not in names[:i]]
            self.cmd_all_names[cname] = names

        # struct closure: dependencies of commands + extension chains of served structs
        work = []
        for cmd in self.commands:
            for p in cmd.params:
                work.append(p.type_name)
        self._closure(work)

        # gates for extension structs (§4.5)
        for name in self.structs:
            ver = self.type_version.get(name)
            exts = ext_types.get(name, [])
            if ver is not None and ver <= (1, 2):
                self.struct_gate[name] = (None, [])     # always known
            else:
                self.struct_gate[name] = (ver, exts)

        self._compute_needs()

    def _closure(self, work):
        reg = self.reg
        allowed_chain = self.core_types | set(self.ext_types)
        while work:
            tname = reg.canonical_type(work.pop())
            if tname in self.structs:
                continue
            ty = reg.types.get(tname)
            if ty is None or ty.category not in ('struct', 'union'):
                continue
            if tname in UNSERIALIZABLE_STRUCTS:
                continue
            self.structs[tname] = ty
            for m in ty.members:
                work.append(m.type_name)
            if ty.stype:
                chain = []
                for other in reg.types.values():
                    if other.alias_of or other.category != 'struct' or not other.struct_extends:
                        continue
                    if other.name not in allowed_chain:
                        continue
                    parents = {reg.canonical_type(p) for p in other.struct_extends}
                    if tname in parents and self._struct_serializable(other):
                        chain.append(other.name)
                        work.append(other.name)
                self.pnext[tname] = sorted(chain, key=lambda n: reg.enum_values.get(
                    reg.types[n].stype, 0))

    def _struct_serializable(self, ty: Type, seen=None) -> bool:
        if ty.name in UNSERIALIZABLE_STRUCTS:
            return False
        seen = seen or set()
        if ty.name in seen:
            return True
        seen.add(ty.name)
        try:
            for m in ty.members:
                if m.name == 'pNext':
                    continue
                self.field(ty.name, m, dry=True, seen=seen)
        except Unsupported:
            return False
        return True

    def _check_command(self, cmd: Command):
        if cmd.ret not in ('void', 'VkResult', 'uint32_t', 'uint64_t', 'VkDeviceAddress',
                           'VkDeviceSize', 'VkBool32'):
            raise Unsupported(f'return type {cmd.ret} cannot be serialized')
        for p in cmd.params:
            self.field(cmd.name, p, dry=True, params=cmd.params)

    # ------------------------------------------------------------------ fields
    def scalar_kind(self, tname: str) -> Optional[str]:
        reg = self.reg
        tname = reg.canonical_type(tname)
        ty = reg.types.get(tname)
        if ty is None:
            return None
        if ty.category == 'primitive':
            return {'uint8_t': 'u8', 'int8_t': 'u8', 'uint16_t': 'u16', 'int16_t': 'u16',
                    'uint32_t': 'u32', 'int32_t': 'i32', 'float': 'f32', 'uint64_t': 'u64',
                    'int64_t': 'i64', 'double': 'f64', 'size_t': 'size'}.get(tname)
        if ty.category == 'enum':
            return 'u64' if ty.bitwidth == 64 else 'i32'
        if ty.category in ('bitmask', 'basetype'):
            if ty.underlying is None:
                return None
            return self.scalar_kind(ty.underlying)
        return None

    def field(self, owner: str, v: Var, dry=False, params=None, seen=None) -> Field:
        reg = self.reg
        tname = reg.canonical_type(v.type_name)
        ty = reg.types.get(tname)
        if v.bitfield:
            raise Unsupported(f'{owner}.{v.name}: bit-field members cannot be serialized')
        f = Field(var=v, owner=owner, shape='value')
        if v.name == 'pNext':
            f.shape = 'pnext'
            return f
        scalar = self.scalar_kind(tname)
        siblings = {p.name: p for p in (params if params is not None else
                                          (reg.types[owner].members if owner in reg.types else []))}
        if v.dims:
            if len(v.dims) != 1:
                raise Unsupported(f'{owner}.{v.name}: multi-dimensional arrays')
            f.shape = 'static'
            f.static_n = reg.constant_int(v.dims[0])
        elif v.ptr_depth == 0:
            f.shape = 'value'
        elif v.ptr_depth == 1:
            if tname == 'char' and v.lens and v.lens[0] == 'null-terminated':
                f.shape = 'string'
            elif tname == 'void':
                if v.lens:
                    f.shape = 'blob'
                elif v.is_optional():
                    f.shape = 'opaque'
                    return f
                else:
                    raise Unsupported(f'{owner}.{v.name}: untyped pointer without a length')
            elif v.lens:
                f.shape = 'dyn'
            else:
                f.shape = 'ptr'
        elif v.ptr_depth == 2 and tname == 'char' and v.lens and v.lens[-1] == 'null-terminated' \
                and len(v.lens) == 2:
            f.shape = 'strings'
        else:
            if v.is_optional():
                f.shape = 'opaque'
                return f
            raise Unsupported(f'{owner}.{v.name}: {v.ptr_depth}-level pointer')

        if f.shape in ('dyn', 'blob', 'strings'):
            if len(v.lens) > 1 and f.shape != 'strings':
                raise Unsupported(f'{owner}.{v.name}: nested dynamic arrays')
            try:
                f.count = Expr(v.lens[0], siblings, reg)
            except ValueError as e:
                raise Unsupported(f'{owner}.{v.name}: {e}')
        f.condition = CONDITIONAL_ARRAYS.get((owner, v.name))

        if f.shape in ('string', 'strings', 'blob'):
            return f
        if ty is None:
            raise Unsupported(f'{owner}.{v.name}: unknown type {tname}')
        if scalar is not None:
            f.scalar = scalar
            f.elem = ty
            if ty.category == 'primitive' and tname not in PRIMITIVES:
                raise Unsupported(f'{owner}.{v.name}: type {tname}')
            return f
        if ty.category == 'handle':
            f.elem = ty
            return f
        if ty.category in ('struct', 'union'):
            if tname in UNSERIALIZABLE_STRUCTS:
                if f.shape == 'ptr' and v.is_optional():
                    f.shape = 'opaque'
                    return f
                raise Unsupported(f'{owner}.{v.name}: {tname} cannot be serialized')
            if ty.category == 'union':
                self._check_union(ty)
            if dry and not self._struct_serializable(ty, seen):
                if f.shape == 'ptr' and v.is_optional():
                    f.shape = 'opaque'
                    return f
                raise Unsupported(f'{owner}.{v.name}: {tname} cannot be serialized')
            f.elem = ty
            return f
        if tname == 'char' and f.shape == 'static':
            f.scalar = 'u8'
            f.elem = reg.types['uint8_t'] if 'uint8_t' in reg.types else ty
            return f
        raise Unsupported(f'{owner}.{v.name}: type {tname} ({ty.category})')

    def _check_union(self, ty: Type):
        has_selection = all(m.selection for m in ty.members)
        if not has_selection and ty.name not in UNION_DEFAULT_TAGS:
            raise Unsupported(f'union {ty.name} has neither selectors nor a default tag')

    def fields(self, owner: str) -> list:
        """Fields of a struct (members) or command (params), cached."""
        if owner in self.fields_cache:
            return self.fields_cache[owner]
        if owner in self.reg.commands:
            cmd = self.reg.commands[owner]
            out = [self.field(owner, p, params=cmd.params) for p in cmd.params]
        else:
            ty = self.reg.types[owner]
            out = [self.field(owner, m) for m in ty.members]
        for i, f in enumerate(out):
            f.index = i
        self.fields_cache[owner] = out
        return out

    # ------------------------------------------------------------------ validity
    def len_referenced(self, owner: str) -> set:
        """Names of fields that give the length of another field of the same owner."""
        out = set()
        for f in self.fields(owner):
            if f.count is not None and f.shape != 'static':
                out.update(f.count.refs)
        return out

    def param_is_out(self, cmd: Command, f: Field) -> bool:
        return f.var.ptr_depth > 0 and not f.var.is_const and f.shape not in ('opaque',)

    def param_validity(self, cmd: Command, f: Field) -> str:
        if not self.param_is_out(cmd, f):
            return VALID
        if f.name in self.len_referenced(cmd.name):
            return VALID        # in/out count
        return self._out_validity(f)

    def member_validity(self, owner: str, f: Field, partial: bool) -> str:
        if not partial:
            return VALID
        if f.name in self.len_referenced(owner):
            return VALID
        return self._out_validity(f)

    @staticmethod
    def _out_validity(f: Field) -> str:
        if f.shape == 'pnext':
            return PARTIAL
        if f.is_handle or f.is_struct:
            return PARTIAL
        return INVALID

    def param_in_reply(self, cmd: Command, f: Field) -> bool:
        return self.param_is_out(cmd, f)

    # ------------------------------------------------------------------ needs
    def _compute_needs(self):
        """Which struct variants each side needs: full encode, partial encode, reply."""
        for cmd in self.commands:
            for f in self.fields(cmd.name):
                if f.elem is None or f.elem.category not in ('struct', 'union'):
                    continue
                validity = self.param_validity(cmd, f)
                if validity == VALID:
                    self._mark('encode', f.elem.name)
                elif validity == PARTIAL:
                    self._mark('partial', f.elem.name)
                if self.param_in_reply(cmd, f):
                    self._mark('reply', f.elem.name)

    def _mark(self, kind: str, name: str):
        if name in self.need[kind] or name not in self.structs:
            return
        self.need[kind].add(name)
        for f in self.fields(name):
            if f.elem is not None and f.elem.category in ('struct', 'union'):
                sub = kind
                if kind == 'partial' and self.member_validity(name, f, True) == VALID:
                    sub = 'encode'
                if kind == 'partial' and self.member_validity(name, f, True) == INVALID:
                    continue
                self._mark(sub, f.elem.name)
        for ext in self.pnext.get(name, []):
            self._mark(kind, ext)

    # ------------------------------------------------------------------ queries
    def dispatch_kind(self, cmd: Command) -> str:
        """global, instance, physical_device, device (by the first parameter)."""
        if not cmd.params:
            return 'global'
        first = self.reg.canonical_type(cmd.params[0].type_name)
        return {'VkInstance': 'instance', 'VkPhysicalDevice': 'physical_device',
                'VkDevice': 'device', 'VkQueue': 'device', 'VkCommandBuffer': 'device'}.get(first, 'global')

    def object_type(self, handle: Type) -> str:
        if handle.object_type:
            return handle.object_type
        name = re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', handle.name[2:]).upper()
        return 'VK_OBJECT_TYPE_' + name

    def gate_expr(self, name: str, caps: str) -> Optional[str]:
        ver, exts = self.struct_gate.get(name, (None, []))
        conds = []
        if ver is not None:
            conds.append(f'{caps}.has_api_version({ver[0]}, {ver[1]})')
        for alternative in exts:
            conds.append(' && '.join(f'{caps}.has_extension({num})' for num in alternative))
        if not conds:
            return None
        return ' || '.join(conds)


def load_command_ids(path: str) -> dict:
    out = {}
    with open(path) as fh:
        for line in fh:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            note = None
            if '!' in line:
                line, note = [s.strip() for s in line.split('!', 1)]
            parts = line.split()
            cid, name, aliases = int(parts[0]), parts[1], parts[2:]
            if note == 'removed':
                continue
            out[name] = (cid, aliases)
    return out


def load_list(path: str) -> list:
    out = []
    with open(path) as fh:
        for line in fh:
            line = line.split('#', 1)[0].strip()
            if line:
                out.append(line)
    return out
