// AdamW (decoupled weight decay, Loshchilov & Hutter; PyTorch's torch.optim.AdamW update):
//   p <- p * (1 - lr * wd);  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
//   p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// Parameters come in groups with their own weight decay and lr scale (layer decay). The
// coefficients (1 - b1, 1 - b2, bias corrections) are computed in double from the options and
// rounded to float once, as PyTorch's float(1 - beta). State is keyed by parameter name, so
// apply_slices() follows model surgery (pruning/surgery.h) without losing the moments.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "nn/parameter_slice.h"

namespace shears::train {

struct ParamGroup {
  ParamGroup() = default;
  ParamGroup(TensorList params_, double weight_decay_ = 0.0, double lr_scale_ = 1.0,
             std::vector<std::string> names_ = {})
      : params(std::move(params_)), weight_decay(weight_decay_), lr_scale(lr_scale_), names(std::move(names_)) {}
  TensorList params;
  double weight_decay = 0.0;
  double lr_scale = 1.0;
  std::vector<std::string> names;  // dotted parameter names, parallel to params (needed by apply_slices)
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions opts);
  void step();  // parameters without a gradient are skipped
  void zero_grad();
  void set_lr(double lr) { opts_.lr = lr; }
  double lr() const { return opts_.lr; }
  int64_t steps() const { return t_; }
  // Restores the step count (bias corrections) when resuming from a checkpoint.
  void set_steps(int64_t t) { t_ = t; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Moment buffers in group order (for checkpoints): m then v per parameter. The handles
  // share storage with the live moments, so copying into them (kernels::copy_) restores them.
  TensorList state() const;

  // Follows model surgery: `slices` as returned by pruning/surgery.h (one call's or several
  // concatenated, in order). Every parameter handle is rebound to the model's current tensor
  // by name, m and v are sliced with the same kept indices along the same dim, renamed, or
  // dropped with their parameter; group hyper-parameters (weight decay, lr scale) and the step
  // count are kept. Needs ParamGroup::names. Handles from an earlier state() are stale after
  // this call (take state() again). Throws naming the parameter on a mismatch; nothing changes then.
  void apply_slices(const nn::Module& model, const std::vector<nn::ParameterSlice>& slices);

  // The per-step float coefficients, computed in double from the options and rounded once.
  struct Coefficients {
    float one_minus_beta1, one_minus_beta2;  // float(1 - beta)
    float beta1, beta2;                      // float(beta)
    float step_size;                         // float(lr * lr_scale / (1 - beta1^t))
    float inv_sqrt_bias_correction2;         // float(1 / sqrt(1 - beta2^t))
    float decay;                             // float(1 - lr * lr_scale * weight_decay)
  };
  Coefficients coefficients(const ParamGroup& group, int64_t t) const;

 private:
  void step_on_device();
  std::vector<ParamGroup> groups_;
  AdamWOptions opts_;
  std::vector<std::vector<Tensor>> m_, v_;
  int64_t t_ = 0;
};

// The timm/DeiT split: weight decay on weights of dim >= 2, none on 1-d parameters
// (biases, norms) and on names in `no_decay` (pos_embed, cls_token, mask_token).
std::vector<ParamGroup> decay_groups(const nn::Module& model, double weight_decay,
                                     const std::vector<std::string>& no_decay = {"pos_embed", "cls_token",
                                                                                 "mask_token"});

}  // namespace shears::train
