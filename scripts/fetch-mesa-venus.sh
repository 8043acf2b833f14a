#!/usr/bin/env bash
# fetch-mesa-venus.sh DEST
#
# Fetches Mesa's own Venus guest driver (libvulkan_virtio.so from Debian bookworm-backports'
# mesa-vulkan-drivers) into DEST, without installing anything over the system, so that it can be
# used as a test client of venus-server:
#
#   DEST/*.deb                      the downloaded packages
#   DEST/root/                      their contents (dpkg -x)
#   DEST/venus_mesa_icd.json        an ICD manifest naming DEST/root/.../libvulkan_virtio.so
#   DEST/env.sh                     only when backports libraries are needed: exports LD_LIBRARY_PATH
#
# Use:
#   scripts/fetch-mesa-venus.sh /tmp/mesa-venus
#   [ -f /tmp/mesa-venus/env.sh ] && . /tmp/mesa-venus/env.sh
#   VK_DRIVER_FILES=/tmp/mesa-venus/venus_mesa_icd.json VN_DEBUG=vtest \
#     VTEST_SOCKET_NAME=/tmp/.virgl_test vulkaninfo --summary
#
# Environment:
#   MESA_VENUS_VERSION   package version to fetch (default 25.0.7-2~bpo12+1; falls back to whatever
#                        bookworm-backports carries if that exact version is gone)
#   MESA_VENUS_FORCE_BACKPORT_LIBS=1   also fetch the backports versions of the libraries the
#                        package's Depends asks newer versions of, even if the base ones resolve
#
# Idempotent: exits 0 at once when DEST already holds a manifest whose library exists.
set -euo pipefail

FIXTURE_NAME=fetch-mesa-venus
. "$(dirname "$0")/lib/fixture.sh"
[ $# -eq 1 ] || { echo "usage: $0 DEST" >&2; exit 2; }
DEST=$(dest_dir "$1")
ROOT="$DEST/root"
MANIFEST="$DEST/venus_mesa_icd.json"
LIBDIR_REL=usr/lib/x86_64-linux-gnu
LIB="$ROOT/$LIBDIR_REL/libvulkan_virtio.so"
WANT_VERSION=${MESA_VENUS_VERSION:-25.0.7-2~bpo12+1}

if [ -f "$MANIFEST" ] && [ -f "$LIB" ] && grep -q "\"$LIB\"" "$MANIFEST"; then
  echo "$MANIFEST"
  exit 0
fi

[ "$(dpkg --print-architecture)" = amd64 ] || die "only amd64 is supported (got $(dpkg --print-architecture))"
for tool in apt-get apt-cache dpkg dpkg-deb objdump ldd; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install binutils for objdump)"
done

# bookworm-backports must be known to apt; same stanza as scripts/install-deps.sh writes.
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "adding bookworm-backports to apt's sources"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
    $SUDO tee /etc/apt/sources.list.d/venus-backports.sources >/dev/null
fi

# Version of PKG that bookworm-backports offers, or empty.
backports_version() {
  apt-cache madison "$1" 2>/dev/null | awk -F'|' '$3 ~ /bookworm-backports/ {gsub(/ /, "", $2); print $2; exit}'
}
if [ -z "$(backports_version mesa-vulkan-drivers)" ]; then
  log "apt does not list bookworm-backports packages yet: apt-get update"
  $SUDO apt-get update -q >&2
fi

# apt-get download as root warns when the _apt sandbox user cannot write DEST; it is harmless.
APT_OPTS=()
if [ "$(id -u)" = 0 ]; then APT_OPTS=(-o APT::Sandbox::User=root); fi

# find_deb PKG VERSION: prints DEST's PKG_VERSION_*.deb if there is one (apt writes ':' as %3a).
find_deb() {
  local f
  for f in "$DEST/${1}_${2//:/%3a}_"*.deb; do
    if [ -f "$f" ]; then echo "$f"; return; fi
  done
}

# download PKG VERSION: fetches PKG_VERSION_amd64.deb into DEST (unless there), prints its path.
download() {
  local pkg=$1 ver=$2 deb
  deb=$(find_deb "$pkg" "$ver")
  if [ -z "$deb" ]; then
    (cd "$DEST" && apt-get "${APT_OPTS[@]}" download -q "$pkg=$ver" >&2) || die "apt-get download $pkg=$ver failed"
    deb=$(find_deb "$pkg" "$ver")
    [ -n "$deb" ] || die "apt-get download $pkg=$ver left no .deb in $DEST"
  fi
  echo "$deb"
}

indent() { sed 's/^/    /' >&2; }

VERSION=$WANT_VERSION
if ! apt-cache madison mesa-vulkan-drivers | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$VERSION"; then
  VERSION=$(backports_version mesa-vulkan-drivers)
  [ -n "$VERSION" ] || die "bookworm-backports offers no mesa-vulkan-drivers"
  log "warning: mesa-vulkan-drivers $WANT_VERSION is not available, using $VERSION from bookworm-backports"
fi
MESA_DEB=$(download mesa-vulkan-drivers "$VERSION")
log "extracting $(basename "$MESA_DEB") into $ROOT"
mkdir -p "$ROOT"
dpkg -x "$MESA_DEB" "$ROOT"
[ -f "$LIB" ] || die "$MESA_DEB has no $LIBDIR_REL/libvulkan_virtio.so"

# Does the driver resolve against the libraries found with the given LD_LIBRARY_PATH?
# Prints the problems (missing libraries, unresolved symbols, missing symbol versions).
link_problems() {
  LD_LIBRARY_PATH="$1" ldd -r "$LIB" 2>&1 | grep -E 'not found|undefined symbol|version .* not found' || true
}

# Base libraries that are older than the package's Depends asks for, and that provide a
# library the driver itself links (NEEDED): candidates for their backports versions.
too_old_needed_packages() {
  local needed deps dep pkg min have libpath owner
  needed=$(objdump -p "$LIB" | awk '$1 == "NEEDED" {print $2}')
  deps=$(dpkg-deb -f "$MESA_DEB" Depends | tr ',' '\n')
  while IFS= read -r dep; do
    pkg=$(echo "$dep" | awk '{print $1}')
    min=$(echo "$dep" | sed -n 's/.*(>= *\([^)]*\)).*/\1/p')
    if [ -z "$pkg" ] || [ -z "$min" ]; then continue; fi
    have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
    if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$min"; then continue; fi
    for lib in $needed; do
      libpath=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
      [ -n "$libpath" ] || continue
      owner=$(dpkg -S "$(readlink -f "$libpath")" 2>/dev/null | cut -d: -f1 | head -n1 || true)
      [ -n "$owner" ] || owner=$(dpkg -S "$libpath" 2>/dev/null | cut -d: -f1 | head -n1 || true)
      if [ "$owner" = "$pkg" ]; then echo "$pkg $min (installed ${have:-none}; provides $lib)"; fi
    done
  done <<<"$deps"
}

EXTRA_LIBDIR=""
problems=$(link_problems "")
too_old=$(too_old_needed_packages)
if [ -n "$too_old" ]; then
  log "the package asks for newer versions of base libraries it links:"
  indent <<<"$too_old"
fi
if [ -n "$problems" ] || [ "${MESA_VENUS_FORCE_BACKPORT_LIBS:-0}" = 1 ]; then
  if [ -n "$problems" ]; then
    log "the driver does not resolve against Debian 12's libraries:"
    indent <<<"$problems"
  fi
  [ -n "$too_old" ] || die "no backports library is known to fix this"
  while read -r pkg _; do
    ver=$(backports_version "$pkg")
    [ -n "$ver" ] || die "bookworm-backports has no $pkg"
    deb=$(download "$pkg" "$ver")
    log "extracting $(basename "$deb") into $ROOT"
    dpkg -x "$deb" "$ROOT"
  done <<<"$too_old"
  EXTRA_LIBDIR="$ROOT/$LIBDIR_REL"
  problems=$(link_problems "$EXTRA_LIBDIR")
  [ -z "$problems" ] || die "still unresolved with backports libraries: $problems"
  cat >"$DEST/env.sh.tmp" <<EOF
# Source this before using $MANIFEST: the driver needs backports libraries.
export LD_LIBRARY_PATH="$EXTRA_LIBDIR\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
EOF
  mv "$DEST/env.sh.tmp" "$DEST/env.sh"
  log "wrote $DEST/env.sh (LD_LIBRARY_PATH=$EXTRA_LIBDIR)"
else
  [ -z "$too_old" ] || log "every symbol the driver uses resolves in the base libraries: no backports library needed"
  rm -f "$DEST/env.sh"
fi

# The package's own manifest names the API version the driver was built for (1.3.x).
API_VERSION=$(sed -n 's/.*"api_version" *: *"\([0-9.]*\)".*/\1/p' "$ROOT/usr/share/vulkan/icd.d/virtio_icd.json" 2>/dev/null | head -n1)
case "$API_VERSION" in 1.3.*) ;; *) API_VERSION=1.3.0 ;; esac

cat >"$MANIFEST.tmp" <<EOF
{
    "file_format_version": "1.0.0",
    "ICD": {
        "library_path": "$LIB",
        "api_version": "$API_VERSION"
    }
}
EOF
mv "$MANIFEST.tmp" "$MANIFEST"
log "Mesa venus driver $VERSION ready"
echo "$MANIFEST"
