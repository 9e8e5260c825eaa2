// Token pruning study (METHODS.md §3-4): EViT (CLS attention), Shannon and Rényi attention
// entropy policies at keep rates 0.9 ... 0.3, each installed on one base model at the EViT
// locations (blocks 4/7/10 of 12; proportional for other depths), evaluated as installed and after
// fine-tuning with the policy in place. Prints the paper's Table 1 layout (top-1 per method x keep
// rate, with and without fine-tuning) and Table 3 layout (accuracy, GFLOPs from the measured token
// counts, measured images/s of pruned inference next to the dense model's).
//   --scale smoke  a tiny base model trained in-process, 2 methods x 2 keep rates (seconds; CI)
//   --scale mini   the main job's Fashion-MNIST checkpoint, short fine-tunes (<= 30 min on 2 cores)
//   --scale paper  a timm DeiT-S/B checkpoint and ImageFolder train/val folders, METHODS.md §3
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <cxxopts.hpp>

#include "autograd/ops.h"
#include "common/block_removal.h"
#include "common/dataset_subset.h"
#include "common/fashion_mnist_data.h"
#include "common/finetune.h"
#include "common/recipe_main.h"
#include "common/report.h"
#include "common/throughput.h"
#include "common/timm_deit.h"
#include "data/data_loader.h"
#include "data/datasets.h"
#include "data/fashion_mnist.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "pruning/token_pruning.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "train/progress.h"

using namespace shears;

namespace {

const char* kProg = "shears_token_pruning";
const char* kDefaultBase = "runs/main/vit_fmnist.safetensors";

struct Settings {
  std::string scale, out, data_dir, base_checkpoint, checkpoint, train_dir, val_dir;
  std::vector<pruning::TokenPolicySpec> policies;
  std::vector<double> keep_rates;
  int64_t train_limit = 0, eval_limit = 0, throughput_batch = 256;
  double throughput_time = 0.2;
  bool fuse = true, exclude_cls_key = false, finetune_dense = true;
  recipes::FinetuneOptions ft;
  double base_lr = 0;      // lr per 256 images (paper) or as given (smoke/mini)
  double drop_path = 0.1;  // paper: max DropPath rate of the fine-tuned model
  int threads = 0;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<double> parse_keep_rates(const std::string& text) {
  std::vector<double> out;
  for (const std::string& item : split_list(text)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    SHEARS_CHECK(used == item.size() && v > 0 && v < 1, kProg, "--keep-rates: '", item,
                 "' is not a keep rate in (0, 1) (the dense model, keep 1.0, is always reported)");
    out.push_back(v);
  }
  SHEARS_CHECK(!out.empty(), kProg, "--keep-rates is empty; give e.g. 0.9,0.7,0.5");
  return out;
}

// Row label as in the paper's tables.
std::string method_label(const pruning::TokenPolicySpec& p) {
  switch (p.kind) {
    case pruning::TokenPolicyKind::EViT: return "EViT";
    case pruning::TokenPolicyKind::Random: return "Random";
    case pruning::TokenPolicyKind::Entropy: break;
  }
  if (p.renyi_order == 1.0) return "Shannon";
  if (std::isinf(p.renyi_order)) return "Rényi α=∞";
  std::ostringstream s;
  s << "Rényi α=" << p.renyi_order;
  return s.str();
}

Settings parse_args(int argc, char** argv, bool& exit_now) {
  cxxopts::Options options(
      kProg,
      "Token pruning study: EViT vs Shannon/Rényi attention-entropy patch pruning at several keep rates, one\n"
      "base checkpoint, each (method, keep rate) evaluated as installed and after fine-tuning with pruning in\n"
      "place. Prints Table 1 (top-1 per method x keep rate) and Table 3 (accuracy, GFLOPs, measured images/s)\n"
      "as Markdown and writes CSV/JSON under --out.\n"
      "  --scale smoke  tiny base model trained in-process on 512 images, evit + renyi:2 at 0.7/0.5 (seconds)\n"
      "  --scale mini   starts from the main job's Fashion-MNIST checkpoint (--base-checkpoint); each fine-tune\n"
      "                 is one pass over --train-limit images; measured 16.5 min on 2 shared cores\n"
      "  --scale paper  timm DeiT-S/B safetensors (--checkpoint) + ImageFolder --train-dir/--val-dir; AdamW lr\n"
      "                 1e-4 per 256 images, cosine, 5 warm-up epochs, 100 epochs, DeiT augmentation (random\n"
      "                 resized crop, flip, Mixup/CutMix, RandomErasing), label smoothing 0.1, drop-path 0.1,\n"
      "                 224 px (val: resize 256 + center crop). Days of compute per cell on a CPU.\n"
      "Flags given explicitly override the values chosen by --scale [smoke / mini / paper].\n");
  options.add_options()
      ("scale", "smoke | mini | paper", cxxopts::value<std::string>()->default_value("mini"))
      ("out", "folder for the tables (CSV/JSON)", cxxopts::value<std::string>()->default_value("runs/token_pruning"))
      ("policies", "comma-separated methods: evit, shannon, renyi:<alpha> (alpha > 0 or inf), random "
                   "[evit,shannon,renyi:0.5,renyi:2,renyi:3,renyi:inf; smoke evit,renyi:2]",
       cxxopts::value<std::string>())
      ("keep-rates", "comma-separated keep rates in (0, 1) [0.9,0.8,0.7,0.6,0.5,0.4,0.3; smoke 0.7,0.5]",
       cxxopts::value<std::string>())
      ("no-fuse", "drop the pruned tokens instead of fusing them into one token (EViT fuses)")
      ("exclude-cls-key", "entropy policies: leave key 0 (CLS) out of each attention row and renormalise")
      ("no-dense-finetune", "skip the control fine-tune of the dense model (keep 1.0)")
      ("data-dir", "smoke/mini: Fashion-MNIST IDX folder",
       cxxopts::value<std::string>()->default_value(data::kFashionMnistDefaultDir))
      ("base-checkpoint", std::string("mini: the main job's checkpoint [") + kDefaultBase +
                              "]; smoke: optional (a tiny model is trained in-process when not given)",
       cxxopts::value<std::string>())
      ("checkpoint", "paper: timm DeiT-S or DeiT-B weights (.safetensors, ImageNet-1k)", cxxopts::value<std::string>())
      ("train-dir", "paper: ImageFolder training split (root/<class>/<images>)", cxxopts::value<std::string>())
      ("val-dir", "paper: ImageFolder validation split (same classes)", cxxopts::value<std::string>())
      ("train-limit", "images per fine-tune (the first N of the training split; 0 = all) [smoke 512, mini 6000, "
                      "paper 0]",
       cxxopts::value<int64_t>())
      ("eval-limit", "test images (the first N; 0 = all) [smoke 256, mini 5000, paper 0]", cxxopts::value<int64_t>())
      ("epochs", "fine-tuning epochs over the (limited) training set [smoke/mini 1, paper 100]",
       cxxopts::value<int64_t>())
      ("warmup-epochs", "linear warm-up [smoke/mini 0.1, paper 5]", cxxopts::value<double>())
      ("batch-size", "images per step [smoke 32, mini 64, paper 256]", cxxopts::value<int64_t>())
      ("lr", "peak lr [smoke/mini 3e-4 as is; paper 1e-4 per 256 images, scaled by batch/256]",
       cxxopts::value<double>())
      ("min-lr", "final lr of the cosine [1e-6]", cxxopts::value<double>()->default_value("1e-6"))
      ("weight-decay", "AdamW weight decay", cxxopts::value<double>()->default_value("0.05"))
      ("smoothing", "label smoothing", cxxopts::value<double>()->default_value("0.1"))
      ("drop-path", "paper: max DropPath rate", cxxopts::value<double>()->default_value("0.1"))
      ("throughput-batch", "images per timed forward [smoke 64, mini 256, paper 64]", cxxopts::value<int64_t>())
      ("throughput-time", "seconds per timed sample (5 samples, interleaved with the dense model) [smoke 0.05, "
                          "mini 0.2, paper 1.5]",
       cxxopts::value<double>())
      ("seed", "seed of data order, augmentation and the random policy", cxxopts::value<uint64_t>()->default_value("0"))
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
  Settings s;
  s.scale = r["scale"].as<std::string>();
  s.out = r["out"].as<std::string>();
  s.data_dir = r["data-dir"].as<std::string>();
  std::string policies = "evit,shannon,renyi:0.5,renyi:2,renyi:3,renyi:inf", keep = "0.9,0.8,0.7,0.6,0.5,0.4,0.3";
  s.ft.epochs = 1;
  s.ft.warmup_epochs = 0.1;
  s.ft.batch_size = 64;
  s.base_lr = 3e-4;
  if (s.scale == "smoke") {
    policies = "evit,renyi:2";
    keep = "0.7,0.5";
    s.train_limit = 512, s.eval_limit = 256, s.ft.batch_size = 32, s.throughput_batch = 64, s.throughput_time = 0.05;
  } else if (s.scale == "mini") {
    s.base_checkpoint = kDefaultBase;
    s.train_limit = 6000, s.eval_limit = 5000;
  } else if (s.scale == "paper") {
    s.ft.epochs = 100, s.ft.warmup_epochs = 5, s.ft.batch_size = 256, s.base_lr = 1e-4;
    s.throughput_batch = 64, s.throughput_time = 1.5;
  } else {
    fail(kProg, "--scale must be 'smoke', 'mini' or 'paper', got '", s.scale, "'");
  }
  if (r.count("policies")) policies = r["policies"].as<std::string>();
  if (r.count("keep-rates")) keep = r["keep-rates"].as<std::string>();
  for (const std::string& p : split_list(policies)) s.policies.push_back(pruning::parse_token_policy(p));
  SHEARS_CHECK(!s.policies.empty(), kProg, "--policies is empty; give e.g. evit,shannon,renyi:2");
  s.keep_rates = parse_keep_rates(keep);
  s.fuse = r.count("no-fuse") == 0;
  s.exclude_cls_key = r.count("exclude-cls-key") > 0;
  s.finetune_dense = r.count("no-dense-finetune") == 0;
  if (r.count("base-checkpoint")) s.base_checkpoint = r["base-checkpoint"].as<std::string>();
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
  s.ft.log_every = r["log-every"].as<int64_t>();
  s.threads = r["threads"].as<int>();
  const double drop_path = r["drop-path"].as<double>();
  SHEARS_CHECK(s.ft.epochs >= 1, kProg, "--epochs must be >= 1, got ", s.ft.epochs);
  SHEARS_CHECK(s.ft.batch_size >= 2, kProg, "--batch-size must be >= 2, got ", s.ft.batch_size);
  SHEARS_CHECK(s.base_lr > 0 && std::isfinite(s.base_lr), kProg, "--lr must be positive, got ", s.base_lr);
  SHEARS_CHECK(s.train_limit >= 0 && s.eval_limit >= 0, kProg, "--train-limit and --eval-limit must be >= 0");
  SHEARS_CHECK(s.throughput_batch >= 1 && s.throughput_time >= 0, kProg,
               "--throughput-batch must be >= 1 and --throughput-time >= 0");
  SHEARS_CHECK(drop_path >= 0 && drop_path < 1, kProg, "--drop-path must be in [0, 1), got ", drop_path);
  SHEARS_CHECK(s.threads >= 0, kProg, "--threads must be >= 0, got ", s.threads);
  s.ft.lr = s.scale == "paper" ? s.base_lr * double(s.ft.batch_size) / 256.0 : s.base_lr;
  if (s.scale == "paper") {
    // DeiT augmentation (METHODS.md §7): Mixup 0.8 / CutMix 1.0 on every batch, smoothing in the targets.
    s.ft.mixing = true;
    s.ft.mix.mixup_alpha = 0.8;
    s.ft.mix.cutmix_alpha = 1.0;
    s.ft.mix.prob = 1.0;
    s.ft.mix.label_smoothing = s.ft.label_smoothing;
    s.ft.mix.num_classes = 0;  // from the data set
    s.ft.warmup_lr = 1e-6;
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
    if (s.scale == "mini")
      SHEARS_CHECK(std::filesystem::is_regular_file(s.base_checkpoint), kProg, "--base-checkpoint '",
                   s.base_checkpoint,
                   "' does not exist: run the main job first (bash scripts/main.sh writes "
                   "runs/main/vit_fmnist.safetensors) or pass --base-checkpoint <file>");
    else if (!s.base_checkpoint.empty())
      SHEARS_CHECK(std::filesystem::is_regular_file(s.base_checkpoint), kProg, "--base-checkpoint '",
                   s.base_checkpoint, "' is not a file");
  }
  s.drop_path = drop_path;
  return s;
}

// The base model, the data and the preprocessing of one scale.
struct Study {
  std::shared_ptr<nn::VisionTransformer> base;
  std::string base_desc;
  std::shared_ptr<const data::Dataset> train, test;
  data::Transform train_tf, test_tf;
  Tensor timing_images;  // a fixed batch of preprocessed test images for the throughput columns
  std::string dataset_name;
};

// First `n` test images through the test transform, as one batch.
Tensor first_images(std::shared_ptr<const data::Dataset> test, const data::Transform& tf, int64_t n) {
  data::LoaderOptions o;
  o.batch_size = std::min<int64_t>(n, test->size());
  o.shuffle = false;
  o.drop_last = false;
  o.prefetch = 0;
  data::DataLoader loader(test, o, tf);
  loader.start_epoch(0);
  data::Batch batch;
  SHEARS_CHECK(loader.next(batch), kProg, "the test set is empty");
  return batch.inputs;
}

Study prepare(const Settings& s) {
  Study st;
  if (s.scale == "paper") {
    recipes::timm_deit_config(s.checkpoint, 1000);  // a wrong file fails before the folders are listed
    auto train = std::make_shared<data::ImageFolder>(s.train_dir);
    auto val = std::make_shared<data::ImageFolder>(s.val_dir);
    SHEARS_CHECK(train->classes() == val->classes(), kProg, "--train-dir '", s.train_dir, "' (",
                 train->num_classes(), " classes) and --val-dir '", s.val_dir, "' (", val->num_classes(),
                 " classes) must have the same class folders");
    bool head_replaced = false;
    st.base = recipes::load_timm_deit(s.checkpoint, train->num_classes(), s.drop_path, &head_replaced);
    st.base_desc = "timm " + std::string(st.base->config().dim == 384 ? "DeiT-S" : "DeiT-B") + " from " +
                   s.checkpoint + (head_replaced ? " (fresh " + std::to_string(train->num_classes()) + "-class head)" : "");
    st.train = s.train_limit > 0 ? std::shared_ptr<const data::Dataset>(
                                       std::make_shared<recipes::EvenSubset>(train, s.train_limit))
                                 : train;
    st.test = s.eval_limit > 0 ? std::shared_ptr<const data::Dataset>(std::make_shared<recipes::EvenSubset>(val, s.eval_limit))
                               : val;
    st.train_tf = recipes::deit_train_transform(224, 0.25);
    st.test_tf = recipes::deit_eval_transform(224);
    st.dataset_name = s.train_dir;
  } else {
    recipes::FashionMnistSplits splits = recipes::load_fashion_mnist_splits(s.data_dir, s.train_limit, s.eval_limit);
    st.train = splits.train;
    st.test = splits.test;
    st.dataset_name = "Fashion-MNIST";
    if (!s.base_checkpoint.empty()) {
      st.base = nn::load_model(s.base_checkpoint);
      const nn::ModelConfig c = st.base->config();
      SHEARS_CHECK(c.has_cls_token() && c.in_chans == 1 && c.image_size == 28, kProg, "--base-checkpoint '",
                   s.base_checkpoint, "' holds a ", c.arch, " model for ", c.image_size, "x", c.image_size, "x",
                   c.in_chans, " inputs; expected a ViT with a CLS token for 28x28x1 Fashion-MNIST (the main job's)");
      st.base_desc = s.base_checkpoint;
    } else {  // smoke without a checkpoint: a tiny ViT trained here for one pass over the training images
      nn::ModelConfig c = nn::vit_tiny_patch4_28(10);
      c.patch_size = 7;
      c.dim = 32;
      c.blocks = nn::uniform_blocks(4, 2, 16, 64);
      st.base = std::make_shared<nn::VisionTransformer>(c, s.ft.seed);
      recipes::FinetuneOptions pre = s.ft;
      pre.lr = 2e-3;
      pre.warmup_epochs = 0.2;
      pre.epochs = 3;
      recipes::finetune(*st.base, st.train, recipes::fashion_mnist_train_transform(c), pre);
      st.base_desc = "tiny ViT (patch 7, dim 32, depth 4) trained here for 3 epochs on " +
                     std::to_string(st.train->size()) + " images (no --base-checkpoint)";
      std::printf("no --base-checkpoint: %s\n", st.base_desc.c_str());
    }
    st.train_tf = recipes::fashion_mnist_train_transform(st.base->config());
    st.test_tf = recipes::fashion_mnist_test_transform(st.base->config());
  }
  st.timing_images = first_images(st.test, st.test_tf, s.throughput_batch);
  return st;
}

struct Cell {
  pruning::TokenPolicySpec policy;
  double keep_rate = 1.0;
  double acc_installed = 0, acc_finetuned = 0, uar_finetuned = 0;
  double gflops = 0, images_per_s = 0, dense_images_per_s = 0, seconds = 0;
  std::string tokens;  // tokens entering the first block, then after each pruning block
};

std::string token_path(const pruning::TokenPruning& tp) {
  std::string s;
  const auto& recs = tp.last_records();
  if (recs.empty()) return s;
  s = std::to_string(recs.front().tokens_in);
  for (const auto& r : recs) s += "→" + std::to_string(r.tokens_out);
  return s;
}

using train::now_s;

std::string keep_str(double k) { return recipes::fmt(k, k * 10 == std::round(k * 10) ? 1 : 2); }

int run(const Settings& s) {
  if (s.threads > 0) set_num_threads(s.threads);
  const double t_start = now_s();
  const std::clock_t cpu_start = std::clock();
  Study st = prepare(s);
  const nn::ModelConfig cfg = st.base->config();
  const double dense_gflops = nn::count_flops(cfg).total / 1e9;
  std::printf("%s --scale %s: base %s; %ld training images per fine-tune (%ld epoch(s), batch %ld, lr %.3g, warm-up "
              "%.3g, label smoothing %.3g%s), %ld test images; pruning after blocks %s (1-based), %s; %d threads\n",
              kProg, s.scale.c_str(), st.base_desc.c_str(), long(st.train->size()), long(s.ft.epochs),
              long(s.ft.batch_size), s.ft.lr, s.ft.warmup_epochs, s.ft.label_smoothing,
              s.ft.mixing ? ", Mixup/CutMix" : "", long(st.test->size()),
              recipes::blocks_str(pruning::default_pruning_locations(cfg.depth())).c_str(),
              s.fuse ? "pruned tokens fused (EViT)" : "pruned tokens dropped", get_num_threads());
  if (const std::string w = gemm_backend_warning(); !w.empty()) std::printf("%s\n", w.c_str());
  std::fflush(stdout);
  recipes::ThroughputOptions tput;
  tput.samples = 5;
  tput.min_time = s.throughput_time;
  const int64_t tb = st.timing_images.size(0);

  // dense model: as is and after the same fine-tune (the control for the fine-tuning itself)
  const double acc_base = recipes::evaluate_accuracy(*st.base, st.test, st.test_tf).top1;
  double acc_dense_ft = std::nan("");
  if (s.finetune_dense) {
    auto m = recipes::copy_model(*st.base);
    recipes::finetune(*m, st.train, st.train_tf, s.ft);
    acc_dense_ft = recipes::evaluate_accuracy(*m, st.test, st.test_tf).top1;
  }
  std::printf("dense: top-1 %.2f%% as trained, %.2f%% after the same fine-tune, %.4f GFLOPs (%.0f s)\n",
              100 * acc_base, 100 * acc_dense_ft, dense_gflops, now_s() - t_start);
  std::fflush(stdout);

  std::vector<Cell> cells;
  const size_t total = s.policies.size() * s.keep_rates.size();
  const double t_runs = now_s();
  for (double keep : s.keep_rates)
    for (const auto& policy : s.policies) {
      const double t0 = now_s();
      Cell c;
      c.policy = policy;
      c.keep_rate = keep;
      auto model = recipes::copy_model(*st.base);
      pruning::TokenPruningConfig pc;
      pc.policy = policy;
      pc.keep_rate = keep;
      pc.fuse = s.fuse;
      pc.exclude_cls_key = s.exclude_cls_key;
      pc.seed = s.ft.seed;
      auto tp = pruning::install_token_pruning(*model, pc);
      c.acc_installed = recipes::evaluate_accuracy(*model, st.test, st.test_tf).top1;
      recipes::finetune(*model, st.train, st.train_tf, s.ft);
      recipes::Accuracy a = recipes::evaluate_accuracy(*model, st.test, st.test_tf);
      c.acc_finetuned = a.top1;
      c.uar_finetuned = a.uar;
      c.gflops = nn::count_flops(cfg, tp->last_token_counts()).total / 1e9;
      c.tokens = token_path(*tp);
      const std::vector<double> ips = recipes::interleaved_images_per_second(
          {recipes::inference_forward(*model, st.timing_images), recipes::inference_forward(*st.base, st.timing_images)},
          tb, tput);
      c.images_per_s = ips[0];
      c.dense_images_per_s = ips[1];
      c.seconds = now_s() - t0;
      cells.push_back(c);
      const double per_run = (now_s() - t_runs) / double(cells.size());
      std::printf("[%zu/%zu] %-10s keep %.2f: top-1 %.2f%% installed, %.2f%% fine-tuned; tokens %s, %.4f GFLOPs; "
                  "%.0f img/s vs dense %.0f (%.2fx); %.0f s, eta %.0f s\n",
                  cells.size(), total, policy.name().c_str(), keep, 100 * c.acc_installed, 100 * c.acc_finetuned,
                  c.tokens.c_str(), c.gflops, c.images_per_s, c.dense_images_per_s,
                  c.images_per_s / c.dense_images_per_s, c.seconds, per_run * double(total - cells.size()));
      std::fflush(stdout);
    }

  // ---- tables ----
  auto cell_of = [&](const pruning::TokenPolicySpec& p, double keep) -> const Cell& {
    for (const Cell& c : cells)
      if (c.policy.name() == p.name() && c.keep_rate == keep) return c;
    fail(kProg, "internal: no result for ", p.name(), " at keep ", keep);
  };
  const std::string model_name = cfg.dim == 384 && cfg.patch_size == 16   ? "DeiT-S"
                                 : cfg.dim == 768 && cfg.patch_size == 16 ? "DeiT-B"
                                                                          : "ViT p" + std::to_string(cfg.patch_size) +
                                                                                " d" + std::to_string(cfg.dim) + " x" +
                                                                                std::to_string(cfg.depth());
  const int gflop_decimals = dense_gflops < 0.1 ? 5 : 3;
  for (int ft = 1; ft >= 0; --ft) {
    recipes::Table t;
    t.name = ft ? "table1" : "table1_no_finetune";
    t.title = std::string("Table 1 layout: top-1 (%) on ") + st.dataset_name + " by keep rate, " +
              (ft ? "after fine-tuning with the policy installed" : "policy installed on the base model, no fine-tuning");
    t.columns = {"Method", "1.0"};
    for (double k : s.keep_rates) t.columns.push_back(keep_str(k));
    std::vector<std::string> dense = {model_name + " (dense)", recipes::fmt_percent(ft ? acc_dense_ft : acc_base)};
    for (size_t i = 0; i < s.keep_rates.size(); ++i) dense.push_back("-");
    t.add_row(dense);
    for (const auto& p : s.policies) {
      std::vector<std::string> row = {method_label(p), "-"};
      for (double k : s.keep_rates) {
        const Cell& c = cell_of(p, k);
        row.push_back(recipes::fmt_percent(ft ? c.acc_finetuned : c.acc_installed));
      }
      t.add_row(row);
    }
    if (ft)
      t.notes = {"Each cell: the base model with the policy installed at keep rate ρ (left = ceil(ρ·(N−1)) patches "
                 "after each pruning block), fine-tuned " + std::to_string(s.ft.epochs) + " epoch(s) on " +
                     std::to_string(st.train->size()) + " images, then evaluated with pruning on. The dense row got "
                     "the same fine-tune (keep 1.0).",
                 std::string("Pruning after blocks ") + recipes::blocks_str(pruning::default_pruning_locations(cfg.depth())) +
                     " (1-based), " + (s.fuse ? "pruned tokens fused into one (EViT)" : "pruned tokens dropped") +
                     "; entropy policies keep the lowest head-mean Rényi entropy of each query row" +
                     (s.exclude_cls_key ? " (CLS key excluded)" : " (all keys)") + "."};
    else
      t.notes = {"Dense row: the base model as loaded." +
                 std::string(s.scale == "paper" ? " With a fresh head these accuracies are near chance." : "")};
    t.emit(s.out);
  }

  recipes::Table t3;
  t3.name = "table3";
  t3.title = "Table 3 layout: accuracy, GFLOPs and measured images/s per keep rate and method (" + st.dataset_name + ")";
  t3.columns = {"Keep rate", "Method", "Tokens", "GFLOPs", "Images/s", "Dense images/s", "Speedup", "FLOP ratio",
                "Top-1 installed (%)", "Top-1 fine-tuned (%)"};
  std::vector<double> dense_rates;
  for (const Cell& c : cells) dense_rates.push_back(c.dense_images_per_s);
  std::sort(dense_rates.begin(), dense_rates.end());
  const double dense_ips = dense_rates.empty() ? 0 : dense_rates[dense_rates.size() / 2];
  t3.add_row({"1.0", model_name + " (dense)", std::to_string(cfg.num_tokens()), recipes::fmt(dense_gflops, gflop_decimals),
              recipes::fmt(dense_ips, 0), recipes::fmt(dense_ips, 0), "1.00", "1.00", recipes::fmt_percent(acc_base),
              recipes::fmt_percent(acc_dense_ft)});
  for (double k : s.keep_rates)
    for (const auto& p : s.policies) {
      const Cell& c = cell_of(p, k);
      t3.add_row({keep_str(k), method_label(p), c.tokens, recipes::fmt(c.gflops, gflop_decimals), recipes::fmt(c.images_per_s, 0),
                  recipes::fmt(c.dense_images_per_s, 0), recipes::fmt(c.images_per_s / c.dense_images_per_s, 2),
                  recipes::fmt(dense_gflops / c.gflops, 2), recipes::fmt_percent(c.acc_installed),
                  recipes::fmt_percent(c.acc_finetuned)});
    }
  t3.notes = {"GFLOPs: fvcore convention (1 multiply-add = 1 flop) with the token counts of the actual forward "
              "(attention of a pruning block on its input tokens, its MLP on the kept ones).",
              "Images/s: no-grad inference on a batch of " + std::to_string(tb) + " test images, median of 5 samples "
              "of >= " + recipes::fmt(s.throughput_time, 2) + " s, interleaved with the dense model (its column); "
              "Speedup = the two measured side by side. The dense row shows the median of the dense samples. " +
              std::to_string(get_num_threads()) + " threads on a shared machine: compare ratios, not absolute values."};
  t3.emit(s.out);
  const double wall = now_s() - t_start;
  std::printf("\n%s --scale %s: %zu fine-tunes + evaluations in %.1f s wall (%.1f min), %.1f s CPU; tables in %s/\n",
              kProg, s.scale.c_str(), cells.size() + (s.finetune_dense ? 1 : 0), wall, wall / 60,
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
