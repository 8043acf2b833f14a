#!/usr/bin/env python3
"""Mesa's own Venus driver (a guest driver nobody here wrote) against venus-server.

Each check runs a program natively on the host driver and through Mesa's venus ICD + our
server in the same test, and compares the results byte for byte.

    mesa_client_test.py MODE --server BIN --mesa-icd JSON --native-icd JSON [--demo BIN] \
        [--server-env K=V ...] --out DIR
MODE: vulkaninfo | compute | triangle | cube
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def fail(msg):
    print(f'FAIL: {msg}', flush=True)
    sys.exit(1)


class Server:
    def __init__(self, binary, extra_env, workdir):
        self.socket = os.path.join(workdir, 'vtest.sock')
        self.log_path = os.path.join(workdir, 'server.log')
        env = dict(os.environ)
        env.update(extra_env)
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen([binary, '--socket-path', self.socket, '-v'], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        for _ in range(2000):
            if os.path.exists(self.socket):
                return
            if self.proc.poll() is not None:
                fail('venus-server exited at start-up:\n' + self.text())
            time.sleep(0.01)
        fail('venus-server did not create its socket')

    def text(self):
        with open(self.log_path) as fh:
            return fh.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail('venus-server did not stop on SIGTERM')
        self.log.close()
        return rc


def run(cmd, env, what, cwd):
    print('+', ' '.join(cmd), flush=True)
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=600)
    print(p.stdout, flush=True)
    if p.returncode != 0:
        fail(f'{what} exited with {p.returncode}')
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['vulkaninfo', 'compute', 'triangle', 'cube'])
    ap.add_argument('--server', required=True)
    ap.add_argument('--mesa-icd', required=True)
    ap.add_argument('--native-icd', required=True)
    ap.add_argument('--demo')
    ap.add_argument('--server-env', action='append', default=[])
    ap.add_argument('--out', required=True)
    args = ap.parse_args()

    if not os.path.exists(args.mesa_icd):
        fail(f'{args.mesa_icd} is missing: scripts/fetch-mesa-venus.sh did not run (fixture mesa.fetch)')
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    workdir = tempfile.mkdtemp(prefix='venus-mesa-')
    server_env = dict(kv.split('=', 1) for kv in args.server_env)
    server = Server(args.server, server_env, workdir)

    native_env = dict(os.environ, VK_DRIVER_FILES=args.native_icd)
    venus_env = dict(os.environ, VK_DRIVER_FILES=args.mesa_icd, VN_DEBUG='vtest', VTEST_SOCKET_NAME=server.socket)
    for k in ('VK_ICD_FILENAMES',):
        native_env.pop(k, None)
        venus_env.pop(k, None)
    try:
        if args.mode == 'vulkaninfo':
            native = run(['vulkaninfo', '--summary'], native_env, 'native vulkaninfo', args.out)
            venus = run(['vulkaninfo', '--summary'], venus_env, 'vulkaninfo through Mesa venus', args.out)
            name = re.search(r'deviceName\s*=\s*(.+)', native).group(1).strip()
            m = re.search(r'deviceName\s*=\s*(.+)', venus)
            if not m:
                fail('vulkaninfo through Mesa venus lists no device')
            if name not in m.group(1):
                fail(f'venus device "{m.group(1).strip()}" is not the host device "{name}"')
            if not re.search(r'driverName\s*=\s*venus', venus):
                fail('the device is not driven by Mesa venus')
            print(f'OK: Mesa venus lists "{m.group(1).strip()}"')
        else:
            outs = []
            for label, env in (('native', native_env), ('venus', venus_env)):
                out = os.path.join(args.out, f'{args.mode}-{label}.out')
                text = run([args.demo, '--out', out], env, f'{args.mode} ({label})', args.out)
                if label == 'venus' and 'venus' not in text:
                    fail('the demo did not run on Mesa venus')
                outs.append(out)
            with open(outs[0], 'rb') as a, open(outs[1], 'rb') as b:
                da, db = a.read(), b.read()
            if not da:
                fail('empty native output')
            if da != db:
                diff = next((i for i in range(min(len(da), len(db))) if da[i] != db[i]), min(len(da), len(db)))
                fail(f'outputs differ ({len(da)} vs {len(db)} bytes, first difference at byte {diff})')
            print(f'OK: {len(da)} bytes identical natively and through Mesa venus + venus-server')
    finally:
        rc = server.stop()
        log = server.text()
        print('---- server log (tail) ----')
        print('\n'.join(log.splitlines()[-25:]))
        shutil.rmtree(workdir, ignore_errors=True)
    if rc != 0:
        fail(f'venus-server exited with {rc}')
    if 'fatal:' in log:
        fail('a context went fatal:\n' + '\n'.join(l for l in log.splitlines() if 'fatal' in l))
    for hidden in server_env.get('VENUS_HIDE_EXTENSIONS', '').split(','):
        if hidden and f'hiding host extensions' not in log:
            fail('the server did not hide the extensions it was asked to')


if __name__ == '__main__':
    main()
