#!/usr/bin/env bash
# Hostile flags (issue 15): every recipe refuses, at start and naming the flag, exit status 2:
# model sizes that would divide by zero (--heads 0 used to die with SIGFPE) or exceed the caps,
# --threads above the documented cap (256), negative --min-lr / --weight-decay, and an --out that
# cannot be created or written (used to be found only when the first save failed, after an epoch).
# Usage: test_hostile_flags.sh <folder holding the shears_* executables>
set -uo pipefail
bin=$1
fail=0
# expect <regex> <program> <args...>: exit status 2 and stderr matching regex, within 60 s
expect() {
  local want=$1 prog=$2
  shift 2
  local err rc
  err=$(timeout 60 "$bin/$prog" "$@" 2>&1 >/dev/null)
  rc=$?
  if [[ $rc -ne 2 ]] || ! grep -qE -- "$want" <<<"$err"; then
    echo "FAIL: $prog $* -> exit $rc, stderr: $err (wanted exit 2 and /$want/)"
    fail=1
  else
    echo "ok:   $prog $* -> $err"
  fi
}
self=${BASH_SOURCE[0]}  # an existing regular file, for recipes that check --checkpoint first

# shears_main: model-size flags checked before any division
expect "--heads must be in \[1, " shears_main --heads 0 --scale quick
expect "--dim must be in \[1, " shears_main --dim 0 --scale quick
expect "--dim 130 is not divisible by --heads 4" shears_main --dim 130 --scale quick
expect "--patch must be in \[1, 28\]" shears_main --patch 0 --scale quick
expect "--patch must divide the image side 28" shears_main --patch 5 --scale quick
expect "--depth must be in \[1, 1024\]" shears_main --depth 600000 --scale quick
expect "--mlp must be in \[1, " shears_main --mlp 0 --scale quick
expect "--dim must be in \[1, 65536\]" shears_main --dim 4611686018427387904 --heads 1 --scale quick

# shears_videomae_pretrain: model-size flags checked before the model is built
expect "--heads must be in \[1, 4096\], got 0" shears_videomae_pretrain --scale smoke --heads 0
expect "--dim \(32\) must be a multiple of --heads \(3\)" shears_videomae_pretrain --scale smoke --heads 3

# --threads above the cap, in every recipe that takes it
expect "--threads must be 0 \(automatic\) or in \[1, 256\], got 999" shears_main --threads 999 --scale quick
expect "--threads must be 0 \(automatic\) or in \[1, 256\], got 999" shears_gardener --threads 999 --scale smoke
expect "--threads must be 0 \(automatic\) or in \[1, 256\], got 999" shears_token_pruning --threads 999 --scale smoke
expect "--threads must be 0 \(automatic\) or in \[1, 256\], got 999" shears_videomae_pretrain --threads 999 --scale smoke
expect "--threads must be 0 \(automatic\) or in \[1, 256\], got 999" shears_prune --checkpoint "$self" --threads 999
expect "--threads must be 0 \(automatic\) or in \[1, 256\], got -1" shears_main --threads -1 --scale quick
expect "--threads must be 0 \(automatic\) or in \[1, 256\], got 999" shears_amp --threads 999 --scale smoke

# negative rates
expect "--min-lr must be a finite value >= 0, got -1" shears_main --min-lr -1 --scale quick
expect "--weight-decay must be a finite value >= 0, got -0.1" shears_main --weight-decay -0.1 --scale quick
expect "--min-lr must be a finite value >= 0, got -1" shears_token_pruning --min-lr -1 --scale smoke
expect "--weight-decay must be a finite value >= 0, got -0.5" shears_token_pruning --weight-decay -0.5 --scale smoke
expect "--weight-decay" shears_prune --checkpoint "$self" --weight-decay -1
expect "--weight-decay must be a finite value >= 0, got -1" shears_amp --weight-decay -1 --scale smoke
# the flag named once (the p3b recipe once printed "----min-lr")
expect "\] --min-lr must be a finite value >= 0, got -1" shears_p3b --min-lr -1 --scale smoke
expect "\] --drop-path must be a finite value >= 0, got -0.1" shears_p3b --drop-path -0.1 --scale smoke

# an --out that cannot be created, or exists but is not writable (/proc refuses new files, even to root)
expect "--out '/proc/shears_out': the output folder cannot be created" shears_main --out /proc/shears_out --scale quick
expect "--out '$self/sub': the output folder cannot be created" shears_main --out "$self/sub" --scale quick
expect "--out '/proc': the output folder is not writable" shears_main --out /proc --scale quick
expect "--out '/proc': the output folder is not writable" shears_gardener --out /proc --scale smoke
expect "--out '/proc': the output folder is not writable" shears_token_pruning --out /proc --scale smoke
expect "--out '/proc': the output folder is not writable" shears_videomae_pretrain --out /proc --scale smoke
expect "--out '/proc': the output folder is not writable" shears_amp --out /proc --scale smoke
expect "--out '/proc': the output folder is not writable" shears_token_pictures --out /proc --random-model
expect "--out '/proc': the output folder is not writable" shears_gardener_analyze --checkpoint "$self" --out /proc
expect "--out '/proc/x.safetensors': its folder '/proc' is not writable" \
  shears_prune --checkpoint "$self" --out /proc/x.safetensors

exit $fail
