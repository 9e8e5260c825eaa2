#!/usr/bin/env bash
# shears_prune end to end (issue 10, acceptance 3): a main-job checkpoint pruned by a 3-step pipeline
# (blocks -> MLP neurons -> tokens) and fine-tuned with pruning in place is written to a file that a
# SECOND process reloads from the file alone: same shapes, same GFLOPs (token pruning restored) and
# the same accuracy on the same images. Bad step strings and unknown criteria fail naming the step.
# Also: a Hugging Face VideoMAE file and a timm-named file (shapes read from the tensors) prune and reload.
# Usage: test_prune.sh <shears_main> <shears_prune> <shears_make_test_checkpoint> <scratch dir>
set -euo pipefail
main=$1
prune=$2
make_checkpoint=$3
dir=$4
rm -rf "$dir" && mkdir -p "$dir"
"$main" --scale quick --train-limit 1024 --eval-limit 200 --pruning-rows=false --threads 2 --out "$dir/main" > "$dir/main.txt"
ckpt="$dir/main/vit_fmnist.safetensors"
common=(--eval-limit 1000 --timing-samples 1 --threads 2)
"$prune" --checkpoint "$ckpt" --steps "blocks:entropy:k=1,mlp:magnitude:keep=0.5,tokens:renyi:2@0.7" \
  --finetune-epochs 1 --train-limit 512 --batch-size 64 --out "$dir/pruned.safetensors" "${common[@]}" > "$dir/a.txt"
"$prune" --checkpoint "$dir/pruned.safetensors" "${common[@]}" > "$dir/b.txt"

fail=0
# the last table row of the first run (after the fine-tune) and the input row of the second
last_row() { grep -E '^\| \+ ' "$1" | tail -n 1; }
first_row() { grep -E '^\| input' "$1" | head -n 1; }
# columns: Model | Params | GFLOPs | FLOP ratio | Images/s | Speed-up | Top-1 +- SE | UAR
cols() { awk -F'|' '{print $3, $4, $8, $9}'; }
a=$(last_row "$dir/a.txt" | cols)
b=$(first_row "$dir/b.txt" | cols)
echo "after pruning + fine-tune: $a"
echo "reloaded in a new process: $b"
[[ -n "$a" && "$a" == "$b" ]] || { echo "FAIL: the reloaded model differs (params, GFLOPs, top-1, UAR)"; fail=1; }
grep -q "already pruned" "$dir/b.txt" || { echo "FAIL: the reloaded file does not carry its prune log"; fail=1; }
grep -q "+ fine-tune 1 epoch" "$dir/a.txt" || { echo "FAIL: no fine-tune row"; fail=1; }
# GFLOPs must shrink step by step (blocks, neurons, tokens)
g=$(grep -E '^\| (input|\+ [bmt])' "$dir/a.txt" | awk -F'|' '{print $4}' | tr -d ' ' | tr '\n' ' ')
echo "GFLOPs per step: $g"
decreasing=$(echo "$g" | awk '{ok = 1; for (i = 2; i <= NF; ++i) if ($i + 0 >= $(i - 1) + 0) ok = 0; print ok}')
[[ "$decreasing" == 1 ]] || { echo "FAIL: GFLOPs do not decrease with every step: $g"; fail=1; }

# Hugging Face VideoMAE names (videomae_small_patch4_32: 16 frames of 32x32, width 192 = 3 heads of 64)
"$make_checkpoint" "$dir/hf.safetensors" videomae_small_patch4_32 --hf --depth 3 > /dev/null
"$prune" --checkpoint "$dir/hf.safetensors" --image-size 32 --data none --timing-samples 1 --timing-batch 2 \
  --steps "blocks:entropy:k=1,mlp:magnitude:keep=0.5,heads:magnitude:keep=2" --out "$dir/hf_pruned.safetensors" > "$dir/hf_a.txt"
"$prune" --checkpoint "$dir/hf_pruned.safetensors" --data none --timing-samples 1 --timing-batch 2 > "$dir/hf_b.txt"
grep -q "(hf-videomae, videomae, 3 blocks" "$dir/hf_a.txt" || { echo "FAIL: the HF file was not read as HF VideoMAE"; fail=1; }
a=$(last_row "$dir/hf_a.txt" | awk -F'|' '{print $3, $4}')
b=$(first_row "$dir/hf_b.txt" | awk -F'|' '{print $3, $4}')
echo "HF VideoMAE pruned: $a / reloaded: $b"
[[ -n "$a" && "$a" == "$b" ]] || { echo "FAIL: the pruned HF model reloads with other shapes"; fail=1; }
# a timm-named file: the shears checkpoint read as timm (no config used) has the same parameter count
t=$("$prune" --checkpoint "$ckpt" --format timm --heads 4 --data none --timing-samples 1 | first_row /dev/stdin | awk -F'|' '{print $3}')
s=$("$prune" --checkpoint "$ckpt" --data none --timing-samples 1 | first_row /dev/stdin | awk -F'|' '{print $3}')
echo "params as timm: $t, as shears: $s"
[[ -n "$t" && "$t" == "$s" ]] || { echo "FAIL: the timm reading of the checkpoint has other shapes"; fail=1; }

# AMP as a step: it searches on the --val-images validation batches, and the result reloads
"$prune" --checkpoint "$ckpt" --steps "mlp:amp:delta=0.01,tokens:evit@0.7" --train-limit 512 --val-images 128 \
  --calib-batches 2 --batch-size 64 --out "$dir/amp.safetensors" "${common[@]}" > "$dir/amp_a.txt" ||
  { cat "$dir/amp_a.txt"; fail=1; }
"$prune" --checkpoint "$dir/amp.safetensors" "${common[@]}" > "$dir/amp_b.txt"
a=$(last_row "$dir/amp_a.txt" | cols)
b=$(first_row "$dir/amp_b.txt" | cols)
echo "AMP + EViT: $a / reloaded: $b"
[[ -n "$a" && "$a" == "$b" ]] || { echo "FAIL: the AMP-pruned model reloads differently"; fail=1; }

expect_error() {  # expect_error <regex> <steps>
  local out
  if out=$("$prune" --checkpoint "$ckpt" --data none --steps "$2" 2>&1); then
    echo "FAIL: --steps '$2' was accepted"; fail=1; return
  fi
  echo "$out" | grep -qE "$1" || { echo "FAIL: --steps '$2': expected /$1/, got: $out"; fail=1; }
}
expect_error "error: .*step 2 'blocks:foo:k=2': unknown block criterion 'foo'" "tokens:evit@0.7,blocks:foo:k=2"
expect_error "error: .*step 1 'mlp:nope:keep=0.5': unknown neuron criterion 'nope'" "mlp:nope:keep=0.5"
expect_error "error: .*step 1 'tokens:evit@1.5'" "tokens:evit@1.5"
expect_error "error: .*step 1 'frobnicate'" "frobnicate"
expect_error "error: .*step 1 'blocks:entropy:k=6'" "blocks:entropy:k=6"
expect_error "error: .*step 2 'tokens:evit@0.5'.*already" "tokens:evit@0.7,tokens:evit@0.5"
exit $fail
