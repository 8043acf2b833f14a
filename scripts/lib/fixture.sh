# Shared by the scripts that fetch or build test fixtures into a directory of their own
# (fetch-mesa-venus.sh, build-mesa-venus-22.sh, build-virglrenderer.sh). Source it after
# setting FIXTURE_NAME; it defines log, die, SUDO, dest_dir and install_missing.

log() { echo "$FIXTURE_NAME: $*" >&2; }
die() { echo "$FIXTURE_NAME: error: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

# dest_dir DIR: creates DIR and prints its absolute path.
dest_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# install_missing PKG...: apt-get installs those of PKG that are not installed.
install_missing() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}
