#!/usr/bin/env python3
"""venus-doctor against this host, a real venus-server, and fake vtest servers.

    doctor_test.py CASE --doctor BIN --server BIN [--icd JSON]

Every case runs the doctor and checks its exit code and that its output names the cause; a case
never skips. The fake servers speak vtest (venus-protocol.md §2.6) from the Python standard
library and announce what a given renderer would (virglrenderer 0.10.4's wire format 0, no
blob_id 0, protocol 2, no timelines, a server that drops blobs or stops answering).
"""

import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HIDE_FD = 'VK_KHR_external_memory_fd,VK_EXT_external_memory_dma_buf'
HIDE_ALL = HIDE_FD + ',VK_EXT_external_memory_host'


def fail(msg):
    print(f'FAIL: {msg}', flush=True)
    sys.exit(1)


class Doctor:
    def __init__(self, binary, icd):
        self.binary = binary
        self.env = dict(os.environ)
        for k in ('VENUS_HIDE_EXTENSIONS', 'VENUS_MEMORY_STRATEGY', 'VENUS_BLOB_ALIGNMENT', 'VTEST_SOCKET_NAME',
                  'VENUS_LOG', 'VK_ICD_FILENAMES'):
            self.env.pop(k, None)
        if icd:
            self.env['VK_DRIVER_FILES'] = icd

    def run(self, args, env=None, expect_rc=None, timeout=120):
        e = dict(self.env)
        e.update(env or {})
        shown = ' '.join(f'{k}={v}' for k, v in (env or {}).items())
        print(f'+ {shown} {self.binary} {" ".join(args)}', flush=True)
        p = subprocess.run([self.binary] + args, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        print(p.stdout, flush=True)
        if p.stderr:
            print('stderr:', p.stderr, flush=True)
        if expect_rc is not None and p.returncode != expect_rc:
            fail(f'venus-doctor exited with {p.returncode}, expected {expect_rc}')
        return p.stdout

    def json(self, args, env=None, expect_rc=None):
        out = self.run(args + ['--json'], env, expect_rc)
        try:
            return json.loads(out)
        except json.JSONDecodeError as e:
            fail(f'--json output does not parse: {e}')


def flat(text):
    return ' '.join(text.split())


def expect(text, *needles):
    """Each needle appears in the output, whitespace (table columns, wrapped lines) aside."""
    body = flat(text)
    for n in needles:
        if flat(n) not in body:
            fail(f'the output lacks "{n}"')


def finding(j, ident):
    for f in j['diagnosis']:
        if f['id'] == ident:
            return f
    fail(f'no diagnosis "{ident}" in {[f["id"] for f in j["diagnosis"]]}')


def check_keys(obj, keys, where):
    for k in keys:
        if k not in obj:
            fail(f'{where} lacks the key "{k}"')


# ------------------------------------------------------------------------------------- servers

class VenusServer:
    def __init__(self, binary, workdir, env=None, args=()):
        self.socket = os.path.join(workdir, 'venus.sock')
        self.log_path = os.path.join(workdir, 'server.log')
        e = dict(os.environ)
        e.update(env or {})
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen([binary, '--socket-path', self.socket] + list(args), stdout=self.log,
                                     stderr=subprocess.STDOUT, env=e)
        for _ in range(2000):
            if os.path.exists(self.socket):
                return
            if self.proc.poll() is not None:
                fail('venus-server exited at start-up:\n' + open(self.log_path).read())
            time.sleep(0.01)
        fail('venus-server did not create its socket')

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        print('server log:\n' + open(self.log_path).read(), flush=True)


def capset_bytes(wire, xml, ser, venus, blob_id_0, size, ext_numbers, wait_syncs=1, multi_timelines=1):
    mask = [0] * 32
    for n in [0] + ext_numbers:
        mask[n // 32] |= 1 << (n % 32)
    raw = struct.pack('<5I', wire, xml, ser, venus, blob_id_0) + struct.pack('<32I', *mask) + \
        struct.pack('<3I', wait_syncs, multi_timelines, 0)
    return raw[:size]


def api(major, minor, patch):
    return (major << 22) | (minor << 12) | patch


class FakeServer(threading.Thread):
    """A vtest server that answers the handshake (§2.6) with what it is told to announce."""

    def __init__(self, path, protocol=3, timelines=64, capset=None, blob='memfd', hang=False):
        super().__init__(daemon=True)
        self.path, self.protocol, self.timelines, self.capset = path, protocol, timelines, capset
        self.blob, self.hang = blob, hang
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.held = []
        self.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hang:
                self.held.append(conn)  # accept, never answer
                continue
            try:
                self.serve(conn)
            except (OSError, ConnectionError):
                pass
            conn.close()

    @staticmethod
    def recv_exact(conn, n):
        buf = b''
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def serve(self, conn):
        res_id = 0
        while True:
            hdr = self.recv_exact(conn, 8)
            if hdr is None:
                return
            length, cmd = struct.unpack('<II', hdr)
            body = self.recv_exact(conn, length if cmd == 8 else 4 * length)
            if body is None:
                return
            w = struct.unpack(f'<{length}I', body) if cmd != 8 else ()
            if cmd == 8:          # CREATE_RENDERER: no reply
                pass
            elif cmd == 10:       # PING_PROTOCOL_VERSION
                conn.sendall(struct.pack('<II', 0, 10))
            elif cmd == 7:        # RESOURCE_BUSY_WAIT (the probe's dummy)
                conn.sendall(struct.pack('<III', 1, 7, 0))
            elif cmd == 11:       # PROTOCOL_VERSION
                conn.sendall(struct.pack('<III', 1, 11, min(w[0], self.protocol)))
            elif cmd == 15:       # GET_PARAM
                valid = 1 if w[0] == 1 else 0
                conn.sendall(struct.pack('<IIII', 2, 15, valid, self.timelines if valid else 0))
            elif cmd == 16:       # GET_CAPSET
                if self.capset is None:
                    conn.sendall(struct.pack('<III', 1, 16, 0))
                else:
                    conn.sendall(struct.pack('<III', 1 + len(self.capset) // 4, 16, 1) + self.capset)
            elif cmd == 17:       # CONTEXT_INIT: no reply
                pass
            elif cmd == 18:       # RESOURCE_CREATE_BLOB
                size = w[2] | (w[3] << 32)
                if self.blob == 'close':  # as upstream vtest does for an OPAQUE fd export
                    return
                res_id += 1
                fd = os.memfd_create('fake-vtest-blob')
                os.ftruncate(fd, size)
                conn.sendall(struct.pack('<III', 1, 18, res_id))
                socket.send_fds(conn, [b'\0'], [fd])
                os.close(fd)
            elif cmd in (3, 24):  # RESOURCE_UNREF, SUBMIT_CMD2: no reply
                pass
            else:
                return

    def stop(self):
        self.sock.close()
        for c in self.held:
            c.close()


def renderer_0_10_4(blob_id_0=1):
    """virglrenderer 0.10.4 (Debian 12), run with --venus --render-server unless blob_id_0=0."""
    return capset_bytes(0, api(1, 3, 228), 0, 100000, blob_id_0, 156, [82, 149, 384, 385, 999])


def renderer_like_ours(**kw):
    args = dict(wire=1, xml=api(1, 3, 239), ser=1, venus=2, blob_id_0=1, size=160, ext_numbers=[1, 9, 999])
    args.update(kw)
    return capset_bytes(**args)


# ------------------------------------------------------------------------------------- cases

def case_host_only(d, a, tmp):
    out = d.run(['--no-server'], expect_rc=0)
    expect(out, 'HOST', 'MEMORY', 'SERVER', 'DIAGNOSIS', 'llvmpipe', 'Vulkan loader',
           'VK_KHR_portability_enumeration', 'VK_EXT_external_memory_host', 'VK_KHR_timeline_semaphore',
           'host page 4096', 'minImportedHostPointerAlignment', 'VENUS_BLOB_ALIGNMENT 16384', 'memfd_create',
           'not checked: --no-server')
    expect(out, 'type 0 (heap 0)    host-pointer: DEVICE_LOCAL|HOST_VISIBLE|HOST_COHERENT|HOST_CACHED')
    expect(out, 'opaque-fd: the allocation starts 4096 bytes into the exported fd')
    expect(out, 'opaque-fd-offset', 'none needed with venus-server, which does not use that fd (type 0: host-pointer)')
    expect(out, 'RESULT: healthy')
    if 'FAIL ' in out:
        fail('a healthy host run reports a FAIL line')


def case_json(d, a, tmp):
    j = d.json(['--no-server'], expect_rc=0)
    check_keys(j, ['tool', 'healthy', 'exit_code', 'counts', 'host', 'server', 'checks', 'diagnosis'], 'the report')
    if j['healthy'] is not True or j['exit_code'] != 0:
        fail('the JSON report is not healthy')
    h = j['host']
    check_keys(h, ['config', 'loader_version', 'instance_extensions', 'portability_enumeration', 'devices', 'pages',
                   'memfd_create', 'renderer', 'sockets'], 'host')
    if 'VK_KHR_portability_enumeration' not in h['instance_extensions'] or not h['portability_enumeration']:
        fail('host.portability_enumeration is wrong')
    dev = h['devices'][0]
    check_keys(dev, ['name', 'driver_name', 'api_version', 'usable', 'extensions', 'memory'], 'host.devices[0]')
    if 'llvmpipe' not in dev['name'] or not dev['usable']:
        fail(f'device 0 is {dev["name"]}, usable={dev["usable"]}')
    for e in ('VK_KHR_external_memory_fd', 'VK_EXT_external_memory_dma_buf', 'VK_EXT_external_memory_host',
              'VK_KHR_external_semaphore_fd', 'VK_KHR_external_fence_fd', 'VK_KHR_timeline_semaphore'):
        check_keys(dev['extensions'][e], ['offered', 'hidden'], e)
    t0 = dev['memory']['types'][0]
    if t0['strategy'] != 'host-pointer' or '4096 bytes into the exported fd' not in t0['reason']:
        fail(f'memory type 0: {t0}')
    check_keys(h['pages'], ['host', 'guest', 'import_alignment', 'blob_alignment'], 'host.pages')
    if h['pages']['guest'] != 4096 or h['pages']['blob_alignment'] != 16384:
        fail(f'host.pages: {h["pages"]}')
    rc = h['renderer']['capset']
    if rc['wire_format_version'] != 1 or not rc['extensions'] or rc['extension_mask_valid'] is not True:
        fail(f'host.renderer.capset: {rc}')
    if j['server']['checked'] is not False:
        fail('server.checked with --no-server')
    if finding(j, 'opaque-fd-offset')['status'] != 'OK':
        fail('opaque-fd-offset is not OK')
    for c in j['checks']:
        check_keys(c, ['section', 'name', 'status', 'message', 'details'], 'a check')
        if c['status'] not in ('OK', 'WARN', 'FAIL'):
            fail(f'check status {c["status"]}')
    sections = {c['section'] for c in j['checks']}
    if sections != {'HOST', 'MEMORY', 'SERVER', 'VM'}:
        fail(f'sections {sections}')


def case_moltenvk_class(d, a, tmp):
    # No fd export, no host-pointer import: only shadow copies are left.
    out = d.run(['--no-server'], env={'VENUS_HIDE_EXTENSIONS': HIDE_ALL}, expect_rc=0)
    expect(out, 'no-fd-export', 'MoltenVK-class', 'VK_KHR_external_memory_fd hidden by VENUS_HIDE_EXTENSIONS',
           'imports no host pointer', 'shadow copies', 'type 0: shadow', 'no-coherent-memory')
    j = d.json(['--no-server'], env={'VENUS_HIDE_EXTENSIONS': HIDE_ALL}, expect_rc=0)
    if finding(j, 'no-fd-export')['status'] != 'WARN':
        fail('no-fd-export with shadow copies is not a WARN')
    if j['host']['devices'][0]['memory']['types'][0]['strategy'] != 'shadow':
        fail('type 0 is not shadowed')


def case_moltenvk_host_pointer(d, a, tmp):
    # No fd export, but host-pointer import: zero copy, nothing to do.
    out = d.run(['--no-server'], env={'VENUS_HIDE_EXTENSIONS': HIDE_FD}, expect_rc=0)
    expect(out, 'no-fd-export', 'MoltenVK-class', 'host-pointer strategy, zero copy', 'type 0: host-pointer')


def case_strategy_none(d, a, tmp):
    out = d.run(['--no-server'], env={'VENUS_MEMORY_STRATEGY': 'none'}, expect_rc=1)
    expect(out, 'FAIL  type 0 (heap 0)', 'no-strategy', 'VK_ERROR_MEMORY_MAP_FAILED',
           'every strategy is disabled (VENUS_MEMORY_STRATEGY=none)', 'unset VENUS_MEMORY_STRATEGY', 'NOT healthy')


def case_environment(d, a, tmp):
    out = d.run(['--no-server'], env={'VENUS_BLOB_ALIGNMENT': '2048'}, expect_rc=0)
    expect(out, 'page-size', 'VENUS_BLOB_ALIGNMENT 2048 is smaller than the host page 4096', '16 KiB on Apple Silicon',
           'aligns blobs to 4096')
    out = d.run(['--no-server'], env={'VENUS_BLOB_ALIGNMENT': '3000'}, expect_rc=1)
    expect(out, 'bad-environment', 'not a power of two')
    out = d.run(['--no-server'], env={'VENUS_FAST_PATH': 'maybe'}, expect_rc=1)
    expect(out, 'bad-environment', 'VENUS_FAST_PATH=maybe is not on or off')
    out = d.run(['--no-server'], env={'VENUS_MEMORY_STRATEGY': 'bogus'}, expect_rc=0)
    expect(out, 'WARN  environment', 'VENUS_MEMORY_STRATEGY=bogus is not a strategy', 'type 0 (heap 0) host-pointer')


def case_server(d, a, tmp):
    server = VenusServer(a.server, tmp)
    try:
        out = d.run(['--socket', server.socket], expect_rc=0)
        expect(out, 'OK    handshake', 'vtest protocol 4', 'MAX_TIMELINE_COUNT 64', 'from venus-server',
               'wire_format_version         1', 'vk_xml_version              1.3.239',
               'vk_ext_command_serialization_spec_version', 'vk_mesa_venus_protocol_spec_version',
               'supports_blob_id_0          1', 'vk_extension_mask1          valid', 'allow_vk_wait_syncs         1',
               'supports_multiple_timelines 1', 'use_guest_vram              0', 'OK    wire format',
               'OK    blob round trip', '/memfd:', 'OK    guest instance', 'vkCreateInstance VK_SUCCESS',
               '1 physical device', 'RESULT: healthy')
        out = d.run(['--socket', server.socket, '-v'], expect_rc=0)
        expect(out, 'capset exts', 'VK_KHR_external_memory_fd', 'VK_EXT_command_serialization')
        j = d.json(['--socket', server.socket], expect_rc=0)
        s = j['server']
        check_keys(s, ['checked', 'socket', 'connected', 'protocol_version', 'max_timelines', 'capset', 'expected',
                       'blob_round_trip', 'guest_instance'], 'server')
        c = s['capset']
        check_keys(c, ['wire_format_version', 'vk_xml_version', 'vk_ext_command_serialization_spec_version',
                       'vk_mesa_venus_protocol_spec_version', 'supports_blob_id_0', 'extension_mask_valid',
                       'extensions', 'unknown_extension_bits', 'allow_vk_wait_syncs', 'supports_multiple_timelines',
                       'use_guest_vram'], 'server.capset')
        if c['wire_format_version'] != 1 or c['vk_xml_version'] != '1.3.239' or c['supports_blob_id_0'] != 1:
            fail(f'server.capset: {c}')
        if 'VK_MESA_venus_protocol' not in c['extensions'] or c['unknown_extension_bits']:
            fail('the extension mask is not decoded into names')
        if not s['blob_round_trip']['ok'] or not s['guest_instance']['ok']:
            fail(f'blob {s["blob_round_trip"]}, guest {s["guest_instance"]}')
        if s['guest_instance']['physical_devices'] < 1 or s['guest_instance']['create_result'] != 0:
            fail(f'guest instance {s["guest_instance"]}')
        # guests find the server through VTEST_SOCKET_NAME; so does the doctor
        out = d.run([], env={'VTEST_SOCKET_NAME': server.socket}, expect_rc=0)
        expect(out, f'{server.socket} (VTEST_SOCKET_NAME)', 'OK    guest instance')
    finally:
        server.stop()


def case_server_wire0(d, a, tmp):
    # venus-server --wire-format 0 serves Mesa <= 23.0 and our driver; the doctor says Mesa >= 23.2
    # gives up there and what to run for it, and runs a guest instance in wire format 0.
    server = VenusServer(a.server, tmp, args=['--wire-format', '0'])
    try:
        out = d.run(['--socket', server.socket], expect_rc=0)
        expect(out, 'WARN  wire format', 'server 0: this guest driver and Mesa <= 23.0 pair with it',
               'wire-format-skew', 'venus-server --wire-format 0 (venus-cpp',
               'vk_mesa_venus_protocol_spec_version 100000', 'two venus-servers on two sockets',
               'OK    guest instance', 'vkCreateInstance VK_SUCCESS')
    finally:
        server.stop()


def fake_library(path, generation_1, render_server):
    # what venus-doctor reads in a libvirglrenderer: RENDER_SERVER_EXEC_PATH (>= 1.0 only) and
    # the render server path built in, both as C strings
    with open(path, 'wb') as fh:
        fh.write(b'\x7fELF fake libvirglrenderer\0')
        if generation_1:
            fh.write(b'RENDER_SERVER_EXEC_PATH\0')
        fh.write(render_server.encode() + b'\0')


def case_vm_paths(d, a, tmp):
    render_server = os.path.join(os.path.dirname(a.server), 'venus-render-server')
    if not os.access(render_server, os.X_OK):
        fail(f'{render_server} is missing')
    theirs = os.path.join(tmp, 'libexec', 'virgl_render_server')
    os.makedirs(os.path.dirname(theirs))
    with open(theirs, 'w') as fh:
        fh.write('#!/bin/sh\nexit 1\n')
    os.chmod(theirs, 0o755)
    new, old = os.path.join(tmp, 'new'), os.path.join(tmp, 'old')
    for lib_dir, gen1 in ((new, True), (old, False)):
        os.makedirs(lib_dir)
        fake_library(os.path.join(lib_dir, 'libvirglrenderer.so.1.9.0'), gen1, theirs)
        os.symlink('libvirglrenderer.so.1.9.0', os.path.join(lib_dir, 'libvirglrenderer.so.1'))

    # >= 1.0 with RENDER_SERVER_EXEC_PATH naming ours: OK
    env = {'LD_LIBRARY_PATH': new, 'RENDER_SERVER_EXEC_PATH': render_server}
    out = d.run(['--no-server'], env=env, expect_rc=0)
    expect(out, 'VM', 'virglrenderer >= 1.0', 'wire-format-1 capset', 'is venus-render-server',
           f'RENDER_SERVER_EXEC_PATH={render_server}')
    j = d.json(['--no-server'], env=env, expect_rc=0)
    libs = j['host']['vm']['libraries']
    mine = [l for l in libs if l['path'].startswith(new)]
    if len(mine) != 1 or mine[0]['generation'] != '1.x' or not mine[0]['render_server_is_venus_cpp'] \
            or mine[0]['wire_format'] != 1:
        fail(f'host.vm.libraries: {libs}')

    # >= 1.0 without it: its own render server, a warning that says how to switch
    out = d.run(['--no-server'], env={'LD_LIBRARY_PATH': new})
    expect(out, f'WARN  render server {theirs} is virglrenderer\'s own render server', 'dma-buf',
           'RENDER_SERVER_EXEC_PATH=$(command -v venus-render-server)')

    # 0.10.x: the path is built in, RENDER_SERVER_EXEC_PATH means nothing to it; bind-mount ours
    out = d.run(['--no-server'], env={'LD_LIBRARY_PATH': old, 'RENDER_SERVER_EXEC_PATH': render_server})
    expect(out, 'virglrenderer 0.10.x', 'wire-format-0 capset', 'Mesa <= 23.0',
           f'mount --bind $(command -v venus-render-server) {theirs}', '0.10.x has no RENDER_SERVER_EXEC_PATH')

    # a render server path that does not exist: FAIL
    os.unlink(theirs)
    d.run(['--no-server'], env={'LD_LIBRARY_PATH': new}, expect_rc=1)


def case_server_strategy_none(d, a, tmp):
    # The server's guests cannot map memory; the doctor, in the same environment, says why.
    server = VenusServer(a.server, tmp, {'VENUS_MEMORY_STRATEGY': 'none'})
    try:
        out = d.run(['--socket', server.socket], env={'VENUS_MEMORY_STRATEGY': 'none'}, expect_rc=1)
        expect(out, 'OK    guest instance', 'no-strategy', 'VENUS_MEMORY_STRATEGY=none')
    finally:
        server.stop()


def fake_case(d, tmp, expect_rc, needles, **server_args):
    path = os.path.join(tmp, 'fake.sock')
    fake = FakeServer(path, **server_args)
    try:
        out = d.run(['--socket', path, '--timeout', '3'], expect_rc=expect_rc)
        expect(out, *needles)
        return out
    finally:
        fake.stop()


def case_fake_wire0(d, a, tmp):
    # our driver speaks wire format 0 too, so the doctor goes on to a guest instance, which this
    # fake (no rings) never answers
    fake_case(d, tmp, 1, ['WARN  wire format', 'server 0: this guest driver and Mesa <= 23.0 pair with it',
                          'wire-format-skew', 'virglrenderer 0.10.4', 'Mesa >= 23.2', 'no devices', 'experimental',
                          'virglrenderer >= 1.0.0', 'vk_xml_version              1.3.228',
                          'use_guest_vram              absent (the capset is 156 bytes)',
                          'OK    blob round trip', 'server-refuses-blob-type', 'unknown bits: 999'],
              protocol=3, capset=renderer_0_10_4())


def case_fake_no_blob_id_0(d, a, tmp):
    fake_case(d, tmp, 1, ['blob-id-0-unsupported', 'supports_blob_id_0          0', 'no render server',
                          'virgl_test_server --venus --render-server'],
              protocol=3, capset=renderer_0_10_4(blob_id_0=0))


def case_fake_protocol2(d, a, tmp):
    fake_case(d, tmp, 1, ['protocol-too-old', 'vtest protocol 2', 'Venus needs 3'], protocol=2,
              capset=renderer_like_ours())


def case_fake_no_timelines(d, a, tmp):
    fake_case(d, tmp, 1, ['no-timelines', 'MAX_TIMELINE_COUNT 0', 'VIRGL_DISABLE_MT'], protocol=4, timelines=0,
              capset=renderer_like_ours())


def case_fake_no_capset(d, a, tmp):
    fake_case(d, tmp, 1, ['no-venus-capset', 'without --venus'], protocol=4, capset=None)


def case_fake_blob_dropped(d, a, tmp):
    fake_case(d, tmp, 1, ['FAIL  blob round trip', 'blob-refused', 'OPAQUE fd', 'only dma-buf and shm',
                          'shared-memory blobs do not work'],
              protocol=4, capset=renderer_like_ours(), blob='close')


def case_fake_hung(d, a, tmp):
    fake_case(d, tmp, 1, ['server-hung', 'did not answer within 3000 ms'], hang=True)


def case_no_server(d, a, tmp):
    nowhere = os.path.join(tmp, 'nothing-here.sock')
    out = d.run(['--socket', nowhere], expect_rc=1)
    expect(out, 'FAIL  socket', 'no-server', f'no server at {nowhere}: does not exist', 'start venus-server --socket-path')
    j = d.json(['--socket', nowhere], expect_rc=1)
    if finding(j, 'no-server')['status'] != 'FAIL' or j['server']['failed_step'] != 'connect':
        fail('no-server is not a FAIL at the connect step')
    # a socket file nobody listens on (a server that died)
    stale = os.path.join(tmp, 'stale.sock')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()
    out = d.run(['--socket', stale], expect_rc=1)
    expect(out, 'no-server', 'connection refused', 'stale socket')
    # a path that is not a socket at all
    plain = os.path.join(tmp, 'plain-file')
    open(plain, 'w').close()
    out = d.run(['--socket', plain], expect_rc=1)
    expect(out, 'no-server', 'exists but is not a socket')


def case_usage(d, a, tmp):
    d.run(['--no-such-option'], expect_rc=2)
    d.run(['--socket', '/tmp/x', '--no-server'], expect_rc=2)
    d.run(['--timeout', '0', '--no-server'], expect_rc=2)
    out = d.run(['--help'], expect_rc=0)
    expect(out, '--socket', '--no-server', '--json')


CASES = {name[len('case_'):]: fn for name, fn in globals().items() if name.startswith('case_')}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('case', choices=sorted(CASES))
    ap.add_argument('--doctor', required=True)
    ap.add_argument('--server', required=True)
    ap.add_argument('--icd')
    a = ap.parse_args()
    d = Doctor(a.doctor, a.icd)
    with tempfile.TemporaryDirectory(prefix='venus-doctor-') as tmp:
        CASES[a.case](d, a, tmp)
    print(f'OK: {a.case}', flush=True)


if __name__ == '__main__':
    main()
