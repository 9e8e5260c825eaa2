// Differentiable 2-d convolution ("same" padding, stride 1) and training-mode batch norm,
// both channels-last (tokens are (B, N, D)). conv2d is im2col + the one GEMM entry point;
// its backward recomputes the columns instead of keeping them (they are k*k times the input).
// Per-channel reductions use fixed chunks combined in order: the bits do not depend on threads.
#include <cmath>
#include <memory>
#include <vector>

#include "autograd/ops.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace shears {

namespace K = kernels;

namespace {

// cols (B*H*W, k*k*C): row (b, h, w) holds x[b, h+ky-p, w+kx-p, :] for ky, kx (zeros outside)
template <typename T>
void im2col(const T* x, int64_t B, int64_t H, int64_t W, int64_t C, int64_t k, T* cols) {
  const int64_t p = k / 2, row_len = k * k * C, rows = B * H * W;
  parallel_for(rows, grain_for(row_len), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / (H * W), h = (r / W) % H, w = r % W;
      T* out = cols + r * row_len;
      for (int64_t ky = 0; ky < k; ++ky) {
        const int64_t sy = h + ky - p;
        for (int64_t kx = 0; kx < k; ++kx, out += C) {
          const int64_t sx = w + kx - p;
          if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
            std::fill(out, out + C, T(0));
          } else {
            const T* src = x + ((b * H + sy) * W + sx) * C;
            std::copy(src, src + C, out);
          }
        }
      }
    }
  });
}

// The adjoint of im2col: dx[b, y, x, c] = sum over (ky, kx) of dcols[(b, y-ky+p, x-kx+p), (ky, kx, c)],
// gathered per output pixel in (ky, kx) order (no races, fixed summation order).
template <typename T>
void col2im(const T* dcols, int64_t B, int64_t H, int64_t W, int64_t C, int64_t k, T* dx) {
  const int64_t p = k / 2, row_len = k * k * C, rows = B * H * W;
  parallel_for(rows, grain_for(row_len), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / (H * W), y = (r / W) % H, x = r % W;
      T* out = dx + r * C;
      std::fill(out, out + C, T(0));
      for (int64_t ky = 0; ky < k; ++ky) {
        const int64_t oy = y - ky + p;
        if (oy < 0 || oy >= H) continue;
        for (int64_t kx = 0; kx < k; ++kx) {
          const int64_t ox = x - kx + p;
          if (ox < 0 || ox >= W) continue;
          const T* src = dcols + ((b * H + oy) * W + ox) * row_len + (ky * k + kx) * C;
          for (int64_t c = 0; c < C; ++c) out[c] += src[c];
        }
      }
    }
  });
}

// Columns of x (contiguous (B, H, W, C)); for k == 1 the columns are x itself.
Tensor columns_of(const Tensor& x, int64_t k) {
  if (k == 1) return x;
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  Tensor cols = Tensor::empty({B * H * W, k * k * C}, x.dtype());
  SHEARS_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] {
    im2col<scalar_t>(x.data<scalar_t>(), B, H, W, C, k, cols.data<scalar_t>());
  });
  return cols;
}

// Per-channel sums in double over `rows` rows: row_fn(r, acc) adds nsums * C values into acc.
// Chunks of a fixed number of rows each fill their own partial; partials are added in chunk order.
template <typename RowFn>
std::vector<double> channel_sums(int64_t rows, int64_t C, int64_t nsums, RowFn row_fn) {
  const int64_t width = nsums * C;
  const int64_t grain = grain_for(C, 65536);
  const int64_t chunks = rows > 0 ? (rows + grain - 1) / grain : 0;
  std::vector<double> partial(static_cast<size_t>(chunks * width), 0.0);
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    double* acc = partial.data() + (r0 / grain) * width;
    for (int64_t r = r0; r < r1; ++r) row_fn(r, acc);
  });
  std::vector<double> total(static_cast<size_t>(width), 0.0);
  for (int64_t ch = 0; ch < chunks; ++ch)
    for (int64_t i = 0; i < width; ++i) total[i] += partial[ch * width + i];
  return total;
}

template <typename T>
Tensor vector_to_tensor(const std::vector<double>& v, DType dtype) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, dtype);
  T* p = t.data<T>();
  for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(v[i]);
  return t;
}

struct BatchNormStats {
  std::vector<double> mean, rstd;  // (C,)
};

}  // namespace

// y[b,h,w,o] = bias[o] + sum_{ky,kx,c} x[b, h+ky-p, w+kx-p, c] * weight[o, c, ky, kx], p = k/2 (zeros outside).
// As GEMMs with Wm = weight permuted to (Cout, k, k, Cin): y = cols Wm^T + b; dWm = dy^T cols; dx = col2im(dy Wm).
Tensor conv2d(const Tensor& x_in, const Tensor& weight, const Tensor& bias) {
  SHEARS_CHECK(x_in.dim() == 4 && weight.dim() == 4, "conv2d",
               "expected x (B, H, W, Cin) channels-last and weight (Cout, Cin, k, k), got x ", shape_str(x_in.shape()),
               " and weight ", shape_str(weight.shape()));
  const int64_t B = x_in.size(0), H = x_in.size(1), W = x_in.size(2), Cin = x_in.size(3);
  const int64_t Cout = weight.size(0), k = weight.size(2);
  SHEARS_CHECK(weight.size(3) == k && k % 2 == 1, "conv2d",
               "expected a square kernel of odd size (same padding k/2), got weight ", shape_str(weight.shape()));
  SHEARS_CHECK(weight.size(1) == Cin, "conv2d", "x ", shape_str(x_in.shape()), " has ", Cin,
               " channels (last dim) but weight ", shape_str(weight.shape()), " expects ", weight.size(1));
  SHEARS_CHECK(x_in.dtype() == weight.dtype(), "conv2d", "dtype mismatch: x ", dtype_name(x_in.dtype()), ", weight ",
               dtype_name(weight.dtype()));
  if (bias.defined())
    SHEARS_CHECK(bias.dim() == 1 && bias.size(0) == Cout && bias.dtype() == x_in.dtype(), "conv2d", "bias ",
                 shape_str(bias.shape()), " ", dtype_name(bias.dtype()), " does not match weight ",
                 shape_str(weight.shape()), " ", dtype_name(weight.dtype()));
  const int64_t M = B * H * W, KK = k * k * Cin;
  Tensor x = K::contiguous(x_in);
  Tensor wm = K::reshape(K::contiguous(K::permute(weight, {0, 2, 3, 1})), {Cout, KK});
  Tensor y = Tensor::empty({B, H, W, Cout}, x.dtype());
  if (M > 0 && Cout > 0) {
    Tensor cols = columns_of(x, k);
    SHEARS_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] {
      using T = scalar_t;
      T* yp = y.data<T>();
      if (bias.defined()) {
        Tensor b = K::contiguous(bias);
        const T* bp = b.data<T>();
        parallel_for(M, grain_for(Cout), [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) std::copy(bp, bp + Cout, yp + r * Cout);
        });
      }
      gemm<T>(false, true, M, Cout, KK, T(1), cols.data<T>(), KK, wm.data<T>(), KK, bias.defined() ? T(1) : T(0), yp,
              Cout);
    });
  }
  const Shape w_shape = weight.shape();
  return record("conv2d", y, {x_in, weight, bias}, [x, wm, w_shape](const Tensor& dy_in) {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), Cin = x.size(3);
    const int64_t Cout = w_shape[0], k = w_shape[2], M = B * H * W, KK = k * k * Cin;
    Tensor dy = K::contiguous(dy_in);
    Tensor dx, dw, db;
    SHEARS_DISPATCH_FLOAT(dy.dtype(), "conv2d_backward", [&] {
      using T = scalar_t;
      if (input_needs_grad(0)) {  // dcols = dy Wm, dx = col2im(dcols)
        Tensor dcols = Tensor::empty({M, KK}, dy.dtype());
        gemm<T>(false, false, M, KK, Cout, T(1), dy.data<T>(), Cout, wm.data<T>(), KK, T(0), dcols.data<T>(), KK);
        if (k == 1) {
          dx = K::reshape(dcols, x.shape());
        } else {
          dx = Tensor::empty(x.shape(), dy.dtype());
          col2im<T>(dcols.data<T>(), B, H, W, Cin, k, dx.data<T>());
        }
      }
      if (input_needs_grad(1)) {  // dWm = dy^T cols, back to (Cout, Cin, k, k)
        Tensor cols = columns_of(x, k);
        Tensor dwm = Tensor::empty({Cout, KK}, dy.dtype());
        gemm<T>(true, false, Cout, KK, M, T(1), dy.data<T>(), Cout, cols.data<T>(), KK, T(0), dwm.data<T>(), KK);
        dw = K::contiguous(K::permute(K::reshape(dwm, {Cout, k, k, Cin}), {0, 3, 1, 2}));
      }
    });
    if (input_needs_grad(2)) db = K::reduce(K::ReduceOp::Sum, K::reshape(dy, {M, Cout}), {0}, false);
    return TensorList{dx, dw, db};
  });
}

// Over rows r of x viewed as (R, C): mean_c, biased var_c, rstd_c = 1/sqrt(var_c + eps),
// xhat = (x - mean) * rstd, y = xhat * w + b.  Backward (g = dy * w):
// dx = rstd / R * (R g - sum_r g - xhat sum_r g xhat),  dw = sum_r dy xhat,  db = sum_r dy.
Tensor batch_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias, double eps, Tensor* batch_mean,
                  Tensor* batch_var) {
  SHEARS_CHECK(x_in.dim() >= 2, "batch_norm", "expected x (..., C) channels-last with at least one leading dim, got ",
               shape_str(x_in.shape()));
  const int64_t C = x_in.size(-1);
  const int64_t R = C > 0 ? x_in.numel() / C : 0;
  SHEARS_CHECK(R > 1, "batch_norm", "training mode needs more than one value per channel, got x ",
               shape_str(x_in.shape()));
  SHEARS_CHECK(eps >= 0.0, "batch_norm", "eps must be >= 0, got ", eps);
  for (const Tensor* p : {&weight, &bias})
    if (p->defined())
      SHEARS_CHECK(p->dim() == 1 && p->size(0) == C && p->dtype() == x_in.dtype(), "batch_norm",
                   p == &weight ? "weight " : "bias ", shape_str(p->shape()), " ", dtype_name(p->dtype()),
                   " does not match x ", shape_str(x_in.shape()), " ", dtype_name(x_in.dtype()), " (expected (", C,
                   "))");
  Tensor x = K::contiguous(x_in);
  auto stats = std::make_shared<BatchNormStats>();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  SHEARS_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    std::vector<double> mean = channel_sums(R, C, 1, [&](int64_t r, double* acc) {
      const T* row = xp + r * C;
      for (int64_t c = 0; c < C; ++c) acc[c] += row[c];
    });
    for (double& m : mean) m /= static_cast<double>(R);
    std::vector<double> sq = channel_sums(R, C, 1, [&](int64_t r, double* acc) {
      const T* row = xp + r * C;
      for (int64_t c = 0; c < C; ++c) {
        const double d = row[c] - mean[c];
        acc[c] += d * d;
      }
    });
    std::vector<double> rstd(C), scale(C), shift(C);
    Tensor w = weight.defined() ? K::contiguous(weight) : Tensor(), b = bias.defined() ? K::contiguous(bias) : Tensor();
    for (int64_t c = 0; c < C; ++c) {
      rstd[c] = 1.0 / std::sqrt(sq[c] / static_cast<double>(R) + eps);
      scale[c] = rstd[c] * (w.defined() ? static_cast<double>(w.data<T>()[c]) : 1.0);
      shift[c] = (b.defined() ? static_cast<double>(b.data<T>()[c]) : 0.0) - mean[c] * scale[c];
    }
    T* yp = y.data<T>();
    parallel_for(R, grain_for(C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < C; ++c) yp[r * C + c] = static_cast<T>(xp[r * C + c] * scale[c] + shift[c]);
    });
    if (batch_mean) *batch_mean = vector_to_tensor<T>(mean, x.dtype());
    if (batch_var) {
      std::vector<double> unbiased(C);
      for (int64_t c = 0; c < C; ++c) unbiased[c] = sq[c] / static_cast<double>(R - 1);
      *batch_var = vector_to_tensor<T>(unbiased, x.dtype());
    }
    stats->mean = std::move(mean);
    stats->rstd = std::move(rstd);
  });
  return record("batch_norm", y, {x_in, weight, bias}, [x, weight, stats](const Tensor& dy_in) {
    const int64_t C = x.size(-1), R = x.numel() / C;
    Tensor dy = K::contiguous(dy_in);
    Tensor w = weight.defined() ? K::contiguous(weight) : Tensor();
    Tensor dx, dw, db;
    SHEARS_DISPATCH_FLOAT(dy.dtype(), "batch_norm_backward", [&] {
      using T = scalar_t;
      const T* xp = x.data<T>();
      const T* dyp = dy.data<T>();
      const std::vector<double>& mean = stats->mean;
      const std::vector<double>& rstd = stats->rstd;
      // sums[0..C) = sum_r dy, sums[C..2C) = sum_r dy * xhat
      std::vector<double> sums = channel_sums(R, C, 2, [&](int64_t r, double* acc) {
        for (int64_t c = 0; c < C; ++c) {
          const double g = dyp[r * C + c];
          acc[c] += g;
          acc[C + c] += g * (xp[r * C + c] - mean[c]) * rstd[c];
        }
      });
      if (input_needs_grad(0)) {
        dx = Tensor::empty(x.shape(), dy.dtype());
        T* dxp = dx.data<T>();
        const double inv_r = 1.0 / static_cast<double>(R);
        std::vector<double> wc(C), mean_dy(C), mean_dyx(C);
        for (int64_t c = 0; c < C; ++c) {
          wc[c] = (w.defined() ? static_cast<double>(w.data<T>()[c]) : 1.0) * rstd[c];
          mean_dy[c] = sums[c] * inv_r;
          mean_dyx[c] = sums[C + c] * inv_r;
        }
        parallel_for(R, grain_for(C), [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t c = 0; c < C; ++c) {
              const double xhat = (xp[r * C + c] - mean[c]) * rstd[c];
              dxp[r * C + c] = static_cast<T>(wc[c] * (dyp[r * C + c] - mean_dy[c] - xhat * mean_dyx[c]));
            }
        });
      }
      if (input_needs_grad(1)) dw = vector_to_tensor<T>(std::vector<double>(sums.begin() + C, sums.end()), dy.dtype());
      if (input_needs_grad(2)) db = vector_to_tensor<T>(std::vector<double>(sums.begin(), sums.begin() + C), dy.dtype());
    });
    return TensorList{dx, dw, db};
  });
}

}  // namespace shears
