#!/usr/bin/env bash
# Installs what venus-cpp needs on Debian 12 (bookworm) from Debian's own archive.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

PACKAGES=(
  build-essential cmake ninja-build ccache python3 pkg-config
  libvulkan-dev vulkan-tools mesa-vulkan-drivers glslang-tools spirv-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  libfmt-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  libx11-dev libx11-xcb-dev libxcb1-dev xvfb xauth
  clang libclang-rt-14-dev
  # the VM path's VMM side (tests/mesa, label vm): Debian's virglrenderer 0.10.4 vtest server and
  # what it needs at run time, and what building upstream virglrenderer 1.3.0 and Mesa 22.3.6's
  # venus from source needs (scripts/build-virglrenderer.sh, scripts/build-mesa-venus-22.sh)
  virgl-server libegl-mesa0 libgl1-mesa-dri util-linux mount
  meson python3-mako python3-yaml bison flex libepoxy-dev libdrm-dev libgbm-dev zlib1g-dev libexpat1-dev
  libzstd-dev libxcb-dri2-0-dev libxcb-dri3-dev libxcb-glx0-dev libxcb-present-dev libxcb-randr0-dev
  libxcb-shm0-dev libxcb-sync-dev libxcb-xfixes0-dev libxshmfence-dev libxrandr-dev libxext-dev
  libxxf86vm-dev libxfixes-dev dpkg-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Mesa's own Venus driver (the "real guest driver nobody here wrote") ships in
# bookworm-backports; tests fetch it with apt-get download, so the suite must be known.
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "adding bookworm-backports to apt's sources"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
    $SUDO tee /etc/apt/sources.list.d/venus-backports.sources >/dev/null
  need_update=1
fi

# Mesa 22.3.6's venus (the wire-format-0 guest) is built from Debian's mesa source package.
if ! grep -rqsE "^(Types:.*deb-src|deb-src )" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "adding a deb-src entry for bookworm to apt's sources"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' |
    $SUDO tee /etc/apt/sources.list.d/venus-sources.sources >/dev/null
  need_update=1
fi

if [ ${#missing[@]} -gt 0 ] || [ -n "${need_update:-}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi
