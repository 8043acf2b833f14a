#!/usr/bin/env python3
"""Runs the venus-cpp demo programs and checks what they produce (Python 3 standard library only).

    app_test.py compute    EXE OUTDIR [--count N]
    app_test.py triangle   EXE OUTDIR
    app_test.py cube       EXE OUTDIR
    app_test.py cube-no-depth EXE OUTDIR   # the cube checker must reject a depth-less picture
    app_test.py bad-device EXE OUTDIR      # --device 999 must fail with a message, exit 1
    app_test.py selftest                   # the checkers reject broken inputs

Every program runs with the environment ctest gives (VK_DRIVER_FILES selects the driver). Each
check either passes or exits 1 with the reason; nothing is skipped.
"""

import argparse
import math
import os
import re
import subprocess
import sys


class CheckFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


# ---- running programs --------------------------------------------------------------------------

def run(exe, args, expect_rc=0):
    cmd = [exe] + args
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    sys.stdout.write(proc.stdout)
    sys.stdout.write(proc.stderr)
    require(proc.returncode == expect_rc,
            "%s exited with %d, expected %d" % (os.path.basename(exe), proc.returncode, expect_rc))
    return proc.stdout, proc.stderr


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def check_reported_checksum(stdout, data, path):
    """The program's 'checksum: fnv1a64=...' line must match the file it wrote."""
    m = re.search(r"^checksum: fnv1a64=([0-9a-f]{16})$", stdout, re.M)
    require(m is not None, "no 'checksum: fnv1a64=<16 hex digits>' line in the output")
    actual = "%016x" % fnv1a64(data)
    require(m.group(1) == actual,
            "reported checksum %s differs from the checksum %s of %s" % (m.group(1), actual, path))
    require(re.search(r"^device: \S", stdout, re.M), "no 'device:' line in the output")
    require(re.search(r"^driver: \S", stdout, re.M), "no 'driver:' line in the output")


def read_file(path):
    require(os.path.isfile(path), "%s was not written" % path)
    with open(path, "rb") as f:
        return f.read()


# ---- compute -----------------------------------------------------------------------------------

M32 = 0xFFFFFFFF


def input_value(i):
    return ((i * 2654435761 + 12345) & M32) ^ (i >> 7)


def mix32(x, index):
    """Independent copy of demos/shaders/compute.comp."""
    h = x ^ ((index * 0x9E3779B9) & M32)
    for r in range(3 + (x & 3)):
        h ^= h >> 16
        h = (h * 0x7FEB352D) & M32
        h ^= h >> 15
        h = (h * 0x846CA68B) & M32
        h ^= h >> 16
        h = ((h << 5) | (h >> 27)) & M32
        h = (h + r * 0x632BE5AB) & M32
    return h


def check_compute_output(data, count):
    require(len(data) == 4 * count, "output has %d bytes, expected %d" % (len(data), 4 * count))
    if count <= 4096:
        indices = range(count)
    else:  # a spread of indices, every residue of the 64-wide workgroup, first and last
        indices = sorted(set(list(range(130)) + list(range(0, count, 997)) + list(range(count - 130, count))))
    for i in indices:
        got = int.from_bytes(data[4 * i:4 * i + 4], "little")
        want = mix32(input_value(i), i)
        require(got == want, "value %d is 0x%08x, expected 0x%08x" % (i, got, want))
    return len(indices)


def test_compute(exe, outdir, count):
    args = ["--count", str(count)] if count is not None else []
    count = count if count is not None else 1 << 20
    out = os.path.join(outdir, "compute-%d.bin" % count)
    args = ["--out", out] + args
    stdout, _ = run(exe, args)
    require(re.search(r"^verified: all %d values match" % count, stdout, re.M),
            "no 'verified: all %d values match' line" % count)
    data = read_file(out)
    checked = check_compute_output(data, count)
    check_reported_checksum(stdout, data, out)
    print("ok: %d values, %d of them recomputed here" % (count, checked))


# ---- images ------------------------------------------------------------------------------------

class Image:
    def __init__(self, width, height, rgb):
        self.width, self.height, self.rgb = width, height, rgb

    def px(self, x, y):
        o = (y * self.width + x) * 3
        return tuple(self.rgb[o:o + 3])

    def pixels(self):
        for y in range(self.height):
            for x in range(self.width):
                yield x, y, self.px(x, y)


def parse_ppm(data):
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    require(m is not None, "not a binary PPM (P6, maxval 255)")
    width, height = int(m.group(1)), int(m.group(2))
    rgb = data[m.end():]
    require(len(rgb) == width * height * 3,
            "PPM pixel data has %d bytes, expected %d" % (len(rgb), width * height * 3))
    return Image(width, height, rgb)


def check_border(img, background):
    for x in range(img.width):
        for y in (0, img.height - 1):
            require(img.px(x, y) == background, "border pixel (%d,%d) is %s, expected background %s"
                    % (x, y, img.px(x, y), background))
    for y in range(img.height):
        for x in (0, img.width - 1):
            require(img.px(x, y) == background, "border pixel (%d,%d) is %s, expected background %s"
                    % (x, y, img.px(x, y), background))


TRIANGLE_BACKGROUND = (32, 32, 64)


def near(value, target, tolerance):
    return abs(value - target) <= tolerance


def check_triangle(img):
    require((img.width, img.height) == (256, 256), "image is %dx%d, expected 256x256" % (img.width, img.height))
    check_border(img, TRIANGLE_BACKGROUND)
    # Vertices in pixels: red (128,32), green (224,224), blue (32,224).
    r, g, b = img.px(128, 44)
    require(r >= 225 and g <= 20 and b <= 20, "near the top vertex (128,44) is %s, expected red" % ((r, g, b),))
    r, g, b = img.px(214, 219)
    require(g >= 225 and r <= 25 and b <= 25, "near the bottom-right vertex (214,219) is %s, expected green" % ((r, g, b),))
    r, g, b = img.px(42, 219)
    require(b >= 225 and r <= 25 and g <= 25, "near the bottom-left vertex (42,219) is %s, expected blue" % ((r, g, b),))
    # Centre: half red, a quarter each of green and blue.
    r, g, b = img.px(128, 128)
    require(near(r, 128, 8) and near(g, 64, 8) and near(b, 64, 8),
            "centre (128,128) is %s, expected about (128,64,64)" % ((r, g, b),))
    # Just outside each edge: background.
    for x, y in ((80, 100), (176, 100), (128, 236)):
        require(img.px(x, y) == TRIANGLE_BACKGROUND, "(%d,%d) outside the triangle is %s, expected background"
                % (x, y, img.px(x, y)))
    # Every covered pixel is an interpolation of R, G and B: its channels sum to 255.
    covered = 0
    for x, y, p in img.pixels():
        if p == TRIANGLE_BACKGROUND:
            continue
        covered += 1
        require(near(sum(p), 255, 4), "pixel (%d,%d) = %s: channels do not sum to 255" % (x, y, p))
    area = 0.5 * 192 * 192
    require(abs(covered - area) <= 0.02 * area, "%d pixels covered, expected about %d" % (covered, area))
    return covered


CUBE_BACKGROUND = (16, 16, 40)
# Tints in draw order +X, -X, +Y, -Y, +Z, -Z, as channel patterns (1 = full, 0 = a quarter).
CUBE_FACES = {(1, 0, 0): "+X red", (0, 1, 0): "-X green", (0, 0, 1): "+Y blue",
              (1, 1, 0): "-Y yellow", (0, 1, 1): "+Z cyan", (1, 0, 1): "-Z magenta"}
CUBE_FACE_ORDER = ["+X red", "-X green", "+Y blue", "-Y yellow", "+Z cyan", "-Z magenta"]
CUBE_NORMALS = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
TEXEL_LIGHT, TEXEL_DARK = 255, 64
# Frame f's model rotation, as in demos/cube/venus_cube.cpp: rotate_x(x) * rotate_y(y).
ANGLE_Y0, ANGLE_Y_STEP = 0.30, 0.15
ANGLE_X0, ANGLE_X_STEP = 0.30, 0.10


def expected_centre_face(frame):
    """The face the view ray through the image centre (through the cube's centre) enters: the
    one whose rotated normal points most towards the camera (+Z in view space)."""
    ax = ANGLE_X0 + ANGLE_X_STEP * frame
    ay = ANGLE_Y0 + ANGLE_Y_STEP * frame
    # z row of rotate_x(ax) * rotate_y(ay)
    cx, sx, cy, sy = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay)
    z_row = (-cx * sy, sx, cx * cy)
    facing = [sum(z_row[k] * n[k] for k in range(3)) for n in CUBE_NORMALS]
    return CUBE_FACE_ORDER[max(range(6), key=lambda i: facing[i])]


def classify_cube_pixel(p):
    """(face name, 'light'|'dark') for a pixel = texel * tint, or raise."""
    m = max(p)
    if near(m, TEXEL_LIGHT, 3):
        texel = "light"
    elif near(m, TEXEL_DARK, 3):
        texel = "dark"
    else:
        raise CheckFailed("brightest channel %d is neither a light (%d) nor a dark (%d) texel" % (m, TEXEL_LIGHT, TEXEL_DARK))
    pattern = []
    for c in p:
        if near(c, m, 3):
            pattern.append(1)
        elif near(c, m / 4.0, 3):
            pattern.append(0)
        else:
            raise CheckFailed("channel %d is neither the texel value %d nor a quarter of it" % (c, m))
    face = CUBE_FACES.get(tuple(pattern))
    if face is None:
        raise CheckFailed("colour pattern %s is no face's tint" % (pattern,))
    return face, texel


def check_cube(img, frame):
    require((img.width, img.height) == (256, 256), "image is %dx%d, expected 256x256" % (img.width, img.height))
    check_border(img, CUBE_BACKGROUND)
    faces, texels, covered = {}, {"light": 0, "dark": 0}, 0
    for x, y, p in img.pixels():
        if p == CUBE_BACKGROUND:
            continue
        covered += 1
        try:
            face, texel = classify_cube_pixel(p)
        except CheckFailed as e:
            raise CheckFailed("pixel (%d,%d) = %s: %s" % (x, y, p, e))
        faces[face] = faces.get(face, 0) + 1
        texels[texel] += 1
    total = img.width * img.height
    require(0.15 * total <= covered <= 0.60 * total,
            "the cube covers %d of %d pixels, expected 15%%..60%%" % (covered, total))
    for texel, n in texels.items():
        require(n >= 0.25 * covered, "only %d of %d covered pixels are %s texels: no checkerboard" % (n, covered, texel))
    visible = sorted(f for f, n in faces.items() if n >= 0.005 * covered)
    require(2 <= len(visible) <= 3,
            "%d faces visible (%s); a depth-tested cube shows 2 or 3" % (len(visible), ", ".join(visible)))
    centre = img.px(img.width // 2, img.height // 2)
    require(centre != CUBE_BACKGROUND, "the centre pixel is background")
    centre_face, _ = classify_cube_pixel(centre)
    want = expected_centre_face(frame)
    require(centre_face == want, "the centre shows face %s; frame %d's front face is %s"
            % (centre_face, frame, want))
    # The texture is an 8x8 checkerboard on every face: the row and the column through the
    # centre cross several squares of the centre face (fewer/more means wrong coordinates).
    cx, cy = img.width // 2, img.height // 2
    for name, line in (("row", [(x, cy) for x in range(img.width)]),
                       ("column", [(cx, y) for y in range(img.height)])):
        changes, previous = 0, None
        for x, y in line:
            p = img.px(x, y)
            face, texel = classify_cube_pixel(p) if p != CUBE_BACKGROUND else (None, None)
            if face != centre_face:
                previous = None
                continue
            if previous is not None and texel != previous:
                changes += 1
            previous = texel
        require(5 <= changes <= 14, "the centre %s crosses %d light/dark edges of the centre face, "
                "expected 5..14 for an 8x8 checkerboard" % (name, changes))
    return covered, visible


def render_cube(exe, outdir, name, extra):
    out = os.path.join(outdir, name)
    stdout, _ = run(exe, ["--out", out] + extra)
    data = read_file(out)
    check_reported_checksum(stdout, data, out)
    return data, stdout


def test_triangle(exe, outdir):
    out = os.path.join(outdir, "triangle.ppm")
    stdout, _ = run(exe, ["--out", out])
    data = read_file(out)
    check_reported_checksum(stdout, data, out)
    covered = check_triangle(parse_ppm(data))
    print("ok: triangle covers %d pixels, corners background, vertex and centre colours right" % covered)


def test_cube(exe, outdir):
    first, stdout = render_cube(exe, outdir, "cube-a.ppm", ["--frames", "3"])
    frame_lines = re.findall(r"^frame (\d+): fnv1a64=([0-9a-f]{16})$", stdout, re.M)
    require([int(f) for f, _ in frame_lines] == [0, 1, 2], "expected 'frame 0..2' lines, got %s" % frame_lines)
    require(len({h for _, h in frame_lines}) == 3, "frames 0, 1, 2 are not all different: the cube does not turn")
    second, _ = render_cube(exe, outdir, "cube-b.ppm", ["--frames", "3"])
    require(first == second, "two runs of --frames 3 differ: rendering is not deterministic")
    covered, visible = check_cube(parse_ppm(first), frame=2)
    print("ok: frame 2 covers %d pixels, faces %s, centre face right" % (covered, ", ".join(visible)))

    one, _ = render_cube(exe, outdir, "cube-1.ppm", ["--frames", "1"])
    require(one != first, "--frames 1 and --frames 3 give the same picture")
    require("%016x" % fnv1a64(one) == frame_lines[0][1],
            "--frames 1's picture differs from frame 0 of --frames 3")
    covered, visible = check_cube(parse_ppm(one), frame=0)
    print("ok: frame 0 covers %d pixels, faces %s, centre face right" % (covered, ", ".join(visible)))


def test_cube_no_depth(exe, outdir):
    depth, _ = render_cube(exe, outdir, "cube-depth.ppm", [])
    flat, _ = render_cube(exe, outdir, "cube-no-depth.ppm", ["--no-depth"])
    require(depth != flat, "--no-depth renders the same picture: the depth test has no effect")
    check_cube(parse_ppm(depth), frame=2)
    try:
        check_cube(parse_ppm(flat), frame=2)
    except CheckFailed as e:
        print("ok: the cube check rejects the picture without depth test: %s" % e)
        return
    raise CheckFailed("the cube check accepted a picture rendered without depth test")


def test_bad_device(exe, outdir):
    _, stderr = run(exe, ["--device", "999", "--out", os.path.join(outdir, "never.ppm")], expect_rc=1)
    require("physical device" in stderr, "no message naming the physical device problem on stderr")
    require(not os.path.exists(os.path.join(outdir, "never.ppm")), "an output file was written anyway")
    print("ok: --device 999 fails with exit 1 and a message")


def selftest():
    """The checkers must reject broken results (so that a broken driver cannot pass)."""
    def rejects(what, fn):
        try:
            fn()
        except CheckFailed as e:
            print("ok: rejects %s: %s" % (what, e))
            return
        raise CheckFailed("the checker accepted %s" % what)

    blank = Image(256, 256, bytes(TRIANGLE_BACKGROUND) * 256 * 256)
    rejects("an empty triangle picture", lambda: check_triangle(blank))
    swapped = Image(256, 256, bytes(b for i in range(256 * 256) for b in (32, 64, 32)))
    rejects("a wrong background", lambda: check_triangle(swapped))
    rejects("an empty cube picture", lambda: check_cube(Image(256, 256, bytes(CUBE_BACKGROUND) * 256 * 256), 2))
    good = bytearray(4 * 1000)
    for i in range(1000):
        good[4 * i:4 * i + 4] = mix32(input_value(i), i).to_bytes(4, "little")
    check_compute_output(bytes(good), 1000)
    bad = bytearray(good)
    bad[4 * 999] ^= 1
    rejects("a compute result with one wrong bit", lambda: check_compute_output(bytes(bad), 1000))
    rejects("a short compute result", lambda: check_compute_output(bytes(good[:-4]), 1000))
    require(expected_centre_face(2) == "+Z cyan", "frame 2's predicted front face changed")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("test", choices=["compute", "triangle", "cube", "cube-no-depth", "bad-device", "selftest"])
    parser.add_argument("exe", nargs="?")
    parser.add_argument("outdir", nargs="?")
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    try:
        if args.test == "selftest":
            selftest()
            return 0
        if not args.exe or not args.outdir:
            parser.error("EXE and OUTDIR are required")
        driver_files = os.environ.get("VK_DRIVER_FILES")
        if driver_files:
            for f in driver_files.split(os.pathsep):
                require(os.path.isfile(f), "VK_DRIVER_FILES names %s, which does not exist" % f)
            print("VK_DRIVER_FILES=%s" % driver_files)
        os.makedirs(args.outdir, exist_ok=True)
        if args.test == "compute":
            test_compute(args.exe, args.outdir, args.count)
        elif args.test == "triangle":
            test_triangle(args.exe, args.outdir)
        elif args.test == "cube":
            test_cube(args.exe, args.outdir)
        elif args.test == "cube-no-depth":
            test_cube_no_depth(args.exe, args.outdir)
        elif args.test == "bad-device":
            test_bad_device(args.exe, args.outdir)
    except CheckFailed as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired as e:
        print("FAILED: timed out: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
