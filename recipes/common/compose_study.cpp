// The composition study's pipelines, runner and questions (compose_study.h).
#include "common/compose_study.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "common/evaluate.h"
#include "common/model_cost.h"
#include "common/p3b_training.h"
#include "common/recipe_main.h"
#include "nn/checkpoint.h"
#include "nn/prune_log.h"
#include "pruning/p3b_transform.h"
#include "pruning/provenance.h"
#include "pruning/transform.h"
#include "tensor/error.h"
#include "train/progress.h"

namespace shears::recipes {

namespace {

// "blocks:entropy:k=1" -> "Gardener"; see compose_family.
std::string short_name(const std::string& step) {
  auto field = [&](size_t i) {  // the i-th ':'-separated field (0-based), without an "@..." tail
    size_t begin = 0;
    for (size_t k = 0; k < i; ++k) {
      begin = step.find(':', begin);
      if (begin == std::string::npos) return std::string();
      ++begin;
    }
    const size_t end = step.find_first_of(":@", begin);
    return step.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  };
  const std::string kind = field(0), crit = field(1);
  if (kind == "blocks") return crit == "entropy" ? "Gardener" : "blocks (" + crit + ")";
  if (kind == "mlp") return crit == "amp" ? "AMP" : "neurons (" + crit + ")";
  if (kind == "heads") return "heads (" + crit + ")";
  if (kind == "p3b") return "P3B";
  if (kind == "tokens") {
    if (crit == "evit") return "EViT";
    if (crit == "shannon") return "Shannon";
    if (crit == "renyi") return "Rényi α=" + field(2);
    return crit + " tokens";
  }
  return step;
}

std::string join(const std::vector<std::string>& items, const std::string& sep, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += (i ? sep : "") + items[i];
  return out;
}

}  // namespace

std::string compose_family(const std::string& steps) {
  if (steps.empty()) return "dense";
  std::vector<std::string> names;
  for (const auto& t : pruning::parse_steps(steps)) names.push_back(short_name(t->name()));
  return join(names, " → ", names.size());
}

ComposePipeline make_pipeline(const std::string& steps) {
  ComposePipeline p;
  p.steps = steps;
  p.family = compose_family(steps);
  p.stack = !steps.empty() && pruning::parse_steps(steps).size() > 1;
  return p;
}

std::vector<ComposePipeline> single_pipelines(const ComposeSingles& s) {
  std::vector<ComposePipeline> out;
  for (int64_t k : s.gardener_ks) out.push_back(make_pipeline("blocks:entropy:k=" + std::to_string(k)));
  for (double d : s.amp_deltas) out.push_back(make_pipeline("mlp:amp:delta=" + pruning::format_number(d)));
  for (double r : s.p3b_ratios)
    out.push_back(make_pipeline("p3b:ratio=" + pruning::format_number(r) + ":epochs=" + std::to_string(s.p3b_epochs)));
  for (const std::string& policy : {std::string("evit"), s.entropy_policy})
    for (double keep : s.token_keeps) out.push_back(make_pipeline("tokens:" + policy + "@" + pruning::format_number(keep)));
  return out;
}

std::vector<ComposePipeline> parse_pipelines(const std::string& text) {
  std::vector<ComposePipeline> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find('|', begin);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(begin, end - begin);
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    item = a == std::string::npos ? "" : item.substr(a, b - a + 1);
    if (!item.empty()) out.push_back(make_pipeline(item));
    begin = end + 1;
  }
  return out;
}

int64_t pruning_train_epochs(const std::string& steps) {
  if (steps.empty()) return 0;
  int64_t epochs = 0;
  for (const auto& t : pruning::parse_steps(steps))
    if (auto p3b = std::dynamic_pointer_cast<pruning::P3bPruning>(t)) epochs += p3b->options().epochs;
  return epochs;
}

double ComposePoint::se() const { return n_test > 0 ? std::sqrt(top1 * (1 - top1) / double(n_test)) : NAN; }

ComposeRunner::ComposeRunner(const StudyBase& base, ComposeRunOptions options) : base_(base), opt_(std::move(options)) {
  if (!opt_.train) opt_.train = base_.train;
  SHEARS_CHECK(!opt_.models_dir.empty(), "ComposeRunner", "models_dir is empty");
  std::filesystem::create_directories(opt_.models_dir);
}

ComposePoint ComposeRunner::measure(nn::VisionTransformer& model, const ComposePipeline& p, bool finetuned,
                                    double seconds) {
  model.eval();
  ComposePoint pt;
  pt.pipeline = p;
  pt.finetuned = finetuned;
  pt.seconds = seconds;
  const ModelCost cost = model_cost(model, base_.timing_images);
  pt.params = cost.params;
  pt.gflops = cost.gflops;
  pt.top1 = evaluate_accuracy(model, base_.test, base_.eval_tf, opt_.eval_batch).top1;
  pt.n_test = base_.test->size();
  model.eval();
  const std::vector<double> ips = interleaved_images_per_second(
      {inference_forward(*base_.original, base_.timing_images), inference_forward(model, base_.timing_images)},
      base_.timing_images.size(0), opt_.timing);
  pt.dense_images_per_s = ips[0];
  pt.images_per_s = ips[1];
  pt.prune_log_json = nn::prune_log_to_json(model.prune_log);
  char name[64];
  std::snprintf(name, sizeof name, "point%02ld%s.safetensors", long(saved_ / 2), finetuned ? "_ft" : "");
  ++saved_;
  pt.checkpoint = (std::filesystem::path(opt_.models_dir) / name).string();
  nn::save_model(pt.checkpoint, model,
                 {{"shears.recipe", "shears_compose"}, {"shears.steps", p.steps},
                  {"shears.recovery", finetuned ? "fine-tuned" : "none"}});
  auto reloaded = pruning::load_model(pt.checkpoint);
  const double again = evaluate_accuracy(*reloaded, base_.test, base_.eval_tf, opt_.eval_batch).top1;
  SHEARS_CHECK(again == pt.top1, "shears_compose", pt.checkpoint, ": the model reloaded from the file scores top-1 ",
               again, " but the model that was saved scored ", pt.top1, " (pipeline '", p.steps, "')");
  return pt;
}

std::vector<ComposePoint> ComposeRunner::run(const ComposePipeline& p) {
  if (saved_ % 2) ++saved_;  // point files pair up: pointNN and pointNN_ft
  const double t0 = train::now_s();
  const auto transforms = p.steps.empty() ? std::vector<std::shared_ptr<pruning::Transform>>{}
                                          : pruning::parse_steps(p.steps);
  std::vector<std::string> names;
  for (const auto& t : transforms) names.push_back(t->name());
  auto key = [&](size_t k) { return join(names, ",", k); };
  size_t start = 0;
  std::shared_ptr<nn::VisionTransformer> model;
  for (size_t k = names.size(); k >= 1 && !model; --k) {
    auto it = prefixes_.find(key(k));
    if (it == prefixes_.end()) continue;
    model = pruning::clone_model(*it->second);
    start = k;
    ++prefix_hits_;
  }
  if (!model) model = pruning::clone_model(*base_.original);
  model->eval();
  if (start < transforms.size()) {
    pruning::PruneContext ctx;
    ctx.calibration = base_.scoring;
    ctx.validation = base_.validation;
    ctx.seed = opt_.seed;
    ctx.train = training_runner(opt_.train, base_.train_tf, opt_.p3b_run);
    ctx.after_step = [&](nn::VisionTransformer& m, const nn::PruneStep&, size_t i) {
      prefixes_[key(start + i + 1)] = pruning::clone_model(m);
    };
    const std::vector<std::shared_ptr<pruning::Transform>> rest(transforms.begin() + int64_t(start), transforms.end());
    pruning::apply_all(*model, rest, ctx);
  }
  const int64_t pruning_epochs = pruning_train_epochs(p.steps);
  std::vector<ComposePoint> out;
  out.push_back(measure(*model, p, false, train::now_s() - t0));
  out.back().train_epochs = pruning_epochs;
  if (opt_.recovery.epochs > 0) {
    const double t1 = train::now_s();
    model->train();
    finetune(*model, opt_.train, base_.train_tf, opt_.recovery);
    out.push_back(measure(*model, p, true, train::now_s() - t1));
    out.back().train_epochs = pruning_epochs + opt_.recovery.epochs;
  }
  return out;
}

PolicyChoice choose_entropy_policy(const nn::VisionTransformer& model,
                                   const std::vector<pruning::CalibrationBatch>& validation,
                                   const std::vector<std::string>& orders, double keep) {
  SHEARS_CHECK(!orders.empty(), "choose_entropy_policy", "no Rényi orders given");
  SHEARS_CHECK(!validation.empty(), "choose_entropy_policy", "no validation batches");
  PolicyChoice c;
  double best = -1;
  for (const std::string& order : orders) {
    const std::string policy = order == "1" ? "shannon" : "renyi:" + order;
    auto m = pruning::clone_model(model);
    m->eval();
    pruning::PruneContext ctx;
    pruning::apply_all(*m, pruning::parse_steps("tokens:" + policy + "@" + pruning::format_number(keep)), ctx);
    const double top1 = evaluate_accuracy(*m, validation, m->config().num_classes).top1;
    c.tried.push_back({policy, top1});
    if (top1 > best) best = top1, c.policy = policy;
  }
  return c;
}

namespace {

// The most accurate pipeline point (ties: fewer GFLOPs, then first) of the given kind within the budget
// among those `keep` accepts.
template <typename Keep>
std::optional<size_t> most_accurate_if(const std::vector<ComposePoint>& points, double max_gflops, bool stack,
                                       Keep keep) {
  std::optional<size_t> best;
  for (size_t i = 0; i < points.size(); ++i) {
    const ComposePoint& p = points[i];
    if (p.pipeline.steps.empty() || p.pipeline.stack != stack || !keep(p) || !(p.gflops <= max_gflops)) continue;
    if (!best || p.top1 > points[*best].top1 || (p.top1 == points[*best].top1 && p.gflops < points[*best].gflops))
      best = i;
  }
  return best;
}

}  // namespace

std::optional<size_t> most_accurate_within(const std::vector<ComposePoint>& points, double max_gflops, bool stack,
                                           bool finetuned) {
  return most_accurate_if(points, max_gflops, stack, [&](const ComposePoint& p) { return p.finetuned == finetuned; });
}

std::optional<size_t> most_accurate_trained(const std::vector<ComposePoint>& points, double max_gflops, bool stack,
                                            int64_t train_epochs) {
  return most_accurate_if(points, max_gflops, stack,
                          [&](const ComposePoint& p) { return p.train_epochs == train_epochs; });
}

std::optional<size_t> best_single_as_fast(const std::vector<ComposePoint>& points, size_t stack_point,
                                          double tolerance) {
  SHEARS_CHECK(stack_point < points.size(), "best_single_as_fast", "point ", stack_point, " of ", points.size());
  const ComposePoint& s = points[stack_point];
  std::optional<size_t> best;
  for (size_t i = 0; i < points.size(); ++i) {
    const ComposePoint& p = points[i];
    if (p.pipeline.steps.empty() || p.pipeline.stack || p.finetuned != s.finetuned) continue;
    if (!(p.speedup() >= (1 - tolerance) * s.speedup())) continue;
    if (!best || p.top1 > points[*best].top1) best = i;
  }
  return best;
}

}  // namespace shears::recipes
