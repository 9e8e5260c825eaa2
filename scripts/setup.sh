#!/usr/bin/env bash
# Installs the Debian 12 packages shears needs to build, test and run its demo (Open MPI included:
# the optional dist/ module is built when it is found); with CI=true
# or SHEARS_FULL_CHECKS=1 (scripts/test.sh's full checks) also clang-14 and its runtime
# libraries for the libFuzzer targets (tests/fuzz). Idempotent: checks each package with dpkg-query first and prints nothing when all
# are present. Uses sudo when not root; runs apt-get update only when an install
# fails (e.g. a fresh image without package lists).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libopenblas-dev libdnnl-dev libtbb-dev catch2 libcxxopts-dev nlohmann-json3-dev zlib1g-dev libstb-dev
  dataset-fashion-mnist
  libopenmpi-dev openmpi-bin  # dist/'s MPI backend and mpirun for the 2-rank tests (docs/distributed.md)
  gnuplot-nox  # the recipes' plots (recipes/common/gnuplot.h: P3B's ΔΨ heatmap, the composition study's fronts)
)
if [[ "${CI:-}" == "true" || "${SHEARS_FULL_CHECKS:-0}" == "1" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "setup.sh: missing packages: ${missing[*]}" >&2
    echo "setup.sh: not root and sudo is not available; install them as root:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

apt_install() {
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

echo "setup.sh: installing ${missing[*]}"
if ! apt_install; then
  echo "setup.sh: install failed; refreshing package lists (apt-get update) and retrying"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  apt_install
fi
