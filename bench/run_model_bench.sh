#!/usr/bin/env bash
# End-to-end shears vs PyTorch comparison (specs/PERFORMANCE.md, "How to measure fairly"):
# builds bench_models, then for each config and mode (infer, train) runs shears then PyTorch
# (bench/bench_models_torch.py under /usr/bin/python3, OMP_WAIT_POLICY=passive), --rounds times,
# interleaved, one config/mode per process, same --samples/--min-time and thread count on both
# sides. Prints a Markdown table of medians over rounds. % of peak is against --peak GFLOP/s:
# default 257 = 2-core AVX2 FMA peak of this machine (the PERFORMANCE.md machine has 506, AVX-512).
# Usage: bash bench/run_model_bench.sh [--configs "a c"] [--rounds 2] [--samples 3] [--min-time 1.5]
#                                      [--threads 2] [--peak 257]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

configs="a c" rounds=2 samples=3 min_time=1.5 threads=2 peak=257
while [[ $# -gt 0 ]]; do
  case "$1" in
    --configs) configs="$2" ;;
    --rounds) rounds="$2" ;;
    --samples) samples="$2" ;;
    --min-time) min_time="$2" ;;
    --threads) threads="$2" ;;
    --peak) peak="$2" ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift 2
done

[[ -f build/build.ninja ]] || bash scripts/build.sh
cmake --build build --target bench_models >&2
/usr/bin/python3 -c "import torch" 2>/dev/null ||
  { echo "PyTorch missing: sudo apt-get install python3-torch" >&2; exit 1; }

export OMP_WAIT_POLICY=passive SHEARS_NUM_THREADS="$threads"
common=(--samples "$samples" --min-time "$min_time")
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for c in $configs; do
  for mode in infer train; do
    for ((r = 1; r <= rounds; r++)); do
      echo "config $c, $mode, round $r/$rounds ..." >&2
      build/bench/bench_models --config "$c" --mode "$mode" "${common[@]}" | tee -a "$lines" >&2
      /usr/bin/python3 bench/bench_models_torch.py --config "$c" --mode "$mode" --threads "$threads" "${common[@]}" |
        tee -a "$lines" >&2
    done
  done
done

echo
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads per side: $threads;" \
  "$(/usr/bin/python3 -c 'import ctypes; l = ctypes.CDLL("libopenblas.so.0"); l.openblas_get_config.restype = ctypes.c_char_p; print(l.openblas_get_config().decode())' 2>/dev/null || echo 'OpenBLAS 0.3.21')"
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), OMP_WAIT_POLICY=passive;" \
  "rounds $rounds, samples $samples x >= ${min_time}s; medians over rounds; % of peak vs $peak GFLOP/s"
echo
/usr/bin/python3 - "$lines" "$peak" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
peak = float(sys.argv[2])
def med(side, cfg, mode, key):
    v = [r[key] for r in rows if (r["side"], r["config"], r["mode"]) == (side, cfg, mode)]
    return statistics.median(v) if v else float("nan")
print("| config | mode | shears img/s | PyTorch img/s | ratio | shears GFLOP/s | % of peak | shears peak MB | PyTorch peak MB |")
print("|---|---|---|---|---|---|---|---|---|")
for cfg, mode in dict.fromkeys((r["config"], r["mode"]) for r in rows):
    s, p = med("shears", cfg, mode, "img_per_s"), med("pytorch", cfg, mode, "img_per_s")
    g = med("shears", cfg, mode, "gflops_per_s")
    print(f"| {cfg} | {mode} | {s:.1f} | {p:.1f} | {s / p:.2f}x | {g:.1f} | {100 * g / peak:.0f}% | "
          f"{med('shears', cfg, mode, 'peak_mb'):.0f} | {med('pytorch', cfg, mode, 'peak_mb'):.0f} |")
EOF
