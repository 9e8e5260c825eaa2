#!/usr/bin/env bash
# DeiT-S on one CUDA GPU, shears beside PyTorch (issue 16, docs/cuda.md): bench_cuda_train with
# full-f32 GEMMs and with TF32 tensor cores (SHEARS_CUDA_TF32=1), then bench/bench_cuda_torch.py
# (timm DeiT-S, eager) with TF32 off and on, interleaved, --rounds times. Prints the JSON lines and
# a Markdown table of medians over rounds (images/s, TFLOP/s, % of the FP32 and TF32 peaks).
# Usage: bash bench/run_cuda_bench.sh [--bin DIR (holding bench_cuda_train; default build/bench)]
#        [--batch 128] [--rounds 2] [--python python3] [--peak-fp32 67] [--peak-tf32 495]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin=build/bench batch=128 rounds=2 python=python3 peak32=67 peak_tf32=495
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin="$2" ;;
    --batch) batch="$2" ;;
    --rounds) rounds="$2" ;;
    --python) python="$2" ;;
    --peak-fp32) peak32="$2" ;;
    --peak-tf32) peak_tf32="$2" ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -x "$bin/bench_cuda_train" ]] || { echo "no $bin/bench_cuda_train: configure with a CUDA toolkit (docs/cuda.md)" >&2; exit 1; }
common=(--batch "$batch" --peak-fp32 "$peak32" --peak-tf32 "$peak_tf32")
lines=$(mktemp)
have_torch=1
"$python" -c "import torch, timm; assert torch.cuda.is_available()" 2>/dev/null || have_torch=0
for ((r = 1; r <= rounds; r++)); do
  SHEARS_CUDA_TF32=0 "$bin/bench_cuda_train" "${common[@]}" | tee -a "$lines"
  SHEARS_CUDA_TF32=1 "$bin/bench_cuda_train" "${common[@]}" | sed 's/"side":"shears"/"side":"shears-tf32"/' | tee -a "$lines"
  if [[ $have_torch == 1 ]]; then
    "$python" "$here/bench_cuda_torch.py" "${common[@]}" | tee -a "$lines"
    "$python" "$here/bench_cuda_torch.py" "${common[@]}" --tf32 | tee -a "$lines"
  fi
done
[[ $have_torch == 1 ]] || echo "(no PyTorch with CUDA and timm under $python: shears rows only)"
"$python" - "$lines" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    d = json.loads(line)
    rows.setdefault((d["mode"], d["side"]), []).append(d)
print("\n| mode | side | img/s | TFLOP/s | % FP32 peak | % TF32 peak | peak GPU MB |")
print("|---|---|---:|---:|---:|---:|---:|")
for (mode, side), ds in sorted(rows.items()):
    med = lambda k: statistics.median(x[k] for x in ds)
    print(f"| {mode} | {side} | {med('img_per_s'):.1f} | {med('tflops'):.2f} | {med('pct_fp32_peak'):.1f} | "
          f"{med('pct_tf32_peak'):.1f} | {med('peak_gpu_mb'):.0f} |")
PY
rm -f "$lines"
