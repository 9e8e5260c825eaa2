#!/usr/bin/env bash
# Installs missing packages (setup.sh), configures build/ (Ninja, Release) on first
# use and builds everything: library, tests, benchmarks and recipes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
if [[ ! -f build/CMakeCache.txt || ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build
