// P3B study (Pruning by Block Benefit, METHODS.md §2 with §2.7 first): a model pre-trained on a source
// task is transferred to a target task with a fresh head while P3B prunes it (BPI heads, block-benefit
// keep ratios with reactivation, gate masks), then sliced and fine-tuned. Controls in the same run: a
// dense fine-tune of the same total length, a uniform keep ratio (isolates block benefit) and masks that
// only shrink (isolates reactivation). Prints P1 (top-1 per method x ratio with the paper's figures),
// P2 (per sub-block ΔΨ / keep ratios / kept params + a ΔΨ heatmap PNG) and P3 (params, GFLOPs, measured
// img/s, top-1 after pruning and after fine-tune, reactivated elements); saves every model.
//   --scale smoke  a tiny ViT, Fashion-MNIST classes 0-4 -> 5-9, tiny sets (seconds; CI)
//   --scale mini   a 49-patch ViT pre-trained here on Fashion-MNIST classes 0-4 (cached), pruned and
//                  fine-tuned on classes 5-9 with a fresh head; the 5000 test images of classes 5-9
//   --scale paper  a timm DeiT-T/S safetensors file + ImageFolder --train-dir/--val-dir (the target task)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <cxxopts.hpp>

#include "common/cached_model.h"
#include "common/class_subset.h"
#include "common/dataset_subset.h"
#include "common/evaluate.h"
#include "common/fashion_mnist_data.h"
#include "common/finetune.h"
#include "common/fresh_head.h"
#include "common/model_cost.h"
#include "common/p3b_report.h"
#include "common/p3b_settings.h"
#include "common/p3b_training.h"
#include "common/recipe_main.h"
#include "common/report.h"
#include "common/throughput.h"
#include "common/timm_deit.h"
#include "data/datasets.h"
#include "nn/checkpoint.h"
#include "pruning/provenance.h"
#include "tensor/parallel.h"
#include "train/progress.h"

using namespace shears;
using train::now_s;

namespace {

constexpr const char* kProg = "shears_p3b";

using Settings = recipes::P3bSettings;

std::optional<Settings> parse_args(int argc, char** argv) {
  cxxopts::Options options(
      kProg,
      "P3B (pruning by block benefit, METHODS.md §2, §2.7 first) on a transfer task: the pre-trained model gets a\n"
      "fresh head and is trained on the target task while P3B prunes it (BPI heads on every sub-block's input and\n"
      "output, ΔΨ -> keep ratios by water-filling to the global parameter budget, gate masks from (m·dL/dm)² ranks\n"
      "with reactivation), then sliced and fine-tuned (cosine). Controls in the same run: dense fine-tune (same\n"
      "total epochs), uniform keep ratio, masks that only shrink. Prints P1-P3 as Markdown, writes CSV/JSON, the\n"
      "ΔΨ heatmap (PNG with gnuplot) and every model (pruning::load_model reloads them) under --out.\n"
      "  --scale smoke  a tiny ViT, Fashion-MNIST classes 0-4 -> 5-9, tiny sets (seconds)\n"
      "  --scale mini   a 49-patch ViT (dim 96, 8 blocks) pre-trained here on classes 0-4 (cached under --out),\n"
      "                 P3B on 5000 training images of classes 5-9, all 5000 test images of classes 5-9\n"
      "  --scale paper  timm DeiT-T/S .safetensors (--checkpoint) + ImageFolder --train-dir / --val-dir\n"
      "Flags given explicitly override the values chosen by --scale [smoke / mini / paper].\n");
  options.add_options()
      ("scale", "smoke | mini | paper", cxxopts::value<std::string>()->default_value("mini"))
      ("out", "folder for tables, pictures, models and the cached base", cxxopts::value<std::string>()->default_value("runs/p3b"))
      ("data-dir", "smoke/mini: Fashion-MNIST folder", cxxopts::value<std::string>()->default_value("/usr/share/datasets/fashion-mnist"))
      ("checkpoint", "paper: timm DeiT/ViT .safetensors (required)", cxxopts::value<std::string>())
      ("heads", "paper: attention heads per block (0 = width / 64)", cxxopts::value<int64_t>()->default_value("0"))
      ("train-dir", "paper: ImageFolder training split of the target task", cxxopts::value<std::string>())
      ("val-dir", "paper: ImageFolder evaluation split (top-1)", cxxopts::value<std::string>())
      ("ratios", "pruning ratios: fractions of ALL parameters removed", cxxopts::value<std::string>()->default_value("0.5,0.7,0.75"))
      ("methods", "P3B variants: p3b (the paper), uniform (control), no-react (control)",
       cxxopts::value<std::string>()->default_value("p3b,uniform,no-react"))
      ("source-classes", "smoke/mini: pre-training classes", cxxopts::value<std::string>()->default_value("0-4"))
      ("target-classes", "smoke/mini: transfer classes", cxxopts::value<std::string>()->default_value("5-9"))
      ("target-images", "training images of the target task (evenly spread; 0 = all) [smoke 512, mini 5000, paper 0]",
       cxxopts::value<int64_t>())
      ("eval-limit", "test images (evenly spread; 0 = all) [smoke 256, mini/paper 0]", cxxopts::value<int64_t>())
      ("seeds", "seeds per (method, ratio) [1]", cxxopts::value<int64_t>())
      ("prune-epochs", "epochs of the pruning run [smoke 2, mini 2, paper 50]", cxxopts::value<int64_t>())
      ("finetune-epochs", "epochs of the fine-tune after slicing [smoke 1, mini 2, paper 100]", cxxopts::value<int64_t>())
      ("batch", "images per step [smoke 64, mini 128, paper 128]", cxxopts::value<int64_t>())
      ("lr", "pruning run lr, held constant (0 = 5e-4 * batch / 512, the authors)", cxxopts::value<double>()->default_value("0"))
      ("finetune-lr", "fine-tune peak lr, cosine, no warm-up (0 = 5e-4 * batch / 512)", cxxopts::value<double>()->default_value("0"))
      ("min-lr", "fine-tune final lr", cxxopts::value<double>()->default_value("1e-5"))
      ("head-lr", "lr of the BPI heads (AdamW)", cxxopts::value<double>()->default_value("5e-4"))
      ("weight-decay", "AdamW weight decay (not on 1-d parameters)", cxxopts::value<double>()->default_value("0.05"))
      ("label-smoothing", "label smoothing of every cross-entropy", cxxopts::value<double>()->default_value("0.1"))
      ("drop-path", "max DropPath rate of the transferred model [smoke/mini 0, paper 0.1]", cxxopts::value<double>())
      ("update-interval", "loader iterations between mask updates [smoke 2, mini 5, paper 100]", cxxopts::value<int64_t>())
      ("start-fraction", "pruning start as a fraction of the pruning run (authors 10/50)", cxxopts::value<double>()->default_value("0.2"))
      ("sparse-fraction", "goal keep ratios reached at this fraction (authors 25/50)", cxxopts::value<double>()->default_value("0.5"))
      ("imp-scale", "S of the importance soft clamp", cxxopts::value<double>()->default_value("10"))
      ("gamma", "EMA weight of the new importance", cxxopts::value<double>()->default_value("0.2"))
      ("alpha", "weight of the cls importance vs the patch importance", cxxopts::value<double>()->default_value("0.5"))
      ("tau-max", "mask temperature until the sparse point", cxxopts::value<double>()->default_value("0.1"))
      ("tau-min", "mask temperature at finalize", cxxopts::value<double>()->default_value("0"))
      ("gate-factors", "gate rank factors (--prune-scale-gate-imp)", cxxopts::value<std::string>()->default_value("attn_out:1.5,mlp_hid:0.75,mlp_out:1.5"))
      ("patch-width", "conv channels of the BPI patch heads (0 = model width, the paper) [smoke 8, mini 16, paper 0]",
       cxxopts::value<int64_t>())
      ("patch-layers", "conv-BN-ReLU layers of the patch heads (paper 2)", cxxopts::value<int64_t>()->default_value("2"))
      ("block-params-only", "the ratio counts block parameters only", cxxopts::value<bool>()->default_value("false"))
      ("base-epochs", "smoke/mini: source pre-training epochs [smoke 2, mini 5]", cxxopts::value<int64_t>())
      ("retrain-base", "smoke/mini: pre-train the source model again even when cached", cxxopts::value<bool>()->default_value("false"))
      ("throughput-batch", "images per timed forward [smoke 64, mini 256, paper 64]", cxxopts::value<int64_t>())
      ("seed", "seed of data order, heads and fresh heads", cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = SHEARS_NUM_THREADS or all cores)", cxxopts::value<int64_t>()->default_value("0"))
      ("h,help", "print help");
  auto parsed = recipes::parse_flags(options, argc, argv, kProg);
  if (!parsed) return std::nullopt;
  const cxxopts::ParseResult& r = *parsed;
  Settings s;
  s.scale = r["scale"].as<std::string>();
  recipes::apply_p3b_scale(s, kProg);
  s.out = r["out"].as<std::string>();
  s.data_dir = r["data-dir"].as<std::string>();
  if (r.count("checkpoint")) s.checkpoint = r["checkpoint"].as<std::string>();
  if (r.count("train-dir")) s.train_dir = r["train-dir"].as<std::string>();
  if (r.count("val-dir")) s.val_dir = r["val-dir"].as<std::string>();
  s.heads = r["heads"].as<int64_t>();
  s.ratios = recipes::parse_p3b_ratios(r["ratios"].as<std::string>(), kProg);
  s.methods = recipes::parse_p3b_methods(r["methods"].as<std::string>(), kProg);
  s.source_classes = recipes::parse_class_list(r["source-classes"].as<std::string>(), "--source-classes");
  s.target_classes = recipes::parse_class_list(r["target-classes"].as<std::string>(), "--target-classes");
  if (r.count("target-images")) s.target_images = r["target-images"].as<int64_t>();
  if (r.count("eval-limit")) s.eval_limit = r["eval-limit"].as<int64_t>();
  if (r.count("seeds")) s.seeds = r["seeds"].as<int64_t>();
  if (r.count("prune-epochs")) s.prune_epochs = r["prune-epochs"].as<int64_t>();
  if (r.count("finetune-epochs")) s.finetune_epochs = r["finetune-epochs"].as<int64_t>();
  if (r.count("batch")) s.batch = r["batch"].as<int64_t>();
  if (r.count("update-interval")) s.update_interval = r["update-interval"].as<int64_t>();
  if (r.count("drop-path")) s.drop_path = r["drop-path"].as<double>();
  if (r.count("throughput-batch")) s.throughput_batch = r["throughput-batch"].as<int64_t>();
  if (r.count("base-epochs")) s.base.epochs = r["base-epochs"].as<int64_t>();
  const double rule = 5e-4 * double(s.batch) / 512.0;
  s.lr = r["lr"].as<double>() > 0 ? r["lr"].as<double>() : rule;
  s.finetune_lr = r["finetune-lr"].as<double>() > 0 ? r["finetune-lr"].as<double>() : rule;
  s.min_lr = r["min-lr"].as<double>();
  s.head_lr = r["head-lr"].as<double>();
  s.weight_decay = r["weight-decay"].as<double>();
  s.label_smoothing = r["label-smoothing"].as<double>();
  for (auto [v, f] : {std::pair{s.min_lr, "min-lr"}, {s.head_lr, "head-lr"}, {s.weight_decay, "weight-decay"},
                      {s.label_smoothing, "label-smoothing"}, {s.drop_path, "drop-path"}})
    recipes::check_non_negative_flag(v, f, kProg);
  s.start_fraction = r["start-fraction"].as<double>();
  s.sparse_fraction = r["sparse-fraction"].as<double>();
  SHEARS_CHECK(s.start_fraction >= 0 && s.start_fraction < s.sparse_fraction && s.sparse_fraction <= 1, kProg,
               "--start-fraction ", s.start_fraction, " and --sparse-fraction ", s.sparse_fraction,
               " must satisfy 0 <= start < sparse <= 1");
  s.p3b.keep.scale = r["imp-scale"].as<double>();
  s.p3b.keep.gamma = r["gamma"].as<double>();
  s.p3b.keep.alpha = r["alpha"].as<double>();
  s.p3b.tau_max = r["tau-max"].as<double>();
  s.p3b.tau_min = r["tau-min"].as<double>();
  s.p3b.factors = pruning::GateFactors::parse(r["gate-factors"].as<std::string>());
  if (r.count("patch-width")) s.p3b.heads.patch_width = r["patch-width"].as<int64_t>();
  s.p3b.heads.patch_layers = r["patch-layers"].as<int64_t>();
  s.p3b.block_params_only = r["block-params-only"].as<bool>();
  s.p3b.update_interval = s.update_interval;
  s.retrain_base = r["retrain-base"].as<bool>();
  s.seed = r["seed"].as<uint64_t>();
  recipes::check_threads_flag(r["threads"].as<int64_t>(), kProg);
  s.threads = static_cast<int>(r["threads"].as<int64_t>());
  recipes::check_p3b_settings(s, kProg);
  return s;
}

struct Study {
  std::shared_ptr<nn::VisionTransformer> base;  // source model (its head is replaced per run)
  std::shared_ptr<const data::Dataset> train, test;
  data::Transform train_tf, eval_tf;
  std::string setting;
};

Study prepare(const Settings& s) {
  Study st;
  if (s.scale == "paper") {
    recipes::timm_vit_config(s.checkpoint, 0, s.heads);  // a wrong file fails before the folders are listed
    auto tr = std::make_shared<data::ImageFolder>(s.train_dir);
    auto va = std::make_shared<data::ImageFolder>(s.val_dir);
    SHEARS_CHECK(tr->classes() == va->classes(), kProg, "--train-dir '", s.train_dir, "' (", tr->num_classes(),
                 " classes) and --val-dir '", s.val_dir, "' (", va->num_classes(), " classes) differ in classes");
    st.base = recipes::load_timm_vit(s.checkpoint, tr->num_classes(), s.heads, nullptr);
    st.train = tr, st.test = va;
    const int64_t size = st.base->config().image_size;
    st.train_tf = recipes::deit_train_transform(size, 0.25);
    st.eval_tf = recipes::deit_eval_transform(size);
    st.setting = "timm " + s.checkpoint + " -> " + s.train_dir;
  } else {
    recipes::FashionMnistSplits sp = recipes::load_fashion_mnist_splits(s.data_dir, 0, 0);
    auto source = std::make_shared<recipes::ClassSubset>(sp.train, s.source_classes);
    st.train = std::make_shared<recipes::ClassSubset>(sp.train, s.target_classes);
    st.test = std::make_shared<recipes::ClassSubset>(sp.test, s.target_classes);
    const nn::ModelConfig cfg = s.base.config(source->num_classes());
    st.train_tf = recipes::fashion_mnist_train_transform(cfg);
    st.eval_tf = recipes::fashion_mnist_test_transform(cfg);
    std::ostringstream recipe;
    recipe << "ViT patch " << s.base.patch << " dim " << s.base.dim << " depth " << s.base.depth << " heads "
           << s.base.heads << " mlp " << s.base.mlp << "; Fashion-MNIST " << source->describe() << ", "
           << s.base.epochs << " epochs, batch " << s.base.batch << ", AdamW lr " << s.base.lr
           << " warm-up 0.5 + cosine, random crop + flip; seed " << s.seed;
    const std::string path = (std::filesystem::path(s.out) / "source_model.safetensors").string();
    auto built = recipes::load_or_build_model(path, recipe.str(), s.retrain_base, [&]() {
      auto m = std::make_shared<nn::VisionTransformer>(cfg, s.seed);
      recipes::FinetuneOptions ft;
      ft.epochs = s.base.epochs;
      ft.batch_size = s.base.batch;
      ft.lr = s.base.lr;
      ft.warmup_epochs = 0.5;
      ft.min_lr = 1e-5;
      ft.seed = s.seed;
      std::printf("[%s] pre-training the source model: %s\n", kProg, recipe.str().c_str());
      std::fflush(stdout);
      recipes::finetune(*m, source, st.train_tf, ft);
      return m;
    });
    st.base = built.model;
    const recipes::Accuracy src =
        recipes::evaluate_accuracy(*st.base, std::make_shared<recipes::ClassSubset>(sp.test, s.source_classes), st.eval_tf, 256);
    std::printf("[%s] source model (%s, %s): top-1 %.2f%% on the source classes' test images\n", kProg, path.c_str(),
                built.reason.c_str(), 100 * src.top1);
    st.setting = "Fashion-MNIST classes " + std::string(built.reused ? "(cached) " : "") + "-> target " +
                 st.train->describe();
  }
  if (s.target_images > 0 && s.target_images < st.train->size())
    st.train = std::make_shared<recipes::EvenSubset>(st.train, s.target_images);
  if (s.eval_limit > 0 && s.eval_limit < st.test->size()) st.test = std::make_shared<recipes::EvenSubset>(st.test, s.eval_limit);
  return st;
}

std::shared_ptr<nn::VisionTransformer> transferred(const Study& st, const Settings& s, uint64_t seed) {
  auto m = recipes::with_fresh_head(*st.base, st.train->num_classes(), seed ^ 0x5EEDull);
  for (size_t i = 0; i < m->blocks->items.size(); ++i)  // linspace DropPath, as the model config does
    m->blocks->items[i]->drop_path = m->blocks->items.size() > 1 ? s.drop_path * double(i) / double(m->blocks->items.size() - 1) : 0;
  return m;
}

int run(const Settings& s) {
  if (s.threads > 0) set_num_threads(s.threads);
  recipes::print_compute_config();
  recipes::prepare_output_dir(s.out, kProg);
  const double t_start = now_s();
  Study st = prepare(s);
  std::printf("[%s] target: %s (%lld training, %lld test images), %lld threads\n", kProg, st.setting.c_str(),
              (long long)st.train->size(), (long long)st.test->size(), (long long)get_num_threads());
  const Tensor timing_batch = recipes::first_inputs(st.test, st.eval_tf, st.base->config(), s.throughput_batch);
  std::vector<recipes::P3bStudyRow> rows;
  std::vector<std::shared_ptr<nn::VisionTransformer>> models;
  for (int64_t k = 0; k < s.seeds; ++k) {
    const uint64_t seed = s.seed + uint64_t(k);
    {  // dense control: the same total epochs as pruning run + fine-tune, cosine
      recipes::P3bStudyRow row;
      row.method = "dense";
      row.seed = seed;
      auto m = transferred(st, s, seed);
      const double t0 = now_s();
      recipes::finetune(*m, st.train, st.train_tf, recipes::p3b_finetune_options(s, seed, s.prune_epochs + s.finetune_epochs, s.finetune_lr));
      row.finetune_seconds = now_s() - t0;
      row.finetuned = recipes::evaluate_accuracy(*m, st.test, st.eval_tf, 256);
      rows.push_back(row);
      models.push_back(m);
      std::printf("[%s] dense seed %llu: top-1 %s (%.0f s)\n", kProg, (unsigned long long)seed,
                  recipes::accuracy_cell(row.finetuned.top1, st.test->size()).c_str(), row.finetune_seconds);
      std::fflush(stdout);
    }
    for (double ratio : s.ratios) {
      for (const std::string& method : s.methods) {
        recipes::P3bStudyRow row;
        row.method = method;
        row.ratio = ratio;
        row.seed = seed;
        auto m = transferred(st, s, seed);
        recipes::P3bRunOptions ro;
        ro.p3b.p3b = s.p3b;
        ro.p3b.p3b.prune_ratio = ratio;
        ro.p3b.p3b.allocation = method == "uniform" ? pruning::P3bAllocation::Uniform : pruning::P3bAllocation::BlockBenefit;
        ro.p3b.p3b.reactivation = method != "no-react";
        ro.p3b.p3b.seed = seed;
        ro.p3b.epochs = s.prune_epochs;
        ro.p3b.head_lr = s.head_lr;
        ro.p3b.start_fraction = s.start_fraction;
        ro.p3b.sparse_fraction = s.sparse_fraction;
        ro.train = recipes::p3b_finetune_options(s, seed, s.prune_epochs, s.lr);
        row.run = recipes::run_p3b(*m, st.train, st.train_tf, ro);
        row.prune_seconds = row.run.seconds;
        row.heads_seconds = row.run.heads_seconds;
        row.reactivated = row.run.reactivated;
        row.has_pruned = true;
        row.pruned = recipes::evaluate_accuracy(*m, st.test, st.eval_tf, 256);
        const double t0 = now_s();
        recipes::finetune(*m, st.train, st.train_tf, recipes::p3b_finetune_options(s, seed, s.finetune_epochs, s.finetune_lr));
        row.finetune_seconds = now_s() - t0;
        row.finetuned = recipes::evaluate_accuracy(*m, st.test, st.eval_tf, 256);
        std::printf("[%s] %s pr=%.0f%% seed %llu: params %lld, top-1 after pruning run %s, after fine-tune %s, %lld "
                    "reactivated (pruning %.0f s of which heads %.0f s, fine-tune %.0f s)\n",
                    kProg, method.c_str(), 100 * ratio, (unsigned long long)seed, (long long)m->parameter_count(),
                    recipes::accuracy_cell(row.pruned.top1, st.test->size()).c_str(),
                    recipes::accuracy_cell(row.finetuned.top1, st.test->size()).c_str(), (long long)row.reactivated,
                    row.prune_seconds, row.heads_seconds, row.finetune_seconds);
        std::fflush(stdout);
        rows.push_back(std::move(row));
        models.push_back(m);
      }
    }
  }
  // costs, saved models (reload checked), interleaved throughput against the dense model
  std::vector<std::function<void()>> variants;
  for (size_t i = 0; i < rows.size(); ++i) {
    recipes::P3bStudyRow& r = rows[i];
    r.test_samples = st.test->size();
    const recipes::ModelCost c = recipes::model_cost(*models[i], timing_batch);
    r.params = c.params;
    r.gflops = c.gflops;
    r.checkpoint = recipes::p3b_model_path(s.out, r.method, r.ratio, r.seed);
    std::filesystem::create_directories(std::filesystem::path(r.checkpoint).parent_path());
    nn::save_model(r.checkpoint, *models[i]);
    auto reloaded = pruning::load_model(r.checkpoint);
    const recipes::Accuracy again = recipes::evaluate_accuracy(*reloaded, st.test, st.eval_tf, 256);
    SHEARS_CHECK(again.top1 == r.finetuned.top1, kProg, "the saved model ", r.checkpoint, " reloads at top-1 ",
                 again.top1, ", not ", r.finetuned.top1);
    variants.push_back(recipes::inference_forward(*models[i], timing_batch));
  }
  recipes::ThroughputOptions to;
  to.min_time = s.throughput_time;
  const std::vector<double> ips = recipes::interleaved_images_per_second(variants, s.throughput_batch, to);
  double dense_ips = 0, dense_gflops = 0;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].method == "dense" && dense_ips == 0) dense_ips = ips[i], dense_gflops = rows[i].gflops;
  for (size_t i = 0; i < rows.size(); ++i) rows[i].images_per_second = ips[i], rows[i].dense_images_per_second = dense_ips;

  recipes::Table p1 = recipes::p3b_table_p1(rows, s.ratios, s.methods, st.setting);
  {
    std::string note;
    const std::string png = recipes::write_line_plot((std::filesystem::path(s.out) / p1.name).string(),
                                                     recipes::p3b_plot_p1(rows, s.ratios, s.methods, st.setting), note);
    p1.notes.push_back(png.empty() ? note : "top-1 vs pruning ratio: " + png + " (CSV beside it)");
  }
  p1.emit(s.out);
  std::printf("\n");
  const recipes::P3bStudyRow* focus = nullptr;  // P2 and the picture: P3B at the ratio closest to 70%
  for (const auto& r : rows)
    if (r.method == "p3b" && (!focus || std::abs(r.ratio - 0.7) < std::abs(focus->ratio - 0.7))) focus = &r;
  if (!focus)
    for (const auto& r : rows)
      if (r.method != "dense") { focus = &r; break; }
  if (focus) {
    recipes::Table p2 = recipes::p3b_table_p2(*focus);
    std::string note;
    const std::string png = recipes::write_benefit_heatmap(*focus, (std::filesystem::path(s.out) / "p3b_benefit").string(), note);
    p2.notes.push_back(png.empty() ? note : "ΔΨ over the mask updates: " + png + " (CSV beside it)");
    p2.emit(s.out);
    std::printf("\n");
  }
  recipes::Table p3 = recipes::p3b_table_p3(rows, dense_gflops);
  if (!rows.empty() && rows.size() > 1 && rows[1].run.heads_macs_per_image > 0)
    p3.notes.push_back("BPI heads: " + recipes::fmt(double(rows[1].run.heads_macs_per_image) / 1e6, 1) +
                       " MMAC per image, every head on its input and output (patch width " +
                       (s.p3b.heads.patch_width == 0 ? std::string("= model width") : std::to_string(s.p3b.heads.patch_width)) +
                       ", " + std::to_string(s.p3b.heads.patch_layers) + " conv layers)");
  p3.notes.push_back("Protocol: pruning run " + std::to_string(s.prune_epochs) + " epochs at constant lr " +
                     recipes::fmt(s.lr, 6) + " (start " + recipes::fmt(s.start_fraction, 2) + ", sparse " +
                     recipes::fmt(s.sparse_fraction, 2) + " of the run, mask update every " +
                     std::to_string(s.update_interval) + " iterations), then " + std::to_string(s.finetune_epochs) +
                     " fine-tune epochs (cosine from " + recipes::fmt(s.finetune_lr, 6) + "); dense: " +
                     std::to_string(s.prune_epochs + s.finetune_epochs) + " epochs cosine. No Mixup/CutMix/RandAug.");
  p3.emit(s.out);
  std::printf("\n[%s] total %.1f min; models, CSV/JSON and pictures under %s\n", kProg, (now_s() - t_start) / 60.0,
              s.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return recipes::recipe_main([&]() {
    const std::optional<Settings> s = parse_args(argc, argv);
    if (!s) return 0;
    return run(*s);
  });
}
