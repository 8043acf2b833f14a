#!/usr/bin/env python3
"""venus-cpp code generator.

Reads the Vulkan registry (vk.xml) and our protocol tables (protocol/) and writes the C++
codec, dispatch tables and entry points into the build tree. Nothing it writes is committed.

    venus_gen.py --vk-xml /usr/share/vulkan/registry/vk.xml --protocol protocol --out build/gen

With --list it prints the files it would write (CMake uses this at configure time); with
--summary it prints what it generated and what it left out, and why.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from registry import Registry  # noqa: E402
from model import Protocol, load_command_ids, load_list  # noqa: E402
from emit_codec import CodecEmitter  # noqa: E402
from emit_defs import emit_defs  # noqa: E402
import emit_dispatch  # noqa: E402
import emit_renderer  # noqa: E402
import emit_fast_path  # noqa: E402
import emit_icd  # noqa: E402
import emit_testgen  # noqa: E402

SHARDS = {'guest': 6, 'host': 6, 'renderer': 4, 'icd': 3, 'testgen': 6}


def outputs() -> list[str]:
    files = ['protocol/venus_defs.h', 'protocol/venus_defs.cpp',
             'protocol/guest_codec.h', 'protocol/host_codec.h']
    files += [f'protocol/guest_codec_{i}.cpp' for i in range(SHARDS['guest'])]
    files += [f'protocol/host_codec_{i}.cpp' for i in range(SHARDS['host'])]
    files += emit_dispatch.outputs()
    files += emit_renderer.outputs(SHARDS['renderer'])
    files += emit_fast_path.outputs()
    files += emit_icd.outputs(SHARDS['icd'])
    files += emit_testgen.outputs(SHARDS['testgen'])
    return files


def write_if_changed(path: str, text: str):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path) as fh:
            if fh.read() == text:
                return
    except FileNotFoundError:
        pass
    tmp = path + '.tmp'
    with open(tmp, 'w') as fh:
        fh.write(text)
    os.replace(tmp, path)


def load_protocol(vk_xml: str, protocol_dir: str) -> tuple[Protocol, dict]:
    reg = Registry.parse([vk_xml, os.path.join(protocol_dir, 'venus_mesa.xml')])
    ids = load_command_ids(os.path.join(protocol_dir, 'venus_commands.txt'))
    exts = load_list(os.path.join(protocol_dir, 'venus_extensions.txt'))
    missing = [e for e in exts if e not in reg.extensions]
    if missing:
        raise SystemExit(f'venus_extensions.txt names extensions vk.xml does not define: {missing}')
    return Protocol(reg, ids, exts), ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--vk-xml', default='/usr/share/vulkan/registry/vk.xml')
    ap.add_argument('--protocol', required=True, help='the protocol/ directory of the source tree')
    ap.add_argument('--out', help='output directory')
    ap.add_argument('--list', action='store_true', help='print the output file names and exit')
    ap.add_argument('--summary', action='store_true', help='print what is generated and skipped')
    args = ap.parse_args()

    if args.list:
        print(';'.join(outputs()), end='')
        return 0

    proto, ids = load_protocol(args.vk_xml, args.protocol)
    if args.summary:
        print(f'vk.xml header version {proto.reg.header_version}')
        print(f'{len(proto.commands)} commands with generated codecs, {len(proto.structs)} structs/unions')
        print(f'{len(proto.served_extensions)} extensions served')
        for name, why in proto.skipped_commands.items():
            print(f'  skipped {name}: {why}')
    if not args.out:
        return 0

    files = {}
    files['protocol/venus_defs.h'], files['protocol/venus_defs.cpp'] = emit_defs(proto, ids)
    codec = CodecEmitter(proto, SHARDS['guest'])
    files['protocol/guest_codec.h'] = codec.guest_header()
    for i, text in enumerate(codec.sources('guest')):
        files[f'protocol/guest_codec_{i}.cpp'] = text
    codec = CodecEmitter(proto, SHARDS['host'])
    files['protocol/host_codec.h'] = codec.host_header()
    for i, text in enumerate(codec.sources('host')):
        files[f'protocol/host_codec_{i}.cpp'] = text
    files.update(emit_dispatch.emit(proto))
    files.update(emit_renderer.emit(proto, SHARDS['renderer']))
    files.update(emit_fast_path.emit(proto))
    files.update(emit_icd.emit(proto, SHARDS['icd']))
    files.update(emit_testgen.emit(proto, SHARDS['testgen']))

    expected = set(outputs())
    if set(files) != expected:
        raise SystemExit(f'generator output mismatch: {sorted(set(files) ^ expected)}')
    for rel, text in files.items():
        write_if_changed(os.path.join(args.out, rel), text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
