// AMP's label-free criterion and Taylor scores (amp.h): the similarity entropy of L2-normalised
// features, its mean over fixed validation batches, and per-sample first-order Taylor scores of every
// MLP hidden neuron read off a per-sample MLP gate of shape (B, 1, H) (it broadcasts over tokens, so
// gate * dL/dgate = sum_t a * dL/da per sample and neuron). Also the neuron criteria "entropy_taylor"
// and "ce_taylor" built on the same scores (for ablations at matched widths).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "pruning/amp.h"
#include "pruning/builtin_criteria.h"
#include "tensor/creation.h"
#include "tensor/kernels.h"

namespace shears::pruning {

namespace {

// Each module's train/eval mode, put back on scope exit (also on error); the model is put in eval mode.
class EvalModeScope {
 public:
  explicit EvalModeScope(nn::VisionTransformer& model) {
    for (auto& [name, module] : model.named_modules()) modes_.emplace_back(module, module->is_training());
    model.eval();
  }
  ~EvalModeScope() {
    // named_modules is depth first, parents before children: each module's own call comes last for it.
    for (auto& [module, training] : modes_) module->train(training);
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  std::vector<std::pair<nn::Module*, bool>> modes_;
};

// A gradient pass that only the gates see: parameters' requires_grad off (so parameter grads are not
// touched), grad mode on, eval mode; all restored on scope exit. The MLP gates are restored too.
class GatePassScope {
 public:
  explicit GatePassScope(nn::VisionTransformer& model) : modes_(model), grad_mode_(grad_mode_enabled()) {
    for (auto& [name, p] : model.named_parameters()) {
      requires_grad_.emplace_back(p, p.requires_grad());
      if (p.requires_grad()) p.set_requires_grad(false);
    }
    for (auto& block : model.blocks->items) {
      mlps_.push_back(block->mlp.get());
      gates_.push_back(block->mlp->gate);
    }
    set_grad_mode(true);
  }
  ~GatePassScope() {
    set_grad_mode(grad_mode_);
    for (size_t i = 0; i < mlps_.size(); ++i) mlps_[i]->gate = gates_[i];
    for (auto& [p, flag] : requires_grad_)
      if (p.requires_grad() != flag) p.set_requires_grad(flag);
  }
  const Tensor& saved_gate(size_t block) const { return gates_[block]; }
  GatePassScope(const GatePassScope&) = delete;
  GatePassScope& operator=(const GatePassScope&) = delete;

 private:
  EvalModeScope modes_;
  bool grad_mode_;
  std::vector<std::pair<Tensor, bool>> requires_grad_;
  std::vector<nn::Mlp*> mlps_;
  std::vector<Tensor> gates_;
};

DType activation_dtype(const nn::Mlp& mlp) {
  return mlp.fc1->weight.dtype() == DType::F64 ? DType::F64 : DType::F32;
}

double scalar_value(const Tensor& t) { return kernels::to_dtype(t, DType::F64).to_vector<double>()[0]; }

}  // namespace

Tensor l2_normalize_rows(const Tensor& x) {
  SHEARS_CHECK(x.defined() && x.dim() == 2, "l2_normalize_rows", "expected (B, D) features, got ",
               x.defined() ? shape_str(x.shape()) : std::string("an undefined tensor"));
  const Tensor norm = sqrt(sum(x * x, {1}, /*keepdim=*/true));  // (B, 1)
  return x / clamp(norm, 1e-12, std::nullopt);
}

Tensor similarity_entropy(const Tensor& features, double temp_inv) {
  SHEARS_CHECK(features.defined() && features.dim() == 2 && features.size(0) >= 1, "similarity_entropy",
               "expected (B, D) features with B >= 1, got ",
               features.defined() ? shape_str(features.shape()) : std::string("an undefined tensor"));
  SHEARS_CHECK(features.dtype() == DType::F32 || features.dtype() == DType::F64, "similarity_entropy",
               "expected f32 or f64 features, got ", dtype_name(features.dtype()));
  SHEARS_CHECK(std::isfinite(temp_inv) && temp_inv > 0, "similarity_entropy", "temp_inv must be > 0, got ", temp_inv);
  const Tensor logits = mul_scalar(matmul(features, transpose(features, 0, 1)), temp_inv);  // (B, B), self included
  const Tensor log_p = log_softmax(logits, 1);
  const Tensor row_entropy = neg(sum(exp(log_p) * log_p, {1}));  // (B,)
  return mean(row_entropy);
}

double validation_entropy(nn::VisionTransformer& model, const std::vector<CalibrationBatch>& batches,
                          double temp_inv) {
  SHEARS_CHECK(!batches.empty(), "validation_entropy", "no validation batches");
  EvalModeScope eval(model);
  NoGradGuard no_grad;
  double total = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    SHEARS_CHECK(batches[i].inputs.defined(), "validation_entropy", "validation batch ", i, " has no inputs");
    total += scalar_value(similarity_entropy(l2_normalize_rows(model.forward_features(batches[i].inputs)), temp_inv));
  }
  return total / double(batches.size());
}

std::vector<std::vector<double>> amp_taylor_scores(nn::VisionTransformer& model,
                                                   const std::vector<CalibrationBatch>& batches,
                                                   const TaylorScoreOptions& options) {
  const bool entropy = options.loss == TaylorLoss::Entropy;
  SHEARS_CHECK(!batches.empty(), "amp_taylor_scores", "no scoring batches (PruneContext::calibration)");
  SHEARS_CHECK(!entropy || (std::isfinite(options.temp_inv) && options.temp_inv > 0), "amp_taylor_scores",
               "temp_inv must be > 0, got ", options.temp_inv);
  SHEARS_CHECK(entropy || model.head != nullptr, "amp_taylor_scores",
               "the cross-entropy loss needs a model with a classification head (num_classes > 0)");
  GatePassScope pass(model);
  const size_t depth = model.blocks->size();
  std::vector<std::vector<double>> scores(depth);
  for (size_t l = 0; l < depth; ++l) scores[l].assign(size_t(model.blocks->items[l]->mlp->hidden()), 0.0);
  const double batch_count = double(batches.size());
  for (size_t c = 0; c < batches.size(); ++c) {
    const CalibrationBatch& batch = batches[c];
    SHEARS_CHECK(batch.inputs.defined() && batch.inputs.dim() >= 1, "amp_taylor_scores", "scoring batch ", c,
                 " has no inputs");
    SHEARS_CHECK(entropy || batch.labels.defined(), "amp_taylor_scores", "scoring batch ", c,
                 " has no labels (the cross-entropy loss needs them)");
    const int64_t B = batch.inputs.size(0);
    std::vector<Tensor> gates;
    for (size_t l = 0; l < depth; ++l) {
      nn::Mlp& mlp = *model.blocks->items[l]->mlp;
      const int64_t H = mlp.hidden();
      const DType dtype = activation_dtype(mlp);
      Tensor g = ones({B, 1, H}, dtype);  // per sample, broadcast over tokens
      const Tensor& user = pass.saved_gate(l);
      if (user.defined()) {
        NoGradGuard no_grad;
        g = kernels::contiguous(mul(g, reshape(to_dtype(user, dtype), {1, 1, H})));
      }
      g.set_requires_grad(true);
      mlp.gate = g;
      gates.push_back(g);
    }
    Tensor loss;
    if (entropy)
      loss = similarity_entropy(l2_normalize_rows(model.forward_features(batch.inputs)), options.temp_inv);
    else
      loss = cross_entropy(model.forward(batch.inputs), batch.labels);
    backward(loss);
    for (size_t l = 0; l < depth; ++l) {
      const Tensor grad = gates[l].grad();  // undefined: the block did not reach the loss (score 0)
      if (!grad.defined()) continue;
      const std::vector<double> g = kernels::to_dtype(gates[l], DType::F64).to_vector<double>();
      const std::vector<double> dg = kernels::to_dtype(grad, DType::F64).to_vector<double>();
      const size_t H = scores[l].size();
      for (int64_t b = 0; b < B; ++b)
        for (size_t j = 0; j < H; ++j) {
          const double s = g[size_t(b) * H + j] * dg[size_t(b) * H + j];  // sum_t a_btj * dL/da_btj
          scores[l][j] += (options.use_abs ? std::abs(s) : s) / double(B) / batch_count;
        }
    }
  }
  return scores;
}

namespace {

// AMP's scores as a neuron criterion (on PruneContext::calibration), for ablations at matched widths.
class AmpTaylorNeuronCriterion : public NeuronCriterion {
 public:
  AmpTaylorNeuronCriterion(std::string name, TaylorScoreOptions options)
      : name_(std::move(name)), options_(options) {}
  std::string name() const override { return name_; }
  std::vector<std::vector<double>> scores(const nn::VisionTransformer& model, PruneContext& ctx) const override {
    SHEARS_CHECK(!ctx.calibration.empty(), "neuron criterion '", name_,
                 "'", " needs calibration batches (PruneContext::calibration)");
    auto& m = const_cast<nn::VisionTransformer&>(model);  // gates come and go; the model is the same afterwards
    return amp_taylor_scores(m, ctx.calibration, options_);
  }

 private:
  std::string name_;
  TaylorScoreOptions options_;
};

}  // namespace

namespace detail {

// "entropy_taylor" (temp_inv 15) or "entropy_taylor:<temp_inv>".
BuiltinCriterion<NeuronCriterionFactoryWithArgument> entropy_taylor_neuron_criterion() {
  return {"entropy_taylor", true, [](const std::string& arg) {
            TaylorScoreOptions options;
            options.loss = TaylorLoss::Entropy;
            std::string name = "entropy_taylor";
            if (!arg.empty()) {
              char* end = nullptr;
              const double t = std::strtod(arg.c_str(), &end);
              SHEARS_CHECK(end == arg.c_str() + arg.size() && std::isfinite(t) && t > 0, "criterion",
                           "entropy_taylor takes temp_inv > 0 as its argument ('entropy_taylor:15'), got '", arg,
                           "'");
              options.temp_inv = t;
              name += ":" + format_number(t);
            }
            return std::make_shared<AmpTaylorNeuronCriterion>(name, options);
          }};
}

BuiltinCriterion<NeuronCriterionFactoryWithArgument> ce_taylor_neuron_criterion() {
  return {"ce_taylor", false, [](const std::string&) {
            TaylorScoreOptions options;
            options.loss = TaylorLoss::CrossEntropy;
            return std::make_shared<AmpTaylorNeuronCriterion>("ce_taylor", options);
          }};
}

}  // namespace detail

}  // namespace shears::pruning
