// Operand geometry of kernels::matmul, shared by the host GEMM path (tensor/matmul.cpp) and device
// backends (cuda/gemm.cpp): each operand seen as a batch of (rows, cols) matrices after numpy's 1-d
// promotion, the BLAS layout (leading dimension, plain or transposed) its strides allow, and when a
// batch folds into the row dimension. Pure geometry: no data is read.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace shears::kernels::matmul_geometry {

// How BLAS reads a (rows, cols) matrix stored with strides (sr, sc).
struct BlasLayout {
  bool ok = false;     // false: the strides need a packing copy first
  bool trans = false;  // stored as (cols, rows) row-major
  int64_t ld = 1;      // leading dimension of the stored matrix
};
BlasLayout blas_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc);

// One operand seen as a batch of matrices: sizes and strides of the batch dims and of the
// (rows, cols) matrix, after 1-d promotion.
struct Operand {
  Tensor t;
  Shape batch, batch_strides;
  int64_t rows = 0, cols = 0, sr = 0, sc = 0;
};
// a_side: a 1-d tensor becomes a row (1, K); otherwise a column (K, 1).
Operand as_operand(const Tensor& t, bool a_side);
// The BLAS layout of an operand's matrices; packs the operand (kernels::contiguous, on its own
// device) when no layout fits.
BlasLayout layout_or_pack(Operand& op, bool a_side);
// Leading dimension of a's rows when its batch dims and row dim merge into one dim of uniform
// stride (so the batch folds into M); -1 when they do not.
int64_t folded_ld(const Operand& a, const Shape& batch, const Shape& bstrides);
// Whether every entry of s is 0 (a batch broadcast with stride 0 everywhere).
bool all_zero(const Shape& s);

}  // namespace shears::kernels::matmul_geometry
