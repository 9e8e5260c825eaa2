#!/usr/bin/env bash
# Gardener's data-free analysis command on tiny generated checkpoints:
#  1. a shears ViT checkpoint whose block 2 is quantised to a coarse grid (lowest weight entropy):
#     Gardener removes block 2 first, every baseline prints an order, CSV/JSON are written;
#  2. the same kind of model under Hugging Face VideoMAE names (query/key/value pooled);
#  3. --sensitivity adds the oracle and the rank agreement table; --bins switches the histogram;
#  4. clear errors: missing file, a file without blocks, a wrong --sensitivity length, bad flags.
# Usage: test_gardener_analyze.sh <shears_gardener_analyze> <shears_make_test_checkpoint> <scratch dir>
set -euo pipefail
analyze=$1
make_ckpt=$2
dir=$3
rm -rf "$dir" && mkdir -p "$dir"
fail=0
check() {  # check <description> <command...>: the command must succeed
  local what=$1; shift
  if ! "$@"; then echo "FAIL: $what"; fail=1; fi
}

"$make_ckpt" "$dir/vit.safetensors" vit_tiny_patch4_32 --depth 5 --quantize-block 2 > /dev/null
"$analyze" --checkpoint "$dir/vit.safetensors" --out "$dir/out" > "$dir/vit.txt"
check "layout and depth printed" grep -q "layout: timm/shears, 5 blocks" "$dir/vit.txt"
check "Gardener removes the quantised block first" grep -qE "^\| Information Entropy \| lowest \| 2 " "$dir/vit.txt"
check "quantised block has H_N 0" grep -qE "^\| 2 \| [0-9]+ \| [0-9.]+ \| [0-9.]+ \| 0\.0000 \|" "$dir/vit.txt"
for method in Random Mean Variance "L1 Norm" "L2 Norm" "Standard Deviation" Kurtosis "Mutual Information"; do
  check "$method order printed" grep -qE "^\| $method \| [a-z]+ \| [0-4]( [0-4]){4} \|" "$dir/vit.txt"
done
check "sensitivity needs data" grep -qE "^\| Sensitivity \| .* \| n/a \| needs --sensitivity" "$dir/vit.txt"
check "removal sets for k = 1, 3" grep -qE "^\| Information Entropy \| 2 \| [0-4] [0-4] [0-4] \|" "$dir/vit.txt"
for t in block_stats removal_order removed_blocks; do
  check "$t.csv written" test -s "$dir/out/$t.csv"
  check "$t.json written" test -s "$dir/out/$t.json"
done
check "CSV has one row per block" test "$(wc -l < "$dir/out/block_stats.csv")" -eq 6

"$make_ckpt" "$dir/hf.safetensors" videomae_small_patch4_32 --depth 3 --hf --quantize-block 1 > /dev/null
"$analyze" --checkpoint "$dir/hf.safetensors" --sensitivity 3.5,0.2,1.0 --seed 4 > "$dir/hf.txt"
check "HF layout detected" grep -q "layout: Hugging Face, 3 blocks (videomae.encoder.layer.0" "$dir/hf.txt"
check "HF: Gardener removes block 1 first" grep -qE "^\| Information Entropy \| lowest \| 1 " "$dir/hf.txt"
check "sensitivity order" grep -qE "^\| Sensitivity \| smallest drop \| 1 2 0 \|" "$dir/hf.txt"
check "rank agreement printed" grep -qE "^\| Information Entropy \| -?[01]\.[0-9]{3} \| -?[01]\.[0-9]{3} \|" "$dir/hf.txt"
check "no self-agreement row" test "$(grep -c "^| Sensitivity |" "$dir/hf.txt")" -eq 2
check "random seed noted" grep -q "seed 4" "$dir/hf.txt"

"$analyze" --checkpoint "$dir/vit.safetensors" --bins 64 --ratios 2 > "$dir/bins.txt"
check "--bins switches the entropy" grep -q "entropy over 64 fixed-width bins" "$dir/bins.txt"
check "--ratios picks k" grep -q "| k=2 (40.0%) |" "$dir/bins.txt"

expect_error() {  # expect_error <description> <pattern> <args...>: non-zero exit, stderr matching pattern
  local what=$1 pattern=$2; shift 2
  if "$analyze" "$@" > "$dir/err.out" 2> "$dir/err.txt"; then echo "FAIL: $what: succeeded"; fail=1; return; fi
  grep -q -- "$pattern" "$dir/err.txt" || { echo "FAIL: $what: stderr was: $(cat "$dir/err.txt")"; fail=1; }
}
"$make_ckpt" "$dir/noblocks.safetensors" vit_tiny_patch4_32 --no-blocks > /dev/null
expect_error "missing file" "file not found" --checkpoint "$dir/nope.safetensors"
expect_error "no blocks" "encoder.layer.N" --checkpoint "$dir/noblocks.safetensors"
expect_error "no --checkpoint" "--checkpoint is required"
expect_error "sensitivity length" "has 2 values but" --checkpoint "$dir/vit.safetensors" --sensitivity 1,2
expect_error "bad sensitivity value" "'x' is not a number" --checkpoint "$dir/vit.safetensors" --sensitivity 1,x,2,3,4
expect_error "bad ratio" "not a whole number of blocks in 1..4" --checkpoint "$dir/vit.safetensors" --ratios 5
expect_error "negative bins" "--bins must be >= 0" --checkpoint "$dir/vit.safetensors" --bins -3
expect_error "unknown prefix" "no timm/shears blocks under the prefix 'x.'" --checkpoint "$dir/vit.safetensors" --prefix x.
"$analyze" --help | grep -q -- "--bins" || { echo "FAIL: --help"; fail=1; }

if [ $fail -ne 0 ]; then echo "gardener_analyze test FAILED (outputs in $dir)"; exit 1; fi
echo "gardener_analyze test passed"
