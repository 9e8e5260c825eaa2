// Gardener (arXiv 2602.03918, METHODS.md §1): data-free block pruning of a VideoMAE by
// weight-number entropy, against the sensitivity oracle and the data-free baselines. As in the
// paper, the statistics rank the PRETRAINED (upstream) model, and every row -- the dense control,
// each single-block drop of the oracle, each multi-block removal -- is that pretrained model with
// blocks removed followed by ONE fine-tune, so all rows get equal fine-tuning. The oracle is
// averaged over seeds with a standard error per drop; Spearman/Kendall come with bootstrap 95%
// intervals. Prints Tables 1, 2, 3 and 7-12.
//   --scale smoke: seconds (CI);  --scale mini: pretrain a small VideoMAE on moving Fashion-MNIST,
//   then the fine-tunes (<= 35 min on a shared 2-core machine);  --scale paper: an HF VideoMAE-B
//   checkpoint and raw-frame UCF101 folders with the authors' fine-tuning recipe.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include <cxxopts.hpp>

#include "autograd/ops.h"
#include "common/block_removal.h"
#include "common/gardener_oracle.h"
#include "common/gnuplot.h"
#include "common/line_plot.h"
#include "common/gardener_settings.h"
#include "common/mae_pretraining.h"
#include "common/recipe_main.h"
#include "common/report.h"
#include "data/transforms.h"
#include "nn/checkpoint.h"
#include "nn/config.h"
#include "nn/flop_count.h"
#include "nn/io/state_dict.h"
#include "nn/init.h"
#include "nn/videomae_checkpoint.h"
#include "pruning/block_ranking.h"
#include "pruning/block_stats.h"
#include "pruning/block_weights.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "train/progress.h"

using namespace shears;

namespace {

const char* kProg = "shears_gardener";

using train::now_s;

using Settings = recipes::GardenerSettings;

Settings parse_args(int argc, char** argv, bool& exit_now) {
  cxxopts::Options options(
      kProg,
      "Gardener: data-free block pruning of VideoMAE by weight-number entropy (fp16 codes of each block's\n"
      "qkv/proj/fc1/fc2 weights, lowest removed first), against the sensitivity oracle and data-free baselines.\n"
      "The statistics rank the PRETRAINED model; every row (dense control, single-block drops of the oracle,\n"
      "multi-block removals) is the pretrained model with blocks removed plus ONE fine-tune. The oracle repeats\n"
      "each single-block drop over --oracle-seeds seeds (mean, standard error); Spearman/Kendall get bootstrap\n"
      "95% intervals. Prints Tables 1, 2, 3 and 7-12 (Markdown on stdout; CSV/JSON under --out). Flags given\n"
      "explicitly override --scale.\n"
      "  --scale smoke  tiny model and data, seconds (the CI run)\n"
      "  --scale mini   pretrain (or --pretrained) a 6-block VideoMAE on moving Fashion-MNIST, then the\n"
      "                 fine-tunes: <= 35 minutes on a shared 2-core machine (docs/gardener.md)\n"
      "  --scale paper  --hf-checkpoint (HF VideoMAE-B, e.g. MCG-NJU/videomae-base-finetuned-kinetics) and\n"
      "                 --ucf-train/--ucf-test raw-frame folders (root/<class>/<video>/<frames>); AdamW wd 0.05,\n"
      "                 lr 1e-3, batch 64, warm-up cosine to 0, epochs (warm-up) by removed blocks 0:4(1) 1:4(1)\n"
      "                 3:5(1) 5:7(2) 7:10(2) 9:15(3) 11:38(5); 16 frames sampling rate 4, 224x224, mean\n"
      "                 (0.485,0.456,0.406) std 0.225\n");
  options.add_options()
      ("scale", "smoke | mini | paper", cxxopts::value<std::string>()->default_value("mini"))
      ("out", "output folder", cxxopts::value<std::string>()->default_value("runs/gardener"))
      ("data-dir", "Fashion-MNIST IDX folder (smoke/mini)",
       cxxopts::value<std::string>()->default_value(data::kFashionMnistDefaultDir))
      ("pretrained", "smoke/mini: reuse this shears_videomae_pretrain checkpoint instead of pretraining "
                     "(its encoder shape must match)", cxxopts::value<std::string>()->default_value(""))
      ("hf-checkpoint", "paper: Hugging Face VideoMAE-B classification safetensors file",
       cxxopts::value<std::string>()->default_value(""))
      ("ucf-train", "paper: UCF101 training videos as raw-frame folders", cxxopts::value<std::string>()->default_value(""))
      ("ucf-test", "paper: UCF101 test videos as raw-frame folders", cxxopts::value<std::string>()->default_value(""))
      ("train-clips", "smoke/mini: clips of the one fine-tune every row gets [smoke 64, mini 4096]",
       cxxopts::value<int64_t>())
      ("test-clips", "smoke/mini: held-out clips for WAR [smoke 32, mini 1024]", cxxopts::value<int64_t>())
      ("pretrain-epochs", "smoke/mini: pretraining epochs [smoke 1, mini 12]", cxxopts::value<int64_t>())
      ("pretrain-clips", "smoke/mini: pretraining clips [smoke 64, mini 4096]", cxxopts::value<int64_t>())
      ("mask-ratio", "smoke/mini: tube masking ratio of the pretraining [0.75: VideoMAE's UCF101 setting; "
                     "its K400/SSv2 value 0.9 leaves 1 of 16 cells of a 4x4 grid visible]",
       cxxopts::value<double>())
      ("epochs", "epochs of the one fine-tune, the same for every row (paper: overrides the by-k table) "
                 "[smoke 1, mini 1]", cxxopts::value<int64_t>())
      ("ks", "numbers of removed blocks for Tables 3 and 7-12 [smoke 1,3; mini 1,2,3,4,5; paper 1,3,5,7,9,11]",
       cxxopts::value<std::vector<int64_t>>())
      ("oracle-seeds", "fine-tune seeds of the dense control and of every single-block drop (mean and standard "
                       "error) [smoke 2, mini 6, paper 1]", cxxopts::value<int64_t>())
      ("bootstrap", "bootstrap resamples of the blocks for the Spearman/Kendall 95% intervals",
       cxxopts::value<int64_t>()->default_value("10000"))
      ("batch-size", "clips per step [smoke/mini 32, paper 64]", cxxopts::value<int64_t>())
      ("lr", "peak lr of the fine-tune (AdamW, warm-up + cosine) [smoke/mini 2e-3, paper 1e-3]",
       cxxopts::value<double>())
      ("random-draws", "seeds averaged for the Random baseline [smoke/mini 2, paper 3]", cxxopts::value<int64_t>())
      ("dim", "smoke/mini: encoder width [smoke 32, mini 64]", cxxopts::value<int64_t>())
      ("depth", "smoke/mini: encoder blocks [smoke 4, mini 6]", cxxopts::value<int64_t>())
      ("seed", "seed of everything (fine-tune seeds are seed, seed+1, ...)",
       cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = SHEARS_NUM_THREADS or all cores)", cxxopts::value<int>()->default_value("0"))
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
  s.pretrained = r["pretrained"].as<std::string>();
  s.hf_checkpoint = r["hf-checkpoint"].as<std::string>();
  s.ucf_train = r["ucf-train"].as<std::string>();
  s.ucf_test = r["ucf-test"].as<std::string>();
  s.seed = r["seed"].as<uint64_t>();
  s.threads = r["threads"].as<int>();
  s.bootstrap_resamples = r["bootstrap"].as<int64_t>();
  recipes::MaePretrainStudy& p = s.pretrain;
  recipes::apply_gardener_scale(s, kProg);
  recipes::check_gardener_inputs(s, kProg);
  if (r.count("train-clips")) s.train_clips = r["train-clips"].as<int64_t>();
  if (r.count("pretrain-clips")) p.train_clips = r["pretrain-clips"].as<int64_t>();
  if (r.count("mask-ratio")) p.mask_ratio = r["mask-ratio"].as<double>();
  if (r.count("lr")) s.lr = r["lr"].as<double>();
  if (r.count("test-clips")) s.test_clips = r["test-clips"].as<int64_t>();
  if (r.count("pretrain-epochs")) p.epochs = r["pretrain-epochs"].as<int64_t>();
  if (r.count("epochs")) {
    s.finetune.first = r["epochs"].as<int64_t>();
    s.by_k.clear();  // one fine-tune length for every row
  }
  if (r.count("ks")) s.ks = r["ks"].as<std::vector<int64_t>>();
  if (r.count("oracle-seeds")) s.oracle_seeds = r["oracle-seeds"].as<int64_t>();
  if (r.count("batch-size")) s.batch_size = r["batch-size"].as<int64_t>();
  if (r.count("random-draws")) s.random_draws = r["random-draws"].as<int64_t>();
  if (r.count("dim")) p.shape.dim = r["dim"].as<int64_t>(), p.shape.mlp_hidden = 4 * p.shape.dim;
  if (r.count("depth")) p.shape.depth = r["depth"].as<int64_t>();
  SHEARS_CHECK(s.train_clips >= s.batch_size && s.batch_size >= 2, kProg, "--train-clips (", s.train_clips,
               ") must hold at least one --batch-size (", s.batch_size, ", >= 2)");
  SHEARS_CHECK(s.test_clips >= 1, kProg, "--test-clips must be >= 1");
  SHEARS_CHECK(p.mask_ratio > 0 && p.mask_ratio < 1, kProg, "--mask-ratio must be in (0, 1), got ", p.mask_ratio);
  SHEARS_CHECK(p.train_clips >= s.batch_size, kProg, "--pretrain-clips (", p.train_clips,
               ") must hold at least one --batch-size (", s.batch_size, ")");
  SHEARS_CHECK(s.finetune.first >= 1, kProg, "--epochs must be >= 1, got ", s.finetune.first);
  SHEARS_CHECK(!s.ks.empty(), kProg, "--ks must name at least one number of removed blocks");
  SHEARS_CHECK(s.oracle_seeds >= 1, kProg, "--oracle-seeds must be >= 1, got ", s.oracle_seeds);
  SHEARS_CHECK(s.bootstrap_resamples >= 100, kProg, "--bootstrap must be >= 100 resamples, got ",
               s.bootstrap_resamples);
  SHEARS_CHECK(s.random_draws >= 1, kProg, "--random-draws must be >= 1");
  SHEARS_CHECK(s.lr > 0 && std::isfinite(s.lr), kProg, "--lr must be positive");
  recipes::check_threads_flag(s.threads, kProg);
  recipes::prepare_output_dir(s.out, kProg);  // an unwritable --out fails now, not after training
  p.fashion_dir = s.data_dir;
  p.out = s.out + "/pretrain";
  p.seed = s.seed;
  p.batch_size = s.batch_size;
  return s;
}

// Paper-style "Pruning Ratio" cell: k/L in percent with one decimal.
std::string ratio_str(int64_t k, int64_t depth) { return recipes::fmt(100.0 * double(k) / double(depth), 1); }

int run(Settings s) {
  if (s.threads > 0) set_num_threads(s.threads);
  recipes::print_compute_config();
  const double t0 = now_s();
  std::filesystem::create_directories(s.out);

  // ---- data and the pretrained (upstream) model, with a fresh classifier head ----
  std::shared_ptr<const data::Dataset> train_set, test_set;
  data::Transform train_tf, test_tf;
  std::shared_ptr<nn::VisionTransformer> model;
  if (s.scale == "paper") {
    data::VideoFolderOptions vo;
    vo.num_frames = 16, vo.sampling_rate = 4, vo.num_clips = 1, vo.train = false;  // authors: deterministic sampling
    train_set = std::make_shared<data::VideoFolder>(s.ucf_train, vo);
    test_set = std::make_shared<data::VideoFolder>(s.ucf_test, vo);
    SHEARS_CHECK(train_set->num_classes() == test_set->num_classes(), kProg, "--ucf-train has ",
                 train_set->num_classes(), " classes but --ucf-test has ", test_set->num_classes());
    const std::vector<double> mean = {0.485, 0.456, 0.406}, stdv = {0.225};
    train_tf = test_tf = data::compose({data::resize(224, 224), data::normalize(mean, stdv)});
    nn::ModelConfig k400 = nn::videomae_base_patch16_224(400);
    nn::VisionTransformer src(k400);
    nn::load_safetensors(src, s.hf_checkpoint, /*strict=*/true);
    nn::ModelConfig cfg = src.config();  // k400 with HF's fc_norm eps (1e-5), set by the HF load
    cfg.num_classes = train_set->num_classes();
    cfg.mean = mean, cfg.std = {0.225, 0.225, 0.225};
    model = std::make_shared<nn::VisionTransformer>(cfg, s.seed);
    std::vector<std::pair<std::string, Tensor>> keep;
    for (auto& [n, t] : nn::state_dict(src))
      if (n.rfind("head.", 0) != 0) keep.emplace_back(n, t);
    nn::load_state_dict(*model, keep, /*strict=*/false);  // new 101-way head after fc_norm
  } else {
    const recipes::ClipModelShape& shape = s.pretrain.shape;
    train_set = recipes::moving_clips(s.data_dir, true, s.train_clips, shape, s.seed + 1);
    test_set = recipes::moving_clips(s.data_dir, false, s.test_clips, shape, s.seed + 1);
    nn::ModelConfig cfg = recipes::clip_videomae_config(shape, train_set->num_classes());
    train_tf = test_tf = data::normalize(cfg.mean, cfg.std);
    std::string pretrained = s.pretrained;
    if (pretrained.empty()) {
      std::printf("## step 1: VideoMAE masked pretraining\n\n");
      recipes::MaePretrainOutcome pr = recipes::run_mae_pretrain_study(s.pretrain);
      pretrained = pr.checkpoint;
    }
    model = std::make_shared<nn::VisionTransformer>(cfg, s.seed);
    nn::load_pretrained_encoder(*model, pretrained);
    std::printf("encoder: %s\n", pretrained.c_str());
  }
  const double pretrain_seconds = now_s() - t0;
  const int64_t depth = model->config().depth();
  for (int64_t k : s.ks)
    SHEARS_CHECK(k >= 1 && k < depth, kProg, "k = ", k, " blocks cannot be removed from a ", depth, "-block model");
  const nn::ModelConfig cfg = model->config();

  // ---- data-free statistics of the PRETRAINED model and the orders ----
  const auto stats = pruning::block_statistics(pruning::block_weights(*model));
  std::map<pruning::Criterion, std::vector<int64_t>> orders;
  for (pruning::Criterion c : pruning::all_criteria())
    if (pruning::uses_block_stats(c)) orders[c] = pruning::removal_order(stats, c);
  const auto random_orders = pruning::random_removal_orders(depth, s.seed + 100, s.random_draws);
  std::printf("\nblock statistics of the pretrained model (data-free, before any fine-tune): ");
  for (int64_t l = 0; l < depth; ++l)
    std::printf("%s%ld: H=%.4f L1=%.1f", l ? ", " : "", long(l + 1), stats[size_t(l)].entropy, stats[size_t(l)].l1);
  std::printf("\nentropy removal order (first removed first): %s\n",
              recipes::blocks_str(orders[pruning::Criterion::Entropy]).c_str());

  // ---- every row: pretrained model, blocks removed, one fine-tune ----
  auto finetune_for = [&](int64_t k) { return recipes::gardener_finetune(s, k); };
  recipes::BlockRemovalRunner runner(*model, train_set, test_set, train_tf, test_tf, finetune_for);
  runner.evaluate_removed = false;  // the head is untrained before the fine-tune: chance accuracy
  const double head_std = 0.02 * s.head_init_scale;
  runner.before_finetune = [head_std](nn::VisionTransformer& m, uint64_t seed) {
    // a fresh classifier head per seed: trunc_normal(0.02) x init_scale, bias 0 (VideoMAE)
    NoGradGuard ng;
    Generator gen(seed, /*stream=*/0x4ead);
    kernels::copy_(m.head->weight, nn::trunc_normal(m.head->weight.shape(), head_std, gen));
    kernels::copy_(m.head->bias, zeros(m.head->bias.shape()));
  };
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < s.oracle_seeds; ++i) seeds.push_back(s.seed + uint64_t(i));

  // planned distinct runs, in block-units (kept blocks + 1) x epochs, for the ETA
  auto cost = [&](const std::vector<int64_t>& removed) {
    return double(depth - int64_t(removed.size()) + 1) * double(std::max<int64_t>(1, finetune_for(int64_t(removed.size())).epochs));
  };
  std::map<std::pair<std::vector<int64_t>, uint64_t>, double> plan;
  for (uint64_t sd : seeds) {
    plan[{{}, sd}] = cost({});
    for (int64_t l = 0; l < depth; ++l) plan[{{l}, sd}] = cost({l});
  }
  for (int64_t k : s.ks) {
    for (auto& [c, o] : orders) plan[{pruning::blocks_to_remove(o, k), s.seed}] = cost(pruning::blocks_to_remove(o, k));
    for (auto& o : random_orders) plan[{pruning::blocks_to_remove(o, k), s.seed}] = cost(pruning::blocks_to_remove(o, k));
  }
  double planned = 0, done = 0;
  for (auto& [key, c] : plan) planned += c;
  const double t_runs = now_s();
  runner.on_result = [&](const recipes::RemovalResult& r) {
    done += cost(r.removed);
    const double el = now_s() - t_runs;
    std::printf("[run %ld] remove %s, seed %lu: WAR %.2f%% (%.1f s; %.0f%% of planned work, eta %.0f s)\n",
                long(runner.runs()), r.removed.empty() ? "nothing" : recipes::blocks_str(r.removed).c_str(),
                (unsigned long)r.seed, 100 * r.acc_finetuned, r.seconds, 100 * done / planned,
                el / done * std::max(0.0, planned - done));
    std::fflush(stdout);
  };
  const recipes::FinetuneOptions dense_ft = finetune_for(0);
  std::printf("\n## step 2: dense control and sensitivity oracle: the pretrained model with nothing / each block "
              "removed, one fine-tune (%ld clips, %ld epoch(s), lr %g), %zu seed(s); then %zu planned distinct "
              "runs in all\n\n",
              long(train_set->size()), long(dense_ft.epochs), dense_ft.lr, seeds.size(), plan.size());
  std::fflush(stdout);
  std::vector<double> dense_war;
  std::vector<std::vector<double>> block_war(static_cast<size_t>(depth));
  for (uint64_t sd : seeds) {  // seed-major: a partial log already covers every block
    dense_war.push_back(runner.run({}, sd).acc_finetuned);
    for (int64_t l = 0; l < depth; ++l) block_war[size_t(l)].push_back(runner.run({l}, sd).acc_finetuned);
  }
  const recipes::OracleSummary oracle = recipes::summarize_oracle(dense_war, block_war);
  const double dense_mean = oracle.dense_mean, run_sd = oracle.run_sd;
  const std::vector<double>& drops = oracle.drops;
  orders[pruning::Criterion::Sensitivity] = pruning::sensitivity_removal_order(drops);

  // ---- Table 1 ----
  const std::string out = s.out;
  const std::string seeds_str = std::to_string(seeds.size()) + " seed" + (seeds.size() > 1 ? "s" : "");
  std::vector<recipes::RemovalResult> single;  // cached: block l removed, first seed (params, GFLOPs)
  for (int64_t l = 0; l < depth; ++l) single.push_back(runner.run({l}, seeds[0]));
  const recipes::Table t1 = recipes::gardener_table1(oracle, cfg, single, test_set->size());
  std::printf("\n");
  t1.emit(out);

  // ---- Table 2 and the correlations with bootstrap intervals ----
  const auto e_rank = pruning::importance_ranks(orders[pruning::Criterion::Entropy]);
  const auto s_rank = pruning::importance_ranks(orders[pruning::Criterion::Sensitivity]);
  std::vector<double> entropy_values;
  for (int64_t l = 0; l < depth; ++l) entropy_values.push_back(stats[size_t(l)].entropy);
  const recipes::Table t2 = recipes::gardener_table2(oracle, entropy_values, e_rank, s_rank);
  t2.emit(out);
  recipes::PictureList pictures;
  auto plot = [&](const std::string& stem, const recipes::LinePlot& p) {
    std::string why;
    const std::string png = recipes::write_line_plot(out + "/" + stem, p, why);
    pictures.record(png, why);
  };
  plot(t2.name, recipes::gardener_entropy_plot(oracle, entropy_values));
  std::string corr_line;
  const recipes::Table tc = recipes::gardener_correlation_table(entropy_values, drops, e_rank, s_rank,
                                                                s.bootstrap_resamples, s.seed + 2024, corr_line);
  tc.emit(out);

  // ---- multi-block runs (one fine-tune, seed `s.seed`) ----
  struct Cell {
    std::vector<int64_t> removed;
    double gflops = 0, war = 0;
  };
  std::map<std::pair<int64_t, pruning::Criterion>, Cell> cells;
  for (int64_t k : s.ks) {
    for (pruning::Criterion c : pruning::all_criteria()) {
      Cell cell;
      if (c == pruning::Criterion::Random) {
        for (const auto& o : random_orders) {
          const auto& r = runner.run(pruning::blocks_to_remove(o, k), s.seed);
          cell.gflops = r.gflops;
          cell.war += r.acc_finetuned / double(random_orders.size());
        }
      } else {
        const auto& r = runner.run(pruning::blocks_to_remove(orders.at(c), k), s.seed);
        cell = {r.removed, r.gflops, r.acc_finetuned};
      }
      cells[{k, c}] = cell;
    }
  }
  const std::string cell_note =
      "Each cell: the pretrained model with the k blocks removed and the same single fine-tune (seed " +
      std::to_string(s.seed) + ")" +
      (std::isnan(run_sd) ? std::string(".")
                          : "; one run's seed sd is about " + recipes::fmt_percent(run_sd) +
                                " points (pooled over the oracle's seeds), so cells closer than ~" +
                                recipes::fmt(100 * run_sd * std::sqrt(2.0) * 2, 1) + " points are not separated.");

  // ---- Table 3 ----
  recipes::Table t3;
  t3.name = "table3";
  t3.title = "Table 3: multi-block pruning under different pruning ratios, WAR (%)";
  t3.columns = {"PR (%)", "Sensitivity", "Entropy", "L1 Norm", "Random"};
  for (int64_t k : s.ks)
    t3.add_row({ratio_str(k, depth), recipes::fmt_percent(cells[{k, pruning::Criterion::Sensitivity}].war),
                recipes::fmt_percent(cells[{k, pruning::Criterion::Entropy}].war),
                recipes::fmt_percent(cells[{k, pruning::Criterion::L1}].war),
                recipes::fmt_percent(cells[{k, pruning::Criterion::Random}].war)});
  t3.notes.push_back("Random: mean over " + std::to_string(s.random_draws) + " draws. Original (dense, same fine-tune) "
                     "WAR " + recipes::fmt_percent(dense_mean) + "% (mean of " + seeds_str + ").");
  t3.notes.push_back(cell_note);
  t3.emit(out);
  std::vector<std::pair<std::string, std::vector<double>>> war_by_order;  // Table 3 as a picture
  for (pruning::Criterion c : {pruning::Criterion::Sensitivity, pruning::Criterion::Entropy, pruning::Criterion::L1,
                               pruning::Criterion::Random}) {
    war_by_order.push_back({pruning::criterion_title(c), {}});
    for (int64_t k : s.ks) war_by_order.back().second.push_back(cells[{k, c}].war);
  }
  plot(t3.name, recipes::gardener_war_plot(s.ks, depth, war_by_order, dense_mean, s.random_draws));

  // ---- Tables 7-12 (appendix layout) ----
  int table_no = 7;
  for (int64_t k : s.ks) {
    recipes::Table t;
    t.name = "table" + std::to_string(table_no);
    t.title = "Table " + std::to_string(table_no++) + ": pruning strategies when removing " + std::to_string(k) +
              " block(s) (" + ratio_str(k, depth) + "%)";
    t.columns = {"Pruning Ratio", "Method", "Removed Block", "GFLOPs", "WAR (%)", "Δ (%)"};
    for (pruning::Criterion c : pruning::all_criteria()) {
      const Cell& cell = cells[{k, c}];
      t.add_row({ratio_str(k, depth) + "%", pruning::criterion_title(c),
                 c == pruning::Criterion::Random ? "mean of " + std::to_string(s.random_draws) + " draws"
                                                 : recipes::blocks_str(cell.removed),
                 recipes::fmt(cell.gflops, 4), recipes::fmt_percent(cell.war), recipes::fmt_percent(dense_mean - cell.war)});
    }
    t.notes.push_back("Δ = Original WAR (" + recipes::fmt_percent(dense_mean) + "%, dense, same fine-tune) - WAR; "
                      "blocks numbered from 1.");
    t.emit(out);
  }

  std::printf("\npictures (Tables 2 and 3):%s\n", pictures.summary().c_str());
  std::printf("\nentropy vs oracle: %s (bootstrap 95%%, %ld resamples)\n", corr_line.c_str(),
              long(s.bootstrap_resamples));
  std::printf("%ld distinct fine-tunes (%ld cache hits); pretraining/loading %.1f s; fine-tunes %.1f s; total wall "
              "time %.1f s\n",
              long(runner.runs()), long(runner.hits()), pretrain_seconds, now_s() - t_runs, now_s() - t0);
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
