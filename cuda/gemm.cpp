// cuBLAS GEMMs of CudaBackend: matmul (numpy batch broadcasting and 1-d promotion as in
// tensor/matmul.cpp, strided operands read through leading dimensions without copies when BLAS can
// express them), linear and linear_backward (as tensor/fused_kernels.cpp). Row-major products run
// as cuBLAS column-major ones via C^T = op(B)^T op(A)^T.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/cuda_common.h"
#include "tensor/matmul_operands.h"
#include "tensor/kernels.h"

namespace shears::cuda {

namespace {

int to_int(int64_t v, const char* op, const char* what) {
  SHEARS_CHECK(v >= 0 && v <= INT_MAX, op, what, " = ", v, " exceeds cuBLAS's 32-bit sizes");
  return static_cast<int>(v);
}

}  // namespace

// Row-major C = alpha op(A) op(B) + beta C (tensor/gemm.h's convention: trans_a means A is stored
// (K, M)), `batch` items at element strides sa/sb/sc (0 reuses one matrix). M, N, K >= 1.
template <typename T>
void gemm_rm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, int64_t sa,
             const T* B, int64_t ldb, int64_t sb, T beta, T* C, int64_t ldc, int64_t sc, int64_t batch,
             const char* op) {
  const int m = to_int(N, op, "N"), n = to_int(M, op, "M"), k = to_int(K, op, "K");
  const int la = to_int(lda, op, "lda"), lb = to_int(ldb, op, "ldb"), lc = to_int(ldc, op, "ldc");
  const int nb = to_int(batch, op, "batch");
  const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasHandle_t h = cublas_handle();
  if constexpr (std::is_same_v<T, float>) {
    if (nb == 1)
      SHEARS_CUBLAS_CHECK(cublasSgemm(h, opb, opa, m, n, k, &alpha, B, lb, A, la, &beta, C, lc));
    else
      SHEARS_CUBLAS_CHECK(
          cublasSgemmStridedBatched(h, opb, opa, m, n, k, &alpha, B, lb, sb, A, la, sa, &beta, C, lc, sc, nb));
  } else {
    if (nb == 1)
      SHEARS_CUBLAS_CHECK(cublasDgemm(h, opb, opa, m, n, k, &alpha, B, lb, A, la, &beta, C, lc));
    else
      SHEARS_CUBLAS_CHECK(
          cublasDgemmStridedBatched(h, opb, opa, m, n, k, &alpha, B, lb, sb, A, la, sa, &beta, C, lc, sc, nb));
  }
}

template void gemm_rm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                             const float*, int64_t, int64_t, float, float*, int64_t, int64_t, int64_t, const char*);
template void gemm_rm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                              const double*, int64_t, int64_t, double, double*, int64_t, int64_t, int64_t,
                              const char*);

namespace {

// ---------------- matmul: operand geometry shared with the host (tensor/matmul_operands.h) ----------------

using namespace kernels::matmul_geometry;

// One batch dim after merging: its size and the element strides of a, b and the output.
struct BatchDim {
  int64_t size, sa, sb, sc;
};

template <typename T>
void run_matmul(Operand& a, Operand& b, const Shape& batch, const Tensor& out) {
  const int64_t M = a.rows, K = a.cols, N = b.cols;
  T* C = dptr<T>(out);
  if (K == 0) return zero_async(C, out.numel() * sizeof(T));  // empty sums
  const BlasLayout la = layout_or_pack(a, true);
  const BlasLayout lb = layout_or_pack(b, false);
  const Shape sa = broadcast_strides(a.batch, a.batch_strides, batch);
  const Shape sb = broadcast_strides(b.batch, b.batch_strides, batch);
  const T* A = dptr<T>(a.t);
  const T* B = dptr<T>(b.t);
  const int64_t nbatch = shape_numel(batch);
  const char* op = "matmul";

  if (nbatch == 1)
    return gemm_rm<T>(la.trans, lb.trans, M, N, K, T(1), A, la.ld, 0, B, lb.ld, 0, T(0), C, N, 0, 1, op);
  if (all_zero(sb)) {  // one right matrix for the whole batch: fold the batch into M
    const int64_t ld = folded_ld(a, batch, sa);
    if (ld > 0) return gemm_rm<T>(false, lb.trans, nbatch * M, N, K, T(1), A, ld, 0, B, lb.ld, 0, T(0), C, N, 0, 1, op);
  }
  // General batch: drop size-1 dims, merge neighbours whose strides line up (for a, b and the
  // contiguous output alike), run the innermost merged dim as one strided-batched call and loop
  // over the others.
  std::vector<BatchDim> dims;
  int64_t out_stride = M * N;
  std::vector<BatchDim> rev;  // innermost first
  for (int64_t d = int64_t(batch.size()) - 1; d >= 0; --d) {
    if (batch[d] != 1) rev.push_back({batch[d], sa[d], sb[d], out_stride});
    out_stride *= batch[d];
  }
  for (auto it = rev.rbegin(); it != rev.rend(); ++it) {  // outermost first
    if (!dims.empty()) {
      BatchDim& o = dims.back();  // o is outer, *it the next inner dim
      if (o.sa == it->sa * it->size && o.sb == it->sb * it->size && o.sc == it->sc * it->size) {
        o = {o.size * it->size, it->sa, it->sb, it->sc};
        continue;
      }
    }
    dims.push_back(*it);
  }
  const BatchDim inner = dims.back();
  dims.pop_back();
  int64_t outer_n = 1;
  for (const BatchDim& d : dims) outer_n *= d.size;
  std::vector<int64_t> idx(dims.size(), 0);
  int64_t oa = 0, ob = 0, oc = 0;
  for (int64_t i = 0; i < outer_n; ++i) {
    gemm_rm<T>(la.trans, lb.trans, M, N, K, T(1), A + oa, la.ld, inner.sa, B + ob, lb.ld, inner.sb, T(0), C + oc, N,
               inner.sc, inner.size, op);
    for (int64_t d = int64_t(dims.size()) - 1; d >= 0; --d) {  // advance the outer index
      oa += dims[d].sa;
      ob += dims[d].sb;
      oc += dims[d].sc;
      if (++idx[d] < dims[d].size) break;
      oa -= dims[d].sa * dims[d].size;
      ob -= dims[d].sb * dims[d].size;
      oc -= dims[d].sc * dims[d].size;
      idx[d] = 0;
    }
  }
}

// Product of all dims but the last (1 for a 1-d shape): the rows of a (..., features) tensor.
int64_t leading_rows(const Shape& s) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < s.size(); ++i) rows *= s[i];
  return rows;
}

}  // namespace

// a: (..., M, K) or (K,), b: (..., K, N) or (K,) -> (..., M, N) minus promoted dims (the front door,
// tensor/matmul.cpp, has checked dims, dtypes and that the batch dims broadcast).
Tensor CudaBackend::matmul(const Tensor& a, const Tensor& b) {
  set_device(a);
  Operand oa = as_operand(a, true), ob = as_operand(b, false);
  const size_t nb = std::max(oa.batch.size(), ob.batch.size());
  Shape batch(nb, 1);
  for (size_t i = 0; i < nb; ++i) {
    const int64_t da = i < oa.batch.size() ? oa.batch[oa.batch.size() - 1 - i] : 1;
    const int64_t db = i < ob.batch.size() ? ob.batch[ob.batch.size() - 1 - i] : 1;
    batch[nb - 1 - i] = da == 1 ? db : da;
  }
  Shape out_shape = batch;
  if (a.dim() > 1) out_shape.push_back(oa.rows);
  if (b.dim() > 1) out_shape.push_back(ob.cols);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  SHEARS_DISPATCH_FLOAT(a.dtype(), "matmul", [&] { run_matmul<scalar_t>(oa, ob, batch, out); });
  return out;
}

// y = x W^T + b: x (..., in), weight (out, in), bias (out,) or undefined -> (..., out). As the host:
// y is pre-filled with the bias and the GEMM accumulates onto it (beta = 1).
Tensor CudaBackend::linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias) {
  set_device(x_in);
  const char* op = "linear";
  const Tensor x = kernels::contiguous(x_in), w = kernels::contiguous(weight_in);
  const int64_t in = w.size(1), outf = w.size(0);
  Shape out_shape = x.shape();
  out_shape.back() = outf;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  const int64_t rows = leading_rows(x.shape());
  if (bias.defined()) broadcast_rows(y, kernels::contiguous(bias), rows, outf);
  SHEARS_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    if (in == 0) {  // empty sums: y = bias (or 0)
      if (!bias.defined()) zero_async(dptr<T>(y), y.numel() * sizeof(T));
      return;
    }
    gemm_rm<T>(false, true, rows, outf, in, T(1), dptr<T>(x), in, 0, dptr<T>(w), in, 0,
               bias.defined() ? T(1) : T(0), dptr<T>(y), outf, 0, 1, op);
  });
  return y;
}

// dx = dy W, dW = dy^T x, db = sum over rows of dy; each only when asked for.
kernels::LinearGrads CudaBackend::linear_backward(const Tensor& dy_in, const Tensor& x_in, const Tensor& weight_in,
                                                  bool need_dx, bool need_dweight, bool need_dbias) {
  set_device(dy_in);
  const char* op = "linear_backward";
  const Tensor dy = kernels::contiguous(dy_in), x = kernels::contiguous(x_in), w = kernels::contiguous(weight_in);
  const int64_t in = w.size(1), outf = w.size(0);
  const int64_t rows = leading_rows(dy.shape());
  kernels::LinearGrads g;
  SHEARS_DISPATCH_FLOAT(dy.dtype(), op, [&] {
    using T = scalar_t;
    if (need_dx) {  // dx = dy @ W: (rows, out) (out, in)
      g.dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (g.dx.numel() > 0) {
        if (outf == 0) zero_async(dptr<T>(g.dx), g.dx.numel() * sizeof(T));
        else gemm_rm<T>(false, false, rows, in, outf, T(1), dptr<T>(dy), outf, 0, dptr<T>(w), in, 0, T(0),
                        dptr<T>(g.dx), in, 0, 1, op);
      }
    }
    if (need_dweight) {  // dW = dy^T @ x: (out, rows) (rows, in)
      g.dweight = Tensor::empty(w.shape(), w.dtype(), w.device());
      if (g.dweight.numel() > 0) {
        if (rows == 0) zero_async(dptr<T>(g.dweight), g.dweight.numel() * sizeof(T));
        else gemm_rm<T>(true, false, outf, in, rows, T(1), dptr<T>(dy), outf, 0, dptr<T>(x), in, 0, T(0),
                        dptr<T>(g.dweight), in, 0, 1, op);
      }
    }
  });
  if (need_dbias) g.dbias = column_sum(dy, rows, outf, op);
  return g;
}

}  // namespace shears::cuda
