#!/usr/bin/env bash
# shears_p3b at smoke scale (issue 11, acceptance 4): the whole study runs (source pre-training,
# dense control, P3B / uniform / masks-only-shrink at one ratio), P1-P3 are printed and written as
# CSV/JSON, the ΔΨ CSV exists, every saved model reloads (the recipe checks it) — and bad input
# fails with an error naming the flag or file: an unknown ratio, a method name, overlapping class
# lists, a paper checkpoint whose head count cannot be read from the file.
# Usage: test_p3b.sh <shears_p3b> <scratch dir>
set -euo pipefail
p3b=$1
dir=$2
rm -rf "$dir" && mkdir -p "$dir"
fail=0
"$p3b" --scale smoke --ratios 0.5 --threads 2 --out "$dir/run" > "$dir/out.txt" 2>&1 || { cat "$dir/out.txt"; exit 1; }
for f in p3b_table_p1.csv p3b_table_p1.json p3b_table_p2.csv p3b_table_p3.csv p3b_table_p3.json p3b_benefit.csv \
         models/dense_seed0.safetensors models/p3b_pr50_seed0.safetensors models/uniform_pr50_seed0.safetensors \
         models/no-react_pr50_seed0.safetensors; do
  [[ -s "$dir/run/$f" ]] || { echo "FAIL: $f missing or empty"; fail=1; }
done
for t in "P1 - top-1" "P2 - per sub-block" "P3 - cost and accuracy"; do
  grep -q "$t" "$dir/out.txt" || { echo "FAIL: table '$t' not printed"; fail=1; }
done
# P3 has the dense row and three pruned rows, each with fewer parameters than dense
rows=$(awk -F, 'NR > 1' "$dir/run/p3b_table_p3.csv" | wc -l)
[[ "$rows" == 4 ]] || { echo "FAIL: P3 has $rows rows, expected 4"; fail=1; }
smaller_check=$(awk -F, 'NR == 2 {d = $4} NR > 2 && $4 + 0 >= d + 0 {bad = 1} END {print bad + 0}' "$dir/run/p3b_table_p3.csv")
[[ "$smaller_check" == 0 ]] || { echo "FAIL: a pruned model is not smaller than the dense one"; fail=1; }

expect_error() {  # expect_error <text> <args...>
  local want=$1
  shift
  if "$p3b" "$@" > "$dir/err.txt" 2>&1; then
    echo "FAIL: '$*' succeeded"; fail=1
  elif ! grep -q -- "$want" "$dir/err.txt"; then
    echo "FAIL: '$*' did not say '$want':"; cat "$dir/err.txt"; fail=1
  fi
}
expect_error "--ratios: '1.5'" --scale smoke --ratios 1.5 --out "$dir/bad"
expect_error "--methods: unknown method 'magic'" --scale smoke --methods p3b,magic --out "$dir/bad"
expect_error "in both --source-classes and --target-classes" --scale smoke --source-classes 0-5 --out "$dir/bad"
expect_error "--scale paper needs --checkpoint" --scale paper --out "$dir/bad"
# a ViT file whose attention width (32) is not a multiple of 64: the head count must be given
expect_error "give it (--heads)" --scale paper --checkpoint "$dir/run/models/dense_seed0.safetensors" \
  --train-dir "$dir" --val-dir "$dir" --out "$dir/bad"
[[ $fail == 0 ]] && echo "shears_p3b smoke and bad-input checks passed"
exit $fail
