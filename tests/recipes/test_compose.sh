#!/usr/bin/env bash
# shears_compose at smoke scale (issue 13): the study runs end to end (tiny base trained here, single
# methods, stacks, the order pair, recovery fine-tunes), C1-C3 are printed, the CSV/JSON/plot data
# exist and parse, the PNGs exist when gnuplot is installed, every point's checkpoint reloads in a
# fresh process and reproduces its top-1 (check_compose_outputs), and bad input fails naming the flag.
# Paper scale end to end on a 2-block DeiT-T-shaped timm-named file and a tiny 224 px ImageFolder (the
# path a user takes with a real DeiT file; accuracy meaningless).
# Usage: test_compose.sh <shears_compose> <scratch dir> <check_compose_outputs> <Fashion-MNIST dir>
#                        <shears_make_test_checkpoint> <shears_make_test_image_folder>
set -euo pipefail
compose=$1
dir=$2
check=$3
data=$4
make_checkpoint=$5
make_folder=$6
rm -rf "$dir" && mkdir -p "$dir"
fail=0
"$compose" --scale smoke --threads 2 --out "$dir/run" > "$dir/out.txt" 2>&1 || { cat "$dir/out.txt"; exit 1; }
for f in compose_points.csv compose_points.json compose_pareto.csv compose_pareto.json compose_plot.dat \
         compose_gflops.gp compose_speed.gp models/point00.safetensors models/point00_ft.safetensors; do
  [[ -s "$dir/run/$f" ]] || { echo "FAIL: $f missing or empty"; fail=1; }
done
if command -v gnuplot > /dev/null; then
  for f in compose_gflops.png compose_speed.png; do
    [[ -s "$dir/run/$f" ]] || { echo "FAIL: $f missing (gnuplot is installed)"; fail=1; }
  done
fi
for t in "C1 - every point" "C2 - Pareto-optimal points" "C3 - answers" "most accurate single method" \
         "most accurate stack" "Does the order matter?" "reloaded from its file"; do
  grep -q "$t" "$dir/out.txt" || { echo "FAIL: '$t' not printed"; fail=1; }
done
# C1: 9 pipelines x (pruned, fine-tuned) rows, 11 columns each
rows=$(awk 'NR > 1' "$dir/run/compose_points.csv" | wc -l)
[[ "$rows" == 18 ]] || { echo "FAIL: compose_points.csv has $rows rows, expected 18"; fail=1; }
"$check" "$dir/run" "$data" || fail=1
# the tables and plots again from the JSON alone
"$compose" --report-from "$dir/run/compose_points.json" --out "$dir/report" > "$dir/report.txt" 2>&1 ||
  { cat "$dir/report.txt"; fail=1; }
grep -q "C3 - answers" "$dir/report.txt" || { echo "FAIL: --report-from printed no answers"; fail=1; }
cmp -s "$dir/run/compose_points.csv" "$dir/report/compose_points.csv" ||
  { echo "FAIL: --report-from wrote a different compose_points.csv"; fail=1; }
echo '{"points": [{"pipeline": "blocks:entropy:k=1"}]}' > "$dir/bad.json"

# paper scale: timm names, heads given, tiny folder, every family and one stack
"$make_checkpoint" "$dir/deit.safetensors" deit_tiny_patch16_224 --depth 2 > /dev/null
"$make_folder" "$dir/folder" 2 6 224
"$compose" --scale paper --checkpoint "$dir/deit.safetensors" --heads 3 --train-dir "$dir/folder" --val-dir "$dir/folder" \
  --gardener-ks 1 --amp-deltas 0.01 --p3b-ratios 0.5 --p3b-epochs 1 --token-keeps 0.7 --renyi-orders 2 \
  --stacks "blocks:entropy:k=1,tokens:evit@0.7" --score-images 4 --val-images 4 --score-batch 2 --val-batch 2 \
  --batch 2 --throughput-batch 2 --throughput-time 0 --timing-samples 1 --threads 2 --out "$dir/paper" \
  > "$dir/paper.txt" 2>&1 || { cat "$dir/paper.txt"; fail=1; }
grep -q "C3 - answers" "$dir/paper.txt" || { echo "FAIL: paper scale printed no answers"; fail=1; }
rows=$(awk 'NR > 1' "$dir/paper/compose_points.csv" 2> /dev/null | wc -l)
[[ "$rows" == 14 ]] || { echo "FAIL: paper scale compose_points.csv has $rows rows, expected 14"; fail=1; }

expect_error() {  # expect_error <text> <args...>
  local want=$1
  shift
  if "$compose" "$@" > "$dir/err.txt" 2>&1; then
    echo "FAIL: '$*' succeeded"; fail=1
  elif ! grep -q -- "$want" "$dir/err.txt"; then
    echo "FAIL: '$*' did not say '$want':"; cat "$dir/err.txt"; fail=1
  fi
}
expect_error "blocks:nonsense" --scale smoke --stacks "blocks:nonsense:k=1,tokens:evit@0.7" --out "$dir/bad"
expect_error "--token-keeps" --scale smoke --token-keeps 1.5 --out "$dir/bad"
expect_error "--gardener-ks: 'x'" --scale smoke --gardener-ks 1,x --out "$dir/bad"
expect_error "--scale must be" --scale huge --out "$dir/bad"
expect_error "--scale paper needs --checkpoint" --scale paper --out "$dir/bad"
expect_error "is not a file" --scale mini --checkpoint "$dir/none.safetensors" --out "$dir/bad"
expect_error "--budget must be" --scale smoke --budget 1.5 --out "$dir/bad"
expect_error "not a compose_points.json file" --report-from "$dir/bad.json" --out "$dir/bad"
expect_error "--report-from '$dir/none.json' is not a file" --report-from "$dir/none.json" --out "$dir/bad"
exit $fail
