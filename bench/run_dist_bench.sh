#!/usr/bin/env bash
# The data-parallel bench of docs/distributed.md: main-job training throughput on 2 ranks x 1
# thread (mpirun, loopback) vs 1 rank x 2 threads, alternated ROUNDS times (the machine is
# shared: compare within a round), then bench_dist's all-reduce times for the main job's ViT,
# ViT-Tiny and DeiT-S gradient sizes on 2 ranks. Needs a build with the MPI backend.
#   bench/run_dist_bench.sh [BUILD_DIR=build] [ROUNDS=2] [TRAIN_IMAGES=8192]
set -euo pipefail
build=${1:-build}
rounds=${2:-2}
images=${3:-8192}
main="$build/recipes/shears_main"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun=(mpirun --oversubscribe --allow-run-as-root --bind-to none --mca btl self,vader)
flags=(--scale quick --epochs 1 --train-limit "$images" --eval-limit 500 --log-every 100000 --pruning-rows=false)
lscpu | grep 'Model name' || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
img_per_s() { grep -E '^\| ViT p' "$1" | awk -F'|' '{gsub(/ /, "", $8); print $8}'; }
echo "| round | 1 rank x 2 threads img/s | 2 ranks x 1 thread img/s | all-reduce ms/step (2 ranks) |"
echo "|---:|---:|---:|---:|"
for r in $(seq 1 "$rounds"); do
  "$main" "${flags[@]}" --threads 2 --out "$out/one" >"$out/one.log"
  "${mpirun[@]}" -np 2 -x SHEARS_NUM_THREADS=1 "$main" "${flags[@]}" --threads 1 --out "$out/two" >"$out/two.log"
  ar=$(grep -oE 'all-reduce [0-9.]+ ms/step' "$out/two.log" | grep -oE '[0-9.]+' || echo "?")
  echo "| $r | $(img_per_s "$out/one.log") | $(img_per_s "$out/two.log") | $ar |"
done
echo
"${mpirun[@]}" -np 2 "$build/bench/bench_dist" --reps 10
