#!/usr/bin/env bash
# shears_token_pictures on a tiny random ViT (28x28x1, patch 7: 4x4 patches, 4 blocks, pruning after
# blocks 2/3/4) and a Fashion-MNIST test image: the PNG files exist and have the grid's dimensions
# (cells 28 x 8 = 224 px, 4 px gaps): entropy maps 2 rows x (1 + 4 blocks), kept patches 2 policies
# x (1 + 3 pruning blocks). Usage: test_token_pictures.sh <shears_token_pictures> <out dir>
set -euo pipefail
tool="$1"
out="$2"
rm -rf "$out"
"$tool" --random-model --index 3 --orders 1,2,inf --out "$out"

png_size() {  # prints "WIDTHxHEIGHT" from the IHDR chunk (big-endian u32 at bytes 16 and 20)
  local w h
  w=$(od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
  h=$(od -An -tu1 -j20 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
  echo "${w}x${h}"
}
check() {  # file expected-size
  [ -f "$1" ] || { echo "FAIL: $1 was not written"; exit 1; }
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || { echo "FAIL: $1 is not a PNG"; exit 1; }
  local got
  got=$(png_size "$1")
  [ "$got" = "$2" ] || { echo "FAIL: $1 is $got, expected $2"; exit 1; }
  echo "ok: $1 $got"
}
check "$out/entropy_shannon.png" 1136x452   # 5 x 224 + 4 x 4, 2 x 224 + 4
check "$out/entropy_renyi2.png" 1136x452
check "$out/entropy_renyi_inf.png" 1136x452
check "$out/kept_patches.png" 908x452       # 4 x 224 + 3 x 4
