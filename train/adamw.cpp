// AdamW step as one fused pass per parameter, parallel over fixed-size chunks.
#include "train/adamw.h"

#include <cmath>

#include "autograd/ops.h"
#include "tensor/parallel.h"
#include "train/follow_surgery.h"
#include "tensor/profile.h"

namespace shears::train {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opts) : groups_(std::move(groups)), opts_(opts) {
  for (auto& g : groups_) {
    std::vector<Tensor> m, v;
    for (auto& p : g.params) {
      SHEARS_CHECK(p.is_contiguous() && p.dtype() == DType::F32, "adamw", "parameters must be contiguous f32, got ",
                   shape_str(p.shape()), " ", dtype_name(p.dtype()));
      m.push_back(zeros_like(p));
      v.push_back(zeros_like(p));
    }
    m_.push_back(std::move(m));
    v_.push_back(std::move(v));
  }
}

AdamW::Coefficients AdamW::coefficients(const ParamGroup& g, int64_t t) const {
  const double bc1 = 1.0 - std::pow(opts_.beta1, double(t));
  const double bc2 = 1.0 - std::pow(opts_.beta2, double(t));
  Coefficients c;
  c.one_minus_beta1 = float(1.0 - opts_.beta1);  // not 1 - float(beta1): PyTorch's float(1 - beta)
  c.one_minus_beta2 = float(1.0 - opts_.beta2);
  c.beta1 = float(opts_.beta1);
  c.beta2 = float(opts_.beta2);
  c.step_size = float(opts_.lr * g.lr_scale / bc1);
  c.inv_sqrt_bias_correction2 = float(1.0 / std::sqrt(bc2));
  c.decay = float(1.0 - opts_.lr * g.lr_scale * g.weight_decay);
  return c;
}

void AdamW::step() {
  SHEARS_PROFILE(Optimizer);
  ++t_;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    const Coefficients c = coefficients(g, t_);
    const float decay = c.decay, b1 = c.beta1, b2 = c.beta2, eps = float(opts_.eps);
    const float one_minus_b1 = c.one_minus_beta1, one_minus_b2 = c.one_minus_beta2;
    const float step_size = c.step_size, inv_sqrt_bc2 = c.inv_sqrt_bias_correction2;
    for (size_t pi = 0; pi < g.params.size(); ++pi) {
      Tensor grad = g.params[pi].grad();
      if (!grad.defined()) continue;
      grad = kernels::contiguous(grad);
      float* p = g.params[pi].data<float>();
      const float* gr = grad.data<float>();
      float* m = m_[gi][pi].data<float>();
      float* v = v_[gi][pi].data<float>();
      parallel_for(g.params[pi].numel(), 16384, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          m[i] = b1 * m[i] + one_minus_b1 * gr[i];
          v[i] = b2 * v[i] + one_minus_b2 * gr[i] * gr[i];
          p[i] = p[i] * decay - step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
        }
      });
    }
  }
}

void AdamW::zero_grad() {
  for (auto& g : groups_) shears::zero_grad(g.params);
}

TensorList AdamW::state() const {
  TensorList out;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      out.push_back(m_[gi][pi]);
      out.push_back(v_[gi][pi]);
    }
  return out;
}

void AdamW::apply_slices(const nn::Module& model, const std::vector<nn::ParameterSlice>& slices) {
  follow_slices(model, slices, groups_, {&m_, &v_}, "adamw.apply_slices");
}

std::vector<ParamGroup> decay_groups(const nn::Module& model, double weight_decay,
                                     const std::vector<std::string>& no_decay) {
  ParamGroup decay{{}, weight_decay, 1.0, {}}, plain{{}, 0.0, 1.0, {}};
  for (auto& [name, p] : model.named_parameters()) {
    bool skip = p.dim() <= 1;
    for (auto& n : no_decay)
      if (name == n || (name.size() > n.size() && name.compare(name.size() - n.size() - 1, std::string::npos, "." + n) == 0))
        skip = true;
    (skip ? plain : decay).params.push_back(p);
    (skip ? plain : decay).names.push_back(name);
  }
  return {decay, plain};
}

}  // namespace shears::train
