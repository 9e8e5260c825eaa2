// SGD with momentum, PyTorch's torch.optim.SGD update (dampening 0, coupled weight decay):
//   d = g + wd * p;  buf <- mu * buf + d  (buf starts at 0, so step 1 gives buf = d)
//   p <- p - lr * (nesterov ? d + mu * buf : buf)
// Parameter groups carry their own weight decay and lr scale (train::ParamGroup).
#pragma once
#include <vector>

#include "train/adamw.h"

namespace shears::train {

struct SGDOptions {
  double lr = 0.1;
  double momentum = 0.9;  // 0 = plain SGD (no buffers)
  bool nesterov = false;  // requires momentum > 0
};

class SGD {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions opts);
  void step();  // parameters without a gradient are skipped (their buffers unchanged)
  void zero_grad();
  void set_lr(double lr) { opts_.lr = lr; }
  double lr() const { return opts_.lr; }
  int64_t steps() const { return t_; }
  void set_steps(int64_t t) { t_ = t; }
  const SGDOptions& options() const { return opts_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // Momentum buffers in group order, one per parameter (empty when momentum == 0). The
  // handles share storage with the live buffers: copying into them restores them.
  TensorList state() const;
  // Follows model surgery like AdamW::apply_slices: rebinds parameters by name, slices, renames
  // or drops the momentum buffers (see train/follow_surgery.h). Needs ParamGroup::names.
  void apply_slices(const nn::Module& model, const std::vector<nn::ParameterSlice>& slices);

 private:
  std::vector<ParamGroup> groups_;
  SGDOptions opts_;
  std::vector<std::vector<Tensor>> buf_;
  int64_t t_ = 0;
};

}  // namespace shears::train
