// AMP study (METHODS.md §5, §5.7 first): adaptive MLP neuron pruning of a ViT with the label-free
// similarity entropy, entropy-Taylor scores and a per-layer binary search, at several δ; each pruned
// model evaluated as pruned and after distillation from the unpruned model (MSE logits + MSE features).
// Prints A1 (params, GFLOPs fvcore and 2×MAC, measured img/s, top-1 ± SE per state), A2 (per-layer
// search trace) and A3 (criterion ablation at AMP's widths, no recovery) and saves every model.
//   --scale smoke  a tiny Fashion-MNIST ViT trained here and cached under --out, tiny sets (seconds; CI)
//   --scale mini   the main job's checkpoint, 5120 scoring + 2048 validation training images, full test set
//   --scale paper  a timm ViT/DeiT safetensors file + ImageFolder --train-dir/--val-dir
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <cxxopts.hpp>

#include "common/amp_report.h"
#include "common/amp_settings.h"
#include "common/sample_stats.h"
#include "common/dataset_subset.h"
#include "common/distillation.h"
#include "common/evaluate.h"
#include "common/fashion_mnist_data.h"
#include "common/finetune.h"
#include "common/model_cost.h"
#include "common/recipe_main.h"
#include "common/report.h"
#include "common/saved_model_check.h"
#include "common/study_base.h"
#include "common/throughput.h"
#include "common/timm_deit.h"
#include "data/datasets.h"
#include "data/fashion_mnist.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "pruning/amp.h"
#include "pruning/criterion.h"
#include "pruning/provenance.h"
#include "pruning/transform.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "train/progress.h"

using namespace shears;
using recipes::amp_accuracy_cell, recipes::mean_of, recipes::amp_number, recipes::amp_widths_str;
using recipes::AmpAblation, recipes::AmpDeltaRun;
using train::now_s;

namespace {

constexpr const char* kProg = "shears_amp";

using Settings = recipes::AmpSettings;

Settings parse_args(int argc, char** argv, bool& exit_now) {
  cxxopts::Options options(
      kProg,
      "AMP (adaptive MLP pruning, METHODS.md §5): entropy-Taylor scores of every MLP hidden neuron on a fixed\n"
      "scoring set (training split, evaluation transform), then per layer from the last block to the first a\n"
      "6-step binary search for the narrowest width whose label-free similarity entropy E (τ_inv-scaled cosine\n"
      "softmax over each fixed validation batch, E <= ln(batch)) rises by at most δ. Each δ gives a pruned model\n"
      "(no recovery) and a recovered one (distillation from the unpruned model: MSE logits + MSE features).\n"
      "Prints A1 (params, GFLOPs fvcore and 2×MAC, measured img/s vs the original, top-1 ± SE), A2 (per-layer\n"
      "search trace) and A3 (entropy-Taylor vs CE-Taylor, |w| magnitude and random at AMP's widths, no\n"
      "recovery) as Markdown, writes CSV/JSON and the models (pruning::load_model reloads them) under --out.\n"
      "  --scale smoke  a tiny ViT trained here on 2048 Fashion-MNIST images (cached under --out), tiny sets\n"
      "  --scale mini   the main job's checkpoint (--checkpoint), 5120 scoring + 2048 validation training images\n"
      "                 (disjoint), full 10,000-image test set, 2 distillation epochs over the 60000 training images\n"
      "  --scale paper  timm ViT/DeiT safetensors (--checkpoint) + ImageFolder --train-dir (scoring, validation,\n"
      "                 distillation) and --val-dir (top-1); 224 px DeiT transforms\n"
      "Flags given explicitly override the values chosen by --scale [smoke / mini / paper].\n");
  options.add_options()
      ("scale", "smoke | mini | paper", cxxopts::value<std::string>()->default_value("mini"))
      ("out", "folder for tables (CSV/JSON), models and the cached smoke base",
       cxxopts::value<std::string>()->default_value("runs/amp"))
      ("checkpoint", "mini: shears checkpoint of a 28x28x1 ViT [runs/main/vit_fmnist.safetensors]; smoke: optional "
                     "(default: the tiny base trained here); paper: timm ViT/DeiT .safetensors (required)",
       cxxopts::value<std::string>())
      ("heads", "paper: attention heads per block (not stored in timm files; 0 = width / 64)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("data-dir", "smoke/mini: Fashion-MNIST IDX folder",
       cxxopts::value<std::string>()->default_value(data::kFashionMnistDefaultDir))
      ("train-dir", "paper: ImageFolder training split (scoring, validation, distillation)",
       cxxopts::value<std::string>())
      ("val-dir", "paper: ImageFolder evaluation split (top-1)", cxxopts::value<std::string>())
      ("deltas", "comma-separated entropy thresholds δ (accept a width when E_mid - E_prev <= δ) [1e-3,3e-3,1e-2]",
       cxxopts::value<std::string>()->default_value("1e-3,3e-3,1e-2"))
      ("tau-inv", "τ_inv, the inverse temperature of the similarity softmax [15, OpenCLIP]",
       cxxopts::value<double>()->default_value("15"))
      ("search-steps", "bisection steps per layer (resolution H / 2^steps) [6]",
       cxxopts::value<int64_t>()->default_value("6"))
      ("score-images", "training images of the scoring set (the first N) [smoke 256, mini 5120, paper 10240]",
       cxxopts::value<int64_t>())
      ("score-batch", "images per scoring batch [smoke 64, mini/paper 128]", cxxopts::value<int64_t>())
      ("val-images", "training images of the validation batches (right after the scoring set, disjoint from it) "
                     "[smoke 256, mini 2048, paper 5120]",
       cxxopts::value<int64_t>())
      ("val-batch", "images per validation batch (E <= ln(batch): δ is tied to it) [smoke 64, mini/paper 128]",
       cxxopts::value<int64_t>())
      ("eval-limit", "test images (evenly spread; 0 = all) [smoke 500, mini/paper 0]", cxxopts::value<int64_t>())
      ("random-seeds", "seeds of the random-criterion ablation (mean ± sd)", cxxopts::value<int64_t>()->default_value("3"))
      ("distill-epochs", "recovery: distillation epochs over --distill-images (0 = no recovery) [smoke 1, mini 2, "
                         "paper 5]",
       cxxopts::value<int64_t>())
      ("distill-images", "recovery: training images (evenly spread; 0 = all) [smoke 512, mini/paper 0]",
       cxxopts::value<int64_t>())
      ("distill-lr", "recovery: peak lr (AdamW, warm-up + cosine) [smoke 5e-4, mini 2e-4, paper 2e-5]",
       cxxopts::value<double>())
      ("distill-batch", "recovery: images per step [smoke 32, mini/paper 64]", cxxopts::value<int64_t>())
      ("distill-warmup", "recovery: warm-up epochs [smoke/mini 0.1, paper 1]", cxxopts::value<double>())
      ("feature-weight", "recovery: weight of MSE(features)", cxxopts::value<double>()->default_value("1"))
      ("output-weight", "recovery: weight of MSE(logits)", cxxopts::value<double>()->default_value("1"))
      ("weight-decay", "recovery: AdamW weight decay (the paper ramps 0.04 -> 0.2)",
       cxxopts::value<double>()->default_value("0.05"))
      ("retrain-base", "smoke: train the tiny base again even when OUT/base_model.safetensors holds it")
      ("throughput-batch", "images per timed forward [smoke 64, mini 256, paper 64]", cxxopts::value<int64_t>())
      ("throughput-time", "seconds per timed sample (5 samples, interleaved with the original) [smoke 0.05, mini 0.3, "
                          "paper 1.5]",
       cxxopts::value<double>())
      ("seed", "seed of data order, augmentation and the smoke base", cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = SHEARS_NUM_THREADS when set, else all cores)",
       cxxopts::value<int>()->default_value("0"))
      ("log-every", "steps between distillation progress lines (0 = one line per run)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("h,help", "print this help and exit");
  const auto parsed = recipes::parse_flags(options, argc, argv, kProg);
  if (!parsed) {
    exit_now = true;
    return {};
  }
  const cxxopts::ParseResult& r = *parsed;
  Settings s;
  s.scale = r["scale"].as<std::string>();
  s.out = r["out"].as<std::string>();
  s.data_dir = r["data-dir"].as<std::string>();
  recipes::apply_amp_scale(s, kProg);
  s.deltas = recipes::parse_amp_deltas(r["deltas"].as<std::string>(), kProg);
  s.temp_inv = r["tau-inv"].as<double>();
  s.search_steps = r["search-steps"].as<int64_t>();
  s.heads = r["heads"].as<int64_t>();
  if (r.count("checkpoint")) s.checkpoint = r["checkpoint"].as<std::string>();
  if (r.count("train-dir")) s.train_dir = r["train-dir"].as<std::string>();
  if (r.count("val-dir")) s.val_dir = r["val-dir"].as<std::string>();
  if (r.count("score-images")) s.score_images = r["score-images"].as<int64_t>();
  if (r.count("score-batch")) s.score_batch = r["score-batch"].as<int64_t>();
  if (r.count("val-images")) s.val_images = r["val-images"].as<int64_t>();
  if (r.count("val-batch")) s.val_batch = r["val-batch"].as<int64_t>();
  if (r.count("eval-limit")) s.eval_limit = r["eval-limit"].as<int64_t>();
  if (r.count("distill-epochs")) s.distill.epochs = r["distill-epochs"].as<int64_t>();
  if (r.count("distill-images")) s.distill_images = r["distill-images"].as<int64_t>();
  if (r.count("distill-lr")) s.distill.lr = r["distill-lr"].as<double>();
  if (r.count("distill-batch")) s.distill.batch_size = r["distill-batch"].as<int64_t>();
  if (r.count("distill-warmup")) s.distill.warmup_epochs = r["distill-warmup"].as<double>();
  if (r.count("throughput-batch")) s.throughput_batch = r["throughput-batch"].as<int64_t>();
  if (r.count("throughput-time")) s.throughput_time = r["throughput-time"].as<double>();
  s.random_seeds = r["random-seeds"].as<int64_t>();
  s.distill_loss.feature_weight = r["feature-weight"].as<double>();
  s.distill_loss.output_weight = r["output-weight"].as<double>();
  s.distill.weight_decay = r["weight-decay"].as<double>();
  s.distill.label_smoothing = 0;  // not used by the distillation loss
  s.retrain_base = r.count("retrain-base") > 0;
  s.seed = r["seed"].as<uint64_t>();
  s.distill.seed = s.seed;
  s.distill.log_every = r["log-every"].as<int64_t>();
  s.threads = r["threads"].as<int>();

  recipes::check_amp_settings(s, kProg);
  return s;
}

// What the study reads: the shared study base (recipes/common/study_base.h) plus the recovery set.
struct Study : recipes::StudyBase {
  std::shared_ptr<const data::Dataset> distill_set;
};

Study prepare(const Settings& s) {
  recipes::check_study_base_options(recipes::amp_study_base_options(s), kProg);  // every input checked before anything is loaded
  Study st;
  static_cast<recipes::StudyBase&>(st) = recipes::prepare_study_base(recipes::amp_study_base_options(s), kProg);
  st.distill_set = s.distill_images > 0 ? std::shared_ptr<const data::Dataset>(
                                              std::make_shared<recipes::EvenSubset>(st.train, s.distill_images))
                                        : st.train;
  return st;
}

std::string delta_file_tag(double d) {
  std::string t = amp_number(d);
  for (char& c : t)
    if (c == '.') c = 'p';
  return t;
}

int run(const Settings& s) {
  if (s.threads > 0) set_num_threads(s.threads);
  const double t_start = now_s();
  const std::clock_t cpu_start = std::clock();
  recipes::prepare_output_dir(s.out, kProg);  // an unwritable --out fails now, not after the study
  Study st = prepare(s);
  const double t_prepared = now_s();
  nn::VisionTransformer& original = *st.original;
  const nn::ModelConfig cfg = original.config();
  const int64_t n_test = st.test->size();
  std::printf("effective config: %s --scale %s; model %s (%s); scoring set %s; validation %s; τ_inv %s, %ld "
              "search steps, δ in {",
              kProg, s.scale.c_str(), st.model_name.c_str(), st.model_desc.c_str(), st.scoring_desc.c_str(),
              st.validation_desc.c_str(), amp_number(s.temp_inv).c_str(), long(s.search_steps));
  for (size_t i = 0; i < s.deltas.size(); ++i) std::printf("%s%s", i ? ", " : "", amp_number(s.deltas[i]).c_str());
  std::printf("} at validation batch %ld (E <= ln %ld = %.4f); test: %ld images of %s; recovery: ", long(s.val_batch),
              long(s.val_batch), std::log(double(s.val_batch)), long(n_test), st.dataset_name.c_str());
  if (s.distill.epochs > 0)
    std::printf("distillation %ld epoch(s) over %ld training images, batch %ld, AdamW lr %s warm-up %s epochs cosine to "
                "%s, wd %s, loss %s·MSE(logits) + %s·MSE(features)",
                long(s.distill.epochs), long(st.distill_set->size()), long(s.distill.batch_size), amp_number(s.distill.lr).c_str(),
                amp_number(s.distill.warmup_epochs).c_str(), amp_number(s.distill.min_lr).c_str(), amp_number(s.distill.weight_decay).c_str(),
                amp_number(s.distill_loss.output_weight).c_str(), amp_number(s.distill_loss.feature_weight).c_str());
  else
    std::printf("none (--distill-epochs 0)");
  std::printf("; %d threads\n", get_num_threads());
  recipes::print_compute_config();
  std::fflush(stdout);

  const recipes::ModelCost cost0 = recipes::model_cost(original, st.timing_images);
  const double acc0 = recipes::evaluate_accuracy(original, st.test, st.eval_tf).top1;
  original.eval();
  const double e0 = pruning::validation_entropy(original, st.validation, s.temp_inv);
  std::printf("original: %ld params, %.5f GFLOPs (fvcore), top-1 %s, validation E %.5f (%.0f s)\n", long(cost0.params),
              cost0.gflops, amp_accuracy_cell(acc0, n_test).c_str(), e0, now_s() - t_start);
  std::fflush(stdout);

  recipes::ThroughputOptions tput;
  tput.samples = 5;
  tput.min_time = s.throughput_time;
  const int64_t tb = st.timing_images.size(0);

  pruning::PruneContext ctx;
  ctx.calibration = st.scoring;
  ctx.validation = st.validation;
  ctx.seed = s.seed;

  std::vector<std::string> criteria = {s.temp_inv == 15 ? "entropy_taylor" : "entropy_taylor:" + amp_number(s.temp_inv),
                                       "ce_taylor", "magnitude"};
  std::vector<AmpDeltaRun> runs;
  for (double delta : s.deltas) {
    AmpDeltaRun dr;
    dr.delta = delta;
    const double t0 = now_s();
    auto pruned = pruning::clone_model(original);
    pruning::AmpOptions ao;
    ao.delta = delta;
    ao.temp_inv = s.temp_inv;
    ao.search_steps = s.search_steps;
    auto amp = std::make_shared<pruning::AmpPruning>(ao);
    pruning::apply_all(*pruned, {amp}, ctx);
    dr.result = amp->last_result();
    dr.search_seconds = now_s() - t0;
    const nn::PruneStep amp_step = pruned->prune_log.back();
    dr.cost = recipes::model_cost(*pruned, st.timing_images);
    dr.acc_pruned = recipes::evaluate_accuracy(*pruned, st.test, st.eval_tf).top1;
    const std::vector<double> ips = recipes::interleaved_images_per_second(
        {recipes::inference_forward(*pruned, st.timing_images), recipes::inference_forward(original, st.timing_images)},
        tb, tput);
    dr.images_per_s = ips[0], dr.original_images_per_s = ips[1];
    const std::string tag = delta_file_tag(delta);
    dr.pruned_path = (std::filesystem::path(s.out) / ("amp_delta" + tag + "_pruned.safetensors")).string();
    recipes::save_and_check_reload(*pruned, dr.pruned_path, st.timing_images,
                   {{"shears.recipe", std::string(kProg) + " --scale " + s.scale},
                    {"shears.amp_state", "pruned (no recovery)"}, {"shears.base", st.model_desc}},
                   kProg);
    std::printf("[δ %s] widths %s (search %.0f s), E %.5f -> %.5f; %ld params (%.1f%% fewer), %.5f GFLOPs (%.1f%% "
                "fewer); top-1 pruned %s; %.0f img/s vs original %.0f (%.2fx, FLOP ratio %.2f)\n",
                amp_number(delta).c_str(), amp_widths_str(dr.result.widths).c_str(), dr.search_seconds, dr.result.e_dense,
                dr.result.e_final, long(dr.cost.params), 100.0 * (1 - double(dr.cost.params) / double(cost0.params)),
                dr.cost.gflops, 100.0 * (1 - dr.cost.gflops / cost0.gflops), amp_accuracy_cell(dr.acc_pruned, n_test).c_str(),
                dr.images_per_s, dr.original_images_per_s, dr.images_per_s / dr.original_images_per_s,
                cost0.gflops / dr.cost.gflops);
    std::fflush(stdout);

    // A3: the same widths by other criteria (no recovery)
    std::vector<std::string> names = criteria;
    for (int64_t k = 0; k < s.random_seeds; ++k) names.push_back("random:" + std::to_string(s.seed + uint64_t(k)));
    for (const std::string& name : names) {
      const bool is_random = name.rfind("random:", 0) == 0;
      if (is_random && !dr.ablations.empty() && dr.ablations.back().criterion == "random") {
      } else {
        AmpAblation a;
        a.criterion = is_random ? "random" : name;
        a.label = name.rfind("entropy_taylor", 0) == 0 ? "entropy-Taylor (AMP's score, label-free)"
                  : name == "ce_taylor"                ? "cross-entropy-Taylor (labels)"
                  : name == "magnitude"                ? "|w| magnitude"
                                                       : "random (" + std::to_string(s.random_seeds) + " seeds)";
        dr.ablations.push_back(a);
      }
      AmpAblation& a = dr.ablations.back();
      auto m = pruning::clone_model(original);
      pruning::apply_all(*m, {std::make_shared<pruning::MlpNeuronPruning>(pruning::make_neuron_criterion(name),
                                                                          dr.result.widths)},
                         ctx);
      a.top1.push_back(recipes::evaluate_accuracy(*m, st.test, st.eval_tf).top1);
      if (!is_random) a.same_neurons_as_amp = m->prune_log.back().kept == amp_step.kept;
    }
    std::printf("[δ %s] A3 at these widths:", amp_number(delta).c_str());
    for (const AmpAblation& a : dr.ablations)
      std::printf(" %s %.2f%%%s;", a.criterion.c_str(), 100 * mean_of(a.top1),
                  a.criterion.rfind("entropy_taylor", 0) == 0 ? (a.same_neurons_as_amp ? " (= AMP's neurons)" : " (DIFFERENT neurons from AMP)") : "");
    std::printf("\n");
    std::fflush(stdout);

    if (s.distill.epochs > 0) {
      const double t1 = now_s();
      auto recovered = pruning::clone_model(*pruned);
      dr.distill_loss = recipes::distill(*recovered, st.original, st.distill_set, st.train_tf, s.distill, s.distill_loss);
      dr.distill_seconds = now_s() - t1;
      dr.acc_recovered = recipes::evaluate_accuracy(*recovered, st.test, st.eval_tf).top1;
      dr.recovered_path = (std::filesystem::path(s.out) / ("amp_delta" + tag + "_recovered.safetensors")).string();
      recipes::save_and_check_reload(*recovered, dr.recovered_path, st.timing_images,
                     {{"shears.recipe", std::string(kProg) + " --scale " + s.scale},
                      {"shears.amp_state", "recovered: distillation from the unpruned model, " +
                                               std::to_string(s.distill.epochs) + " epoch(s) over " +
                                               std::to_string(st.distill_set->size()) + " images, lr " + amp_number(s.distill.lr)},
                      {"shears.base", st.model_desc}},
                     kProg);
      std::printf("[δ %s] recovered: top-1 %s (distillation %.0f s, last-epoch loss %.5f)\n", amp_number(delta).c_str(),
                  amp_accuracy_cell(dr.acc_recovered, n_test).c_str(), dr.distill_seconds, dr.distill_loss);
    }
    std::printf("[δ %s] done in %.0f s (elapsed %.0f s)\n", amp_number(delta).c_str(), now_s() - t0, now_s() - t_start);
    std::fflush(stdout);
    runs.push_back(dr);
  }

  // One saved model read back from its file alone in a fresh load: the full test accuracy reproduces.
  {
    const AmpDeltaRun& last = runs.back();
    const std::string path = last.recovered_path.empty() ? last.pruned_path : last.recovered_path;
    const double want = last.recovered_path.empty() ? last.acc_pruned : last.acc_recovered;
    auto back = pruning::load_model(path);
    const double got = recipes::evaluate_accuracy(*back, st.test, st.eval_tf).top1;
    SHEARS_CHECK(got == want, kProg, "reloaded ", path, " gives top-1 ", got, ", the run measured ", want);
    std::vector<int64_t> widths;
    for (const auto& b : back->config().blocks) widths.push_back(b.mlp_hidden);
    std::printf("reload check passed: %s reloads by pruning::load_model (widths %s) with top-1 %s as measured; every "
                "saved model reproduced its logits bitwise\n",
                path.c_str(), amp_widths_str(widths).c_str(),
                amp_accuracy_cell(got, n_test).c_str());
  }

  // ---- tables ----
  recipes::AmpStudySummary sum;
  sum.model_name = st.model_name, sum.dataset_name = st.dataset_name;
  sum.scoring_desc = st.scoring_desc, sum.validation_desc = st.validation_desc;
  sum.test_images = n_test, sum.original_cost = cost0, sum.original_top1 = acc0;
  sum.original_mlp_hidden = cfg.blocks.front().mlp_hidden, sum.validation_batch = s.val_batch;
  sum.recovered = s.distill.epochs > 0, sum.timing_batch = tb, sum.throughput_time = s.throughput_time;
  sum.threads = get_num_threads();
  recipes::Table a1 = recipes::amp_table_a1(runs, sum);
  {
    std::string note;
    const std::string png = recipes::write_line_plot(s.out + "/" + a1.name, recipes::amp_plot_a1(runs, sum), note);
    a1.notes.push_back(png.empty() ? note : "top-1 vs GFLOPs: " + png + " (CSV beside it)");
  }
  a1.emit(s.out);
  recipes::amp_table_a2(runs, sum).emit(s.out);
  recipes::amp_table_a3(runs, sum).emit(s.out);

  const double wall = now_s() - t_start;
  std::printf("\n%s --scale %s: %zu δ values in %.1f s wall (%.1f min; preparation %.0f s), %.1f s CPU; tables and "
              "models in %s/\n",
              kProg, s.scale.c_str(), runs.size(), wall, wall / 60, t_prepared - t_start,
              double(std::clock() - cpu_start) / CLOCKS_PER_SEC, s.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return shears::recipes::recipe_main([&]() -> int {
    bool exit_now = false;
    Settings s = parse_args(argc, argv, exit_now);
    if (exit_now) return 0;
    return run(s);
  });
}
