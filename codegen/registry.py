"""Reads the Vulkan registry (vk.xml) and our own Venus additions into a small model.

Only what the Venus wire format needs is kept: types with their members, commands with their
parameters, API constants, core versions, extensions and the `structextends` relations.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Optional

# Scalar types with their in-memory size; every scalar takes 4 or 8 bytes on the wire.
PRIMITIVES = {
    'uint8_t': 1, 'int8_t': 1, 'uint16_t': 2, 'int16_t': 2,
    'uint32_t': 4, 'int32_t': 4, 'float': 4,
    'uint64_t': 8, 'int64_t': 8, 'double': 8, 'size_t': 8,
}


@dataclass
class Var:
    """A struct member or a command parameter, as declared in C."""
    name: str
    type_name: str
    ptr_depth: int = 0            # number of '*'
    is_const: bool = False        # 'const' anywhere in the declaration
    dims: list = field(default_factory=list)   # static array dimensions (strings)
    bitfield: Optional[str] = None
    lens: list = field(default_factory=list)   # len expressions, outermost first
    optional: list = field(default_factory=list)  # per pointer level
    noautovalidity: bool = False
    values: Optional[str] = None  # sType value for sType members
    selector: Optional[str] = None
    selection: list = field(default_factory=list)
    stride: Optional[str] = None  # name of the parameter giving the element stride

    def is_optional(self) -> bool:
        return bool(self.optional) and self.optional[0]


@dataclass
class Type:
    name: str
    category: str                 # basetype bitmask handle enum struct union funcpointer define include primitive
    members: list = field(default_factory=list)
    alias_of: Optional[str] = None
    struct_extends: list = field(default_factory=list)
    returned_only: bool = False
    stype: Optional[str] = None
    dispatchable: bool = False
    underlying: Optional[str] = None   # basetype/bitmask typedef target
    bitwidth: int = 32                 # enums
    parent: Optional[str] = None       # handles
    object_type: Optional[str] = None  # handles: VK_OBJECT_TYPE_*
    aliases: list = field(default_factory=list)
    private: bool = False              # from our own XML


@dataclass
class Command:
    name: str
    ret: str
    params: list
    aliases: list = field(default_factory=list)
    private: bool = False
    success_codes: list = field(default_factory=list)


@dataclass
class Extension:
    name: str
    number: int
    ext_type: str
    supported: list
    spec_version: int = 1
    platform: Optional[str] = None
    types: list = field(default_factory=list)
    commands: list = field(default_factory=list)
    # types that exist only when another extension is also enabled:
    # type name -> the other extension (<require extension="..."> blocks)
    conditional_types: dict = field(default_factory=dict)
    promoted_to: Optional[str] = None
    requires: list = field(default_factory=list)


@dataclass
class Feature:
    name: str
    number: str
    types: list = field(default_factory=list)
    commands: list = field(default_factory=list)

    @property
    def version(self) -> tuple:
        major, minor = self.number.split('.')
        return int(major), int(minor)


class Registry:
    def __init__(self):
        self.types: dict[str, Type] = {}
        self.commands: dict[str, Command] = {}
        self.command_alias: dict[str, str] = {}
        self.constants: dict[str, str] = {}
        self.enum_values: dict[str, int] = {}
        self.enum_members: dict[str, list] = {}   # enum type name -> member names
        self.features: list[Feature] = []
        self.extensions: dict[str, Extension] = {}
        self.header_version = 0

    # ------------------------------------------------------------------ parsing
    @staticmethod
    def parse(paths: list[str]) -> 'Registry':
        reg = Registry()
        for i, path in enumerate(paths):
            reg._parse_file(path, private=i > 0)
        reg._resolve()
        return reg

    def _parse_file(self, path: str, private: bool):
        root = ET.parse(path).getroot()
        for section in root:
            if section.tag == 'types':
                for t in section.findall('type'):
                    self._parse_type(t, private)
            elif section.tag == 'enums':
                self._parse_enums(section)
            elif section.tag == 'commands':
                for c in section.findall('command'):
                    self._parse_command(c, private)
            elif section.tag == 'feature':
                if 'vulkan' in section.attrib.get('api', 'vulkan').split(','):
                    self._parse_feature(section)
            elif section.tag == 'extensions':
                for e in section.findall('extension'):
                    self._parse_extension(e)

    def _parse_type(self, t, private):
        cat = t.attrib.get('category')
        name = t.attrib.get('name') or (t.find('name').text if t.find('name') is not None else None)
        if name is None:
            return
        if 'alias' in t.attrib:
            self.types[name] = Type(name, cat or 'alias', alias_of=t.attrib['alias'], private=private)
            return
        if cat is None:
            if name in PRIMITIVES or name in ('void', 'char', 'int'):
                self.types[name] = Type(name, 'primitive')
            else:
                self.types[name] = Type(name, 'external')   # platform types (Display, HANDLE ...)
            return
        ty = Type(name, cat, private=private)
        if cat == 'define' and name == 'VK_HEADER_VERSION':
            m = re.search(r'VK_HEADER_VERSION\s+(\d+)', self._decl_text(t))
            if m:
                self.header_version = int(m.group(1))
        if cat == 'basetype':
            u = t.find('type')
            ty.underlying = u.text if u is not None else None
        elif cat == 'bitmask':
            u = t.find('type')
            ty.underlying = u.text if u is not None else 'VkFlags'
        elif cat == 'handle':
            ty.dispatchable = t.find('type').text == 'VK_DEFINE_HANDLE'
            ty.parent = t.attrib.get('parent')
            ty.object_type = t.attrib.get('objtypeenum')
        elif cat in ('struct', 'union'):
            ty.returned_only = t.attrib.get('returnedonly') == 'true'
            if 'structextends' in t.attrib:
                ty.struct_extends = t.attrib['structextends'].split(',')
            for m in t.findall('member'):
                if 'vulkan' not in m.attrib.get('api', 'vulkan').split(','):
                    continue
                v = self._parse_var(m)
                ty.members.append(v)
                if v.name == 'sType' and v.values:
                    ty.stype = v.values
        self.types[name] = ty

    @staticmethod
    def _decl_text(elem) -> str:
        parts = []
        if elem.text:
            parts.append(elem.text)
        for child in elem:
            if child.tag == 'comment':
                if child.tail:
                    parts.append(child.tail)
                continue
            parts.append(child.text or '')
            if child.tail:
                parts.append(child.tail)
        return ''.join(parts).strip()

    def _parse_var(self, elem) -> Var:
        text = self._decl_text(elem)
        name = elem.find('name').text
        type_name = elem.find('type').text
        before, after = text.split(name, 1) if name in text else (text, '')
        # 'before' holds qualifiers and the type; count pointer levels there only
        v = Var(name=name, type_name=type_name)
        v.ptr_depth = before.count('*')
        v.is_const = 'const' in before
        v.dims = re.findall(r'\[([^\]]*)\]', after)
        m = re.search(r':\s*(\d+)', after)
        if m:
            v.bitfield = m.group(1)
        a = elem.attrib
        lenattr = a.get('altlen') or a.get('len')
        if lenattr:
            v.lens = [s.strip() for s in self._split_len(lenattr)]
        if 'optional' in a:
            v.optional = [s == 'true' for s in a['optional'].split(',')]
        v.noautovalidity = a.get('noautovalidity') == 'true'
        v.values = a.get('values')
        v.selector = a.get('selector')
        if 'selection' in a:
            v.selection = a['selection'].split(',')
        v.stride = a.get('stride')
        return v

    @staticmethod
    def _split_len(s: str) -> list:
        # split on commas that are not inside brackets (latexmath never reaches here: altlen wins)
        out, depth, cur = [], 0, ''
        for ch in s:
            if ch in '([':
                depth += 1
            elif ch in ')]':
                depth -= 1
            if ch == ',' and depth == 0:
                out.append(cur)
                cur = ''
            else:
                cur += ch
        out.append(cur)
        return out

    def _parse_enums(self, section):
        name = section.attrib.get('name')
        if name == 'API Constants':
            for e in section.findall('enum'):
                if 'value' in e.attrib:
                    self.constants[e.attrib['name']] = e.attrib['value']
                elif 'alias' in e.attrib:
                    self.constants[e.attrib['name']] = self.constants.get(e.attrib['alias'], '0')
            return
        ty = self.types.get(name)
        if ty is not None and section.attrib.get('bitwidth') == '64':
            ty.bitwidth = 64
        members = self.enum_members.setdefault(name, [])
        for e in section.findall('enum'):
            ename = e.attrib['name']
            if 'value' in e.attrib:
                self.enum_values[ename] = int(e.attrib['value'], 0)
            elif 'bitpos' in e.attrib:
                self.enum_values[ename] = 1 << int(e.attrib['bitpos'])
            elif 'alias' in e.attrib:
                continue
            members.append(ename)

    def _parse_command(self, c, private):
        if 'alias' in c.attrib:
            self.command_alias[c.attrib['name']] = c.attrib['alias']
            return
        proto = c.find('proto')
        name = proto.find('name').text
        ret = proto.find('type').text
        params = [self._parse_var(p) for p in c.findall('param')
                  if 'vulkan' in p.attrib.get('api', 'vulkan').split(',')]
        cmd = Command(name, ret, params, private=private)
        cmd.success_codes = c.attrib.get('successcodes', '').split(',') if c.attrib.get('successcodes') else []
        self.commands[name] = cmd

    def _parse_requires(self, elem, ext_number, types, commands, conditional=None):
        for req in elem.findall('require'):
            if 'vulkan' not in req.attrib.get('api', 'vulkan').split(','):
                continue
            other = req.attrib.get('extension')
            for t in req.findall('type'):
                if other and conditional is not None:
                    conditional[t.attrib['name']] = other
                else:
                    types.append(t.attrib['name'])
            for c in req.findall('command'):
                commands.append(c.attrib['name'])
            for e in req.findall('enum'):
                self._parse_extension_enum(e, ext_number)

    def _parse_extension_enum(self, e, ext_number):
        name = e.attrib['name']
        extends = e.attrib.get('extends')
        if extends is None:
            if 'value' in e.attrib and name.endswith('_SPEC_VERSION'):
                self.constants[name] = e.attrib['value']
            return
        if 'offset' in e.attrib:
            num = int(e.attrib.get('extnumber', ext_number))
            value = 1000000000 + (num - 1) * 1000 + int(e.attrib['offset'])
            if e.attrib.get('dir') == '-':
                value = -value
        elif 'bitpos' in e.attrib:
            value = 1 << int(e.attrib['bitpos'])
        elif 'value' in e.attrib:
            value = int(e.attrib['value'], 0)
        else:
            return   # alias
        self.enum_values[name] = value
        members = self.enum_members.setdefault(extends, [])
        if name not in members:
            members.append(name)

    def _parse_feature(self, f):
        feat = Feature(f.attrib['name'], f.attrib['number'])
        self._parse_requires(f, None, feat.types, feat.commands)
        self.features.append(feat)

    def _parse_extension(self, e):
        supported = e.attrib.get('supported', '').split(',')
        number = int(e.attrib['number'])
        ext = Extension(e.attrib['name'], number, e.attrib.get('type', ''), supported,
                        platform=e.attrib.get('platform'), promoted_to=e.attrib.get('promotedto'))
        if e.attrib.get('requires'):
            ext.requires = e.attrib['requires'].split(',')
        if 'vulkan' in supported:
            self._parse_requires(e, number, ext.types, ext.commands, ext.conditional_types)
        spec = self.constants.get(f'{ext.name.upper()}_SPEC_VERSION')
        for req in e.findall('require'):
            for en in req.findall('enum'):
                if en.attrib['name'].endswith('_SPEC_VERSION') and 'value' in en.attrib:
                    spec = en.attrib['value']
        if spec is not None:
            try:
                ext.spec_version = int(spec)
            except ValueError:
                ext.spec_version = 1
        self.extensions[ext.name] = ext

    def _resolve(self):
        for name, ty in list(self.types.items()):
            if ty.alias_of:
                target = self.canonical_type(name)
                self.types[target].aliases.append(name)
        for alias, target in self.command_alias.items():
            while target in self.command_alias:
                target = self.command_alias[target]
            if target in self.commands:
                self.commands[target].aliases.append(alias)

    # ------------------------------------------------------------------ queries
    def canonical_type(self, name: str) -> str:
        seen = 0
        while name in self.types and self.types[name].alias_of:
            name = self.types[name].alias_of
            seen += 1
            assert seen < 10, name
        return name

    def type(self, name: str) -> Type:
        return self.types[self.canonical_type(name)]

    def canonical_command(self, name: str) -> Optional[str]:
        if name in self.commands:
            return name
        if name in self.command_alias:
            target = self.command_alias[name]
            while target in self.command_alias:
                target = self.command_alias[target]
            return target if target in self.commands else None
        return None

    def constant_int(self, name: str) -> int:
        if name.isdigit():
            return int(name)
        val = self.constants[name]
        val = val.strip('()').rstrip('UuLlFf')
        return int(val, 0)
