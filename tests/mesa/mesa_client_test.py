#!/usr/bin/env python3
"""Mesa's own Venus driver (a guest driver nobody here wrote) against our renderer.

Each check runs a program natively on the host driver and through Mesa's venus ICD + our
renderer in the same test, and compares the results byte for byte.

    mesa_client_test.py MODE --server BIN --mesa-icd JSON --native-icd JSON [--demo BIN] \
        [--server-env K=V ...] [--server-arg ARG ...] [--socket PATH] --out DIR
MODE: vulkaninfo | compute | triangle | cube

The renderer is venus-server (BIN), or — the VM path — upstream virglrenderer's vtest server
with venus-render-server (BIN) as its render server:
    --virgl-server VIRGL_TEST_SERVER [--virgl-lib DIR] --render-server-via env|bind-mount
`env` sets RENDER_SERVER_EXEC_PATH (virglrenderer >= 1.0); `bind-mount` runs the vtest server
in a private mount namespace with our binary mounted over /usr/libexec/virgl_render_server
(virglrenderer 0.10.x, whose path is fixed at build time; needs root).
--socket: the vtest socket (Mesa <= 23.0 only knows /tmp/.virgl_test); default a private one.
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


RENDER_SERVER_PATH_0_10 = '/usr/libexec/virgl_render_server'


class Server:
    def __init__(self, binary, extra_env, workdir, socket=None, extra_args=(), virgl=None):
        self.socket = socket or os.path.join(workdir, 'vtest.sock')
        self.log_path = os.path.join(workdir, 'server.log')
        env = dict(os.environ)
        env.update(extra_env)
        if os.path.exists(self.socket):
            os.unlink(self.socket)  # a previous run's; Mesa 22.3 would connect to a dead socket
        if virgl:
            env['VENUS_LOG'] = 'debug'
            if virgl.lib:
                env['LD_LIBRARY_PATH'] = virgl.lib + (':' + env['LD_LIBRARY_PATH'] if env.get('LD_LIBRARY_PATH') else '')
            # 0.10.x serves Venus in-process unless told --render-server; >= 1.0 always uses
            # the render server for Venus and no longer knows the option
            old = virgl.server == '/usr/bin/virgl_test_server'  # Debian's 0.10.x
            vtest = [virgl.server, '--venus'] + (['--render-server'] if virgl.via == 'bind-mount' or old else []) + [
                '--use-egl-surfaceless', f'--socket-path={self.socket}']
            if virgl.via in ('env', 'own'):
                if virgl.via == 'env':
                    env['RENDER_SERVER_EXEC_PATH'] = binary
                else:
                    env.pop('RENDER_SERVER_EXEC_PATH', None)
                cmd = vtest
            else:
                if os.geteuid() != 0:
                    fail('--render-server-via bind-mount needs root (unshare -m, mount --bind)')
                if not os.path.exists(RENDER_SERVER_PATH_0_10):
                    fail(f'{RENDER_SERVER_PATH_0_10} is missing: install virgl-server / libvirglrenderer1')
                script = (f'mount --make-rprivate / && mount --bind {binary} {RENDER_SERVER_PATH_0_10} && '
                          'exec "$@"')
                cmd = ['unshare', '-m', 'sh', '-c', script, 'sh'] + vtest
        else:
            cmd = [binary, '--socket-path', self.socket, '-v'] + list(extra_args)
        print('+', ' '.join(cmd), flush=True)
        self.log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        for _ in range(2000):
            if os.path.exists(self.socket):
                return
            if self.proc.poll() is not None:
                fail('the server exited at start-up:\n' + self.text())
            time.sleep(0.01)
        fail('the server did not create its socket')

    def text(self):
        with open(self.log_path) as fh:
            return fh.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail('the server did not stop on SIGTERM')
        self.log.close()
        return rc


def run(cmd, env, what, cwd, expect_error=None):
    print('+', ' '.join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120 if expect_error else 600)
    except subprocess.TimeoutExpired:
        fail(f'{what} hung')
    print(p.stdout, flush=True)
    if expect_error:
        if p.returncode == 0:
            fail(f'{what} succeeded; expected it to fail saying "{expect_error}"')
        if expect_error not in p.stdout:
            fail(f'{what} failed without saying "{expect_error}"')
        return p.stdout
    if p.returncode != 0:
        fail(f'{what} exited with {p.returncode}')
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['vulkaninfo', 'compute', 'triangle', 'cube', 'timeline'])
    ap.add_argument('--guest-env', action='append', default=[], help='K=V for the program through the stack')
    ap.add_argument('--asan-preload', help='libasan.so, preloaded into programs that load a sanitized guest driver')
    ap.add_argument('--server', required=True)
    ap.add_argument('--mesa-icd', required=True)
    ap.add_argument('--native-icd', required=True)
    ap.add_argument('--demo')
    ap.add_argument('--server-env', action='append', default=[])
    ap.add_argument('--server-arg', action='append', default=[])
    ap.add_argument('--socket')
    ap.add_argument('--virgl-server')
    ap.add_argument('--virgl-lib')
    ap.add_argument('--render-server-via', choices=['env', 'bind-mount', 'own'], default='env',
                    help='own: virglrenderer\'s own render server (for comparison)')
    ap.add_argument('--guest', choices=['mesa', 'venus-cpp'], default='mesa',
                    help='whose guest driver --mesa-icd names (checks that the device is Mesa\'s are for mesa)')
    ap.add_argument('--expect-guest-error', help='the program fails through the stack, saying this')
    ap.add_argument('--expect-log', action='append', default=[],
                    help='text the server log must contain afterwards')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()

    if not os.path.exists(args.mesa_icd):
        fail(f'{args.mesa_icd} is missing: scripts/fetch-mesa-venus.sh did not run (fixture mesa.fetch)')
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    workdir = tempfile.mkdtemp(prefix='venus-mesa-')
    server_env = dict(kv.split('=', 1) for kv in args.server_env)
    virgl = None
    if args.virgl_server:
        if not os.path.exists(args.virgl_server):
            fail(f'{args.virgl_server} is missing (its fixture did not run?)')
        virgl = argparse.Namespace(server=args.virgl_server, lib=args.virgl_lib, via=args.render_server_via)
    server = Server(args.server, server_env, workdir, socket=args.socket, extra_args=args.server_arg, virgl=virgl)

    native_env = dict(os.environ, VK_DRIVER_FILES=args.native_icd)
    venus_env = dict(os.environ, VK_DRIVER_FILES=args.mesa_icd, VN_DEBUG='vtest', VTEST_SOCKET_NAME=server.socket)
    venus_env.update(dict(kv.split('=', 1) for kv in args.guest_env))
    if args.asan_preload:
        # a program without sanitizers (vulkaninfo) loading the sanitized guest driver
        venus_env['LD_PRELOAD'] = args.asan_preload
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
            if args.guest == 'mesa' and not re.search(r'driverName\s*=\s*venus', venus):
                fail('the device is not driven by Mesa venus')
            print(f'OK: {args.guest} lists "{m.group(1).strip()}"')
        elif args.mode == 'timeline':
            # no output to compare: the program checks itself (exit 1 when a round timed out)
            for label, env in (('native', native_env), ('venus', venus_env)):
                text = run([args.demo, '--rounds', '40'], env, f'timeline ({label})', args.out)
                print(f'OK ({label}): ' + text.strip().splitlines()[-1])
        elif args.expect_guest_error:
            run([args.demo, '--out', os.path.join(args.out, f'{args.mode}-venus.out')], venus_env,
                f'{args.mode} (venus)', args.out, expect_error=args.expect_guest_error)
            print(f'OK: {args.mode} failed at the call, saying "{args.expect_guest_error}"')
        else:
            outs = []
            for label, env in (('native', native_env), ('venus', venus_env)):
                out = os.path.join(args.out, f'{args.mode}-{label}.out')
                text = run([args.demo, '--out', out], env, f'{args.mode} ({label})', args.out)
                if label == 'venus' and args.guest == 'mesa' and 'venus' not in text:
                    fail('the demo did not run on Mesa venus')
                outs.append(out)
            with open(outs[0], 'rb') as a, open(outs[1], 'rb') as b:
                da, db = a.read(), b.read()
            if not da:
                fail('empty native output')
            if da != db:
                diff = next((i for i in range(min(len(da), len(db))) if da[i] != db[i]), min(len(da), len(db)))
                fail(f'outputs differ ({len(da)} vs {len(db)} bytes, first difference at byte {diff})')
            print(f'OK: {len(da)} bytes identical natively and through {args.guest} + ' + ('virgl_test_server + venus-render-server' if virgl else 'venus-server'))
    finally:
        rc = server.stop()
        log = server.text()
        print('---- server log (tail) ----')
        print('\n'.join(log.splitlines()[-25:]))
        shutil.rmtree(workdir, ignore_errors=True)
    if virgl and virgl.via == 'own':
        pass
    elif virgl:
        # upstream's vtest server has no clean shutdown on SIGTERM; what matters is that our
        # render server served every context and none of them failed
        if 'venus-render-server' not in log:
            fail('the vtest server did not start venus-render-server as its render server')
        for bad in ('venus-render-server error', 'venus-render-server warn'):
            if bad in log:
                fail('venus-render-server complained:\n' + '\n'.join(l for l in log.splitlines() if bad in l))
    elif rc != 0:
        fail(f'venus-server exited with {rc}')
    for text in args.expect_log:
        if text not in log:
            fail(f'the server log does not say "{text}"')
    if 'fatal:' in log:
        fail('a context went fatal:\n' + '\n'.join(l for l in log.splitlines() if 'fatal' in l))
    for hidden in server_env.get('VENUS_HIDE_EXTENSIONS', '').split(','):
        if hidden and f'hiding host extensions' not in log:
            fail('the server did not hide the extensions it was asked to')


if __name__ == '__main__':
    main()
