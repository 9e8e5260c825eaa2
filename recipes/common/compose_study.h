// The composition study (shears_compose): pipelines of pruning transforms (single methods at several
// budgets and stacks of them) applied to one trained model, each point measured the same way: params,
// GFLOPs from the real shapes and token counts, measured images/s interleaved with the dense model, top-1
// on the test set, the checkpoint written and reloaded from the file alone (its top-1 must come back
// exactly), then the same short recovery fine-tune for every point and the same measurements again.
// Also the questions the study answers: the most accurate single method / stack within a GFLOPs budget,
// and whether a stack beats every single method that is at least as fast.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/finetune.h"
#include "common/study_base.h"
#include "common/throughput.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

// One pipeline of the study: pruning/transform.h step text ("blocks:entropy:k=1,tokens:evit@0.7").
struct ComposePipeline {
  std::string steps;   // "" = the dense model
  std::string family;  // compose_family(steps)
  bool stack = false;  // more than one step
};

// The family of a pipeline for tables and plot markers: each step as a short name (Gardener for
// blocks:entropy, blocks (<criterion>) otherwise; AMP; neurons (<criterion>); heads (<criterion>); P3B;
// EViT; Shannon; Rényi α=<a>; random tokens), joined with " → " in order; "dense" for no step.
// The step text is parsed (pruning::parse_steps), so a bad step fails here, naming it.
std::string compose_family(const std::string& steps);
ComposePipeline make_pipeline(const std::string& steps);

// The single-method pipelines of a study: Gardener k blocks, AMP δ, P3B ratio (pruning run of
// `p3b_epochs`), EViT and the chosen entropy policy (e.g. "renyi:2") at each keep rate.
struct ComposeSingles {
  std::vector<int64_t> gardener_ks;
  std::vector<double> amp_deltas;
  std::vector<double> p3b_ratios;
  int64_t p3b_epochs = 1;
  std::vector<double> token_keeps;
  std::string entropy_policy = "renyi:2";
};
std::vector<ComposePipeline> single_pipelines(const ComposeSingles& s);

// Pipelines from text: '|' separates pipelines (',' separates steps inside one, ';' token locations).
// Empty items are dropped; each is checked by make_pipeline.
std::vector<ComposePipeline> parse_pipelines(const std::string& text);

// Epochs of training a pipeline's steps do while they prune (the P3B steps' pruning runs); 0 for the rest.
int64_t pruning_train_epochs(const std::string& steps);

// One measured point: a pipeline, without or with the recovery fine-tune.
struct ComposePoint {
  ComposePipeline pipeline;
  bool finetuned = false;
  int64_t params = 0;
  double gflops = 0;            // fvcore, per image, from the real shapes and token counts
  double images_per_s = 0;      // median, interleaved with the dense model
  double dense_images_per_s = 0;  // the dense model's median in the same interleaved measurement
  double top1 = 0;              // fraction, on n_test images
  int64_t n_test = 0;
  std::string checkpoint;       // written and reloaded (top-1 of the reloaded model checked equal)
  std::string prune_log_json;   // nn::prune_log_to_json of the model
  double seconds = 0;           // pruning (and fine-tune) wall time of this point
  int64_t train_epochs = 0;     // epochs of training after the dense model: steps that train while they
                                // prune (P3B's pruning run) + the recovery fine-tune when finetuned

  double speedup() const { return images_per_s / dense_images_per_s; }
  double se() const;            // binomial standard error of top1
};

struct ComposeRunOptions {
  FinetuneOptions recovery;       // the same short fine-tune for every point (epochs 0 = no fine-tuned points)
  FinetuneOptions p3b_run;        // P3B's pruning run (PruneContext::train; lr held constant, epochs from the step)
  std::shared_ptr<const data::Dataset> train;  // fine-tune and P3B training data (default: base.train)
  ThroughputOptions timing;
  int64_t eval_batch = 250;
  std::string models_dir;         // every point's checkpoint is written here
  uint64_t seed = 0;              // seed of random criteria (PruneContext::seed)
};

// Runs pipelines on copies of the base model. The models after every step prefix are kept (without
// fine-tune), so pipelines that share a prefix ("p3b:ratio=0.5" and "p3b:ratio=0.5,tokens:evit@0.7")
// apply it once; applying a prefix twice would give the same model (the steps and their context are
// deterministic), this only saves the time.
class ComposeRunner {
 public:
  ComposeRunner(const StudyBase& base, ComposeRunOptions options);
  // The pipeline's points: without the recovery fine-tune, then with it (when recovery.epochs > 0).
  // The dense pipeline ("") gives the unpruned model and its fine-tuned control.
  std::vector<ComposePoint> run(const ComposePipeline& pipeline);
  int64_t prefix_hits() const { return prefix_hits_; }

 private:
  ComposePoint measure(nn::VisionTransformer& model, const ComposePipeline& p, bool finetuned, double seconds);
  const StudyBase& base_;
  ComposeRunOptions opt_;
  std::map<std::string, std::shared_ptr<nn::VisionTransformer>> prefixes_;  // step texts joined by ',' -> model
  int64_t prefix_hits_ = 0, saved_ = 0;
};

// The entropy token policy of the study, chosen without the test set: each "renyi:<order>" (order 1 =
// "shannon") installed at `keep` on a copy of the model, no fine-tune, top-1 on the validation batches
// (training images); the most accurate wins (ties: the first). Returns the policies with their top-1.
struct PolicyChoice {
  std::string policy;
  std::vector<std::pair<std::string, double>> tried;  // (policy, validation top-1)
};
PolicyChoice choose_entropy_policy(const nn::VisionTransformer& model,
                                   const std::vector<pruning::CalibrationBatch>& validation,
                                   const std::vector<std::string>& orders, double keep);

// ---- the study's questions ----

// The most accurate point (highest top1; ties: fewer GFLOPs, then first) among those with
// finetuned == `finetuned`, stack == `stack`, a non-empty pipeline and gflops <= max_gflops.
std::optional<size_t> most_accurate_within(const std::vector<ComposePoint>& points, double max_gflops, bool stack,
                                           bool finetuned);

// The same over the points trained for exactly `train_epochs` epochs after the dense model, whatever
// their recovery state (the training-matched comparison: P3B right after its 1-epoch pruning run
// against the other methods after their 1-epoch fine-tune).
std::optional<size_t> most_accurate_trained(const std::vector<ComposePoint>& points, double max_gflops, bool stack,
                                            int64_t train_epochs);

// For a stack point: the most accurate single-method point (same finetuned state) whose measured speed-up
// is at least (1 - tolerance) x the stack's; none when no single method is that fast.
std::optional<size_t> best_single_as_fast(const std::vector<ComposePoint>& points, size_t stack_point,
                                          double tolerance);

}  // namespace shears::recipes
