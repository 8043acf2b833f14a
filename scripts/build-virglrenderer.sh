#!/usr/bin/env bash
# build-virglrenderer.sh TARBALL DEST
#
# Builds upstream virglrenderer (the VMM side of the VM path: libvirglrenderer, its vtest server
# virgl_test_server, and its own render server) from a release tarball into DEST, outside the
# repository and without installing anything over the system:
#
#   DEST/src/     the unpacked sources          DEST/build/   meson's build directory
#   DEST/root/    the install prefix: bin/virgl_test_server, libexec/virgl_render_server,
#                 lib/x86_64-linux-gnu/libvirglrenderer.so.1
#   DEST/env.sh   exports VIRGL_ROOT and LD_LIBRARY_PATH for that install
#
# Use (tests/vm): scripts/build-virglrenderer.sh ../shared/third_party/virglrenderer-1.3.0.tar.gz \
#                   ~/.cache/venus-cpp/virglrenderer-1.3.0
# Venus on, EGL (surfaceless) only, no tests. Idempotent: exits 0 at once when DEST/root holds
# a virgl_test_server built from the same tarball.
set -euo pipefail

FIXTURE_NAME=build-virglrenderer
. "$(dirname "$0")/lib/fixture.sh"
[ $# -eq 2 ] || { echo "usage: $0 TARBALL DEST" >&2; exit 2; }
TARBALL=$(readlink -f "$1")
DEST=$(dest_dir "$2")
ROOT="$DEST/root"
STAMP="$DEST/built-from"

[ -f "$TARBALL" ] || die "no tarball at $1"
SUM=$(sha256sum "$TARBALL" | cut -d' ' -f1)
if [ -x "$ROOT/bin/virgl_test_server" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SUM" ]; then
  echo "$DEST/env.sh"
  exit 0
fi

need=(meson ninja-build pkg-config python3-yaml libepoxy-dev libdrm-dev libgbm-dev libvulkan-dev libegl-mesa0
      libgl1-mesa-dri libx11-dev)
install_missing "${need[@]}"
# the venus protocol generator runs on the system python (python3-yaml is installed for it)
export PATH=/usr/bin:$PATH

rm -rf "$DEST/src" "$DEST/build" "$ROOT"
mkdir -p "$DEST/src"
tar -xzf "$TARBALL" -C "$DEST/src" --strip-components=1
log "configuring and building $(basename "$TARBALL")"
meson setup "$DEST/build" "$DEST/src" --prefix="$ROOT" --buildtype=release -Dvenus=true -Dplatforms=egl \
  -Dtests=false -Dvideo=false -Dtracing=none >&2
ninja -C "$DEST/build" >&2
ninja -C "$DEST/build" install >&2
LIBDIR=$(dirname "$(find "$ROOT" -name 'libvirglrenderer.so.1' | head -1)")
[ -n "$LIBDIR" ] && [ -x "$ROOT/bin/virgl_test_server" ] && [ -x "$ROOT/libexec/virgl_render_server" ] ||
  die "the install lacks virgl_test_server, virgl_render_server or libvirglrenderer.so.1"
printf 'export VIRGL_ROOT=%q\nexport LD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\n' "$ROOT" "$LIBDIR" > "$DEST/env.sh"
echo "$SUM" > "$STAMP"
log "built into $ROOT"
echo "$DEST/env.sh"
