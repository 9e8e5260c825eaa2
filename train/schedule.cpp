// Schedules, layer-decay groups, DropPath rates and gradient clipping (see schedule.h).
#include "train/schedule.h"

#include <cmath>
#include <map>

#include "autograd/ops.h"
#include "tensor/parallel.h"

namespace shears::train {

double CosineSchedule::at(int64_t step) const {
  if (step < 0) step = 0;
  if (step < warmup_steps)
    return warmup_lr + (base_lr - warmup_lr) * double(step) / double(warmup_steps);
  const int64_t T = total_steps - warmup_steps;
  const int64_t t = step - warmup_steps;
  if (T <= 0 || t >= T) return min_lr;
  return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(M_PI * double(t) / double(T)));
}

CosineSchedule CosineSchedule::from_epochs(double base_lr, double warmup_lr, double min_lr, double warmup_epochs,
                                           double epochs, int64_t iters_per_epoch) {
  SHEARS_CHECK(iters_per_epoch > 0 && epochs > 0 && warmup_epochs >= 0, "cosine_schedule",
               "need iters_per_epoch > 0, epochs > 0, warmup_epochs >= 0; got ", iters_per_epoch, ", ", epochs, ", ",
               warmup_epochs);
  CosineSchedule s;
  s.base_lr = base_lr;
  s.warmup_lr = warmup_lr;
  s.min_lr = min_lr;
  s.warmup_steps = int64_t(std::llround(warmup_epochs * double(iters_per_epoch)));
  s.total_steps = int64_t(std::llround(epochs * double(iters_per_epoch)));
  return s;
}

std::vector<double> layer_decay_scales(int64_t depth, double decay) {
  SHEARS_CHECK(depth >= 0, "layer_decay", "depth must be >= 0, got ", depth);
  std::vector<double> s(size_t(depth + 2));
  for (int64_t i = 0; i <= depth + 1; ++i) s[size_t(i)] = std::pow(decay, double(depth + 1 - i));
  return s;
}

namespace {
bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
}  // namespace

int64_t vit_layer_id(const std::string& name, int64_t depth) {
  if (name == "cls_token" || name == "pos_embed" || name == "mask_token" || starts_with(name, "patch_embed."))
    return 0;
  if (starts_with(name, "blocks.")) {
    const size_t end = name.find('.', 7);
    return std::stoll(name.substr(7, end - 7)) + 1;
  }
  return depth + 1;
}

std::vector<ParamGroup> layer_decay_groups(const nn::VisionTransformer& model, double weight_decay,
                                           double layer_decay) {
  const int64_t depth = int64_t(model.blocks->size());
  const std::vector<double> scales = layer_decay_scales(depth, layer_decay);
  // key: (layer, 0 = decay / 1 = no decay); std::map keeps layer order
  std::map<std::pair<int64_t, int>, ParamGroup> groups;
  for (auto& [name, p] : model.named_parameters()) {
    const int64_t layer = vit_layer_id(name, depth);
    SHEARS_CHECK(layer >= 0 && layer <= depth + 1, "layer_decay", "parameter ", name, " maps to layer ", layer,
                 " outside 0..", depth + 1);
    const bool no_decay = p.dim() <= 1 || name == "pos_embed" || name == "cls_token" || name == "mask_token";
    ParamGroup& g = groups[{layer, no_decay ? 1 : 0}];
    g.weight_decay = no_decay ? 0.0 : weight_decay;
    g.lr_scale = scales[size_t(layer)];
    g.params.push_back(p);
    g.names.push_back(name);
  }
  std::vector<ParamGroup> out;
  for (auto& kv : groups) out.push_back(std::move(kv.second));
  return out;
}

std::vector<double> drop_path_rates(int64_t depth, double max_rate) {
  SHEARS_CHECK(depth >= 0 && max_rate >= 0.0 && max_rate < 1.0, "drop_path_rates",
               "need depth >= 0 and 0 <= max_rate < 1, got ", depth, ", ", max_rate);
  std::vector<double> r(size_t(depth), 0.0);
  for (int64_t i = 0; i < depth; ++i) r[size_t(i)] = depth > 1 ? max_rate * double(i) / double(depth - 1) : 0.0;
  return r;
}

void apply_drop_path(nn::VisionTransformer& model, double max_rate, Generator* gen) {
  const std::vector<double> r = drop_path_rates(int64_t(model.blocks->size()), max_rate);
  for (size_t i = 0; i < r.size(); ++i) {
    model.blocks->items[i]->drop_path = r[i];
    if (gen) model.blocks->items[i]->drop_path_gen = gen;
  }
}

namespace {
constexpr int64_t kNormChunk = 1 << 16;  // fixed chunking: the same partial sums on any thread count

template <typename T>
double sum_squares(const Tensor& g) {
  const T* p = g.data<T>();
  const int64_t n = g.numel(), chunks = (n + kNormChunk - 1) / kNormChunk;
  std::vector<double> partial(size_t(chunks), 0.0);
  parallel_for(chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      double s = 0.0;
      const int64_t e = std::min(n, (c + 1) * kNormChunk);
      for (int64_t i = c * kNormChunk; i < e; ++i) s += double(p[i]) * double(p[i]);
      partial[size_t(c)] = s;
    }
  });
  double s = 0.0;
  for (double x : partial) s += x;
  return s;
}

template <typename T>
void scale_in_place(const Tensor& g, double scale) {
  T* p = g.data<T>();
  const T s = T(scale);
  parallel_for(g.numel(), kNormChunk, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) p[i] *= s;
  });
}
}  // namespace

double clip_grad_norm(const TensorList& params, double max_norm) {
  SHEARS_CHECK(max_norm > 0.0, "clip_grad_norm", "max_norm must be > 0, got ", max_norm);
  std::vector<Tensor> grads;
  for (auto& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    SHEARS_CHECK(g.dtype() == DType::F32 || g.dtype() == DType::F64, "clip_grad_norm",
                 "gradients must be f32 or f64, got ", dtype_name(g.dtype()));
    if (!g.is_contiguous()) {  // pack once so the in-place scale reaches the stored gradient
      g = kernels::contiguous(g);
      Tensor(p).set_grad(g);
    }
    grads.push_back(g);
  }
  double total = 0.0;
  Tensor device_total;  // on a device: per-tensor sums of squares (f64) added there, one value read back
  for (auto& g : grads) {
    if (!g.device().is_cpu()) {
      Tensor s = kernels::reduce(kernels::ReduceOp::Sum, kernels::to_dtype(kernels::unary(kernels::UnaryOp::Square, g),
                                                                          DType::F64), {}, false);
      device_total = device_total.defined() ? kernels::binary(kernels::BinaryOp::Add, device_total, s) : s;
      continue;
    }
    total += g.dtype() == DType::F32 ? sum_squares<float>(g) : sum_squares<double>(g);
  }
  if (device_total.defined()) total += device_total.item<double>();
  const double norm = std::sqrt(total);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (auto& g : grads) {
      if (!g.device().is_cpu()) kernels::axpby_(g, 0.0, g, coef);  // g = coef * g + 0 * g
      else g.dtype() == DType::F32 ? scale_in_place<float>(g, coef) : scale_in_place<double>(g, coef);
    }
  return norm;
}

}  // namespace shears::train
