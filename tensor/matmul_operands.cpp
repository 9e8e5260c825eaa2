// Operand geometry of kernels::matmul (see matmul_operands.h).
#include "tensor/matmul_operands.h"

#include <algorithm>

#include "tensor/kernels.h"

namespace shears::kernels::matmul_geometry {

BlasLayout blas_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc) {
  const int64_t min_ld_plain = std::max<int64_t>(1, cols);
  if (cols <= 1 || sc == 1) {  // element (i, j) at i*ld + j
    const int64_t ld = rows <= 1 ? min_ld_plain : sr;
    if (ld >= min_ld_plain) return {true, false, ld};
  }
  const int64_t min_ld_trans = std::max<int64_t>(1, rows);
  if (rows <= 1 || sr == 1) {  // element (i, j) at j*ld + i
    const int64_t ld = cols <= 1 ? min_ld_trans : sc;
    if (ld >= min_ld_trans) return {true, true, ld};
  }
  return {};
}

// a_side: a 1-d tensor becomes a row (1, K); otherwise a column (K, 1).
Operand as_operand(const Tensor& t, bool a_side) {
  Operand op;
  op.t = t;
  const Shape& s = t.shape();
  const Shape& st = t.strides();
  const size_t nd = s.size();
  if (nd == 1) {
    if (a_side) { op.rows = 1; op.cols = s[0]; op.sr = s[0]; op.sc = st[0]; }
    else { op.rows = s[0]; op.cols = 1; op.sr = st[0]; op.sc = 1; }
    return op;
  }
  op.batch.assign(s.begin(), s.end() - 2);
  op.batch_strides.assign(st.begin(), st.end() - 2);
  op.rows = s[nd - 2]; op.cols = s[nd - 1];
  op.sr = st[nd - 2]; op.sc = st[nd - 1];
  return op;
}

// The BLAS layout of an operand's matrices; packs the operand when no layout fits.
BlasLayout layout_or_pack(Operand& op, bool a_side) {
  BlasLayout l = blas_layout(op.rows, op.cols, op.sr, op.sc);
  if (l.ok) return l;
  op = as_operand(contiguous(op.t), a_side);
  return blas_layout(op.rows, op.cols, op.sr, op.sc);
}

// Leading dimension of a's rows when its batch dims and row dim merge into one dim of
// uniform stride (so the batch folds into M); -1 when they do not.
int64_t folded_ld(const Operand& a, const Shape& batch, const Shape& bstrides) {
  if (!(a.cols <= 1 || a.sc == 1)) return -1;
  int64_t ld = -1, expect = -1;  // stride the next outer non-1 dim must have
  auto visit = [&](int64_t size, int64_t stride) {
    if (size == 1) return true;
    if (ld < 0) ld = stride;
    else if (stride != expect) return false;
    expect = stride * size;
    return true;
  };
  if (!visit(a.rows, a.sr)) return -1;
  for (int64_t d = int64_t(batch.size()) - 1; d >= 0; --d)
    if (!visit(batch[d], bstrides[d])) return -1;
  if (ld < 0) ld = std::max<int64_t>(1, a.cols);
  return ld >= std::max<int64_t>(1, a.cols) ? ld : -1;
}

bool all_zero(const Shape& s) {
  for (int64_t v : s)
    if (v != 0) return false;
  return true;
}

}  // namespace shears::kernels::matmul_geometry
