// Token pruning study (METHODS.md §3-4): EViT (CLS attention, pruned tokens fused), Shannon and
// Rényi attention-entropy policies (only the selected tokens propagate, as in the Rényi paper) and a
// random baseline at keep rates 0.9 ... 0.3, each installed on one base model at the EViT locations
// (blocks 4/7/10 of 12; proportional for other depths), evaluated as installed and after fine-tuning
// with the policy in place. Prints the paper's Table 1 layout (top-1 ± binomial SE per method x keep
// rate, with and without fine-tuning, plus the best entropy order per keep rate) and Table 3 layout
// (accuracy, GFLOPs from the measured token counts, measured images/s next to the dense model's).
//   --scale smoke  a tiny patch-4 base trained here and cached, 3 methods x 2 keep rates (seconds; CI)
//   --scale mini   a patch-4 (49 patches) Fashion-MNIST base trained here once and cached under --out,
//                  short fine-tunes that leave the dense control within 0.3 points, full test set
//   --scale paper  a timm DeiT-S/B checkpoint and ImageFolder train/val folders, METHODS.md §3
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>

#include <cxxopts.hpp>

#include "autograd/ops.h"
#include "common/block_removal.h"
#include "common/evaluate.h"
#include "common/gnuplot.h"
#include "common/line_plot.h"
#include "common/finetune.h"
#include "common/recipe_main.h"
#include "common/report.h"
#include "common/throughput.h"
#include "common/token_pruning_cell.h"
#include "common/token_pruning_report.h"
#include "common/token_pruning_settings.h"
#include "common/token_pruning_study.h"
#include "data/fashion_mnist.h"
#include "dist/sweep.h"
#include "dist/world.h"
#include "nn/flop_count.h"
#include "pruning/provenance.h"
#include "pruning/token_pruning.h"
#include "pruning/transform.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "train/progress.h"

using namespace shears;

namespace {

const char* kProg = "shears_token_pruning";

using Settings = recipes::TokenPruningSettings;
using recipes::fuse_of;

Settings parse_args(int argc, char** argv, bool& exit_now) {
  cxxopts::Options options(
      kProg,
      "Token pruning study: EViT vs Shannon/Rényi attention-entropy patch pruning (and a random baseline) at\n"
      "several keep rates, one base model, each (method, keep rate) evaluated as installed and after fine-tuning\n"
      "with pruning in place. Prints Table 1 (top-1 ± binomial SE per method x keep rate, best entropy order per\n"
      "keep rate) and Table 3 (accuracy, GFLOPs, measured images/s) as Markdown and writes CSV/JSON under --out.\n"
      "Fusion follows each method (--fuse auto): EViT fuses the pruned tokens into one, the entropy and random\n"
      "policies propagate only the selected tokens (the Rényi paper's FLOPs).\n"
      "  --scale smoke  tiny patch-4 base trained here on 1024 images (cached under --out), evit/shannon/renyi:2 at\n"
      "                 0.7/0.5, fine-tunes on 512 images (seconds)\n"
      "  --scale mini   a patch-4 (49 patches + CLS) dim-64 depth-6 ViT trained here once on Fashion-MNIST (3 epochs,\n"
      "                 the main job's recipe) and cached as OUT/base_model.safetensors (reused while its recipe\n"
      "                 matches; --retrain-base forces it); each fine-tune is one pass over --train-limit images\n"
      "                 at a low lr that leaves the dense control within 0.3 points; the full 10,000-image test set;\n"
      "                 measured 18.8 min on 2 shared cores, base training included\n"
      "  --scale paper  timm DeiT-S/B safetensors (--checkpoint) + ImageFolder --train-dir/--val-dir; AdamW lr\n"
      "                 1e-4 per 256 images, cosine, 5 warm-up epochs, 100 epochs, DeiT augmentation (random\n"
      "                 resized crop, flip, Mixup/CutMix, RandomErasing), label smoothing 0.1, drop-path 0.1,\n"
      "                 224 px (val: resize 256 + center crop). Days of compute per cell on a CPU.\n"
      "Flags given explicitly override the values chosen by --scale [smoke / mini / paper].\n");
  options.add_options()
      ("scale", "smoke | mini | paper", cxxopts::value<std::string>()->default_value("mini"))
      ("out", "folder for the tables (CSV/JSON) and the cached base model",
       cxxopts::value<std::string>()->default_value("runs/token_pruning"))
      ("policies", "comma-separated methods: evit, shannon, renyi:<alpha> (alpha > 0 or inf), random "
                   "[mini evit,shannon,renyi:0.5,renyi:2,renyi:inf,random; smoke evit,shannon,renyi:2; paper "
                   "evit,shannon,renyi:0.5,renyi:2,renyi:3,renyi:inf]",
       cxxopts::value<std::string>())
      ("keep-rates", "comma-separated keep rates in (0, 1) [mini 0.9,0.7,0.5,0.4,0.3; smoke 0.7,0.5; paper "
                     "0.9,0.8,0.7,0.6,0.5,0.4,0.3]",
       cxxopts::value<std::string>())
      ("fuse", "fuse the pruned tokens into one extra token: auto (per method: EViT yes, entropy and random no), "
               "on, off",
       cxxopts::value<std::string>()->default_value("auto"))
      ("exclude-cls-key", "entropy policies: leave key 0 (CLS) out of each attention row and renormalise")
      ("no-dense-finetune", "skip the control fine-tune of the dense model (keep 1.0)")
      ("data-dir", "smoke/mini: Fashion-MNIST IDX folder",
       cxxopts::value<std::string>()->default_value(data::kFashionMnistDefaultDir))
      ("base-checkpoint", "smoke/mini: start from this shears checkpoint (a 28x28x1 ViT with a CLS token, e.g. "
                          "the main job's runs/main/vit_fmnist.safetensors) instead of the patch-4 base trained "
                          "and cached under --out",
       cxxopts::value<std::string>())
      ("retrain-base", "smoke/mini: train the patch-4 base again even when OUT/base_model.safetensors holds one "
                       "with the same recipe")
      ("base-dim", "smoke/mini: width of the patch-4 base [smoke 32, mini 64]", cxxopts::value<int64_t>())
      ("base-depth", "smoke/mini: blocks of the patch-4 base [smoke 4, mini 6]", cxxopts::value<int64_t>())
      ("base-epochs", "smoke/mini: training epochs of the patch-4 base [smoke 4, mini 3]", cxxopts::value<int64_t>())
      ("checkpoint", "paper: timm DeiT-S or DeiT-B weights (.safetensors, ImageNet-1k)", cxxopts::value<std::string>())
      ("train-dir", "paper: ImageFolder training split (root/<class>/<images>)", cxxopts::value<std::string>())
      ("val-dir", "paper: ImageFolder validation split (same classes)", cxxopts::value<std::string>())
      ("train-limit", "images per fine-tune (the first N of the training split; 0 = all) [smoke 512, mini 10000, "
                      "paper 0]",
       cxxopts::value<int64_t>())
      ("eval-limit", "test images (the first N; 0 = all) [smoke 256, mini 0 = 10000, paper 0]",
       cxxopts::value<int64_t>())
      ("epochs", "fine-tuning epochs over the (limited) training set [smoke/mini 1, paper 100]",
       cxxopts::value<int64_t>())
      ("warmup-epochs", "linear warm-up [smoke/mini 0.1, paper 5]", cxxopts::value<double>())
      ("batch-size", "images per step [smoke 32, mini 64, paper 256]", cxxopts::value<int64_t>())
      ("lr", "peak lr [smoke 3e-4, mini 5e-5 as is; paper 1e-4 per 256 images, scaled by batch/256]",
       cxxopts::value<double>())
      ("min-lr", "final lr of the cosine [1e-6]", cxxopts::value<double>()->default_value("1e-6"))
      ("weight-decay", "AdamW weight decay", cxxopts::value<double>()->default_value("0.05"))
      ("smoothing", "label smoothing", cxxopts::value<double>()->default_value("0.1"))
      ("drop-path", "paper: max DropPath rate", cxxopts::value<double>()->default_value("0.1"))
      ("dense-bound", "points the dense control may move from the base before the run prints a NOTE",
       cxxopts::value<double>()->default_value("0.3"))
      ("throughput-batch", "images per timed forward [smoke 64, mini 256, paper 64]", cxxopts::value<int64_t>())
      ("throughput-time", "seconds per timed sample (5 samples, interleaved with the dense model) [smoke 0.05, "
                          "mini 0.2, paper 1.5]",
       cxxopts::value<double>())
      ("seed", "seed of data order, augmentation, the base model and the random policy",
       cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = SHEARS_NUM_THREADS when set, else all cores)",
       cxxopts::value<int>()->default_value("0"))
      ("log-every", "steps between fine-tuning progress lines (0 = one line per run only)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("h,help", "print this help and exit");
  const auto parsed = recipes::parse_flags(options, argc, argv, kProg);
  if (!parsed) {
    exit_now = true;
    return {};
  }
  const cxxopts::ParseResult& r = *parsed;
  recipes::TokenPruningPreset preset = recipes::token_pruning_preset(r["scale"].as<std::string>(), kProg);
  Settings& s = preset.settings;
  s.out = r["out"].as<std::string>();
  s.data_dir = r["data-dir"].as<std::string>();
  const std::string policies = r.count("policies") ? r["policies"].as<std::string>() : preset.policies;
  const std::string keep = r.count("keep-rates") ? r["keep-rates"].as<std::string>() : preset.keep_rates;
  s.policies = recipes::parse_token_policies(policies, kProg);
  s.keep_rates = recipes::parse_keep_rates(keep, kProg);
  s.fuse = recipes::parse_fuse_mode(r["fuse"].as<std::string>(), kProg);
  s.exclude_cls_key = r.count("exclude-cls-key") > 0;
  s.finetune_dense = r.count("no-dense-finetune") == 0;
  s.retrain_base = r.count("retrain-base") > 0;
  if (r.count("base-checkpoint")) s.base_checkpoint = r["base-checkpoint"].as<std::string>();
  if (r.count("base-dim")) s.base.dim = r["base-dim"].as<int64_t>();
  if (r.count("base-depth")) s.base.depth = r["base-depth"].as<int64_t>();
  if (r.count("base-epochs")) s.base.epochs = r["base-epochs"].as<int64_t>();
  s.base.mlp = 2 * s.base.dim;
  if (r.count("checkpoint")) s.checkpoint = r["checkpoint"].as<std::string>();
  if (r.count("train-dir")) s.train_dir = r["train-dir"].as<std::string>();
  if (r.count("val-dir")) s.val_dir = r["val-dir"].as<std::string>();
  if (r.count("train-limit")) s.train_limit = r["train-limit"].as<int64_t>();
  if (r.count("eval-limit")) s.eval_limit = r["eval-limit"].as<int64_t>();
  if (r.count("epochs")) s.ft.epochs = r["epochs"].as<int64_t>();
  if (r.count("warmup-epochs")) s.ft.warmup_epochs = r["warmup-epochs"].as<double>();
  if (r.count("batch-size")) s.ft.batch_size = r["batch-size"].as<int64_t>();
  if (r.count("lr")) s.base_lr = r["lr"].as<double>();
  if (r.count("throughput-batch")) s.throughput_batch = r["throughput-batch"].as<int64_t>();
  if (r.count("throughput-time")) s.throughput_time = r["throughput-time"].as<double>();
  s.ft.min_lr = r["min-lr"].as<double>();
  s.ft.weight_decay = r["weight-decay"].as<double>();
  s.ft.label_smoothing = r["smoothing"].as<double>();
  s.ft.seed = r["seed"].as<uint64_t>();
  s.base.seed = s.ft.seed;
  s.ft.log_every = r["log-every"].as<int64_t>();
  s.dense_bound = r["dense-bound"].as<double>();
  s.threads = r["threads"].as<int>();
  const double drop_path = r["drop-path"].as<double>();
  SHEARS_CHECK(s.ft.epochs >= 1, kProg, "--epochs must be >= 1, got ", s.ft.epochs);
  SHEARS_CHECK(s.ft.batch_size >= 2, kProg, "--batch-size must be >= 2, got ", s.ft.batch_size);
  SHEARS_CHECK(s.base_lr > 0 && std::isfinite(s.base_lr), kProg, "--lr must be positive, got ", s.base_lr);
  SHEARS_CHECK(s.train_limit >= 0 && s.eval_limit >= 0, kProg, "--train-limit and --eval-limit must be >= 0");
  SHEARS_CHECK(s.throughput_batch >= 1 && s.throughput_time >= 0, kProg,
               "--throughput-batch must be >= 1 and --throughput-time >= 0");
  SHEARS_CHECK(drop_path >= 0 && drop_path < 1, kProg, "--drop-path must be in [0, 1), got ", drop_path);
  SHEARS_CHECK(s.dense_bound >= 0, kProg, "--dense-bound must be >= 0, got ", s.dense_bound);
  recipes::check_threads_flag(s.threads, kProg);
  recipes::check_non_negative_flag(s.ft.min_lr, "min-lr", kProg);
  recipes::check_non_negative_flag(s.ft.weight_decay, "weight-decay", kProg);
  recipes::check_non_negative_flag(s.ft.warmup_epochs, "warmup-epochs", kProg);
  SHEARS_CHECK(s.base.dim >= 2 && s.base.dim % s.base.heads == 0, kProg, "--base-dim must be a multiple of ",
               s.base.heads, " heads, got ", s.base.dim);
  SHEARS_CHECK(s.base.depth >= 1, kProg, "--base-depth must be >= 1, got ", s.base.depth);
  SHEARS_CHECK(s.base.epochs >= 1, kProg, "--base-epochs must be >= 1, got ", s.base.epochs);
  s.ft.lr = s.scale == "paper" ? s.base_lr * double(s.ft.batch_size) / 256.0 : s.base_lr;
  if (s.scale == "paper") {
    recipes::use_deit_mixing(s.ft);  // DeiT augmentation (METHODS.md §7)
    // validate every input before loading anything
    SHEARS_CHECK(!s.checkpoint.empty(), kProg,
                 "--scale paper needs --checkpoint <timm DeiT-S/B .safetensors> (ImageNet-1k weights)");
    SHEARS_CHECK(std::filesystem::is_regular_file(s.checkpoint), kProg, "--checkpoint '", s.checkpoint,
                 "' is not a file");
    SHEARS_CHECK(!s.train_dir.empty(), kProg, "--scale paper needs --train-dir <ImageFolder root/<class>/<images>>");
    SHEARS_CHECK(!s.val_dir.empty(), kProg, "--scale paper needs --val-dir <ImageFolder root/<class>/<images>>");
    SHEARS_CHECK(std::filesystem::is_directory(s.train_dir), kProg, "--train-dir '", s.train_dir,
                 "' is not a folder");
    SHEARS_CHECK(std::filesystem::is_directory(s.val_dir), kProg, "--val-dir '", s.val_dir, "' is not a folder");
    SHEARS_CHECK(s.base_checkpoint.empty(), kProg, "--base-checkpoint belongs to --scale smoke/mini; use --checkpoint");
  } else {
    SHEARS_CHECK(s.checkpoint.empty() && s.train_dir.empty() && s.val_dir.empty(), kProg,
                 "--checkpoint, --train-dir and --val-dir belong to --scale paper");
    if (!s.base_checkpoint.empty())
      SHEARS_CHECK(std::filesystem::is_regular_file(s.base_checkpoint), kProg, "--base-checkpoint '",
                   s.base_checkpoint,
                   "' is not a file (leave the flag out to train the patch-4 base here, or run the main job: "
                   "bash scripts/main.sh writes runs/main/vit_fmnist.safetensors)");
  }
  s.drop_path = drop_path;
  recipes::prepare_output_dir(s.out, kProg);  // an unwritable --out fails now, not after training
  return std::move(preset.settings);
}

using train::now_s;

int run(const Settings& s) {
  dist::quiet_non_root_stdout();  // under mpirun rank 0 prints the report
  if (s.threads > 0) set_num_threads(s.threads);
  const double t_start = now_s();
  const std::clock_t cpu_start = std::clock();
  // under mpirun rank 0 trains and caches the patch-4 base, then the other ranks load it
  recipes::TokenPruningStudy st = recipes::prepare_token_pruning_study(s, kProg, dist::root_first, dist::is_root());
  const double t_prepared = now_s();
  const nn::ModelConfig cfg = st.base->config();
  const double dense_gflops = nn::count_flops(cfg).total / 1e9;
  const int64_t n_test = st.test->size();
  std::string fusion = std::string("--fuse ") + recipes::fuse_mode_name(s.fuse) + " (";
  for (size_t i = 0; i < s.policies.size(); ++i)
    fusion += (i ? ", " : "") + recipes::token_policy_label(s.policies[i]) +
              (fuse_of(s.fuse, s.policies[i]) ? " fused" : " unfused");
  fusion += ")";
  std::printf("effective config: %s --scale %s; base %s (patch %ld, %ld patches + CLS, dim %ld, depth %ld); "
              "fine-tune: %ld training images, %ld epoch(s), batch %ld, AdamW lr %.3g, warm-up %.3g epochs from %.1e, "
              "cosine to %.1e, weight decay %.3g, label smoothing %.3g%s; %ld test images; pruning after blocks %s "
              "(1-based); %s; entropy over %s; dense-control bound %.2f points; seed %lu; %d threads\n",
              kProg, s.scale.c_str(), st.base_desc.c_str(), long(cfg.patch_size), long(cfg.num_tokens() - 1),
              long(cfg.dim), long(cfg.depth()), long(st.train->size()), long(s.ft.epochs), long(s.ft.batch_size),
              s.ft.lr, s.ft.warmup_epochs, s.ft.warmup_lr, s.ft.min_lr, s.ft.weight_decay, s.ft.label_smoothing,
              s.ft.mixing ? ", Mixup/CutMix" : ", random crop + flip", long(n_test),
              recipes::blocks_str(pruning::default_pruning_locations(cfg.depth())).c_str(), fusion.c_str(),
              s.exclude_cls_key ? "non-CLS keys" : "all keys", s.dense_bound, (unsigned long)s.ft.seed,
              get_num_threads());
  recipes::print_compute_config();
  std::fflush(stdout);
  recipes::ThroughputOptions tput;
  tput.samples = 5;
  tput.min_time = s.throughput_time;
  const int64_t tb = st.timing_images.size(0);

  // dense model: as is and after the same fine-tune (the control for the fine-tuning itself)
  const double acc_base = recipes::evaluate_accuracy(*st.base, st.test, st.test_tf).top1;
  double acc_dense_ft = std::nan("");
  std::string dense_note;
  // The dense control and the cells are independent fine-tunes: one sweep (dist/sweep.h). Under
  // mpirun job j runs on rank j % N and rank 0 gathers the results in job order (the tables are
  // the one-process run's); job 0 is the dense control when there is one.
  std::vector<std::pair<double, pruning::TokenPolicySpec>> grid;
  for (double keep : s.keep_rates)
    for (const auto& policy : s.policies) grid.emplace_back(keep, policy);
  const int64_t dense_jobs = s.finetune_dense ? 1 : 0;
  const size_t total = grid.size();
  const double t_runs = now_s();
  const std::vector<std::string> results = dist::run_sweep(dense_jobs + int64_t(total), [&](int64_t job) {
    if (job < dense_jobs) {
      auto m = pruning::clone_model(*st.base);
      recipes::finetune(*m, st.train, st.train_tf, s.ft);
      return recipes::hex_double(recipes::evaluate_accuracy(*m, st.test, st.test_tf).top1);
    }
    const size_t cell_index = size_t(job - dense_jobs);
    const double keep = grid[cell_index].first;
    const pruning::TokenPolicySpec& policy = grid[cell_index].second;
    const double t0 = now_s();
    recipes::TokenPruningCell c;
    c.policy = policy;
    c.keep_rate = keep;
    c.fuse = fuse_of(s.fuse, policy);
    auto model = pruning::clone_model(*st.base);
    pruning::TokenPruningConfig pc;
    pc.policy = policy;
    pc.keep_rate = keep;
    pc.fuse = c.fuse;
    pc.exclude_cls_key = s.exclude_cls_key;
    pc.seed = s.ft.seed;
    pruning::PruneContext ctx;
    ctx.seed = s.ft.seed;
    pruning::apply_all(*model, {std::make_shared<pruning::TokenPruningTransform>(pc)}, ctx);
    const std::shared_ptr<pruning::TokenPruning> tp = pruning::find_token_pruning(*model);
    SHEARS_CHECK(tp != nullptr, kProg, "internal: ", policy.name(), " left no token pruning on the model");
    c.acc_installed = recipes::evaluate_accuracy(*model, st.test, st.test_tf).top1;
    recipes::finetune(*model, st.train, st.train_tf, s.ft);
    c.acc_finetuned = recipes::evaluate_accuracy(*model, st.test, st.test_tf).top1;
    const std::vector<double> ips = recipes::interleaved_images_per_second(
        {recipes::inference_forward(*model, st.timing_images), recipes::inference_forward(*st.base, st.timing_images)},
        tb, tput);
    c.gflops = nn::count_flops(cfg, tp->last_token_counts()).total / 1e9;  // token counts of the timed forward
    c.tokens = recipes::token_path(*tp);
    c.images_per_s = ips[0];
    c.dense_images_per_s = ips[1];
    c.seconds = now_s() - t0;
    const double per_run = (now_s() - t_runs) / double(cell_index / size_t(dist::size()) + 1);
    std::printf("[%zu/%zu] %-10s keep %.2f %s: top-1 %.2f%% installed, %.2f%% fine-tuned; tokens %s, %.4f GFLOPs; "
                "%.0f img/s vs dense %.0f (%.2fx); %.0f s, eta %.0f s\n",
                cell_index + 1, total, policy.name().c_str(), keep, c.fuse ? "fused" : "unfused",
                100 * c.acc_installed, 100 * c.acc_finetuned, c.tokens.c_str(), c.gflops, c.images_per_s,
                c.dense_images_per_s, c.images_per_s / c.dense_images_per_s, c.seconds,
                per_run * double(total - cell_index - 1) / double(dist::size()));
    std::fflush(stdout);
    return recipes::token_cell_text(c);
  });
  if (!dist::is_root()) return 0;  // rank 0 has every result: it prints the tables and writes the files
  std::vector<recipes::TokenPruningCell> cells;
  for (size_t i = 0; i < total; ++i) {
    recipes::TokenPruningCell c = recipes::token_cell_from_text(results[size_t(dense_jobs) + i], kProg);
    c.policy = grid[i].second;
    c.keep_rate = grid[i].first;
    c.fuse = fuse_of(s.fuse, c.policy);
    cells.push_back(c);
  }
  if (s.finetune_dense) {
    acc_dense_ft = std::strtod(results[0].c_str(), nullptr);
    dense_note = recipes::dense_control_note(acc_base, acc_dense_ft, n_test, s.dense_bound);
  }
  std::printf("dense: top-1 %s as trained, %s after the same fine-tune, %.4f GFLOPs (%.0f s)\n",
              recipes::accuracy_se_cell(acc_base, n_test).c_str(),
              s.finetune_dense ? recipes::accuracy_se_cell(acc_dense_ft, n_test).c_str() : "-",
              dense_gflops, now_s() - t_start);
  if (!dense_note.empty()) std::printf("%s\n", dense_note.c_str());
  std::fflush(stdout);

  // ---- tables ----
  recipes::TokenPruningSummary sum;
  sum.model_name = recipes::token_pruning_model_name(cfg), sum.dataset_name = st.dataset_name, sum.fusion = fusion;
  sum.policies = s.policies, sum.keep_rates = s.keep_rates;
  for (const auto& p : s.policies) sum.policy_fused.push_back(fuse_of(s.fuse, p));
  sum.test_images = n_test, sum.train_images = st.train->size(), sum.epochs = s.ft.epochs, sum.lr = s.ft.lr;
  sum.depth = cfg.depth(), sum.finetune_dense = s.finetune_dense, sum.exclude_cls_key = s.exclude_cls_key;
  sum.fresh_head = s.scale == "paper";
  sum.acc_base = acc_base, sum.acc_dense_ft = acc_dense_ft, sum.dense_note = dense_note;
  sum.dense_gflops = dense_gflops, sum.dense_tokens = cfg.num_tokens();
  sum.timing_batch = tb, sum.throughput_time = s.throughput_time, sum.threads = get_num_threads();
  recipes::PictureList pictures;
  for (bool ft : {true, false}) {
    const recipes::Table t1 = recipes::token_pruning_table1(cells, sum, ft);
    t1.emit(s.out);
    std::string why;
    const std::string png = recipes::write_line_plot(s.out + "/" + t1.name, recipes::token_pruning_plot1(cells, sum, ft), why);
    pictures.record(png, why);
  }
  std::printf("\npictures (Table 1 layout, top-1 vs keep rate):%s\n", pictures.summary().c_str());
  recipes::token_pruning_table3(cells, sum).emit(s.out);
  const double wall = now_s() - t_start;
  std::printf("\n%s --scale %s: %zu fine-tunes + evaluations in %.1f s wall (%.1f min; base %s %.0f s, dense control + "
              "cells %.0f s), %.1f s CPU; tables in %s/\n",
              kProg, s.scale.c_str(), cells.size() + (s.finetune_dense ? 1 : 0), wall, wall / 60,
              st.base_train_seconds > 0 ? "training" : "loading", t_prepared - t_start, now_s() - t_prepared,
              double(std::clock() - cpu_start) / CLOCKS_PER_SEC, s.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  shears::dist::WorldSession world(argc, argv);  // MPI only under mpirun: the cells are spread over the ranks
  return world.finish(shears::recipes::recipe_main([&]() -> int {
    bool exit_now = false;
    Settings s = parse_args(argc, argv, exit_now);
    if (exit_now) return 0;
    return run(s);
  }));
}
