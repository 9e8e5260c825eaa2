#!/usr/bin/env bash
# Exact resume and determinism of the main job, across fresh processes:
#  1. two runs with the same seed and thread count give bitwise-identical losses and weights;
#  2. N steps in one run equal k steps + a saved training state + a fresh process that resumes
#     for the remaining N-k steps (same per-step losses and lr, identical final weights).
# Usage: test_resume.sh <shears_main binary> <scratch dir>
set -euo pipefail
main=$1
dir=$2
rm -rf "$dir" && mkdir -p "$dir"
args=(--scale quick --epochs 2 --train-limit 512 --batch-size 64 --eval-limit 200 --log-every 1 --threads 2 --pruning-rows=false)

"$main" "${args[@]}" --out "$dir/a" > "$dir/a.txt"
"$main" "${args[@]}" --out "$dir/b" > "$dir/b.txt"
"$main" "${args[@]}" --out "$dir/c" --stop-after-steps 5 > "$dir/c1.txt"
"$main" "${args[@]}" --out "$dir/c" --resume "$dir/c/train_state.safetensors" > "$dir/c2.txt"

steps() { sed -nE 's/.*"step":([0-9]+),"loss":([^,]+),"lr":([^,]+),.*/\1 \2 \3/p' "$1"; }
fail=0
if ! diff <(steps "$dir/a/train_log.jsonl") <(steps "$dir/b/train_log.jsonl"); then
  echo "FAIL: two runs with the same seed differ in their losses"; fail=1
fi
cmp "$dir/a/vit_fmnist.safetensors" "$dir/b/vit_fmnist.safetensors" || { echo "FAIL: same-seed weights differ"; fail=1; }
if ! diff <(steps "$dir/a/train_log.jsonl") <(steps "$dir/c/train_log.jsonl"); then
  echo "FAIL: the resumed run's losses differ from the uninterrupted run"; fail=1
fi
cmp "$dir/a/vit_fmnist.safetensors" "$dir/c/vit_fmnist.safetensors" || { echo "FAIL: resumed weights differ"; fail=1; }
n=$(steps "$dir/a/train_log.jsonl" | wc -l)
grep -q "stopped after 5 steps" "$dir/c1.txt" || { echo "FAIL: the first half did not stop at step 5"; fail=1; }
grep -q "resumed from" "$dir/c2.txt" || { echo "FAIL: the second half did not resume"; fail=1; }
[ "$n" -eq 16 ] || { echo "FAIL: expected 16 logged steps, got $n"; fail=1; }
[ $fail -eq 0 ] && echo "resume and determinism: OK ($n steps; stop at 5, resume in a fresh process)"
exit $fail
