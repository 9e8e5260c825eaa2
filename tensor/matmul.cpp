// kernels::matmul: (..., M, K) @ (..., K, N) with numpy batch broadcasting and 1-d
// promotion, mapped onto tensor/gemm without copies whenever the operands' strides can be
// expressed as a BLAS leading dimension (plain or transposed). A 2-d right operand (or one
// broadcast over the batch) with a row-contiguous left operand becomes one big GEMM.
#include <algorithm>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/profile.h"

namespace shears::kernels {
namespace {

// How BLAS reads a (rows, cols) matrix stored with strides (sr, sc).
struct BlasLayout {
  bool ok = false;     // false: the strides need a packing copy first
  bool trans = false;  // stored as (cols, rows) row-major
  int64_t ld = 1;      // leading dimension of the stored matrix
};

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

// One operand seen as a batch of matrices: sizes and strides of the batch dims and of
// the (rows, cols) matrix, after 1-d promotion.
struct Operand {
  Tensor t;
  Shape batch, batch_strides;
  int64_t rows = 0, cols = 0, sr = 0, sc = 0;
};

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

template <typename T>
void run_matmul(Operand& a, Operand& b, const Shape& batch, Tensor& out) {
  const int64_t M = a.rows, K = a.cols, N = b.cols;
  T* C = out.data<T>();
  if (K == 0) return std::fill(C, C + out.numel(), T(0));  // empty sums
  const BlasLayout la = layout_or_pack(a, true);
  const BlasLayout lb = layout_or_pack(b, false);
  const Shape sa = broadcast_strides(a.batch, a.batch_strides, batch);
  const Shape sb = broadcast_strides(b.batch, b.batch_strides, batch);
  const T* A = a.t.template data<T>();
  const T* B = b.t.template data<T>();
  const int64_t nbatch = shape_numel(batch);

  if (nbatch == 1) return gemm<T>(la.trans, lb.trans, M, N, K, T(1), A, la.ld, B, lb.ld, T(0), C, N);
  if (all_zero(sb)) {  // one right matrix for the whole batch: fold the batch into M
    const int64_t ld = folded_ld(a, batch, sa);
    if (ld > 0) return gemm<T>(false, lb.trans, nbatch * M, N, K, T(1), A, ld, B, lb.ld, T(0), C, N);
  }
  // General batch: per-item pointers from the broadcast batch strides.
  std::vector<const T*> pa(nbatch), pb(nbatch);
  std::vector<T*> pc(nbatch);
  Shape idx(batch.size(), 0);
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < nbatch; ++i) {
    pa[i] = A + oa;
    pb[i] = B + ob;
    pc[i] = C + i * M * N;
    for (int64_t d = int64_t(batch.size()) - 1; d >= 0; --d) {  // advance the index
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < batch[d]) break;
      oa -= sa[d] * batch[d];
      ob -= sb[d] * batch[d];
      idx[d] = 0;
    }
  }
  gemm_batched<T>(la.trans, lb.trans, M, N, K, T(1), pa.data(), la.ld, pb.data(), lb.ld, T(0),
                  pc.data(), N, nbatch);
}

}  // namespace

// a: (..., M, K) or (K,), b: (..., K, N) or (K,) -> (..., M, N) minus promoted dims
Tensor matmul(const Tensor& a, const Tensor& b) {
  SHEARS_PROFILE(Gemm);
  SHEARS_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul", "both arguments need at least 1 dim, got shapes ",
               shape_str(a.shape()), " and ", shape_str(b.shape()));
  SHEARS_CHECK(a.dtype() == b.dtype(), "matmul", "dtype mismatch: ", dtype_name(a.dtype()), " and ",
               dtype_name(b.dtype()));
  Operand oa = as_operand(a, true), ob = as_operand(b, false);
  SHEARS_CHECK(oa.cols == ob.rows, "matmul", "shapes ", shape_str(a.shape()), " and ",
               shape_str(b.shape()), ": inner dims ", oa.cols, " and ", ob.rows, " differ");
  // Batch dims broadcast numpy-style (aligned from the right).
  const size_t nb = std::max(oa.batch.size(), ob.batch.size());
  Shape batch(nb, 1);
  for (size_t i = 0; i < nb; ++i) {
    const int64_t da = i < oa.batch.size() ? oa.batch[oa.batch.size() - 1 - i] : 1;
    const int64_t db = i < ob.batch.size() ? ob.batch[ob.batch.size() - 1 - i] : 1;
    SHEARS_CHECK(da == db || da == 1 || db == 1, "matmul", "shapes ", shape_str(a.shape()), " and ",
                 shape_str(b.shape()), ": batch dims do not broadcast");
    batch[nb - 1 - i] = da == 1 ? db : da;
  }
  Shape out_shape = batch;
  if (a.dim() > 1) out_shape.push_back(oa.rows);
  if (b.dim() > 1) out_shape.push_back(ob.cols);
  if (Backend* be = device_backend("matmul", {&a, &b})) {
    SHEARS_CHECK(is_floating(a.dtype()), "matmul", "expected a floating dtype (f32 or f64), got ", dtype_name(a.dtype()));
    return be->matmul(a, b);
  }
  Tensor out = Tensor::empty(out_shape, a.dtype());
  if (out.numel() == 0) return out;
  SHEARS_DISPATCH_FLOAT(a.dtype(), "matmul", [&] { run_matmul<scalar_t>(oa, ob, batch, out); });
  return out;
}

}  // namespace shears::kernels
