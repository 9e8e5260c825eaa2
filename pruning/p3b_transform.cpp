// P3B as a transform (see p3b_transform.h).
#include "pruning/p3b_transform.h"

#include <cmath>
#include <sstream>

namespace shears::pruning {

namespace {

constexpr const char* kWhere = "p3b transform";

std::vector<std::string> split_colon(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ':');) out.push_back(part);
  return out;
}

double number(const std::string& text, const std::string& what, const std::string& form) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SHEARS_CHECK(used == text.size() && !text.empty() && std::isfinite(v), kWhere, what, " '", text,
               "' is not a number; expected ", form);
  return v;
}

}  // namespace

void size_p3b_schedule(P3bOptions& o, int64_t per_epoch, int64_t epochs, double start_fraction, double sparse_fraction) {
  SHEARS_CHECK(per_epoch >= 1 && epochs >= 1, kWhere, "the pruning run needs >= 1 epoch of >= 1 iteration, got ",
               epochs, " x ", per_epoch);
  SHEARS_CHECK(start_fraction >= 0 && start_fraction < sparse_fraction && sparse_fraction <= 1, kWhere,
               "start fraction ", start_fraction, " and sparse fraction ", sparse_fraction,
               " must satisfy 0 <= start < sparse <= 1");
  o.finalize = per_epoch * epochs;
  o.start = static_cast<int64_t>(std::llround(start_fraction * double(o.finalize)));
  o.sparse = static_cast<int64_t>(std::llround(sparse_fraction * double(o.finalize)));
  if (o.finalize <= o.start) o.finalize = o.start + 1;
}

P3bPruning::P3bPruning(P3bTransformOptions options) : opt_(std::move(options)) {
  SHEARS_CHECK(opt_.epochs >= 1, kWhere, "epochs must be >= 1, got ", opt_.epochs);
  P3bOptions probe = opt_.p3b;
  probe.start = 0, probe.sparse = 0, probe.finalize = 1;
  probe.validate();
}

std::string P3bPruning::name() const {
  std::string s = "p3b:ratio=" + format_number(opt_.p3b.prune_ratio) + ":epochs=" + std::to_string(opt_.epochs);
  if (opt_.p3b.allocation == P3bAllocation::Uniform) s += ":allocation=uniform";
  if (!opt_.p3b.reactivation) s += ":reactivation=0";
  if (opt_.p3b.update_interval != P3bOptions().update_interval)
    s += ":interval=" + std::to_string(opt_.p3b.update_interval);
  return s;
}

nn::PruneStep P3bPruning::apply(nn::VisionTransformer& model, PruneContext& ctx) {
  SHEARS_CHECK(static_cast<bool>(ctx.train), kWhere, "'", name(),
               "' trains the model while it prunes: the PruneContext has no training run (PruneContext::train; "
               "recipes wire it with recipes::training_runner)");
  std::shared_ptr<P3bPruner> pruner;
  TrainingHooks hooks;
  hooks.epochs = opt_.epochs;
  hooks.constant_lr = true;  // the authors: no schedule during the pruning run
  hooks.extra_lr = opt_.head_lr;
  hooks.on_start = [&](int64_t per_epoch, int64_t classes) {
    P3bOptions o = opt_.p3b;
    size_p3b_schedule(o, per_epoch, opt_.epochs, opt_.start_fraction, opt_.sparse_fraction);
    pruner = std::make_shared<P3bPruner>(model, classes, o);
  };
  auto need = [&]() -> P3bPruner& {
    SHEARS_CHECK(pruner != nullptr, kWhere, "the training run did not call TrainingHooks::on_start first");
    return *pruner;
  };
  hooks.extra_loss = [&](const std::function<Tensor(const Tensor&)>& criterion) {
    return need().heads_loss(criterion);
  };
  hooks.after_backward = [&]() { need().after_backward(); };
  hooks.after_step = [&]() { need().after_iteration(); };
  hooks.extra_module = [&]() -> nn::Module* { return &need().heads(); };
  ctx.train(model, hooks);
  P3bPruner& p = need();
  names_.clear();
  for (int64_t j = 0; j < p.sub_blocks(); ++j) names_.push_back(p.sub_block_name(j));
  unpruned_ = p.unpruned_params();
  heads_macs_ = p.heads().macs_per_image();
  const std::vector<nn::ParameterSlice> slices = p.finalize();
  if (ctx.on_surgery) ctx.on_surgery(model, slices);
  updates_ = p.updates();
  reactivated_ = p.total_reactivated();
  nn::PruneStep step = p.step();
  step.method = name();
  return step;
}

std::shared_ptr<Transform> parse_p3b_step(const std::string& rest) {
  const std::string form =
      "p3b:ratio=<r in [0, 1)>[:epochs=<n >= 1>][:allocation=benefit|uniform][:reactivation=0|1][:interval=<n >= 1>]";
  P3bTransformOptions o;
  bool has_ratio = false;
  for (const std::string& part : split_colon(rest)) {
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    SHEARS_CHECK(eq != std::string::npos, kWhere, "option '", part, "' has no '='; expected ", form);
    const std::string key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "ratio") {
      o.p3b.prune_ratio = number(value, "ratio", form);
      SHEARS_CHECK(o.p3b.prune_ratio >= 0 && o.p3b.prune_ratio < 1, kWhere, "ratio must be in [0, 1), got ", value);
      has_ratio = true;
    } else if (key == "epochs") {
      const double e = number(value, "epochs", form);
      SHEARS_CHECK(e >= 1 && e <= 1e6 && e == std::floor(e), kWhere, "epochs must be an integer >= 1, got ", value);
      o.epochs = static_cast<int64_t>(e);
    } else if (key == "allocation") {
      o.p3b.allocation = parse_p3b_allocation(value);
    } else if (key == "reactivation") {
      SHEARS_CHECK(value == "0" || value == "1", kWhere, "reactivation must be 0 or 1, got '", value, "'");
      o.p3b.reactivation = value == "1";
    } else if (key == "interval") {
      const double n = number(value, "interval", form);
      SHEARS_CHECK(n >= 1 && n <= 1e9 && n == std::floor(n), kWhere, "interval must be an integer >= 1, got ", value);
      o.p3b.update_interval = static_cast<int64_t>(n);
    } else {
      fail(kWhere, "unknown option '", key, "'; expected ", form);
    }
  }
  SHEARS_CHECK(has_ratio, kWhere, "missing ratio; expected ", form);
  return std::make_shared<P3bPruning>(o);
}

}  // namespace shears::pruning
