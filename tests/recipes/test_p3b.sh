#!/usr/bin/env bash
# shears_p3b at smoke scale (issue 11, acceptance 4): the whole study runs (source pre-training,
# dense control, P3B / uniform / masks-only-shrink at one ratio), P1-P3 are printed and written as
# CSV/JSON, the ΔΨ CSV exists (and the PNGs of ΔΨ and P1 when gnuplot is installed), every saved model reloads (the recipe checks it) — and bad input
# fails with an error naming the flag or file: an unknown ratio, a method name, overlapping class
# lists, a paper checkpoint whose head count cannot be read from the file.
# Paper scale end to end on a 1-block DeiT-T-shaped timm-named file and a tiny 224 px ImageFolder
# (the path a user takes with a real DeiT file; accuracy meaningless).
# Usage: test_p3b.sh <shears_p3b> <scratch dir> <shears_make_test_checkpoint> <shears_make_test_image_folder>
set -euo pipefail
p3b=$1
dir=$2
make_checkpoint=$3
make_folder=$4
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
# the pictures when gnuplot is installed (scripts/setup.sh installs it): PNGs, not empty files
if command -v gnuplot > /dev/null; then
  for stem in p3b_benefit p3b_table_p1; do  # the ΔΨ heatmap and P1 (top-1 vs pruning ratio)
    png="$dir/run/$stem.png"
    if [[ ! -s "$png" ]]; then
      echo "FAIL: $stem.png missing (gnuplot is installed)"; fail=1
    elif [[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]]; then
      echo "FAIL: $stem.png is not a PNG"; fail=1
    fi
    [[ -s "$dir/run/$stem.gp" ]] || { echo "FAIL: $stem.gp missing"; fail=1; }
  done
else
  grep -q "gnuplot not found" "$dir/out.txt" || { echo "FAIL: no gnuplot and the run did not say so"; fail=1; }
fi
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

# paper scale: timm names (shears checkpoints use them), heads given, tiny ImageFolder, patch heads of width 8
"$make_checkpoint" "$dir/deit.safetensors" deit_tiny_patch16_224 --depth 1 > /dev/null
"$make_folder" "$dir/folder" 2 6 224
"$p3b" --scale paper --checkpoint "$dir/deit.safetensors" --heads 3 --train-dir "$dir/folder" --val-dir "$dir/folder" \
  --ratios 0.5 --methods p3b --prune-epochs 2 --finetune-epochs 1 --batch 4 --update-interval 1 --patch-width 8 \
  --throughput-batch 4 --threads 2 --out "$dir/paper" > "$dir/paper.txt" 2>&1 || { cat "$dir/paper.txt"; fail=1; }
[[ -s "$dir/paper/models/p3b_pr50_seed0.safetensors" ]] || { echo "FAIL: paper scale saved no pruned model"; fail=1; }
grep -q "P3 - cost and accuracy" "$dir/paper.txt" || { echo "FAIL: paper scale printed no P3"; fail=1; }
# mismatched class lists between the folders, and a class folder without images, are named
mkdir -p "$dir/other/class_x"
expect_error "no images" --scale paper --checkpoint "$dir/deit.safetensors" --heads 3 --train-dir "$dir/folder" \
  --val-dir "$dir/other" --out "$dir/bad"
cp "$dir/folder/class_0/0.png" "$dir/other/class_x/0.png"
expect_error "differ in classes" --scale paper --checkpoint "$dir/deit.safetensors" --heads 3 --train-dir "$dir/folder" \
  --val-dir "$dir/other" --out "$dir/bad"
[[ $fail == 0 ]] && echo "shears_p3b smoke, paper-scale and bad-input checks passed"
exit $fail
