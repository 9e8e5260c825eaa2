#!/usr/bin/env bash
# Builds (see build.sh) and runs the main job, build/recipes/shears_main, passing all
# arguments through (try: bash scripts/main.sh --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/build.sh
exec ./build/recipes/shears_main "$@"
