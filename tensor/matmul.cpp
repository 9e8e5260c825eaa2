// kernels::matmul: (..., M, K) @ (..., K, N) with numpy batch broadcasting and 1-d
// promotion, mapped onto tensor/gemm without copies whenever the operands' strides can be
// expressed as a BLAS leading dimension (plain or transposed). A 2-d right operand (or one
// broadcast over the batch) with a row-contiguous left operand becomes one big GEMM.
#include <algorithm>
#include <vector>

#include "tensor/gemm.h"
#include "tensor/device_dispatch.h"
#include "tensor/kernels.h"
#include "tensor/matmul_operands.h"
#include "tensor/profile.h"

namespace shears::kernels {
namespace {

using namespace matmul_geometry;

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
