#!/usr/bin/env bash
# Builds (see build.sh) and runs the main job, build/recipes/shears_main, passing all
# arguments through (try: bash scripts/main.sh --help).
#
# OPENBLAS_CORETYPE: Debian 12's OpenBLAS 0.3.21 does not recognise some newer CPUs
# (Intel Sapphire/Emerald Rapids, AMD Zen 5) and falls back to generic SSE3 kernels that
# run GEMM ~4x slower. When the variable is unset, this launcher picks the kernel family
# for the CPU (SkylakeX on Intel CPUs with AVX-512, Haswell on other AVX2 CPUs) and says
# so; a value already set in the environment is always left as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/build.sh
if [[ -z "${OPENBLAS_CORETYPE:-}" && -r /proc/cpuinfo ]]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
  if grep -q GenuineIntel /proc/cpuinfo && [[ " $flags " == *" avx512f "* ]]; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif [[ " $flags " == *" avx2 "* ]]; then
    export OPENBLAS_CORETYPE=Haswell
  fi
  [[ -n "${OPENBLAS_CORETYPE:-}" ]] && echo "main.sh: OPENBLAS_CORETYPE was unset; using $OPENBLAS_CORETYPE for this CPU"
fi
exec ./build/recipes/shears_main "$@"
