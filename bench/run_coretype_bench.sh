#!/usr/bin/env bash
# Does shears' speed depend on OPENBLAS_CORETYPE? Runs build/bench/bench_models (configs and modes
# below) with OPENBLAS_CORETYPE unset, =Prescott (the generic SSE3 kernels Debian 12's OpenBLAS
# falls back to on CPUs it does not know) and =Haswell, interleaved over --rounds, and prints the
# median images/s of each setting and its ratio to "unset". With the oneDNN GEMM provider the
# ratios should be 1.00 (float GEMM never touches OpenBLAS); pass --build DIR to measure another
# build, e.g. one configured with -DSHEARS_GEMM_PROVIDER=openblas, for the contrast.
# Usage: bash bench/run_coretype_bench.sh [--build build] [--rounds 3] [--configs "a c"] [--threads 2]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build rounds=3 configs="a c" threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2" ;;
    --rounds) rounds="$2" ;;
    --configs) configs="$2" ;;
    --threads) threads="$2" ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift 2
done
bin="$build/bench/bench_models"
[[ -x "$bin" ]] || { echo "$bin not built (cmake --build $build --target bench_models)" >&2; exit 1; }

lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for ((r = 1; r <= rounds; r++)); do
  for c in $configs; do
    for setting in unset Prescott Haswell; do
      echo "round $r/$rounds, config $c, OPENBLAS_CORETYPE=$setting ..." >&2
      if [[ $setting == unset ]]; then
        env -u OPENBLAS_CORETYPE SHEARS_NUM_THREADS="$threads" "$bin" --config "$c" --mode both --samples 3 --min-time 1
      else
        OPENBLAS_CORETYPE=$setting SHEARS_NUM_THREADS="$threads" "$bin" --config "$c" --mode both --samples 3 --min-time 1
      fi | sed "s/^{/{\"coretype\":\"$setting\",/" | tee -a "$lines" >&2
    done
  done
done

echo
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; build $build:" \
  "$(env -u OPENBLAS_CORETYPE SHEARS_NUM_THREADS="$threads" "$bin" --info); medians of $rounds interleaved rounds"
/usr/bin/python3 - "$lines" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
keys = sorted({(r["config"], r["mode"]) for r in rows})
print("| config | mode | unset img/s | Prescott img/s | Haswell img/s | Prescott / unset | Haswell / unset |")
print("|---|---|---|---|---|---|---|")
for cfg, mode in keys:
    med = {s: statistics.median([r["img_per_s"] for r in rows if (r["config"], r["mode"], r["coretype"]) == (cfg, mode, s)])
           for s in ("unset", "Prescott", "Haswell")}
    print(f"| {cfg} | {mode} | {med['unset']:.1f} | {med['Prescott']:.1f} | {med['Haswell']:.1f} | "
          f"{med['Prescott'] / med['unset']:.2f} | {med['Haswell'] / med['unset']:.2f} |")
PY
