// Transforms, apply_all and the step grammar (see transform.h).
#include "pruning/transform.h"

#include "pruning/p3b_transform.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <numeric>

#include "pruning/amp.h"
#include "pruning/block_ranking.h"
#include "pruning/surgery.h"

namespace shears::pruning {

using nlohmann::json;

namespace {

// "[op] message" -> "message" (errors of lower layers quoted inside a step error).
std::string without_op(const std::string& what) {
  if (!what.empty() && what[0] == '[') {
    const size_t close = what.find("] ");
    if (close != std::string::npos) return what.substr(close + 2);
  }
  return what;
}

void notify(PruneContext& ctx, nn::VisionTransformer& model, const std::vector<nn::ParameterSlice>& slices) {
  if (ctx.on_surgery && !slices.empty()) ctx.on_surgery(model, slices);
}

// The `keep` highest-scoring indices (ties: lower index first), sorted ascending. Throws on NaN.
std::vector<int64_t> top_indices(const std::vector<double>& scores, int64_t keep, const std::string& what) {
  for (size_t i = 0; i < scores.size(); ++i)
    SHEARS_CHECK(!std::isnan(scores[i]), "transform", what, ": the score of unit ", i, " is NaN");
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[size_t(a)] > scores[size_t(b)]; });
  order.resize(size_t(keep));
  std::sort(order.begin(), order.end());
  return order;
}

void check_scores_shape(const std::vector<std::vector<double>>& scores, const nn::VisionTransformer& model,
                        const std::string& criterion, bool heads) {
  const size_t depth = model.blocks->size();
  SHEARS_CHECK(scores.size() == depth, "transform", "criterion '", criterion, "' gave scores for ", scores.size(),
               " blocks, the model has ", depth);
  for (size_t b = 0; b < depth; ++b) {
    const auto& block = *model.blocks->items[b];
    const int64_t n = heads ? block.attn->heads : block.mlp->hidden();
    SHEARS_CHECK(int64_t(scores[b].size()) == n, "transform", "criterion '", criterion, "' gave ", scores[b].size(),
                 " scores for block ", b, ", which has ", n, heads ? " heads" : " MLP hidden neurons");
  }
}

}  // namespace

std::string format_number(double value) {
  char buf[64];
  if (value == std::floor(value) && std::abs(value) < 1e15) {  // integers without an exponent ("20", not "2e+01")
    std::snprintf(buf, sizeof(buf), "%.0f", value);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

std::vector<nn::PruneStep> apply_all(nn::VisionTransformer& model, const std::vector<std::shared_ptr<Transform>>& steps,
                                     PruneContext& ctx) {
  std::vector<nn::PruneStep> out;
  for (size_t i = 0; i < steps.size(); ++i) {
    SHEARS_CHECK(steps[i] != nullptr, "apply_all", "step ", i + 1, " is null");
    nn::PruneStep step;
    try {
      step = steps[i]->apply(model, ctx);
    } catch (const Error& e) {
      fail("apply_all", "step ", i + 1, " '", steps[i]->name(), "': ", without_op(e.what()));
    }
    model.prune_log.push_back(step);
    if (ctx.after_step) ctx.after_step(model, step, i);
    out.push_back(std::move(step));
  }
  return out;
}

// ---- BlockRemoval ----

BlockRemoval::BlockRemoval(std::shared_ptr<BlockCriterion> criterion, int64_t k)
    : criterion_(std::move(criterion)), k_(k) {
  SHEARS_CHECK(criterion_ != nullptr, "BlockRemoval", "no criterion");
  SHEARS_CHECK(k >= 0, "BlockRemoval", "k = ", k, " blocks to remove must be >= 0");
}

std::string BlockRemoval::name() const { return "blocks:" + criterion_->name() + ":k=" + std::to_string(k_); }

nn::PruneStep BlockRemoval::apply(nn::VisionTransformer& model, PruneContext& ctx) {
  const int64_t depth = static_cast<int64_t>(model.blocks->size());
  SHEARS_CHECK(k_ < depth, "BlockRemoval", "removing k = ", k_, " blocks would leave none of the model's ", depth,
               "; k must be below the depth");
  const std::vector<double> scores = criterion_->scores(model, ctx);
  SHEARS_CHECK(int64_t(scores.size()) == depth, "BlockRemoval", "criterion '", criterion_->name(), "' gave ",
               scores.size(), " scores for a model of depth ", depth);
  const std::vector<int64_t> removed = blocks_to_remove(removal_order(scores, criterion_->removes_highest_first()), k_);
  const std::vector<int64_t> kept = kept_blocks(depth, removed);
  notify(ctx, model, drop_blocks(model, removed));

  nn::PruneStep step;
  step.kind = "drop_blocks";
  step.method = name();
  json params = {{"criterion", criterion_->name()},
                 {"k", k_},
                 {"removed", removed},
                 {"removes_highest_first", criterion_->removes_highest_first()},
                 {"scores", scores}};
  step.params_json = params.dump();
  step.kept["blocks"] = kept;
  return step;
}

// ---- MlpNeuronPruning ----

MlpNeuronPruning::MlpNeuronPruning(std::shared_ptr<NeuronCriterion> criterion, double keep_ratio)
    : criterion_(std::move(criterion)), keep_ratio_(keep_ratio) {
  SHEARS_CHECK(criterion_ != nullptr, "MlpNeuronPruning", "no criterion");
  SHEARS_CHECK(keep_ratio > 0.0 && keep_ratio <= 1.0, "MlpNeuronPruning", "keep ratio must be in (0, 1], got ",
               keep_ratio);
}

MlpNeuronPruning::MlpNeuronPruning(std::shared_ptr<NeuronCriterion> criterion, std::vector<int64_t> widths)
    : criterion_(std::move(criterion)), widths_(std::move(widths)) {
  SHEARS_CHECK(criterion_ != nullptr, "MlpNeuronPruning", "no criterion");
  SHEARS_CHECK(!widths_.empty(), "MlpNeuronPruning", "expected one width per block, got none");
  for (size_t b = 0; b < widths_.size(); ++b)
    SHEARS_CHECK(widths_[b] >= 1, "MlpNeuronPruning", "the width of block ", b, " must be >= 1, got ", widths_[b]);
}

std::string MlpNeuronPruning::name() const {
  if (keep_ratio_) return "mlp:" + criterion_->name() + ":keep=" + format_number(*keep_ratio_);
  std::string w;
  for (int64_t x : widths_) w += (w.empty() ? "" : ";") + std::to_string(x);
  return "mlp:" + criterion_->name() + ":widths=" + w;
}

nn::PruneStep MlpNeuronPruning::apply(nn::VisionTransformer& model, PruneContext& ctx) {
  const int64_t depth = static_cast<int64_t>(model.blocks->size());
  SHEARS_CHECK(keep_ratio_ || int64_t(widths_.size()) == depth, "MlpNeuronPruning", "got ", widths_.size(),
               " widths for a model of depth ", depth, "; expected one per block");
  // every width is checked before any surgery, so an error leaves the model untouched
  std::vector<int64_t> widths(static_cast<size_t>(depth));
  for (int64_t b = 0; b < depth; ++b) {
    const int64_t H = model.blocks->items[size_t(b)]->mlp->hidden();
    widths[size_t(b)] = keep_ratio_ ? std::max<int64_t>(1, std::llround(*keep_ratio_ * double(H))) : widths_[size_t(b)];
    SHEARS_CHECK(widths[size_t(b)] <= H, "MlpNeuronPruning", "block ", b, " has ", H,
                 " MLP hidden neurons; cannot keep ", widths[size_t(b)]);
  }
  const auto scores = criterion_->scores(model, ctx);
  check_scores_shape(scores, model, criterion_->name(), /*heads=*/false);
  std::vector<std::vector<int64_t>> keep(static_cast<size_t>(depth));
  for (int64_t b = 0; b < depth; ++b)
    keep[size_t(b)] = top_indices(scores[size_t(b)], widths[size_t(b)], str_cat("block ", b));

  nn::PruneStep step;
  step.kind = "prune_mlp";
  step.method = name();
  for (int64_t b = 0; b < depth; ++b) {
    if (widths[size_t(b)] < model.blocks->items[size_t(b)]->mlp->hidden())
      notify(ctx, model, prune_mlp_hidden(model, b, keep[size_t(b)]));
    step.kept["blocks." + std::to_string(b) + ".mlp"] = keep[size_t(b)];
  }
  json params = {{"criterion", criterion_->name()}};
  if (keep_ratio_)
    params["keep_ratio"] = *keep_ratio_;
  else
    params["widths"] = widths_;
  step.params_json = params.dump();
  return step;
}

// ---- HeadPruning ----

HeadPruning::HeadPruning(std::shared_ptr<HeadCriterion> criterion, int64_t heads)
    : criterion_(std::move(criterion)), heads_(heads) {
  SHEARS_CHECK(criterion_ != nullptr, "HeadPruning", "no criterion");
  SHEARS_CHECK(heads >= 1, "HeadPruning", "heads kept must be >= 1, got ", heads);
}

std::string HeadPruning::name() const { return "heads:" + criterion_->name() + ":keep=" + std::to_string(heads_); }

nn::PruneStep HeadPruning::apply(nn::VisionTransformer& model, PruneContext& ctx) {
  const int64_t depth = static_cast<int64_t>(model.blocks->size());
  const auto scores = criterion_->scores(model, ctx);
  check_scores_shape(scores, model, criterion_->name(), /*heads=*/true);
  nn::PruneStep step;
  step.kind = "prune_heads";
  step.method = name();
  for (int64_t b = 0; b < depth; ++b) {
    const int64_t heads = model.blocks->items[size_t(b)]->attn->heads;
    const std::vector<int64_t> keep = top_indices(scores[size_t(b)], std::min(heads_, heads), str_cat("block ", b));
    if (int64_t(keep.size()) < heads) notify(ctx, model, prune_attention_heads(model, b, keep));
    step.kept["blocks." + std::to_string(b) + ".attn.heads"] = keep;
  }
  step.params_json = json({{"criterion", criterion_->name()}, {"heads", heads_}}).dump();
  return step;
}

// ---- TokenPruningTransform ----

TokenPruningTransform::TokenPruningTransform(TokenPruningConfig cfg) : cfg_(std::move(cfg)) {
  SHEARS_CHECK(cfg_.keep_rate > 0.0 && cfg_.keep_rate <= 1.0, "TokenPruningTransform",
               "keep rate must be in (0, 1], got ", cfg_.keep_rate);
}

std::string TokenPruningTransform::name() const {
  std::string s = "tokens:" + (cfg_.custom_policy ? cfg_.custom_policy->name() : cfg_.policy.name()) + "@" +
                  format_number(cfg_.keep_rate);
  if (!cfg_.locations.empty()) {
    s += ":locations=";
    for (size_t i = 0; i < cfg_.locations.size(); ++i) s += (i ? ";" : "") + std::to_string(cfg_.locations[i]);
  }
  if (cfg_.fuse) s += std::string(":fuse=") + (*cfg_.fuse ? "1" : "0");
  if (cfg_.seed != 0) s += ":seed=" + std::to_string(cfg_.seed);
  return s;
}

nn::PruneStep TokenPruningTransform::apply(nn::VisionTransformer& model, PruneContext&) {
  auto tp = install_token_pruning(model, cfg_);
  nn::PruneStep step;
  step.kind = "token_pruning";
  step.method = name();
  step.params_json = cfg_.custom_policy ? json({{"policy", cfg_.custom_policy->name()},
                                                {"keep_rate", cfg_.keep_rate},
                                                {"locations", tp->locations()},
                                                {"fuse", tp->fuse()},
                                                {"custom_policy", true}})
                                              .dump()
                                        : tp->to_json();
  return step;
}

// ---- the step grammar ----

namespace {

[[noreturn]] void bad_step(const std::string& why) { throw Error(why); }

int64_t parse_int(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long long v = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0)
    bad_step(str_cat("expected an integer for ", what, ", got '", text, "'"));
  return v;
}

double parse_double(const std::string& text, const std::string& what) {
  char* end = nullptr;
  const double v = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
    bad_step(str_cat("expected a number for ", what, ", got '", text, "'"));
  return v;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\n") - a + 1);
}

// "<criterion>:<key>=<value>" -> (criterion, value); the criterion may hold colons ("random:7").
std::pair<std::string, std::string> criterion_and_value(const std::string& rest, const std::string& key,
                                                        const std::string& form) {
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || rest.compare(colon + 1, key.size() + 1, key + "=") != 0)
    bad_step(str_cat("expected ", form));
  const std::string criterion = rest.substr(0, colon);
  if (criterion.empty()) bad_step(str_cat("missing criterion; expected ", form));
  return {criterion, rest.substr(colon + 2 + key.size())};
}

template <typename Make>
auto make_criterion(Make make, const std::string& name) {
  try {
    return make(name);
  } catch (const Error& e) {
    bad_step(without_op(e.what()));
  }
}

// "amp:delta=<d>[:tau=<t>][:steps=<n>]" (the text after "mlp:") -> AmpPruning (amp.h).
std::shared_ptr<Transform> parse_amp_step(const std::string& rest) {
  const std::string form = "mlp:amp:delta=<d >= 0>[:tau=<temp_inv > 0>][:steps=<n >= 1>]";
  AmpOptions options;
  bool has_delta = false;
  const std::vector<std::string> parts = split(rest, ':');
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string::npos) bad_step(str_cat("option '", parts[i], "' has no '='; expected ", form));
    const std::string key = parts[i].substr(0, eq), value = parts[i].substr(eq + 1);
    if (key == "delta") {
      options.delta = parse_double(value, "delta");
      if (options.delta < 0) bad_step(str_cat("delta must be >= 0, got ", value));
      has_delta = true;
    } else if (key == "tau") {
      options.temp_inv = parse_double(value, "tau (temp_inv)");
      if (!(options.temp_inv > 0)) bad_step(str_cat("tau (temp_inv) must be > 0, got ", value));
    } else if (key == "steps") {
      options.search_steps = parse_int(value, "steps");
      if (options.search_steps < 1 || options.search_steps > 62)
        bad_step(str_cat("steps must be in [1, 62], got ", value));
    } else {
      bad_step(str_cat("unknown option '", key, "'; expected ", form));
    }
  }
  if (!has_delta) bad_step(str_cat("missing delta; expected ", form));
  return std::make_shared<AmpPruning>(options);
}

std::shared_ptr<Transform> parse_step_unprefixed(const std::string& step) {
  if (step.empty()) bad_step("empty step; expected blocks:..., mlp:..., heads:..., tokens:... or p3b:...");
  const size_t colon = step.find(':');
  const std::string kind = step.substr(0, colon);
  const std::string rest = colon == std::string::npos ? "" : step.substr(colon + 1);
  if (kind == "blocks") {
    const std::string form = "blocks:<criterion>:k=<n>";
    auto [criterion, value] = criterion_and_value(rest, "k", form);
    auto c = make_criterion(make_block_criterion, criterion);
    const int64_t k = parse_int(value, "k");
    if (k < 0) bad_step(str_cat("k must be >= 0, got ", k));
    return std::make_shared<BlockRemoval>(c, k);
  }
  if (kind == "mlp" && (rest == "amp" || rest.rfind("amp:", 0) == 0)) return parse_amp_step(rest);
  if (kind == "mlp") {
    const std::string form = "mlp:<criterion>:keep=<ratio in (0, 1]>";
    auto [criterion, value] = criterion_and_value(rest, "keep", form);
    auto c = make_criterion(make_neuron_criterion, criterion);
    const double ratio = parse_double(value, "the keep ratio");
    if (!(ratio > 0.0 && ratio <= 1.0)) bad_step(str_cat("the keep ratio must be in (0, 1], got ", value));
    return std::make_shared<MlpNeuronPruning>(c, ratio);
  }
  if (kind == "heads") {
    const std::string form = "heads:<criterion>:keep=<heads >= 1>";
    auto [criterion, value] = criterion_and_value(rest, "keep", form);
    auto c = make_criterion(make_head_criterion, criterion);
    const int64_t heads = parse_int(value, "the heads kept");
    if (heads < 1) bad_step(str_cat("the heads kept must be >= 1, got ", heads));
    return std::make_shared<HeadPruning>(c, heads);
  }
  if (kind == "p3b") {
    try {
      return parse_p3b_step(rest);
    } catch (const Error& e) {
      bad_step(without_op(e.what()));
    }
  }
  if (kind == "tokens") {
    const std::string form = "tokens:<policy>@<keep rate>[:locations=i;j;...][:fuse=0|1][:seed=<n>]";
    const size_t at = rest.find('@');
    if (at == std::string::npos) bad_step(str_cat("missing '@<keep rate>'; expected ", form));
    TokenPruningConfig cfg;
    try {
      cfg.policy = parse_token_policy(rest.substr(0, at));
    } catch (const Error& e) {
      bad_step(without_op(e.what()));
    }
    const std::vector<std::string> parts = split(rest.substr(at + 1), ':');
    cfg.keep_rate = parse_double(parts[0], "the keep rate");
    if (!(cfg.keep_rate > 0.0 && cfg.keep_rate <= 1.0))
      bad_step(str_cat("the keep rate must be in (0, 1], got ", parts[0]));
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string& opt = parts[i];
      const size_t eq = opt.find('=');
      const std::string key = opt.substr(0, eq), value = eq == std::string::npos ? "" : opt.substr(eq + 1);
      if (eq == std::string::npos) bad_step(str_cat("option '", opt, "' has no '='; expected ", form));
      if (key == "locations") {
        cfg.locations.clear();
        for (const std::string& loc : split(value, ';')) {
          const int64_t l = parse_int(loc, "a location");
          if (l < 0) bad_step(str_cat("locations are 0-based block indices, got ", l));
          cfg.locations.push_back(l);
        }
      } else if (key == "fuse") {
        if (value != "0" && value != "1") bad_step(str_cat("fuse must be 0 or 1, got '", value, "'"));
        cfg.fuse = value == "1";
      } else if (key == "seed") {
        const int64_t seed = parse_int(value, "the seed");
        if (seed < 0) bad_step(str_cat("the seed must be >= 0, got ", seed));
        cfg.seed = uint64_t(seed);
      } else {
        bad_step(str_cat("unknown option '", key, "'; expected ", form));
      }
    }
    return std::make_shared<TokenPruningTransform>(cfg);
  }
  bad_step(str_cat("unknown step kind '", kind, "'; expected blocks:<criterion>:k=<n>, mlp:<criterion>:keep=<ratio>, ",
                   "heads:<criterion>:keep=<n>, tokens:<policy>@<keep rate> or p3b:ratio=<r>"));
}

}  // namespace

std::shared_ptr<Transform> parse_step(const std::string& text) {
  try {
    return parse_step_unprefixed(trim(text));
  } catch (const Error& e) {
    fail("steps", "'", trim(text), "': ", without_op(e.what()));
  }
}

std::vector<std::shared_ptr<Transform>> parse_steps(const std::string& text) {
  SHEARS_CHECK(!trim(text).empty(), "steps", "no steps given; expected e.g. blocks:entropy:k=2,tokens:evit@0.7");
  std::vector<std::shared_ptr<Transform>> out;
  const std::vector<std::string> steps = split(text, ',');
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string step = trim(steps[i]);
    try {
      out.push_back(parse_step_unprefixed(step));
    } catch (const Error& e) {
      fail("steps", "step ", i + 1, " '", step, "': ", without_op(e.what()));
    }
  }
  return out;
}

}  // namespace shears::pruning
