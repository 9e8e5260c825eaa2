#!/usr/bin/env bash
# Builds (see build.sh) and runs the main job, build/recipes/shears_main, passing all
# arguments through (try: bash scripts/main.sh --help).
#
# No environment variable is set here: float GEMM runs on oneDNN, which picks its kernels by
# the CPU's instruction set (docs/DESIGN.md, "GEMM provider"), so the speed does not depend on
# OPENBLAS_CORETYPE.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/build.sh
exec ./build/recipes/shears_main "$@"
