#!/usr/bin/env bash
# Builds (see build.sh) and runs the whole test suite with CTest. With CI=true (or
# SHEARS_FULL_CHECKS=1) it also runs the full checks: the ASan+UBSan suite with leak checking
# (build-asan), the fuzz corpus replay (tests/fuzz/replay.sh, when present and clang is installed)
# and the installed CMake package built against by tests/consumer. Prints each stage's wall time;
# the CTest summary line ("N% tests passed, ...") of the main suite is the last line printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

full_checks=0
[[ "${CI:-}" == "true" || "${SHEARS_FULL_CHECKS:-0}" == "1" ]] && full_checks=1
# ccache (CMakeLists.txt uses it when installed): paths relative to the checkout and no cwd in
# the hash, so a CI checkout at another path or the -g builds (sanitizers, fuzzers) still hit.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

stage_lines=()  # "name | seconds | result" for the table printed at the end
failed=0
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

# run_stage <name> <command...>: runs the command, records its wall time and result.
run_stage() {
  local name=$1
  shift
  local start=$SECONDS rc=0
  echo "=== stage: $name"
  "$@" || rc=$?
  local result="ok"
  [[ $rc -ne 0 ]] && { result="FAILED (exit $rc)"; failed=1; }
  stage_lines+=("$(printf '%-22s %6d s  %s' "$name" $((SECONDS - start)) "$result")")
  return 0
}

# ctest_with_summary <log> <ctest args...>: runs ctest, keeps its output in <log>, and fails when
# ctest fails or prints no summary line.
ctest_with_summary() {
  local log=$1
  shift
  local rc=0
  ctest "$@" 2>&1 | tee "$log" || rc=$?
  grep -qE '^[0-9]+% tests passed' "$log" || { echo "ctest did not report a summary (exit status $rc)"; return 1; }
  return "$rc"
}
summary_of() { grep -E '^[0-9]+% tests passed' "$1" | tail -n 1 || true; }

# ---- the ASan+UBSan suite (build-asan) ----
# Only what the tests need (no benchmarks); -O1 with line tables for readable reports. Every
# sanitizer report fails its test: UBSan halts, ASan aborts, LeakSanitizer runs at each exit.
sanitizer_build() {
  if [[ ! -f build-asan/CMakeCache.txt || ! -f build-asan/build.ninja ]]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
      -DSHEARS_SANITIZE=ON -DSHEARS_BUILD_BENCH=OFF -DSHEARS_WITH_CUDA=OFF || return 1
  fi
  cmake --build build-asan
}
sanitizer_tests() {
  ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    ctest_with_summary "$log_dir/asan.log" --test-dir build-asan --output-on-failure -j2
}

# ---- the fuzz corpus replay (tests/fuzz, libFuzzer needs clang) ----
fuzz_replay() {
  # corpus replay of all targets + brief fuzzing with a fixed seed and run count (~15 s in all); fuzz_image
  # is replay-only: fuzzing it keeps finding faults inside Debian's stb_image (tests/fuzz/README.md "CI")
  bash tests/fuzz/replay.sh build-fuzz ci
}

# ---- the OpenBLAS GEMM provider (the fallback of builds without oneDNN): tensor + autograd suites ----
# The default build runs float GEMM on oneDNN when libdnnl-dev is installed; this keeps the fallback
# (-DSHEARS_GEMM_PROVIDER=openblas) built and passing its GEMM tests and every float64 gradient check.
openblas_provider_build() {
  if [[ ! -f build-openblas/CMakeCache.txt || ! -f build-openblas/build.ninja ]]; then
    cmake -S . -B build-openblas -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHEARS_GEMM_PROVIDER=openblas \
      -DSHEARS_BUILD_BENCH=OFF -DSHEARS_WITH_CUDA=OFF || return 1
  fi
  cmake --build build-openblas --target test_tensor test_autograd
}
openblas_provider_tests() {
  ctest_with_summary "$log_dir/openblas.log" --test-dir build-openblas --output-on-failure -j2 -R '^(tensor|autograd):'
}

# ---- the CMake package: install build/, then build and run tests/consumer against it ----
package_consumer() {
  local prefix="$log_dir/prefix" consumer="$log_dir/consumer"
  cmake --install build --prefix "$prefix" >"$log_dir/install.log" || { cat "$log_dir/install.log"; return 1; }
  cmake -S tests/consumer -B "$consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" &&
    cmake --build "$consumer" && "$consumer/shears_consumer"
}

run_stage "setup + build" bash scripts/build.sh
[[ $failed -ne 0 ]] && { printf '%s\n' "${stage_lines[@]}"; echo "build failed"; exit 1; }
run_stage "tests" ctest_with_summary "$log_dir/main.log" --test-dir build --output-on-failure -j2

if [[ $full_checks -eq 1 ]]; then
  run_stage "sanitizer build" sanitizer_build
  if [[ ${stage_lines[-1]} == *FAILED* ]]; then
    stage_lines+=("sanitizer tests        (not run: the build failed)")
  else
    run_stage "sanitizer tests" sanitizer_tests
  fi
  if [[ -f tests/fuzz/replay.sh ]] && command -v clang++-14 >/dev/null 2>&1; then
    run_stage "fuzz replay" fuzz_replay
  else
    stage_lines+=("fuzz replay            (skipped: needs tests/fuzz/replay.sh and clang++-14)")
  fi
  run_stage "openblas provider" openblas_provider_build
  if [[ ${stage_lines[-1]} != *FAILED* ]]; then
    run_stage "openblas tests" openblas_provider_tests
  fi
  run_stage "package + consumer" package_consumer
fi

echo
echo "stage times (wall):"
printf '  %s\n' "${stage_lines[@]}"
if [[ $full_checks -eq 1 && -f "$log_dir/asan.log" ]]; then
  echo "  sanitizers: $(summary_of "$log_dir/asan.log")"
fi
if [[ $full_checks -eq 1 && -f "$log_dir/openblas.log" ]]; then
  echo "  openblas provider (tensor + autograd): $(summary_of "$log_dir/openblas.log")"
fi
summary=$(summary_of "$log_dir/main.log")
echo
# The CUDA module (built when a CUDA toolkit is found): its tests need a GPU and say why they skip.
if [[ -x build/tests/test_cuda ]]; then
  n_skipped=$(grep -c '(Skipped)' "$log_dir/main.log" || true)
  echo "CUDA module built; $n_skipped CUDA tests skipped here: $(build/tests/test_cuda "[no-such-tag]" 2>&1 | head -n 1 || true)"
else
  echo "CUDA module not built (no CUDA toolkit found, or -DSHEARS_WITH_CUDA=OFF)"
fi
if [[ -n "$summary" ]]; then
  echo "$summary"
else
  echo "ctest did not report a summary"
  failed=1
fi
exit "$failed"
