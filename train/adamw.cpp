// AdamW step as one fused pass per parameter, parallel over fixed-size chunks.
#include "train/adamw.h"

#include <cmath>

#include "autograd/ops.h"
#include "tensor/parallel.h"

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

void AdamW::step() {
  ++t_;
  const double bc1 = 1.0 - std::pow(opts_.beta1, double(t_));
  const double bc2 = 1.0 - std::pow(opts_.beta2, double(t_));
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& g = groups_[gi];
    const float decay = float(1.0 - opts_.lr * g.lr_scale * g.weight_decay);
    const float b1 = float(opts_.beta1), b2 = float(opts_.beta2), eps = float(opts_.eps);
    const float step_size = float(opts_.lr * g.lr_scale / bc1);
    const float inv_sqrt_bc2 = float(1.0 / std::sqrt(bc2));
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
          m[i] = b1 * m[i] + (1.0f - b1) * gr[i];
          v[i] = b2 * v[i] + (1.0f - b2) * gr[i] * gr[i];
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

std::vector<ParamGroup> decay_groups(const nn::Module& model, double weight_decay,
                                     const std::vector<std::string>& no_decay) {
  ParamGroup decay{{}, weight_decay, 1.0}, plain{{}, 0.0, 1.0};
  for (auto& [name, p] : model.named_parameters()) {
    bool skip = p.dim() <= 1;
    for (auto& n : no_decay)
      if (name == n || (name.size() > n.size() && name.compare(name.size() - n.size() - 1, std::string::npos, "." + n) == 0))
        skip = true;
    (skip ? plain : decay).params.push_back(p);
  }
  return {decay, plain};
}

}  // namespace shears::train
