#!/usr/bin/env bash
# A distributed sweep prints the one-process tables (issue 17): the token-pruning smoke study
# (dense control + 3 methods x 2 keep rates = 7 fine-tunes) on 1 rank, then on 2 ranks (jobs
# round-robin, results gathered on rank 0; rank 0 retrains the cached base first, rank 1 loads
# it), both with one thread per rank. Table 1 (with and without fine-tuning, CSV and JSON) must be
# byte-identical. Table 3 holds measured images/s and is not compared.
#   sweep_tables.sh SHEARS_TOKEN_PRUNING OUT_DIR MPIRUN ARGS... (the launcher and its flags up to -np)
set -euo pipefail
prog=$1
out=$2
shift 2
rm -rf "$out"
mkdir -p "$out/np1"
"$@" 1 "$prog" --scale smoke --threads 1 --out "$out/run" >"$out/np1.log" 2>&1 || { cat "$out/np1.log"; exit 1; }
cp "$out/run"/table1.csv "$out/run"/table1.json "$out/run"/table1_no_finetune.csv "$out/run"/table1_no_finetune.json "$out/np1/"
"$@" 2 "$prog" --scale smoke --threads 1 --retrain-base --out "$out/run" >"$out/np2.log" 2>&1 || { cat "$out/np2.log"; exit 1; }
grep -q "patch-4 base trained here" "$out/np2.log" || { echo "FAIL: the 2-rank run did not retrain the base"; exit 1; }
status=0
for f in table1.csv table1.json table1_no_finetune.csv table1_no_finetune.json; do
  if ! cmp -s "$out/np1/$f" "$out/run/$f"; then
    echo "FAIL: $f differs between 1 and 2 ranks:"
    diff "$out/np1/$f" "$out/run/$f" || true
    status=1
  fi
done
echo "Table 1 (after fine-tuning) on 2 ranks:"
cat "$out/run/table1.csv"
grep "fine-tunes + evaluations in" "$out/np1.log" "$out/np2.log"
[[ $status -eq 0 ]] && echo "sweep_tables: Table 1 identical on 1 and 2 ranks"
exit $status
