// shears_prune: applies a pipeline of pruning transforms (pruning/transform.h step strings) to any
// checkpoint (shears, timm ViT/DeiT, Hugging Face VideoMAE), optionally fine-tunes the result, prints
// params, GFLOPs, measured images/s and accuracy before and after each step, and writes a
// self-describing pruned checkpoint (config, prune log and token pruning inside) that
// pruning::load_model rebuilds from the file alone.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <cxxopts.hpp>

#include "common/dataset_subset.h"
#include "common/evaluate.h"
#include "common/fashion_mnist_data.h"
#include "common/finetune.h"
#include "common/input_model.h"
#include "common/fixed_batches.h"
#include "common/model_cost.h"
#include "common/p3b_training.h"
#include "common/recipe_main.h"
#include "common/report.h"
#include "common/throughput.h"
#include "common/timm_deit.h"
#include "data/data_loader.h"
#include "data/datasets.h"
#include "data/transforms.h"
#include "tensor/parallel.h"
#include "nn/checkpoint.h"
#include "pruning/provenance.h"
#include "pruning/transform.h"
#include "train/progress.h"

using namespace shears;

namespace {

constexpr const char* kProg = "shears_prune";

struct Args {
  std::string checkpoint, steps, out, format, data, data_dir, train_dir, val_dir;
  int64_t num_classes = 0, eval_limit = 0, train_limit = 0, calib_batches = 4, batch_size = 64, timing_batch = 64;
  int64_t val_images = 512;
  int64_t finetune_epochs = 0, threads = 0, frames = 16, sampling_rate = 4, heads = 0, image_size = 224;
  double lr = 1e-4, warmup_epochs = 0.1, weight_decay = 0.05, smoothing = 0.1;
  uint64_t seed = 0;
  int timing_samples = 3;
};

bool parse_args(int argc, char** argv, Args& a) {
  cxxopts::Options options(
      kProg,
      "Applies pruning steps to a checkpoint and writes a self-describing pruned checkpoint.\n"
      "Steps (comma-separated, applied left to right; docs/transforms.md):\n"
      "  blocks:<criterion>:k=<n>        remove n blocks (entropy, mean, variance, std, l1, l2, kurtosis, mi,\n"
      "                                  random[:<seed>]; Gardener = entropy, data-free)\n"
      "  mlp:<criterion>:keep=<ratio>    keep round(ratio x H) MLP hidden neurons per block (magnitude, random)\n"
      "  heads:<criterion>:keep=<n>      keep n attention heads per block (magnitude, random)\n"
      "                                  mlp/heads criterion taylor: first-order Taylor |gate x dL/dgate| on\n"
      "                                  the --calib-batches training batches\n"
      "  mlp:amp:delta=<d>[:tau=<t>]     AMP: entropy-Taylor scores on the --calib-batches, per-layer search\n"
      "                                  on the --val-images validation batches\n"
      "  p3b:ratio=<r>[:epochs=<n>]      P3B: trains on the training data while it prunes (--lr, held constant)\n"
      "  tokens:<policy>@<keep>[:locations=i;j][:fuse=0|1][:seed=n]   token pruning (evit, shannon,\n"
      "                                  renyi:<a>, random); fusion defaults to on for EViT, off otherwise\n"
      "  none                            no step (evaluate / re-check a checkpoint)\n"
      "Example: shears_prune --checkpoint runs/main/vit_fmnist.safetensors \\\n"
      "           --steps \"blocks:entropy:k=1,mlp:magnitude:keep=0.5,tokens:renyi:2@0.7\" --out pruned.safetensors\n"
      "Accuracy needs data: --data fashion-mnist (default for 28x28 shears checkpoints), imagefolder\n"
      "(--train-dir/--val-dir, DeiT evaluation transform), video (raw-frame folders) or none.\n");
  options.add_options()
      ("checkpoint", "input safetensors file", cxxopts::value<std::string>())
      ("steps", "pruning steps (see above)", cxxopts::value<std::string>()->default_value("none"))
      ("out", "pruned checkpoint to write (temp file + rename); empty = do not save",
       cxxopts::value<std::string>()->default_value(""))
      ("format", "input format: auto | shears | timm | hf-videomae (auto: shears when the file holds a shears "
                 "config, hf-videomae for Hugging Face names, timm otherwise)",
       cxxopts::value<std::string>()->default_value("auto"))
      ("num-classes", "timm / HF checkpoints: classes of the head (0 = the file's head)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("heads", "timm checkpoints: attention heads per block (not stored in timm files; 0 = width / 64)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("data", "auto | fashion-mnist | imagefolder | video | none", cxxopts::value<std::string>()->default_value("auto"))
      ("data-dir", "Fashion-MNIST folder", cxxopts::value<std::string>()->default_value("/usr/share/datasets/fashion-mnist"))
      ("train-dir", "imagefolder/video: training folder (calibration and fine-tuning)",
       cxxopts::value<std::string>()->default_value(""))
      ("val-dir", "imagefolder/video: evaluation folder", cxxopts::value<std::string>()->default_value(""))
      ("frames", "video: frames per clip (HF VideoMAE: the model's clip length)", cxxopts::value<int64_t>()->default_value("16"))
      ("image-size", "HF VideoMAE: frame size the model was trained at", cxxopts::value<int64_t>()->default_value("224"))
      ("sampling-rate", "video: frame stride", cxxopts::value<int64_t>()->default_value("4"))
      ("eval-limit", "evaluate on N evenly spread held-out samples (0 = all)", cxxopts::value<int64_t>()->default_value("0"))
      ("train-limit", "calibrate / fine-tune on the first N training samples (0 = all)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("calib-batches", "training batches handed to data-driven criteria", cxxopts::value<int64_t>()->default_value("4"))
      ("val-images", "the last N training images as fixed validation batches (AMP's search; 0 = none)",
       cxxopts::value<int64_t>()->default_value("512"))
      ("batch-size", "batch size for evaluation, calibration and fine-tuning", cxxopts::value<int64_t>()->default_value("64"))
      ("finetune-epochs", "recovery fine-tune after the last step (0 = none)", cxxopts::value<int64_t>()->default_value("0"))
      ("lr", "fine-tune peak lr (AdamW, warm-up + cosine)", cxxopts::value<double>()->default_value("1e-4"))
      ("warmup-epochs", "fine-tune warm-up epochs", cxxopts::value<double>()->default_value("0.1"))
      ("weight-decay", "fine-tune weight decay", cxxopts::value<double>()->default_value("0.05"))
      ("smoothing", "fine-tune label smoothing", cxxopts::value<double>()->default_value("0.1"))
      ("timing-batch", "images per timed forward", cxxopts::value<int64_t>()->default_value("64"))
      ("timing-samples", "interleaved timing samples per model (medians)", cxxopts::value<int>()->default_value("3"))
      ("seed", "seed of random criteria/policies and of the fine-tune", cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = all cores)", cxxopts::value<int64_t>()->default_value("0"))
      ("h,help", "print this help");
  const auto parsed = recipes::parse_flags(options, argc, argv, kProg);
  if (!parsed) return false;
  const cxxopts::ParseResult& r = *parsed;
  SHEARS_CHECK(r.count("checkpoint"), kProg, "--checkpoint is required (a .safetensors file); see --help");
  a.checkpoint = r["checkpoint"].as<std::string>();
  a.steps = r["steps"].as<std::string>();
  a.out = r["out"].as<std::string>();
  a.format = r["format"].as<std::string>();
  a.num_classes = r["num-classes"].as<int64_t>();
  a.heads = r["heads"].as<int64_t>();
  a.data = r["data"].as<std::string>();
  a.data_dir = r["data-dir"].as<std::string>();
  a.train_dir = r["train-dir"].as<std::string>();
  a.val_dir = r["val-dir"].as<std::string>();
  a.frames = r["frames"].as<int64_t>();
  a.image_size = r["image-size"].as<int64_t>();
  a.sampling_rate = r["sampling-rate"].as<int64_t>();
  a.eval_limit = r["eval-limit"].as<int64_t>();
  a.train_limit = r["train-limit"].as<int64_t>();
  a.calib_batches = r["calib-batches"].as<int64_t>();
  a.val_images = r["val-images"].as<int64_t>();
  a.batch_size = r["batch-size"].as<int64_t>();
  a.finetune_epochs = r["finetune-epochs"].as<int64_t>();
  a.lr = r["lr"].as<double>();
  a.warmup_epochs = r["warmup-epochs"].as<double>();
  a.weight_decay = r["weight-decay"].as<double>();
  a.smoothing = r["smoothing"].as<double>();
  a.timing_batch = r["timing-batch"].as<int64_t>();
  a.timing_samples = r["timing-samples"].as<int>();
  a.seed = r["seed"].as<uint64_t>();
  a.threads = r["threads"].as<int64_t>();
  if (!std::filesystem::is_regular_file(a.checkpoint)) fail(kProg, "--checkpoint '", a.checkpoint, "' is not a file");
  SHEARS_CHECK(a.format == "auto" || a.format == "shears" || a.format == "timm" || a.format == "hf-videomae", kProg,
               "--format must be auto, shears, timm or hf-videomae, got '", a.format, "'");
  SHEARS_CHECK(a.data == "auto" || a.data == "fashion-mnist" || a.data == "imagefolder" || a.data == "video" ||
                   a.data == "none",
               kProg, "--data must be auto, fashion-mnist, imagefolder, video or none, got '", a.data, "'");
  SHEARS_CHECK(a.num_classes >= 0, kProg, "--num-classes must be >= 0, got ", a.num_classes);
  SHEARS_CHECK(a.heads >= 0, kProg, "--heads must be >= 0 (0 = width / 64), got ", a.heads);
  SHEARS_CHECK(a.eval_limit >= 0 && a.train_limit >= 0, kProg, "--eval-limit/--train-limit must be >= 0");
  SHEARS_CHECK(a.calib_batches >= 0, kProg, "--calib-batches must be >= 0, got ", a.calib_batches);
  SHEARS_CHECK(a.val_images >= 0, kProg, "--val-images must be >= 0, got ", a.val_images);
  SHEARS_CHECK(a.batch_size >= 1 && a.timing_batch >= 1, kProg, "--batch-size/--timing-batch must be >= 1");
  SHEARS_CHECK(a.timing_samples >= 1, kProg, "--timing-samples must be >= 1, got ", a.timing_samples);
  SHEARS_CHECK(a.finetune_epochs >= 0, kProg, "--finetune-epochs must be >= 0, got ", a.finetune_epochs);
  SHEARS_CHECK(a.lr > 0 && a.weight_decay >= 0 && a.warmup_epochs >= 0 && a.smoothing >= 0 && a.smoothing < 1, kProg,
               "--lr must be > 0, --weight-decay/--warmup-epochs >= 0, --smoothing in [0, 1)");
  recipes::check_threads_flag(a.threads, kProg);
  if (!a.out.empty()) recipes::prepare_output_file(a.out, kProg);
  SHEARS_CHECK(a.frames >= 1 && a.sampling_rate >= 1 && a.image_size >= 1, kProg,
               "--frames/--sampling-rate/--image-size must be >= 1");
  return true;
}

std::shared_ptr<nn::VisionTransformer> load_input_model(const Args& a, std::string& format) {
  recipes::InputModelOptions o;
  o.format = a.format, o.num_classes = a.num_classes, o.heads = a.heads, o.frames = a.frames;
  o.image_size = a.image_size;
  bool replaced = false;
  auto model = recipes::load_input_model(a.checkpoint, o, format, &replaced);
  if (replaced)
    std::printf("note: the head was replaced by a fresh %ld-way head (accuracy is near chance)\n",
                long(model->config().num_classes));
  return model;
}

struct Data {
  std::shared_ptr<const data::Dataset> train, test;
  data::Transform train_tf, test_tf;
};

Data load_data(const Args& a, const nn::ModelConfig& cfg) {
  Data d;
  std::string kind = a.data;
  if (kind == "auto") {
    if (!a.val_dir.empty()) kind = cfg.arch == "videomae" ? "video" : "imagefolder";
    else kind = cfg.arch == "vit" && cfg.image_size == 28 && cfg.in_chans == 1 ? "fashion-mnist" : "none";
  }
  if (kind == "none") return d;
  if (kind == "fashion-mnist") {
    auto splits = recipes::load_fashion_mnist_splits(a.data_dir, a.train_limit, 0);
    d.train = splits.train;
    d.test = splits.test;
    d.train_tf = recipes::fashion_mnist_train_transform(cfg);
    d.test_tf = recipes::fashion_mnist_test_transform(cfg);
  } else {
    SHEARS_CHECK(!a.val_dir.empty(), kProg, "--data ", kind, " needs --val-dir");
    for (const std::string* dir : {&a.train_dir, &a.val_dir})
      if (!dir->empty() && !std::filesystem::is_directory(*dir)) fail(kProg, "'", *dir, "' is not a folder");
    if (kind == "imagefolder") {
      d.test = std::make_shared<data::ImageFolder>(a.val_dir);
      if (!a.train_dir.empty()) d.train = std::make_shared<data::ImageFolder>(a.train_dir);
      d.test_tf = recipes::deit_eval_transform(cfg.image_size);
      d.train_tf = recipes::deit_train_transform(cfg.image_size, 0.0);
    } else {
      data::VideoFolderOptions vo;
      vo.num_frames = a.frames, vo.sampling_rate = a.sampling_rate;
      d.test = std::make_shared<data::VideoFolder>(a.val_dir, vo);
      if (!a.train_dir.empty()) d.train = std::make_shared<data::VideoFolder>(a.train_dir, vo);
      d.test_tf = d.train_tf =
          data::compose({data::resize(cfg.image_size, cfg.image_size), data::normalize(cfg.mean, cfg.std)});
    }
    if (d.train && a.train_limit > 0) d.train = std::make_shared<recipes::EvenSubset>(d.train, a.train_limit);
  }
  if (d.test && a.eval_limit > 0) d.test = std::make_shared<recipes::EvenSubset>(d.test, a.eval_limit);
  if (d.test)
    SHEARS_CHECK(d.test->num_classes() <= cfg.num_classes, kProg, "the evaluation data has ", d.test->num_classes(),
                 " classes but the model's head has ", cfg.num_classes);
  return d;
}

// `count` batches of the training set in a fixed order (seeded shuffle), preprocessed.
std::vector<pruning::CalibrationBatch> calibration_batches(const Data& d, int64_t count, int64_t batch_size,
                                                           uint64_t seed) {
  std::vector<pruning::CalibrationBatch> out;
  if (!d.train || count == 0) return out;
  data::LoaderOptions lo;
  lo.batch_size = std::min<int64_t>(batch_size, d.train->size());
  lo.seed = seed;
  lo.drop_last = true;
  data::DataLoader loader(d.train, lo, d.test_tf);
  loader.start_epoch(0);
  data::Batch b;
  while (int64_t(out.size()) < count && loader.next(b)) out.push_back({b.inputs, b.labels});
  return out;
}

struct Row {
  std::string label;
  std::shared_ptr<nn::VisionTransformer> model;  // a snapshot, timed at the end
  recipes::ModelCost cost;
  double top1 = NAN, uar = NAN;
};

std::string accuracy_cell(double top1, int64_t n) {
  if (std::isnan(top1)) return "-";
  return recipes::fmt_percent(top1) + " ± " + recipes::fmt(100 * std::sqrt(top1 * (1 - top1) / double(n)), 2);
}

int run(const Args& a) {
  if (a.threads > 0) set_num_threads(int(a.threads));
  recipes::print_compute_config();
  const double t0 = train::now_s();
  // Parse the steps before any work, so a bad step string fails at once.
  const auto transforms = a.steps == "none" || a.steps.empty() ? std::vector<std::shared_ptr<pruning::Transform>>{}
                                                                : pruning::parse_steps(a.steps);
  std::string format;
  auto model = load_input_model(a, format);
  model->eval();
  const nn::ModelConfig cfg0 = model->config();
  const Data d = load_data(a, cfg0);
  std::printf("%s: %s (%s, %s, %ld blocks, %ld classes%s), %zu step(s): %s\n", kProg, a.checkpoint.c_str(),
              format.c_str(), cfg0.arch.c_str(), long(cfg0.depth()), long(cfg0.num_classes),
              model->prune_log.empty() ? "" : ", already pruned", transforms.size(), a.steps.c_str());
  std::printf("data: %s\n", d.test ? d.test->describe().c_str() : "none (accuracy not measured)");
  std::fflush(stdout);

  // The fixed batch every model is timed on (test images, or zeros of the input shape).
  const Tensor timing_batch = recipes::first_inputs(d.test, d.test_tf, cfg0, a.timing_batch);
  auto evaluate = [&](nn::VisionTransformer& m, Row& row) {
    if (!d.test) return;
    const recipes::Accuracy acc = recipes::evaluate_accuracy(m, d.test, d.test_tf, a.batch_size);
    m.eval();
    row.top1 = acc.top1, row.uar = acc.uar;
  };
  std::vector<Row> rows;
  auto snapshot = [&](const std::string& label) {
    Row row;
    row.label = label;
    row.model = pruning::clone_model(*model);
    row.cost = recipes::model_cost(*row.model, timing_batch);
    evaluate(*row.model, row);
    rows.push_back(row);
    std::printf("  %-48s params %.3f M  GFLOPs %.4f  top-1 %s\n", label.c_str(), row.cost.params / 1e6, row.cost.gflops,
                accuracy_cell(row.top1, d.test ? d.test->size() : 0).c_str());
    std::fflush(stdout);
  };
  snapshot(model->prune_log.empty() ? "input (dense)" : "input");

  pruning::PruneContext ctx;
  ctx.calibration = calibration_batches(d, a.calib_batches, a.batch_size, a.seed);
  if (d.train && a.val_images > 0) {  // fixed, in order: the last val_images training images (AMP's search)
    const int64_t n = std::min<int64_t>(a.val_images, d.train->size());
    ctx.validation = recipes::fixed_batches(std::make_shared<recipes::RangeSubset>(d.train, d.train->size() - n, n),
                                            d.test_tf, std::min<int64_t>(a.batch_size, n), true);
  }
  ctx.seed = a.seed;
  if (d.test) ctx.evaluate = [&](nn::VisionTransformer& m) { return recipes::evaluate_accuracy(m, d.test, d.test_tf, a.batch_size).top1; };
  ctx.after_step = [&](nn::VisionTransformer&, const nn::PruneStep&, size_t i) { snapshot("+ " + transforms[i]->name()); };
  recipes::FinetuneOptions ft;  // the training flags, shared by P3B's pruning run and the fine-tune
  ft.epochs = a.finetune_epochs;
  ft.lr = a.lr;
  ft.warmup_epochs = a.warmup_epochs;
  ft.weight_decay = a.weight_decay;
  ft.label_smoothing = a.smoothing;
  ft.batch_size = a.batch_size;
  ft.seed = a.seed;
  ft.log_every = 100;
  // steps that train while they prune (p3b:...) run on the training data at --lr, held constant (the
  // runner replaces epochs and the schedule)
  if (d.train) {
    recipes::FinetuneOptions run = ft;
    run.log_every = 0;  // quiet, as the pruning steps' own rows report them
    ctx.train = recipes::training_runner(d.train, d.train_tf, run);
  }
  pruning::apply_all(*model, transforms, ctx);
  if (a.finetune_epochs > 0) {
    SHEARS_CHECK(d.train, kProg, "--finetune-epochs needs training data (--data fashion-mnist, or --train-dir)");
    std::printf("fine-tuning %ld epoch(s) on %s ...\n", long(a.finetune_epochs), d.train->describe().c_str());
    std::fflush(stdout);
    model->train();
    recipes::finetune(*model, d.train, d.train_tf, ft);
    model->eval();
    snapshot("+ fine-tune " + std::to_string(a.finetune_epochs) + " epoch(s)");
  }

  // Throughput: every snapshot timed on the same batch, samples interleaved.
  std::vector<std::function<void()>> variants;
  for (Row& r : rows) variants.push_back(recipes::inference_forward(*r.model, timing_batch));
  recipes::ThroughputOptions to;
  to.samples = a.timing_samples;
  to.min_time = 0.3;
  const std::vector<double> ips = recipes::interleaved_images_per_second(variants, timing_batch.size(0), to);

  recipes::Table t;
  t.name = "prune_steps";
  t.title = "shears_prune: " + a.checkpoint + " -> " + (a.out.empty() ? std::string("(not saved)") : a.out);
  t.columns = {"Model", "Params (M)", "GFLOPs", "FLOP ratio", "Images/s", "Speed-up", "Top-1 (%) ± SE", "UAR (%)"};
  const int64_t n = d.test ? d.test->size() : 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    t.add_row({r.label, recipes::fmt(r.cost.params / 1e6, 3), recipes::fmt(r.cost.gflops, 4),
               recipes::fmt(rows[0].cost.gflops / r.cost.gflops, 2) + "x", recipes::fmt(ips[i], 0),
               recipes::fmt(ips[i] / ips[0], 2) + "x", accuracy_cell(r.top1, n),
               std::isnan(r.uar) ? "-" : recipes::fmt_percent(r.uar)});
  }
  t.notes.push_back("GFLOPs: fvcore convention (1 multiply-add = 1 flop) from the model's real shapes and the token "
                    "counts of a forward. Images/s: no-grad forward of one fixed batch of " +
                    std::to_string(timing_batch.size(0)) + ", medians of " + std::to_string(a.timing_samples) +
                    " interleaved samples." +
                    (n > 0 ? " SE: binomial standard error on " + std::to_string(n) + " samples." : ""));
  t.emit("");
  if (!a.out.empty()) {
    const auto parent = std::filesystem::path(a.out).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    nn::save_model(a.out, *model, {{"shears.recipe", kProg}, {"shears.source", a.checkpoint}, {"shears.steps", a.steps}});
    std::printf("\nwrote %s (%zu logged step(s); reload with pruning::load_model or shears_prune --checkpoint %s)\n",
                a.out.c_str(), model->prune_log.size(), a.out.c_str());
  }
  std::printf("total wall time %.1f s\n", train::now_s() - t0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return recipes::recipe_main([&]() -> int {
    Args a;
    if (!parse_args(argc, argv, a)) return 0;
    return run(a);
  });
}
