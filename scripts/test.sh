#!/usr/bin/env bash
# Builds (see build.sh) and runs the whole test suite with CTest. The CTest summary
# line ("N% tests passed, ...") is repeated as the last line printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/build.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
ctest --test-dir build --output-on-failure -j2 2>&1 | tee "$log" || rc=$?
summary=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)
echo
if [[ -n "$summary" ]]; then
  echo "$summary"
else
  echo "ctest did not report a summary (exit status $rc)"
  [[ $rc -eq 0 ]] && rc=1
fi
exit "$rc"
