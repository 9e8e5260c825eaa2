// Differentiable ops for branches that read or write a subset of a tensor's channels (P3B's
// sliced blocks): index_add (base plus src added at an index, one pass when the dim is last and
// both are contiguous) and layer_norm_select (layer_norm over all channels writing only some).
#include <cstdint>
#include <vector>

#include "autograd/ops.h"
#include "tensor/channel_subset_rows.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"

namespace shears {

namespace K = kernels;

namespace {

// out[r, :] = base[r, :], then out[r, idx[j]] += src[r, j] for j in order; rows of n and m elements
template <typename T>
void index_add_rows(const T* base, const T* src, const int64_t* idx, int64_t rows, int64_t n, int64_t m, T* out) {
  parallel_for(rows, grain_for(n + m), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict b = base + r * n;
      const T* __restrict s = src + r * m;
      T* __restrict o = out + r * n;
      for (int64_t c = 0; c < n; ++c) o[c] = b[c];
      for (int64_t j = 0; j < m; ++j) o[idx[j]] += s[j];
    }
  });
}

// The same for float when no channel repeats, as one pass over each output row (channel_rows::add_at_row: the
// kept channels added, the others copied, so -0.0 stays -0.0; the bits of index_add_rows).
void index_add_rows_unique(const float* base, const float* src, const channel_rows::AddAtPlan& plan, int64_t rows,
                           int64_t n, int64_t m, float* out) {
  parallel_for(rows, grain_for(n + m), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) channel_rows::add_at_row(base + r * n, src + r * m, plan, out + r * n);
  });
}

// records index_add's backward: dbase = dy, dsrc = index_select(dy, dim, index)
Tensor record_index_add(const char* op, const Tensor& y, const Tensor& base, const Tensor& src, int64_t d,
                        const Tensor& idx) {
  return record(op, y, {base, src}, [d, idx](const Tensor& dy) {
    Tensor dsrc;
    if (input_needs_grad(1)) dsrc = K::index_select(dy, d, idx);
    return TensorList{dy, dsrc};
  });
}

}  // namespace

// y = base with src added at index along dim;  dbase = dy, dsrc = index_select(dy, dim, index)
Tensor index_add(const Tensor& base, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "index_add";
  SHEARS_CHECK(base.dim() >= 1, op, "base needs at least 1 dim, got shape ", shape_str(base.shape()));
  const int64_t d = normalize_dim(dim, base.dim(), op);
  SHEARS_CHECK(index.dtype() == DType::I64 && index.dim() == 1, op, "index must be 1-d i64, got ",
               dtype_name(index.dtype()), " of shape ", shape_str(index.shape()));
  SHEARS_CHECK(src.dtype() == base.dtype(), op, "src dtype ", dtype_name(src.dtype()), " does not match base dtype ",
               dtype_name(base.dtype()));
  Shape want = base.shape();
  want[size_t(d)] = index.numel();
  SHEARS_CHECK(src.shape() == want, op, "src shape ", shape_str(src.shape()), " must be base shape ",
               shape_str(base.shape()), " with dim ", d, " of size ", index.numel(), ", i.e. ", shape_str(want));
  const Tensor idx = K::contiguous(index);
  const int64_t n = base.size(d), m = idx.numel();
  const bool on_host = idx.device().is_cpu();  // on a device the kernel checks the values
  const int64_t* ip = m > 0 && on_host ? idx.data<int64_t>() : nullptr;
  for (int64_t j = 0; on_host && j < m; ++j)
    SHEARS_CHECK(ip[j] >= 0 && ip[j] < n, op, "index ", ip[j], " out of range for dim ", d, " of size ", n);
  Tensor y;
  if (on_host && base.device().is_cpu() && src.device().is_cpu() && d == base.dim() - 1 && is_floating(base.dtype()) && base.is_contiguous() && src.is_contiguous() && n > 0) {
    SHEARS_PROFILE(Indexing);
    y = Tensor::empty(base.shape(), base.dtype());
    if (base.dtype() == DType::F32) {
      const channel_rows::AddAtPlan plan = channel_rows::make_add_at_plan(ip, m, n);
      if (!plan.from.empty()) {
        index_add_rows_unique(base.data<float>(), src.data<float>(), plan, base.numel() / n, n, m, y.data<float>());
        return record_index_add(op, y, base, src, d, idx);
      }
    }
    SHEARS_DISPATCH_FLOAT(base.dtype(), op, [&] {
      index_add_rows<scalar_t>(base.data<scalar_t>(), src.data<scalar_t>(), ip, base.numel() / n, n, m,
                               y.data<scalar_t>());
    });
  } else {  // any dim or layout: a copy, then the in-place kernel
    y = K::clone(base);
    K::index_add_(y, d, idx, src);
  }
  return record_index_add(op, y, base, src, d, idx);
}

// y = layer_norm(x, ones, zeros)[..., index] * weight + bias, statistics over all C channels.
// Backward: the layer_norm backward of the full width with dy and weight placed at index (zeros
// elsewhere), the parameter gradients taken back at index (hence index must be unique).
Tensor layer_norm_select(const Tensor& x, const Tensor& index, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "layer_norm_select";
  K::LayerNormResult r = K::layer_norm_select(x, index, weight, bias, eps);  // checks shapes and range
  const Tensor idx = K::contiguous(index);
  const int64_t C = x.size(-1), k = idx.numel();
  {
    std::vector<bool> seen(size_t(C), false);
    const Tensor host_idx = idx.cpu();
    const int64_t* ip = k > 0 ? host_idx.data<int64_t>() : nullptr;
    for (int64_t j = 0; j < k; ++j) {
      SHEARS_CHECK(!seen[size_t(ip[j])], op, "index lists channel ", ip[j], " twice; channels must be unique");
      seen[size_t(ip[j])] = true;
    }
  }
  const bool has_bias = bias.defined();
  return record(op, r.y, {x, weight, bias}, [x, idx, weight, has_bias, r, C](const Tensor& dy) {
    Shape full = x.shape();
    Tensor dy_full = zeros(full, dy.dtype(), dy.device());
    K::index_add_(dy_full, -1, idx, dy);
    Tensor w_full;
    if (weight.defined()) {
      w_full = zeros({C}, weight.dtype(), weight.device());
      K::index_add_(w_full, 0, idx, weight);
    }
    K::LayerNormGrads g = K::layer_norm_backward(dy_full, x, r.mean, r.rstd, w_full, has_bias);
    Tensor dweight = g.dweight.defined() ? K::index_select(g.dweight, 0, idx) : Tensor();
    Tensor dbias = g.dbias.defined() ? K::index_select(g.dbias, 0, idx) : Tensor();
    return TensorList{g.dx, dweight, dbias};
  });
}

AddLayerNorm add_layer_norm(const Tensor& x, const Tensor& src, const Tensor& out_index, const Tensor& norm_index,
                            const Tensor& weight, const Tensor& bias, double eps) {
  auto needs = [](const Tensor& t) { return t.defined() && t.requires_grad(); };
  const bool record_grad = grad_mode_enabled() && (needs(x) || needs(src) || needs(weight) || needs(bias));
  const bool on_cpu = x.device().is_cpu() && src.device().is_cpu() &&
                      (!out_index.defined() || out_index.device().is_cpu()) &&
                      (!norm_index.defined() || norm_index.device().is_cpu());
  if (!record_grad && on_cpu) {
    K::AddLayerNormResult r = K::add_layer_norm(x, src, out_index, norm_index, weight, bias, eps);
    return {r.y, r.h};
  }
  Tensor sum = out_index.defined() ? index_add(x, -1, out_index, src) : x + src;
  Tensor normed = norm_index.defined() ? layer_norm_select(sum, norm_index, weight, bias, eps)
                                       : layer_norm(sum, weight, bias, eps);
  return {sum, normed};
}

}  // namespace shears
