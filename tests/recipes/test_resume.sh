#!/usr/bin/env bash
# Exact resume and determinism of the main job, across fresh processes, without and with DropPath
# (--drop-path 0.1: the masks of step s come from (seed, s), so they are the same after a resume):
#  1. two runs with the same seed and thread count give bitwise-identical losses and weights;
#  2. N steps in one run equal k steps + a saved training state + a fresh process that resumes
#     for the remaining N-k steps (same per-step losses and lr, identical final weights);
#  3. DropPath draws: the --drop-path 0.1 run differs from the run without it.
# Usage: test_resume.sh <shears_main binary> <scratch dir>
set -euo pipefail
main=$1
dir=$2
rm -rf "$dir" && mkdir -p "$dir"
# Mixup/CutMix, RandomErasing and the random crop on (off by default): their draws must resume exactly too
base=(--scale quick --epochs 2 --train-limit 512 --batch-size 64 --eval-limit 200 --log-every 1 --threads 2 --pruning-rows=false
      --mix-prob 0.5 --erase 0.25 --crop-padding 2)

steps() { sed -nE 's/.*"step":([0-9]+),"loss":([^,]+),"lr":([^,]+),.*/\1 \2 \3/p' "$1"; }
fail=0
for dp in 0 0.1; do
  d="$dir/dp$dp"
  args=("${base[@]}" --drop-path "$dp")
  "$main" "${args[@]}" --out "$d/a" > "$d.a.txt"
  "$main" "${args[@]}" --out "$d/b" > "$d.b.txt"
  "$main" "${args[@]}" --out "$d/c" --stop-after-steps 5 > "$d.c1.txt"
  "$main" "${args[@]}" --out "$d/c" --resume "$d/c/train_state.safetensors" > "$d.c2.txt"
  if ! diff <(steps "$d/a/train_log.jsonl") <(steps "$d/b/train_log.jsonl"); then
    echo "FAIL (drop-path $dp): two runs with the same seed differ in their losses"; fail=1
  fi
  cmp "$d/a/vit_fmnist.safetensors" "$d/b/vit_fmnist.safetensors" || { echo "FAIL (drop-path $dp): same-seed weights differ"; fail=1; }
  if ! diff <(steps "$d/a/train_log.jsonl") <(steps "$d/c/train_log.jsonl"); then
    echo "FAIL (drop-path $dp): the resumed run's losses differ from the uninterrupted run"; fail=1
  fi
  cmp "$d/a/vit_fmnist.safetensors" "$d/c/vit_fmnist.safetensors" || { echo "FAIL (drop-path $dp): resumed weights differ"; fail=1; }
  n=$(steps "$d/a/train_log.jsonl" | wc -l)
  grep -q "stopped after 5 steps" "$d.c1.txt" || { echo "FAIL (drop-path $dp): the first half did not stop at step 5"; fail=1; }
  grep -q "resumed from" "$d.c2.txt" || { echo "FAIL (drop-path $dp): the second half did not resume"; fail=1; }
  [ "$n" -eq 16 ] || { echo "FAIL (drop-path $dp): expected 16 logged steps, got $n"; fail=1; }
done
if cmp -s "$dir/dp0/a/vit_fmnist.safetensors" "$dir/dp0.1/a/vit_fmnist.safetensors"; then
  echo "FAIL: --drop-path 0.1 trained the same weights as --drop-path 0 (DropPath drew nothing)"; fail=1
fi
[ $fail -eq 0 ] && echo "resume and determinism: OK (16 steps; stop at 5, resume in a fresh process; drop-path 0 and 0.1)"
exit $fail
