#!/usr/bin/env bash
# Fuzz check for CI: builds the libFuzzer targets (clang-14, SHEARS_BUILD_FUZZERS=ON) in a build
# dir of their own if needed, replays the committed corpus through every target (-runs=0), then
# fuzzes each target briefly from that corpus with a FIXED seed and a fixed number of executions
# (deterministic for a given build: a pass does not turn into a random failure on the next run;
# new inputs go to a temp dir, never into the repo). The targets in FUZZ_REPLAY_ONLY (default
# fuzz_image: it keeps finding faults inside Debian's stb_image, README.md) are only replayed.
# Exits non-zero on any crash, sanitizer report, leak, timeout or out-of-memory, naming the target
# and the input it saved. Usage: tests/fuzz/replay.sh [build dir (default build-fuzz)] [fuzzing:
# 0 = replay only (default), ci = each target's CI count below (~3 s each on 2 cores), N = N
# executions per target]. Env: FUZZ_TARGETS="fuzz_idx fuzz_steps" for a subset, FUZZ_SEED (default
# 1), FUZZ_REPLAY_ONLY.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fuzz_dir="$repo/tests/fuzz"
build=${1:-"$repo/build-fuzz"}
fuzz_runs=${2:-0}
seed=${FUZZ_SEED:-1}
read -r -a replay_only <<< "${FUZZ_REPLAY_ONLY-fuzz_image}"
[[ "$build" = /* ]] || build="$PWD/$build"

all_targets=(fuzz_safetensors fuzz_load_model fuzz_model_config fuzz_prune_log fuzz_idx fuzz_image
             fuzz_hf_videomae fuzz_flags fuzz_steps)
read -r -a targets <<< "${FUZZ_TARGETS:-${all_targets[*]}}"

# The longest input each target is fuzzed with (sized to its format) and its dictionary.
max_len_of() {
  case "$1" in
    fuzz_safetensors|fuzz_load_model) echo 16384 ;;
    fuzz_image) echo 8192 ;;
    fuzz_flags) echo 1024 ;;
    fuzz_steps) echo 512 ;;
    *) echo 4096 ;;
  esac
}
# Executions of the CI's brief fuzzing ("ci"): 1-3.5 s each at the rates of CI's 10 s runs on 2
# cores (tests/fuzz/RESULTS.md), ~15 s in all; fuzz_image is replay-only by default.
ci_runs_of() {
  case "$1" in
    fuzz_load_model) echo 2000 ;;                          # ~1300/s on CI's 2 cores
    fuzz_safetensors|fuzz_flags|fuzz_hf_videomae) echo 4000 ;;  # ~1200-2300/s
    *) echo 10000 ;;  # prune_log, idx ~4000/s; model_config, steps ~15000/s
  esac
}
dict_of() {
  case "$1" in
    fuzz_safetensors|fuzz_load_model|fuzz_model_config|fuzz_prune_log) echo "$fuzz_dir/dict/json.dict" ;;
    fuzz_steps) echo "$fuzz_dir/dict/steps.dict" ;;
    fuzz_flags) echo "$fuzz_dir/dict/flags.dict" ;;
    fuzz_hf_videomae) echo "$fuzz_dir/dict/hf_names.dict" ;;
    *) echo "" ;;
  esac
}

for tool in clang-14 clang++-14; do
  command -v "$tool" >/dev/null || { echo "replay.sh: $tool not found (scripts/setup.sh installs clang-14 and libclang-rt-14-dev)" >&2; exit 1; }
done

# Configure when the dir is not a fuzz build yet; -O1 -g keeps asserts and readable stacks.
if ! grep -q '^SHEARS_BUILD_FUZZERS:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  CC=clang-14 CXX=clang++-14 cmake -S "$repo" -B "$build" -G Ninja -DSHEARS_BUILD_FUZZERS=ON \
    -DSHEARS_BUILD_TESTS=OFF -DSHEARS_BUILD_BENCH=OFF -DSHEARS_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
fi
cmake --build "$build" --target "${targets[@]}" -j "${FUZZ_JOBS:-2}"

# Temp files in memory when possible: the targets write every input to a file, which on a disk
# (overlay) file system is what limits their speed (~300 vs ~3000 executions/s).
tmp_root=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && tmp_root=/dev/shm
work=$(mktemp -d "$tmp_root/shears_fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work"  # the targets' temp files
# UB aborts (the build uses -fno-sanitize-recover=undefined); print stacks for UBSan too.
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  corpus="$fuzz_dir/corpus/$t"
  [[ -d "$corpus" ]] || { echo "replay.sh: no corpus at $corpus" >&2; failed+=("$t (no corpus)"); continue; }
  common=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=30 -max_len="$(max_len_of "$t")"
          -artifact_prefix="$work/$t-")
  dict=$(dict_of "$t")
  [[ -n "$dict" ]] && common+=(-dict="$dict")
  echo "== $t: replaying $(find "$corpus" -type f | wc -l) corpus files"
  if ! "$bin" "${common[@]}" -runs=0 "$corpus" > "$work/$t.replay.log" 2>&1; then
    tail -n 40 "$work/$t.replay.log"
    failed+=("$t (corpus replay)")
    continue
  fi
  runs=$fuzz_runs
  [[ "$runs" == ci ]] && runs=$(ci_runs_of "$t")
  [[ " ${replay_only[*]} " == *" $t "* ]] && runs=0
  if (( runs > 0 )); then
    mkdir -p "$work/new/$t"
    echo "== $t: fuzzing $runs executions (seed $seed)"
    # -max_total_time only bounds a pathological slowdown; the run count is what makes it repeatable.
    if ! "$bin" "${common[@]}" -seed="$seed" -runs="$runs" -max_total_time=300 -print_final_stats=1 \
        "$work/new/$t" "$corpus" > "$work/$t.fuzz.log" 2>&1; then
      tail -n 40 "$work/$t.fuzz.log"
      # Keep the crashing input where CI can upload it.
      mkdir -p "$build/fuzz-artifacts"
      cp "$work/$t-"* "$build/fuzz-artifacts/" 2>/dev/null || true
      failed+=("$t (fuzzing; inputs in $build/fuzz-artifacts)")
      continue
    fi
    grep -E '^#[0-9]+.*(DONE|cov:)' "$work/$t.fuzz.log" | tail -n 1 || true
  fi
done

if (( ${#failed[@]} )); then
  echo "replay.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "replay.sh: all ${#targets[@]} targets passed (corpus replay$([[ "$fuzz_runs" != 0 ]] && echo " + brief fuzzing ($fuzz_runs, seed $seed; replay only: ${replay_only[*]:-none})"))"
