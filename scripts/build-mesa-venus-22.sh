#!/usr/bin/env bash
# build-mesa-venus-22.sh DEST
#
# Builds Mesa 22.3.6's Venus guest driver — the wire-format-0 client of docs/compatibility.md —
# from Debian 12's own `mesa` source package, into DEST, without installing anything over the
# system:
#
#   DEST/src/                       the unpacked source package (apt-get source)
#   DEST/build/                     meson's build directory
#   DEST/root/                      the installed driver (libvulkan_virtio.so, its ICD json)
#   DEST/venus_mesa22_icd.json      an ICD manifest naming DEST/root/.../libvulkan_virtio.so
#
# Only the Vulkan driver is built: -Dvulkan-drivers=virtio-experimental, no Gallium, no GL.
# That driver connects to vtest's default socket /tmp/.virgl_test only (VTEST_SOCKET_NAME is a
# later addition), so its tests hold a ctest resource lock.
#
# Use:
#   scripts/build-mesa-venus-22.sh ~/.cache/venus-cpp/mesa-22.3.6
#   VK_DRIVER_FILES=~/.cache/venus-cpp/mesa-22.3.6/venus_mesa22_icd.json VN_DEBUG=vtest vulkaninfo --summary
#
# Environment: MESA22_VERSION   source package version (default: the one bookworm carries, 22.3.6-1+deb12u1)
#
# Idempotent: exits 0 at once when DEST already holds a manifest whose library exists.
set -euo pipefail

FIXTURE_NAME=build-mesa-venus-22
. "$(dirname "$0")/lib/fixture.sh"
[ $# -eq 1 ] || { echo "usage: $0 DEST" >&2; exit 2; }
DEST=$(dest_dir "$1")
MANIFEST="$DEST/venus_mesa22_icd.json"
LIB="$DEST/root/lib/libvulkan_virtio.so"

if [ -f "$MANIFEST" ] && [ -f "$LIB" ] && grep -q "\"$LIB\"" "$MANIFEST"; then
  echo "$MANIFEST"
  exit 0
fi

# Source packages need a deb-src entry for bookworm.
if ! grep -rqsE "^(Types:.*deb-src|deb-src )" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "adding a deb-src entry for bookworm to apt's sources"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
    $SUDO tee /etc/apt/sources.list.d/venus-sources.sources >/dev/null
  $SUDO apt-get update -q >&2
fi

# What meson needs for this driver alone (not mesa's full Build-Depends).
need=(meson ninja-build pkg-config python3-mako bison flex glslang-tools libdrm-dev libvulkan-dev
      zlib1g-dev libexpat1-dev libzstd-dev libx11-dev libx11-xcb-dev libxcb1-dev libxcb-dri3-dev
      libxcb-present-dev libxcb-dri2-0-dev libxcb-glx0-dev libxcb-randr0-dev libxcb-shm0-dev libxcb-sync-dev libxcb-xfixes0-dev
      libxshmfence-dev libxrandr-dev libxext-dev libxxf86vm-dev libxfixes-dev dpkg-dev)
install_missing "${need[@]}"

SRC="$DEST/src"
if [ ! -f "$SRC/meson.build" ]; then
  rm -rf "$DEST/dl" "$SRC"
  mkdir -p "$DEST/dl"
  VERSION=${MESA22_VERSION:-$(apt-cache showsrc mesa 2>/dev/null | awk '/^Version: 22\.3\./ {print $2; exit}')}
  [ -n "$VERSION" ] || die "apt does not offer a mesa 22.3 source package (apt-cache showsrc mesa)"
  log "fetching mesa $VERSION source (apt-get source)"
  APT_OPTS=()
  if [ "$(id -u)" = 0 ]; then APT_OPTS=(-o APT::Sandbox::User=root); fi
  (cd "$DEST/dl" && apt-get "${APT_OPTS[@]}" source -q --download-only "mesa=$VERSION" >&2)
  orig=$(ls "$DEST"/dl/mesa_*.orig.tar.* | head -1)
  [ -f "$orig" ] || die "no orig tarball downloaded"
  mkdir -p "$SRC"
  tar -xf "$orig" -C "$SRC" --strip-components=1
  # Debian's patches are applied when the debian tarball came too (they do not touch venus).
  deb=$(ls "$DEST"/dl/mesa_*.debian.tar.* 2>/dev/null | head -1 || true)
  if [ -n "$deb" ]; then
    tar -xf "$deb" -C "$SRC"
    if [ -f "$SRC/debian/patches/series" ]; then
      while read -r patch; do
        case "$patch" in ''|'#'*) continue ;; esac
        patch -d "$SRC" -p1 -s -N < "$SRC/debian/patches/$patch" >&2 || log "patch $patch did not apply (ignored)"
      done < "$SRC/debian/patches/series"
    fi
  fi
fi

# Mesa's generators run on the system python, where python3-mako is installed (a python of its
# own earlier in PATH, e.g. pyenv, would not have it).
export PATH=/usr/bin:$PATH
/usr/bin/python3 -c 'import mako' 2>/dev/null || die "python3-mako is not importable by /usr/bin/python3"

log "configuring (meson) and building the venus driver only"
rm -rf "$DEST/build"
meson setup "$DEST/build" "$SRC" --prefix="$DEST/root" --libdir=lib --buildtype=release \
  -Dvulkan-drivers=virtio-experimental -Dgallium-drivers= -Ddri-drivers= -Dglx=disabled -Dopengl=false \
  -Dgles1=disabled -Dgles2=disabled -Degl=disabled -Dgbm=disabled -Dplatforms=x11 -Dllvm=disabled \
  -Dshared-glapi=disabled -Dvalgrind=disabled -Dlibunwind=disabled -Dzstd=enabled -Dbuild-tests=false >&2
ninja -C "$DEST/build" >&2
ninja -C "$DEST/build" install >&2
[ -f "$LIB" ] || die "the build installed no $LIB"
cat > "$MANIFEST" <<JSON
{
    "file_format_version": "1.0.0",
    "ICD": {
        "library_path": "$LIB",
        "api_version": "1.3.230"
    }
}
JSON
log "built $LIB"
echo "$MANIFEST"
