// shears_compose: the composition study. From one trained model, pipelines of pruning transforms
// (single methods at several budgets: Gardener blocks, AMP neurons, P3B, EViT and the best Rényi
// order; stacks of them, and the order ablation of one stack) are applied, each point measured
// right after pruning and after the same short recovery fine-tune: params, GFLOPs, measured img/s
// against the dense model, top-1 ± SE, the checkpoint (reloaded from the file alone). Prints every
// point, the Pareto fronts and the answers; draws accuracy vs GFLOPs and vs img/s (gnuplot).
//   --scale smoke  a tiny ViT trained here and cached under --out, a few points (seconds; CI)
//   --scale mini   the main job's checkpoint on Fashion-MNIST (<= 45 min on 2 cores)
//   --scale paper  a timm ViT/DeiT file + ImageFolder --train-dir/--val-dir
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <cxxopts.hpp>

#include "common/compose_report.h"
#include "common/compose_study.h"
#include "common/gnuplot.h"
#include "common/dataset_subset.h"
#include "common/recipe_main.h"
#include "common/report.h"
#include "common/study_base.h"
#include "pruning/transform.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "train/progress.h"

using namespace shears;
using train::now_s;

namespace {

constexpr const char* kProg = "shears_compose";

struct Settings {
  recipes::StudyBaseOptions base;
  recipes::ComposeSingles singles;
  std::vector<std::string> renyi_orders;
  std::string stacks;
  recipes::FinetuneOptions recovery, p3b_run;
  int64_t train_images = 0;  // fine-tune / P3B training images, evenly spread (0 = all)
  double budget = 0.5, budget_slack = 0.05, speed_tolerance = 0.05, throughput_time = 0.3;
  int timing_samples = 3;
  int threads = 0;
  std::string report_from;  // compose_points.json of an earlier run: tables and plots only
};

template <typename T>
std::vector<T> parse_numbers(const std::string& text, const char* flag) {
  std::vector<T> out;
  for (const std::string& item : recipes::split_list(text)) {
    const double v = recipes::parse_list_number(item);
    SHEARS_CHECK(std::isfinite(v) && v >= 0 && T(v) == v, kProg, "--", flag, ": '", item,
                 "' is not a valid number here");
    out.push_back(T(v));
  }
  return out;
}

const char* kMiniStacks =
    "blocks:entropy:k=1,mlp:amp:delta=0.001,tokens:evit@0.9|blocks:entropy:k=1,mlp:amp:delta=0.003,tokens:evit@0.7|"
    "mlp:amp:delta=0.003,blocks:entropy:k=1,tokens:evit@0.7|p3b:ratio=0.3:epochs=1,tokens:evit@0.7|"
    "p3b:ratio=0.5:epochs=1,tokens:evit@0.7|mlp:amp:delta=0.001,tokens:evit@0.7|mlp:amp:delta=0.003,tokens:evit@0.7|"
    "blocks:entropy:k=1,p3b:ratio=0.3:epochs=1|blocks:entropy:k=1,p3b:ratio=0.5:epochs=1";
const char* kSmokeStacks =
    "blocks:entropy:k=1,mlp:amp:delta=0.01,tokens:evit@0.7|mlp:amp:delta=0.01,blocks:entropy:k=1,tokens:evit@0.7|"
    "p3b:ratio=0.5:epochs=1,tokens:evit@0.7";
const char* kPaperStacks =
    "blocks:entropy:k=2,mlp:amp:delta=0.003,tokens:evit@0.7|mlp:amp:delta=0.003,blocks:entropy:k=2,tokens:evit@0.7|"
    "p3b:ratio=0.5:epochs=5,tokens:evit@0.7|mlp:amp:delta=0.003,tokens:evit@0.7|blocks:entropy:k=2,p3b:ratio=0.5:epochs=5";

bool parse_args(int argc, char** argv, Settings& s) {
  cxxopts::Options options(
      kProg,
      "The composition study: single pruning methods at several budgets and stacks of them applied to one\n"
      "trained model; every point measured right after pruning and after the same recovery fine-tune (params,\n"
      "GFLOPs, measured img/s interleaved with the dense model, top-1 ± SE), saved and reloaded from the file.\n"
      "Prints C1 (every point), C2 (Pareto fronts) and the answers; writes CSV/JSON, compose_points.json (with\n"
      "each prune log), the models, and accuracy-vs-GFLOPs / accuracy-vs-img/s PNGs through gnuplot.\n"
      "  --scale smoke  a tiny ViT trained here on 4096 Fashion-MNIST images (cached under --out), a few points\n"
      "  --scale mini   the main job's checkpoint (--checkpoint), Fashion-MNIST, full test set\n"
      "  --scale paper  timm ViT/DeiT safetensors (--checkpoint) + ImageFolder --train-dir / --val-dir\n"
      "Flags given explicitly override the values chosen by --scale [smoke / mini / paper].\n");
  options.add_options()
      ("scale", "smoke | mini | paper", cxxopts::value<std::string>()->default_value("mini"))
      ("out", "folder for tables, models, plots and the cached smoke base",
       cxxopts::value<std::string>()->default_value("runs/compose"))
      ("checkpoint", "mini: shears checkpoint of a 28x28x1 ViT [runs/main/vit_fmnist.safetensors]; smoke: optional; "
                     "paper: timm ViT/DeiT .safetensors (required)", cxxopts::value<std::string>())
      ("heads", "paper: attention heads per block (0 = width / 64)", cxxopts::value<int64_t>()->default_value("0"))
      ("data-dir", "smoke/mini: Fashion-MNIST IDX folder",
       cxxopts::value<std::string>()->default_value("/usr/share/datasets/fashion-mnist"))
      ("train-dir", "paper: ImageFolder training root", cxxopts::value<std::string>())
      ("val-dir", "paper: ImageFolder evaluation root", cxxopts::value<std::string>())
      ("gardener-ks", "Gardener points: blocks removed [smoke 1, mini 1,2,3, paper 2,4,6]", cxxopts::value<std::string>())
      ("amp-deltas", "AMP points: δ [smoke 0.01, mini/paper 0.001,0.003,0.01]", cxxopts::value<std::string>())
      ("p3b-ratios", "P3B points: pruning ratios [smoke 0.5, mini 0.3,0.5,0.7, paper 0.5,0.7]",
       cxxopts::value<std::string>())
      ("p3b-epochs", "epochs of each P3B pruning run [smoke/mini 1, paper 5]", cxxopts::value<int64_t>())
      ("p3b-lr", "P3B pruning run lr, held constant (0 = 5e-4 x batch / 512, the authors)",
       cxxopts::value<double>()->default_value("0"))
      ("token-keeps", "EViT and Rényi points: keep rates [smoke 0.7, mini/paper 0.9,0.7,0.5]",
       cxxopts::value<std::string>())
      ("renyi-orders", "Rényi orders to choose from (1 = Shannon, inf); chosen on the validation images at the "
                       "middle keep rate, no fine-tune", cxxopts::value<std::string>()->default_value("0.5,2,inf"))
      ("stacks", "stacks: pipelines separated by '|', steps by ',' (see shears_prune --help) [per scale; see docs]",
       cxxopts::value<std::string>())
      ("finetune-epochs", "recovery fine-tune of every point, epochs (0 = none)", cxxopts::value<int64_t>())
      ("finetune-lr", "recovery peak lr (AdamW, warm-up + cosine) [smoke 5e-4, mini 3.75e-4 = half the main job's, "
                      "paper 5e-5]", cxxopts::value<double>())
      ("batch", "images per training step (fine-tune and P3B) [smoke 32, mini 128, paper 64]", cxxopts::value<int64_t>())
      ("train-images", "training images for the fine-tune and P3B, evenly spread (0 = all) [smoke 512, mini/paper 0]",
       cxxopts::value<int64_t>())
      ("score-images", "AMP scoring images (first N training images) [smoke 256, mini 5120, paper 10240]",
       cxxopts::value<int64_t>())
      ("val-images", "validation images after them (AMP search, Rényi order) [smoke 256, mini 2048, paper 5120]",
       cxxopts::value<int64_t>())
      ("score-batch", "images per scoring batch [smoke 64, mini/paper 128]", cxxopts::value<int64_t>())
      ("val-batch", "images per validation batch (AMP's E <= ln(batch): δ is tied to it) [smoke 64, mini/paper 128]",
       cxxopts::value<int64_t>())
      ("eval-limit", "test images (evenly spread; 0 = all) [smoke 500, mini/paper 0]", cxxopts::value<int64_t>())
      ("budget", "the GFLOPs budget of the answers, as a fraction of the dense model", cxxopts::value<double>()->default_value("0.5"))
      ("budget-slack", "points up to (budget + slack) x dense GFLOPs count as 'at the budget'",
       cxxopts::value<double>()->default_value("0.05"))
      ("speed-tolerance", "a single method counts as 'as fast' as a stack at >= (1 - tolerance) x its speed-up",
       cxxopts::value<double>()->default_value("0.05"))
      ("throughput-batch", "images per timed forward [smoke 64, mini 256, paper 64]", cxxopts::value<int64_t>())
      ("throughput-time", "seconds per timed sample [smoke 0.05, mini 0.3, paper 1]", cxxopts::value<double>())
      ("timing-samples", "interleaved samples per point and the dense model (medians)",
       cxxopts::value<int>()->default_value("3"))
      ("report-from", "print the tables and answers and draw the plots from an earlier run's compose_points.json "
                      "(into --out), without running the study", cxxopts::value<std::string>())
      ("retrain-base", "smoke: train the tiny base again even when OUT/base_model.safetensors holds it")
      ("seed", "seed of data order, augmentation, random criteria and the smoke base",
       cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = SHEARS_NUM_THREADS when set, else all cores)", cxxopts::value<int>()->default_value("0"))
      ("h,help", "print this help and exit");
  const auto parsed = recipes::parse_flags(options, argc, argv, kProg);
  if (!parsed) return false;
  const cxxopts::ParseResult& r = *parsed;
  recipes::StudyBaseOptions& b = s.base;
  b.scale = r["scale"].as<std::string>();
  b.out = r["out"].as<std::string>();
  b.data_dir = r["data-dir"].as<std::string>();
  const std::string sc = b.scale;
  SHEARS_CHECK(sc == "smoke" || sc == "mini" || sc == "paper", kProg, "--scale must be 'smoke', 'mini' or 'paper', got '",
               sc, "'");
  auto pick = [&](const char* flag, const std::string& smoke, const std::string& mini, const std::string& paper) {
    return r.count(flag) ? r[flag].as<std::string>() : sc == "smoke" ? smoke : sc == "mini" ? mini : paper;
  };
  s.singles.gardener_ks = parse_numbers<int64_t>(pick("gardener-ks", "1", "1,2,3", "2,4,6"), "gardener-ks");
  s.singles.amp_deltas = parse_numbers<double>(pick("amp-deltas", "0.01", "0.001,0.003,0.01", "0.001,0.003,0.01"), "amp-deltas");
  s.singles.p3b_ratios = parse_numbers<double>(pick("p3b-ratios", "0.5", "0.3,0.5,0.7", "0.5,0.7"), "p3b-ratios");
  s.singles.token_keeps = parse_numbers<double>(pick("token-keeps", "0.7", "0.9,0.7,0.5", "0.9,0.7,0.5"), "token-keeps");
  s.singles.p3b_epochs = r.count("p3b-epochs") ? r["p3b-epochs"].as<int64_t>() : sc == "paper" ? 5 : 1;
  s.renyi_orders = recipes::split_list(r["renyi-orders"].as<std::string>());
  s.stacks = pick("stacks", kSmokeStacks, kMiniStacks, kPaperStacks);
  if (sc == "smoke") {
    b.score_images = 256, b.score_batch = 64, b.val_images = 256, b.val_batch = 64, b.eval_limit = 500;
    b.throughput_batch = 64, s.throughput_time = 0.05, s.train_images = 512;
    s.recovery.lr = 5e-4, s.recovery.batch_size = 32;
  } else if (sc == "mini") {
    b.checkpoint = "runs/main/vit_fmnist.safetensors";
    s.recovery.lr = 3.75e-4, s.recovery.batch_size = 128;
  } else {
    b.score_images = 10240, b.val_images = 5120, b.throughput_batch = 64, s.throughput_time = 1.0;
    s.recovery.lr = 5e-5, s.recovery.batch_size = 64;
  }
  if (r.count("checkpoint")) b.checkpoint = r["checkpoint"].as<std::string>();
  if (r.count("train-dir")) b.train_dir = r["train-dir"].as<std::string>();
  if (r.count("val-dir")) b.val_dir = r["val-dir"].as<std::string>();
  if (r.count("score-images")) b.score_images = r["score-images"].as<int64_t>();
  if (r.count("val-images")) b.val_images = r["val-images"].as<int64_t>();
  if (r.count("score-batch")) b.score_batch = r["score-batch"].as<int64_t>();
  if (r.count("val-batch")) b.val_batch = r["val-batch"].as<int64_t>();
  if (r.count("eval-limit")) b.eval_limit = r["eval-limit"].as<int64_t>();
  if (r.count("throughput-batch")) b.throughput_batch = r["throughput-batch"].as<int64_t>();
  if (r.count("throughput-time")) s.throughput_time = r["throughput-time"].as<double>();
  if (r.count("train-images")) s.train_images = r["train-images"].as<int64_t>();
  if (r.count("finetune-lr")) s.recovery.lr = r["finetune-lr"].as<double>();
  if (r.count("batch")) s.recovery.batch_size = r["batch"].as<int64_t>();
  b.heads = r["heads"].as<int64_t>();
  b.retrain_base = r.count("retrain-base") > 0;
  b.seed = r["seed"].as<uint64_t>();
  s.recovery.epochs = r.count("finetune-epochs") ? r["finetune-epochs"].as<int64_t>() : 1;
  s.recovery.seed = b.seed;
  s.p3b_run = s.recovery;  // batch, seed, weight decay, smoothing; lr below (held constant by the step)
  const double p3b_lr = r["p3b-lr"].as<double>();
  s.p3b_run.lr = p3b_lr > 0 ? p3b_lr : 5e-4 * double(s.recovery.batch_size) / 512.0;
  s.budget = r["budget"].as<double>();
  s.budget_slack = r["budget-slack"].as<double>();
  s.speed_tolerance = r["speed-tolerance"].as<double>();
  s.timing_samples = r["timing-samples"].as<int>();
  s.threads = r["threads"].as<int>();
  if (r.count("report-from")) s.report_from = r["report-from"].as<std::string>();

  SHEARS_CHECK(s.recovery.epochs >= 0, kProg, "--finetune-epochs must be >= 0, got ", s.recovery.epochs);
  SHEARS_CHECK(s.recovery.lr > 0 && std::isfinite(s.recovery.lr) && s.p3b_run.lr > 0, kProg,
               "--finetune-lr and --p3b-lr must be > 0");
  SHEARS_CHECK(s.recovery.batch_size >= 2, kProg, "--batch must be >= 2, got ", s.recovery.batch_size);
  SHEARS_CHECK(s.train_images >= 0, kProg, "--train-images must be >= 0, got ", s.train_images);
  SHEARS_CHECK(s.singles.p3b_epochs >= 1, kProg, "--p3b-epochs must be >= 1, got ", s.singles.p3b_epochs);
  SHEARS_CHECK(s.budget > 0 && s.budget < 1 && s.budget_slack >= 0 && s.speed_tolerance >= 0 && s.speed_tolerance < 1,
               kProg, "--budget must be in (0, 1), --budget-slack >= 0, --speed-tolerance in [0, 1)");
  SHEARS_CHECK(s.timing_samples >= 1 && s.throughput_time >= 0, kProg,
               "--timing-samples must be >= 1 and --throughput-time >= 0");
  for (double k : s.singles.token_keeps)
    SHEARS_CHECK(k > 0 && k <= 1, kProg, "--token-keeps: ", k, " is not a keep rate in (0, 1]");
  SHEARS_CHECK(!s.renyi_orders.empty() || s.singles.token_keeps.empty(), kProg, "--renyi-orders is empty");
  recipes::check_threads_flag(s.threads, kProg);
  if (!s.report_from.empty()) {
    SHEARS_CHECK(std::filesystem::is_regular_file(s.report_from), kProg, "--report-from '", s.report_from,
                 "' is not a file (an earlier run's OUT/compose_points.json)");
    return true;
  }
  recipes::check_study_base_options(b, kProg);
  // every pipeline parsed now, so a bad step fails before any work (the error names it)
  try {
    recipes::parse_pipelines(s.stacks);
    recipes::ComposeSingles probe = s.singles;
    probe.entropy_policy = "shannon";
    recipes::single_pipelines(probe);
  } catch (const std::exception& e) {
    fail(kProg, "a pipeline of --stacks / the single-method flags is not valid: ", e.what());
  }
  return true;
}

// Tables C1-C3 and the plots of the study's points (also for --report-from).
void report(const std::vector<recipes::ComposePoint>& points, const Settings& s, const std::string& model_name) {
  recipes::compose_points_table(points).emit(s.base.out);
  const bool ft = std::any_of(points.begin(), points.end(), [](const recipes::ComposePoint& p) { return p.finetuned; });
  recipes::compose_pareto_table(points, ft).emit(s.base.out);
  if (ft) recipes::compose_pareto_table(points, false).emit(s.base.out);
  std::printf("\n## C3 - answers\n\n");
  for (const std::string& line : recipes::compose_answers(points, s.budget, s.budget_slack, s.speed_tolerance, ft))
    std::printf("%s\n", line.c_str());
  const auto order = recipes::compose_order_lines(points, ft);
  std::printf("\n**Does the order matter?**%s\n", order.empty() ? " (no two stacks hold the same steps in another order)" : "");
  for (const std::string& line : order) std::printf("%s\n", line.c_str());
  std::string note;
  const auto pngs = recipes::write_compose_plots(s.base.out, points, model_name, note);
  const recipes::PictureList pictures{pngs, note};
  std::printf("\npictures:%s (data: %s/compose_plot.dat)\n", pictures.summary().c_str(),
              s.base.out.c_str());
}

int run(const Settings& s) {
  if (s.threads > 0) set_num_threads(s.threads);
  if (!s.report_from.empty()) {
    recipes::prepare_output_dir(s.base.out, kProg);
    std::string model_name;
    const auto points = recipes::read_compose_json(s.report_from, s.recovery.epochs, &model_name);
    std::printf("%s: %zu points read from %s (no study run)\n", kProg, points.size(), s.report_from.c_str());
    report(points, s, model_name);
    return 0;
  }
  const double t_start = now_s();
  recipes::prepare_output_dir(s.base.out, kProg);
  const recipes::StudyBase base = recipes::prepare_study_base(s.base, kProg);

  recipes::ComposeRunOptions ro;
  ro.recovery = s.recovery;
  ro.p3b_run = s.p3b_run;
  if (s.train_images > 0) ro.train = std::make_shared<recipes::EvenSubset>(base.train, s.train_images);
  ro.timing.samples = s.timing_samples;
  ro.timing.min_time = s.throughput_time;
  ro.models_dir = s.base.out + "/models";
  ro.seed = s.base.seed;
  const auto& train_set = ro.train ? ro.train : base.train;
  std::printf("effective config: %s --scale %s; model %s (%s); test: %ld images of %s; training (fine-tune, P3B): %s; "
              "recovery fine-tune %ld epoch(s), batch %ld, AdamW lr %s warm-up %s epochs, cosine; P3B pruning runs at "
              "lr %s held constant; AMP scoring %s, validation %s; timing batch %ld, %d interleaved samples; %d threads\n",
              kProg, s.base.scale.c_str(), base.model_name.c_str(), base.model_desc.c_str(), long(base.test->size()),
              base.dataset_name.c_str(), train_set->describe().c_str(), long(s.recovery.epochs),
              long(s.recovery.batch_size), recipes::fmt(s.recovery.lr, 6).c_str(),
              recipes::fmt(s.recovery.warmup_epochs, 2).c_str(), recipes::fmt(s.p3b_run.lr, 6).c_str(),
              base.scoring_desc.c_str(), base.validation_desc.c_str(), long(base.timing_images.size(0)),
              s.timing_samples, get_num_threads());
  recipes::print_compute_config();

  recipes::ComposeSingles singles = s.singles;
  if (!singles.token_keeps.empty()) {
    const double keep = singles.token_keeps[singles.token_keeps.size() / 2];
    const recipes::PolicyChoice choice = recipes::choose_entropy_policy(*base.original, base.validation, s.renyi_orders, keep);
    singles.entropy_policy = choice.policy;
    std::printf("entropy token policy, chosen on the validation images at keep %s (no fine-tune):", recipes::fmt(keep, 2).c_str());
    for (const auto& [policy, top1] : choice.tried) std::printf(" %s %s%%", policy.c_str(), recipes::fmt_percent(top1).c_str());
    std::printf(" -> %s\n", choice.policy.c_str());
  }
  std::vector<recipes::ComposePipeline> pipelines = {recipes::make_pipeline("")};
  for (auto& p : recipes::single_pipelines(singles)) pipelines.push_back(p);
  for (auto& p : recipes::parse_pipelines(s.stacks)) pipelines.push_back(p);
  std::printf("%zu pipelines (dense, %zu single-method, %zu stacks), each %s\n", pipelines.size(),
              recipes::single_pipelines(singles).size(), recipes::parse_pipelines(s.stacks).size(),
              s.recovery.epochs > 0 ? "without and with the recovery fine-tune" : "without fine-tune");
  std::fflush(stdout);

  recipes::ComposeRunner runner(base, ro);
  std::vector<recipes::ComposePoint> points;
  for (size_t i = 0; i < pipelines.size(); ++i) {
    for (const recipes::ComposePoint& p : runner.run(pipelines[i])) {
      points.push_back(p);
      std::printf("[%2zu/%zu] %-62s %-10s GFLOPs %.5f  %.2fx  top-1 %s ± %s  (%.0f s; elapsed %.0f s)\n", i + 1,
                  pipelines.size(), p.pipeline.steps.empty() ? "(dense)" : p.pipeline.steps.c_str(),
                  p.finetuned ? "fine-tuned" : "pruned", p.gflops, p.speedup(), recipes::fmt_percent(p.top1).c_str(),
                  recipes::fmt(100 * p.se(), 2).c_str(), p.seconds, now_s() - t_start);
      std::fflush(stdout);
    }
  }

  report(points, s, base.model_name);
  recipes::write_compose_json(s.base.out + "/compose_points.json", points,
                              "{\"scale\":\"" + s.base.scale + "\",\"model\":\"" + base.model_name + "\",\"threads\":" +
                                  std::to_string(get_num_threads()) + ",\"recovery_epochs\":" +
                                  std::to_string(s.recovery.epochs) + "}");
  std::printf("every point's checkpoint reloaded from its file and re-scored the same top-1 (%zu files under %s); "
              "%ld pipeline prefixes reused\ntotal wall time %.1f min\n",
              points.size(), ro.models_dir.c_str(), long(runner.prefix_hits()), (now_s() - t_start) / 60);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return recipes::recipe_main([&]() -> int {
    Settings s;
    if (!parse_args(argc, argv, s)) return 0;
    return run(s);
  });
}
