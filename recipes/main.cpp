// The main job: trains a ViT with a one-layer conv stem from scratch on Fashion-MNIST with the DeiT recipe
// (AdamW, warm-up + cosine, label smoothing, flip; random crop, Mixup/CutMix and RandomErasing behind flags,
// off by default at this short schedule), evaluates on the test split, saves a checkpoint later recipes start
// from (the model config travels in the file), and prints a Markdown summary.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <cxxopts.hpp>

#include "common/fashion_mnist_data.h"
#include "common/finetune.h"
#include "common/main_job_settings.h"
#include "common/main_pruning_rows.h"
#include "common/recipe_main.h"
#include "common/training_state_keeper.h"

#include "autograd/ops.h"
#include "data/data_loader.h"
#include "data/datasets.h"
#include "data/mixup.h"
#include "data/random_erasing.h"
#include "data/transforms.h"
#include "dist/data_parallel.h"
#include "dist/world.h"
#include "nn/checkpoint.h"
#include "nn/flop_count.h"
#include "nn/io/atomic_file.h"
#include "tensor/backend.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "train/run_config.h"
#include "train/train_state.h"
#include "tensor/profile.h"
#include "train/trainer.h"
#include "train/progress.h"

using namespace shears;

namespace {

using Config = recipes::MainJobSettings;
using train::now_s;

Config parse_args(int argc, char** argv, bool& exit_now) {
  cxxopts::Options options("shears_main",
                           "shears main job: trains a small ViT from scratch on Fashion-MNIST with the DeiT recipe "
                           "(AdamW, warm-up + cosine,\nMixup/CutMix, RandomErasing, label smoothing), evaluates on "
                           "the test split, saves a checkpoint and prints a summary.\nFlags given explicitly "
                           "override the values chosen by --scale.\n");
  options.add_options()
      ("data-dir", "folder with the Fashion-MNIST IDX files ({train,t10k}-{images-idx3,labels-idx1}-ubyte, gzipped "
                   "or raw); Debian's dataset-fashion-mnist installs them in the default",
       cxxopts::value<std::string>()->default_value(data::kFashionMnistDefaultDir))
      ("scale", "'quick' (a few steps on 2048 images, seconds; the CI smoke run) or 'default' (the full recipe)",
       cxxopts::value<std::string>()->default_value("default"))
      ("out", "folder for the checkpoint (vit_fmnist.safetensors) and the JSONL log",
       cxxopts::value<std::string>()->default_value("runs/main"))
      ("epochs", "training epochs [quick 1, default 14]", cxxopts::value<int64_t>())
      ("batch-size", "images per step", cxxopts::value<int64_t>()->default_value("128"))
      ("lr", "base learning rate for a batch of 512; the lr used is lr * batch / 512 (DeiT's rule)",
       cxxopts::value<double>()->default_value("5e-3"))
      ("warmup-epochs", "linear warm-up length", cxxopts::value<double>()->default_value("1"))
      ("min-lr", "final lr of the cosine schedule", cxxopts::value<double>()->default_value("1e-5"))
      ("weight-decay", "AdamW decoupled weight decay (not on biases, norms, pos_embed, cls_token)",
       cxxopts::value<double>()->default_value("0.05"))
      ("smoothing", "label smoothing", cxxopts::value<double>()->default_value("0.1"))
      ("mixup", "Mixup alpha (0 = off)", cxxopts::value<double>()->default_value("0.8"))
      ("cutmix", "CutMix alpha (0 = off)", cxxopts::value<double>()->default_value("1.0"))
      ("mix-prob", "probability that a batch is mixed (DeiT: 1.0; 0 = off, the default: at 15 epochs mixing cost "
       "~0.8 points, docs/performance.md)", cxxopts::value<double>()->default_value("0"))
      ("erase", "RandomErasing probability (0 = off, the default)", cxxopts::value<double>()->default_value("0"))
      ("crop-padding", "random crop padding in pixels (0 = no crop, the default: at 15 epochs a 2-pixel crop cost "
       "~1 point, docs/performance.md)", cxxopts::value<double>()->default_value("0"))
      ("drop-path", "max DropPath rate (linspace over depth)", cxxopts::value<double>()->default_value("0.0"))
      ("patch", "patch size (divides 28; 7 gives 16 patches + cls)", cxxopts::value<int64_t>()->default_value("7"))
      ("dim", "embedding width", cxxopts::value<int64_t>()->default_value("128"))
      ("depth", "number of blocks", cxxopts::value<int64_t>()->default_value("6"))
      ("heads", "attention heads", cxxopts::value<int64_t>()->default_value("4"))
      ("mlp", "MLP hidden width", cxxopts::value<int64_t>()->default_value("256"))
      ("stem", "channels of a 3x3 convolutional stem (+ GELU) before the patch embedding (0 = none: timm's plain "
       "patchify; nn/config.h stem_channels)", cxxopts::value<int64_t>()->default_value("16"))
      ("stem-depth", "3x3 conv + GELU layers of that stem (needs --stem; nn/config.h stem_depth)",
       cxxopts::value<int64_t>()->default_value("1"))
      ("train-limit", "use the first N training images (0 = all 60000) [quick 2048]", cxxopts::value<int64_t>())
      ("eval-limit", "evaluate on the first N test images (0 = all 10000) [quick 1000]", cxxopts::value<int64_t>())
      ("seed", "seed of initialization, data order and augmentation (same seed + threads = same run)",
       cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = SHEARS_NUM_THREADS when set, else all cores)",
       cxxopts::value<int>()->default_value("0"))
      ("device", "where the model trains: cpu, cuda or cuda:N (the CUDA module, docs/cuda.md); data is prepared "
                 "on the host and each batch copied over; checkpoints are written from the host either way",
       cxxopts::value<std::string>()->default_value("cpu"))
      ("log-every", "steps between progress lines", cxxopts::value<int64_t>()->default_value("50"))
      ("resume", "continue exactly from a training state written by an earlier run (OUT/train_state.safetensors): "
                 "weights, AdamW moments, schedule step, epoch and position in the data order",
       cxxopts::value<std::string>()->default_value(""))
      ("resume-override", "run-config flags that may differ from the ones the resumed state was saved with (comma "
                          "list, e.g. lr,epochs); any other difference (seed, batch size, lr, schedule, augmentation, "
                          "model shape, data limit, threads, clip-grad) is refused",
       cxxopts::value<std::vector<std::string>>()->default_value(""))
      ("save-every", "also save the training state every N optimizer steps (0 = only at epoch ends and on "
                     "--stop-after-steps)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("clip-grad", "clip the global gradient norm to this value (0 = off)",
       cxxopts::value<double>()->default_value("0"))
      ("stop-after-steps", "stop after this many optimizer steps in total, saving the training state to resume "
                           "from (-1 = run to the end)",
       cxxopts::value<int64_t>()->default_value("-1"))
      ("profile", "time breakdown of training by kernel category (GEMM, attention, norms, elementwise, optimizer, "
                  "data, ...) printed after the summary (tensor/profile.h)")
      ("pruning-rows", "after training, add the pruning rows to the summary: token pruning (no fine-tuning) and "
                       "Gardener block removal (with and without a short fine-tune); --pruning-rows=false skips them",
       cxxopts::value<bool>()->default_value("true"))
      ("token-policies", "token policies of the summary rows (evit, shannon, renyi:<alpha>, random), each applied "
                         "as a tokens:<policy>@<keep rate> transform with its default fusion (evit fused, the "
                         "others not)",
       cxxopts::value<std::vector<std::string>>()->default_value("evit,renyi:2"))
      ("token-keep-rate", "keep rate of the token-pruning rows", cxxopts::value<double>()->default_value("0.7"))
      ("gardener-ks", "numbers of blocks Gardener removes in the summary rows (lowest weight entropy first)",
       cxxopts::value<std::vector<int64_t>>()->default_value("1,2"))
      ("gardener-finetune-epochs", "epochs of the short fine-tune after block removal (lr = half the training lr)",
       cxxopts::value<int64_t>()->default_value("1"))
      ("stack-row", "pipeline of the stacked-pruning row (pruning/transform.h steps; 'none' = no row): by default the "
                    "composition study's most accurate mini stack at about half the dense GFLOPs (docs/compose.md); "
                    "pruned, then fine-tuned for --gardener-finetune-epochs",
       cxxopts::value<std::string>()->default_value(recipes::kMainStackRow))
      ("h,help", "print this help and exit");
  const auto parsed = recipes::parse_flags(options, argc, argv, "shears_main");
  if (!parsed) {
    exit_now = true;
    return {};
  }
  const cxxopts::ParseResult& r = *parsed;
  Config c;
  c.data_dir = r["data-dir"].as<std::string>();
  c.scale = r["scale"].as<std::string>();
  c.out = r["out"].as<std::string>();
  recipes::apply_main_job_scale(c, "shears_main");
  if (r.count("epochs")) c.epochs = r["epochs"].as<int64_t>();
  if (r.count("train-limit")) c.train_limit = r["train-limit"].as<int64_t>();
  if (r.count("eval-limit")) c.eval_limit = r["eval-limit"].as<int64_t>();
  if (r.count("log-every")) c.log_every = r["log-every"].as<int64_t>();
  c.batch_size = r["batch-size"].as<int64_t>();
  c.base_lr = r["lr"].as<double>();
  c.warmup_epochs = r["warmup-epochs"].as<double>();
  c.min_lr = r["min-lr"].as<double>();
  c.weight_decay = r["weight-decay"].as<double>();
  c.smoothing = r["smoothing"].as<double>();
  c.mixup = r["mixup"].as<double>();
  c.cutmix = r["cutmix"].as<double>();
  c.mix_prob = r["mix-prob"].as<double>();
  c.erase = r["erase"].as<double>();
  c.crop_padding = r["crop-padding"].as<double>();
  c.drop_path = r["drop-path"].as<double>();
  c.patch = r["patch"].as<int64_t>();
  c.dim = r["dim"].as<int64_t>();
  c.depth = r["depth"].as<int64_t>();
  c.heads = r["heads"].as<int64_t>();
  c.mlp_hidden = r["mlp"].as<int64_t>();
  c.stem = r["stem"].as<int64_t>();
  c.stem_depth = r["stem-depth"].as<int64_t>();
  c.seed = r["seed"].as<uint64_t>();
  c.threads = r["threads"].as<int>();
  c.device = r["device"].as<std::string>();
  parse_device(c.device, "--device");  // a bad name fails now
  c.resume = r["resume"].as<std::string>();
  c.stop_after_steps = r["stop-after-steps"].as<int64_t>();
  c.resume_override = r["resume-override"].as<std::vector<std::string>>();
  c.resume_override.erase(std::remove(c.resume_override.begin(), c.resume_override.end(), std::string()),
                          c.resume_override.end());
  c.save_every = r["save-every"].as<int64_t>();
  c.clip_grad = r["clip-grad"].as<double>();
  c.pruning_rows = r["pruning-rows"].as<bool>();
  c.profile = r["profile"].as<bool>();
  c.token_policies = r["token-policies"].as<std::vector<std::string>>();
  c.token_keep_rate = r["token-keep-rate"].as<double>();
  c.gardener_ks = r["gardener-ks"].as<std::vector<int64_t>>();
  c.gardener_finetune_epochs = r["gardener-finetune-epochs"].as<int64_t>();
  c.stack_row = r["stack-row"].as<std::string>();
  recipes::check_main_job_settings(c, "shears_main");
  c.lr = c.base_lr * double(c.batch_size) / 512.0;
  return c;
}

int run(const Config& c) {
  // Under mpirun (docs/distributed.md): data parallel over the ranks; rank 0 prints and writes files.
  dist::quiet_non_root_stdout();
  const bool root = dist::is_root();
  if (root) recipes::prepare_output_dir(c.out, "shears_main");  // an unwritable --out fails now, not after an epoch
  if (c.threads > 0) set_num_threads(c.threads);
  const double t_start = now_s();
  auto train_set = std::make_shared<data::FashionMnistDataset>(c.data_dir, true, c.train_limit > 0 ? c.train_limit : -1);
  auto test_set = std::make_shared<data::FashionMnistDataset>(c.data_dir, false, c.eval_limit > 0 ? c.eval_limit : -1);
  const nn::ModelConfig mcfg = recipes::main_job_model_config(c);
  nn::VisionTransformer model(mcfg, c.seed);
  const Device device = parse_device(c.device, "--device");
  if (!device.is_cpu()) {
    SHEARS_CHECK(c.resume.empty(), "shears_main", "--resume with --device ", c.device,
                 " is not supported yet: resume on the cpu (the training state is device-independent)");
    std::printf("device: %s (%s)\n", device.str().c_str(), backend_for(device).describe(device.index).c_str());
    model.to(device);
  }

  // Augmentation: random crop with padding + flip, normalize, RandomErasing (after normalize,
  // as in timm); Mixup/CutMix with smoothing folded into the soft targets.
  std::vector<data::Transform> train_tf;
  if (c.crop_padding > 0) train_tf.push_back(data::random_crop(28, int64_t(c.crop_padding)));
  train_tf.push_back(data::horizontal_flip(0.5));
  train_tf.push_back(data::normalize(mcfg.mean, mcfg.std));
  if (c.erase > 0) train_tf.push_back(data::random_erasing(c.erase, "pixel"));
  data::MixupOptions mix;
  mix.mixup_alpha = c.mixup;
  mix.cutmix_alpha = c.cutmix;
  mix.prob = c.mix_prob;
  mix.label_smoothing = c.smoothing;
  mix.num_classes = 10;
  const bool mixing = (c.mixup > 0 || c.cutmix > 0) && c.mix_prob > 0;
  data::LoaderOptions lo;
  lo.batch_size = c.batch_size;
  lo.seed = c.seed;
  lo.drop_last = true;  // every step sees a full batch (Mixup pairs b with B-1-b)
  data::DataLoader train_loader(train_set, lo, data::compose(train_tf),
                                mixing ? data::mixup_cutmix(mix) : data::BatchTransform());
  data::LoaderOptions eo;
  eo.batch_size = 500;
  eo.shuffle = false;
  eo.drop_last = false;
  data::DataLoader test_loader(test_set, eo, data::normalize(mcfg.mean, mcfg.std));

  std::filesystem::create_directories(c.out);
  train::TrainerOptions to;
  to.epochs = c.epochs;
  to.lr = c.lr;
  to.min_lr = c.min_lr;
  to.warmup_epochs = std::min<double>(c.warmup_epochs, double(c.epochs));
  to.weight_decay = c.weight_decay;
  to.label_smoothing = c.smoothing;
  to.log_every = c.log_every;
  to.log_path = c.out + "/train_log.jsonl";
  to.stop_at_step = c.stop_after_steps;
  to.clip_grad = c.clip_grad;
  to.seed = c.seed;  // DropPath masks of step s from (seed, s): exact on resume
  dist::shard_trainer_options(to);  // this rank's rows of every global batch; only rank 0 logs
  if (c.resume.empty() && root) std::filesystem::remove(to.log_path);
  train::Trainer trainer(model, to, train_loader.batches_per_epoch());
  const std::string state_path = c.out + "/train_state.safetensors";
  // temp files of earlier runs killed mid-write (a resumed run may not write the state again)
  if (root) {
    nn::remove_dead_writer_temp_files(state_path);
    nn::remove_dead_writer_temp_files(c.out + "/vit_fmnist.safetensors");
  }
  const train::RunConfig run_config = recipes::main_job_run_config(c, get_num_threads());
  // Training states: at epoch ends, on --stop-after-steps and every --save-every steps. Each is
  // written atomically and refused when a tensor is NaN/inf, so state_path is always loadable.
  recipes::TrainingStateKeeper states(state_path, model, trainer.optimizer(), train_loader, run_config, root);
  train::TrainState state;  // where training starts: epoch, global step, batch within the epoch
  if (!c.resume.empty()) {
    const train::TrainState saved = train::read_train_state(c.resume);
    if (saved.run_config.empty()) {
      std::fprintf(stderr, "warning: %s holds no run config (saved by an older shears); the flags cannot be "
                   "checked against the run it continues\n", c.resume.c_str());
    } else {
      const auto allowed = train::check_resume_config(c.resume, saved.run_config, run_config, c.resume_override);
      if (!allowed.empty()) std::printf("resume: allowed by --resume-override: %s\n", train::describe(allowed).c_str());
    }
    state = train::load_train_state(c.resume, model, trainer.optimizer());
    states.resumed_from(c.resume, state);
    trainer.set_step(state.step);
    std::printf("resumed from %s at epoch %ld, step %ld, batch %ld\n", c.resume.c_str(), long(state.epoch),
                long(state.step), long(state.next_batch));
  }

  const double gflops = nn::count_flops(mcfg).total / 1e9;
  std::printf("shears main job: ViT on Fashion-MNIST (%ld train / %ld test images)\n", long(train_set->size()),
              long(test_set->size()));
  const std::string eff = recipes::main_job_effective_config(c, model.parameter_count(), gflops, to.warmup_epochs,
                                                              mixing, get_num_threads());
  std::printf("effective config: %s\n", eff.c_str());
  recipes::print_compute_config();
  if (dist::distributed())
    std::printf("data parallel: %d ranks x %ld-%ld images of every global batch of %ld (MPI; gradients all-reduced "
                "after backward)\n",
                dist::size(), long(c.batch_size / dist::size()), long((c.batch_size + dist::size() - 1) / dist::size()),
                long(c.batch_size));
  if (root) {  // the effective configuration is stored with the run: first line of the log, and the checkpoint
    std::ofstream log(to.log_path, std::ios::app);
    log << "{\"kind\":\"config\",\"text\":\"" << eff << "\"}\n";
  }
  std::fflush(stdout);

  // first: the gradients are summed over the ranks before any other controller sees them
  auto data_parallel = std::make_shared<dist::DataParallel>();
  if (dist::distributed()) trainer.add_controller(data_parallel);
  if (c.save_every > 0) trainer.add_controller(states.periodic_saver(c.save_every));

  const double t_train = now_s();
  const int64_t first_step = trainer.step();
  if (c.profile) profile::start();
  double last_loss = 0;
  try {
    for (int64_t e = state.epoch; e < c.epochs; ++e) {
      states.set_epoch(e);
      train_loader.start_epoch(e, e == state.epoch ? state.next_batch : 0);
      last_loss = trainer.train_epoch(train_loader, e);
      const bool stopped = trainer.step() == c.stop_after_steps;
      states.save_at_epoch_end(trainer.step());
      if (stopped) {
        std::printf("stopped after %ld steps; resume with --resume %s\n", long(trainer.step()), state_path.c_str());
        return 0;
      }
    }
  } catch (const train::NonFiniteError& diverged) {
    throw states.diverged(diverged, c.base_lr);
  }
  const double train_seconds = now_s() - t_train;
  const profile::Report training_profile = c.profile ? profile::stop() : profile::Report{};
  if (!root) return 0;  // the other ranks' part ends with training; rank 0 evaluates and reports
  if (dist::distributed())
    std::printf("data parallel: gradient all-reduce %.2f ms/step on average (%.2f M floats per step, %d ranks)\n",
                1e3 * data_parallel->total_allreduce_seconds() / double(std::max<int64_t>(1, trainer.step() - state.step)),
                data_parallel->last_allreduce_elements() / 1e6, dist::size());
  test_loader.start_epoch(0);
  train::EvalResult ev = trainer.evaluate(test_loader);
  const std::string ckpt = c.out + "/vit_fmnist.safetensors";
  nn::save_model(ckpt, model,
                 {{"shears.recipe", "shears_main"}, {"shears.run_config", eff}, {"shears.test_top1", std::to_string(ev.top1)}});

  const int64_t images = c.epochs * train_loader.batches_per_epoch() * c.batch_size;
  std::printf("\n## shears main job: ViT on Fashion-MNIST\n\n");
  std::printf("| model | params | GFLOPs/img | epochs | train images | train time | train img/s | last epoch loss | "
              "test top-1 | test top-5 | test UAR | test images | eval img/s |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  const std::string stem_label =
      c.stem > 0 ? " stem" + std::to_string(c.stem) + (c.stem_depth > 1 ? "x" + std::to_string(c.stem_depth) : "") : "";
  std::printf("| ViT%s p%ld d%ld x%ld h%ld | %.2f M | %.4f | %ld | %ld | %.1f s | %.0f | %.4f | %.2f%% | %.2f%% | %.2f%% | %ld | %.0f |\n",
              stem_label.c_str(), long(c.patch), long(c.dim), long(c.depth), long(c.heads), model.parameter_count() / 1e6, gflops,
              long(c.epochs), long(images), train_seconds, images / train_seconds, last_loss, 100 * ev.top1,
              100 * ev.top5, 100 * ev.uar, long(ev.samples), ev.samples / ev.seconds);
  if (c.profile) {
    const int64_t steps = trainer.step() - first_step;
    std::printf("\n### Where the training time went (--profile, %ld steps)\n\n%s", long(steps),
                profile::format(training_profile, steps).c_str());
    if (steps >= 1 && !training_profile.gemm_shapes.empty())
      std::printf("\nLinear layers by shape (rows M = batch x tokens, N outputs, K inputs):\n\n%s",
                  profile::format_gemm_shapes(training_profile, steps).c_str());
  }
  std::fflush(stdout);

  if (c.pruning_rows) {  // what the pruning methods do to this model (after the checkpoint is safe on disk)
    if (!model.device().is_cpu()) {  // Gardener's statistics and P3B's patch heads have no CUDA kernels
      std::printf("pruning rows: on the cpu (the model is moved back from %s)\n", model.device().str().c_str());
      model.to(Device::cpu());
    }
    recipes::MainPruningRows rows;
    rows.token_policies = c.token_policies;
    rows.token_keep_rate = c.token_keep_rate;
    rows.gardener_ks = c.gardener_ks;
    rows.stack_row = c.stack_row;
    rows.finetune = recipes::main_job_row_finetune(c);
    rows.crop_padding = int64_t(c.crop_padding);
    rows.quick = c.scale == "quick";
    rows.out = c.out;
    recipes::emit_main_pruning_rows(model, ev.top1, train_set, test_set, rows);
  }
  std::printf("\ncheckpoint: %s (reload with nn::load_model; config and preprocessing inside)\nlog: %s\n"
              "total wall time %.1f s\n",
              ckpt.c_str(), to.log_path.c_str(), now_s() - t_start);
  if (ev.top1 < 0.15 && c.scale != "quick")
    std::printf("warning: test accuracy %.1f%% is near chance (10%%); check the learning rate\n", 100 * ev.top1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  shears::dist::WorldSession world(argc, argv);  // MPI only under mpirun; a failing rank aborts the job
  return world.finish(shears::recipes::recipe_main([&]() -> int {
    bool exit_now = false;
    Config c = parse_args(argc, argv, exit_now);
    if (exit_now) return 0;
    return run(c);
  }));
}
