#!/usr/bin/env bash
# What --resume refuses and what a diverging run keeps, in the main job:
#  1. resuming with a different seed / batch size / lr / data limit is refused, naming each
#     differing flag with both values; --resume-override lists what may change; a name that is not a
#     recorded flag is refused; the unchanged flags resume;
#  2. --lr 1e6 with a state saved every step stops with an error naming the step where the run
#     diverged, and the last good train_state.safetensors is kept, loads and holds finite weights:
#     a resume from it into another --out that stops at once (--stop-after-steps = its step) loads
#     it strictly and saves it again through the non-finite check, byte-identical to the kept file;
#  3. no temp file is left next to the states.
# Usage: test_resume_checks.sh <shears_main binary> <scratch dir>
set -uo pipefail
main=$1
dir=$2
rm -rf "$dir" && mkdir -p "$dir"
args=(--scale quick --epochs 1 --train-limit 256 --batch-size 32 --eval-limit 100 --log-every 1 --threads 2 --pruning-rows=false)
fail=0
bad() { echo "FAIL: $*"; fail=1; }
expect_error() {  # expect_error <name> <regex> <command...>: exit code 2 and output matching regex
  local name=$1 re=$2; shift 2
  "$@" > "$dir/$name.txt" 2>&1; local rc=$?
  [ $rc -eq 2 ] || bad "$name: expected exit code 2, got $rc"
  grep -Eq -- "$re" "$dir/$name.txt" || { bad "$name: output does not match '$re':"; cat "$dir/$name.txt"; }
}

# 1. run config checks
"$main" "${args[@]}" --out "$dir/r" --stop-after-steps 2 > "$dir/r1.txt" || bad "first half failed"
state="$dir/r/train_state.safetensors"
cp "$state" "$dir/saved.safetensors"
expect_error seed '--seed: saved 0, now 7' "$main" "${args[@]}" --out "$dir/r" --resume "$state" --seed 7
expect_error batch '--batch-size: saved 32, now 16' "$main" "${args[@]}" --out "$dir/r" --resume "$state" --batch-size 16
expect_error two_flags '--lr: saved 0.005[0-9]*, now 0.01.*' "$main" "${args[@]}" --out "$dir/r" \
  --resume "$state" --lr 0.01 --train-limit 128
grep -q -- '--train-limit: saved 256, now 128' "$dir/two_flags.txt" || bad "two_flags: --train-limit not named"
grep -q -- '--resume-override lr,train-limit' "$dir/two_flags.txt" || bad "two_flags: no --resume-override hint"
expect_error partial_override '--train-limit: saved 256, now 128' "$main" "${args[@]}" --out "$dir/r" \
  --resume "$state" --lr 0.01 --train-limit 128 --resume-override lr
expect_error unknown_override "--resume-override: 'out' is not a flag" "$main" "${args[@]}" --out "$dir/r" \
  --resume "$state" --resume-override out
expect_error override_without_resume '--resume-override needs --resume' "$main" "${args[@]}" --out "$dir/r2" \
  --resume-override lr
cmp -s "$state" "$dir/saved.safetensors" || bad "a refused resume changed the training state"
"$main" "${args[@]}" --out "$dir/r" --resume "$state" --lr 0.01 --resume-override lr > "$dir/override.txt" 2>&1 ||
  bad "--resume-override lr did not resume: $(tail -3 "$dir/override.txt")"
grep -Eq 'allowed by --resume-override: --lr 0.005[0-9]* -> 0.01' "$dir/override.txt" ||
  bad "the allowed change is not reported"

# 2. divergence keeps the last good state
expect_error diverge 'error: \[trainer\] the run diverged: .*step [0-9]+ \(index' \
  "$main" "${args[@]}" --out "$dir/d" --lr 1e6 --save-every 1
grep -Eq 'the last good training state .*/d/train_state.safetensors \(after step [0-9]+\) is kept and loadable' \
  "$dir/diverge.txt" || bad "diverge: the kept state is not named"
grep -q -- '--clip-grad 1' "$dir/diverge.txt" || bad "diverge: the hint does not name --clip-grad"
kept=$(sed -nE 's/.*\(after step ([0-9]+)\) is kept.*/\1/p' "$dir/diverge.txt")
failed=$(sed -nE 's/.*the run diverged: .*step ([0-9]+) \(index.*/\1/p' "$dir/diverge.txt")
[ -n "$kept" ] && [ -n "$failed" ] && [ "$kept" -lt "$failed" ] || bad "diverge: kept step '$kept' is not before the failed step '$failed'"
cp "$dir/d/train_state.safetensors" "$dir/kept.safetensors"
"$main" "${args[@]}" --out "$dir/d2" --lr 1e6 --resume "$dir/d/train_state.safetensors" --stop-after-steps "$kept" \
  > "$dir/d_reload.txt" 2>&1 || bad "the kept state does not load or is not finite: $(tail -3 "$dir/d_reload.txt")"
grep -q "resumed from .* step $kept," "$dir/d_reload.txt" || bad "the kept state is not the one after step $kept"
cmp -s "$dir/d2/train_state.safetensors" "$dir/kept.safetensors" || bad "the kept state did not round-trip exactly"

# 3. no temp files left
left=$(find "$dir" -name '*.tmp.*' | wc -l)
[ "$left" -eq 0 ] || bad "$left temp files left: $(find "$dir" -name '*.tmp.*')"
[ $fail -eq 0 ] && echo "resume checks: OK (config mismatches refused, override allowed; diverged at step $failed, the state after step $kept kept, finite and loadable)"
exit $fail
