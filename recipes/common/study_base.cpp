// The start of a pruning study by scale (study_base.h): checks, loading / training the base, data.
#include "common/study_base.h"

#include <filesystem>
#include <sstream>

#include "common/cached_model.h"
#include "common/dataset_subset.h"
#include "common/fashion_mnist_data.h"
#include "common/finetune.h"
#include "common/fixed_batches.h"
#include "common/model_cost.h"
#include "common/timm_deit.h"
#include "data/datasets.h"
#include "nn/checkpoint.h"
#include "tensor/error.h"

namespace shears::recipes {

nn::ModelConfig SmokeBaseSpec::config() const { return fashion_mnist_vit(patch, dim, depth, heads, mlp); }

std::string SmokeBaseSpec::describe(uint64_t seed) const {
  std::ostringstream s;
  s << "ViT patch " << patch << " dim " << dim << " depth " << depth << " heads " << heads << " mlp " << mlp
    << "; Fashion-MNIST first " << images << " training images, " << epochs << " epochs, batch " << batch
    << ", AdamW lr " << lr << " (recipes::finetune defaults otherwise), random crop + flip; seed " << seed;
  return s.str();
}

std::string study_model_name(const nn::ModelConfig& c) {
  if (c.patch_size == 16 && c.dim == 384 && c.depth() == 12) return "DeiT-S";
  if (c.patch_size == 16 && c.dim == 768 && c.depth() == 12) return "DeiT-B";
  return "ViT p" + std::to_string(c.patch_size) + " d" + std::to_string(c.dim) + " x" + std::to_string(c.depth()) +
         " MLP " + std::to_string(c.blocks.front().mlp_hidden);
}

void check_study_base_options(const StudyBaseOptions& o, const char* prog) {
  SHEARS_CHECK(o.scale == "smoke" || o.scale == "mini" || o.scale == "paper", prog,
               "--scale must be 'smoke', 'mini' or 'paper', got '", o.scale, "'");
  SHEARS_CHECK(o.score_images >= 1 && o.score_batch >= 2, prog, "--score-images must be >= 1 and --score-batch >= 2");
  SHEARS_CHECK(o.val_batch >= 2, prog, "--val-batch must be >= 2 (E <= ln(batch)), got ", o.val_batch);
  SHEARS_CHECK(o.val_images >= o.val_batch, prog, "--val-images (", o.val_images,
               ") must hold at least one --val-batch (", o.val_batch, "): the batches are fixed and drop_last");
  SHEARS_CHECK(o.eval_limit >= 0, prog, "--eval-limit must be >= 0, got ", o.eval_limit);
  SHEARS_CHECK(o.throughput_batch >= 1, prog, "--throughput-batch must be >= 1, got ", o.throughput_batch);
  SHEARS_CHECK(o.heads >= 0, prog, "--heads must be >= 0, got ", o.heads);
  if (o.scale == "paper") {
    SHEARS_CHECK(!o.checkpoint.empty(), prog, "--scale paper needs --checkpoint <timm ViT/DeiT .safetensors>");
    SHEARS_CHECK(std::filesystem::is_regular_file(o.checkpoint), prog, "--checkpoint '", o.checkpoint,
                 "' is not a file");
    SHEARS_CHECK(!o.train_dir.empty(), prog,
                 "--scale paper needs --train-dir <ImageFolder root/<class>/<images>> (scoring, validation, training)");
    SHEARS_CHECK(!o.val_dir.empty(), prog, "--scale paper needs --val-dir <ImageFolder root/<class>/<images>> (top-1)");
    SHEARS_CHECK(std::filesystem::is_directory(o.train_dir), prog, "--train-dir '", o.train_dir, "' is not a folder");
    SHEARS_CHECK(std::filesystem::is_directory(o.val_dir), prog, "--val-dir '", o.val_dir, "' is not a folder");
  } else {
    SHEARS_CHECK(o.train_dir.empty() && o.val_dir.empty(), prog, "--train-dir and --val-dir belong to --scale paper");
    if (o.scale == "mini")
      SHEARS_CHECK(!o.checkpoint.empty(), prog, "--scale mini needs --checkpoint (the main job's model)");
    if (!o.checkpoint.empty())
      SHEARS_CHECK(std::filesystem::is_regular_file(o.checkpoint), prog, "--checkpoint '", o.checkpoint,
                   "' is not a file (run the main job: bash scripts/main.sh writes runs/main/vit_fmnist.safetensors"
                   ", or give its path)");
  }
}

StudyBase prepare_study_base(const StudyBaseOptions& o, const char* prog) {
  StudyBase st;
  std::shared_ptr<const data::Dataset> train, test;
  if (o.scale == "paper") {
    timm_vit_config(o.checkpoint, 0, o.heads);  // a wrong file fails before the folders are listed
    auto tr = std::make_shared<data::ImageFolder>(o.train_dir);
    auto va = std::make_shared<data::ImageFolder>(o.val_dir);
    SHEARS_CHECK(tr->classes() == va->classes(), prog, "--train-dir '", o.train_dir, "' (", tr->num_classes(),
                 " classes) and --val-dir '", o.val_dir, "' (", va->num_classes(), " classes) must have the same classes");
    bool head_replaced = false;
    st.original = load_timm_vit(o.checkpoint, tr->num_classes(), o.heads, &head_replaced);
    st.model_desc = "timm " + o.checkpoint +
                    (head_replaced ? " (the file's head does not fit " + std::to_string(tr->num_classes()) +
                                         " classes: a FRESH head, so top-1 is near chance until it is trained)"
                                   : " (its own head)");
    train = tr, test = va;
    const int64_t size = st.original->config().image_size;
    st.train_tf = deit_train_transform(size, 0.0);
    st.eval_tf = deit_eval_transform(size);
    st.dataset_name = o.val_dir;
  } else {
    FashionMnistSplits splits = load_fashion_mnist_splits(o.data_dir, 0, 0);
    train = splits.train;
    test = splits.test;
    st.dataset_name = "Fashion-MNIST";
    if (!o.checkpoint.empty()) {
      st.original = nn::load_model(o.checkpoint);
      const nn::ModelConfig c = st.original->config();
      SHEARS_CHECK(c.has_cls_token() && c.in_chans == 1 && c.image_size == 28 && c.num_classes == 10, prog,
                   "--checkpoint '", o.checkpoint, "' holds a ", c.arch, " model for ", c.image_size, "x",
                   c.image_size, "x", c.in_chans, " inputs with ", c.num_classes,
                   " classes; expected a 10-class ViT with a CLS token for 28x28x1 Fashion-MNIST (the main job's)");
      SHEARS_CHECK(st.original->prune_log.empty(), prog, "--checkpoint '", o.checkpoint,
                   "' is already pruned (its prune log has ", st.original->prune_log.size(),
                   " steps); the study starts from an unpruned model");
      st.model_desc = o.checkpoint;
    } else {  // smoke: the tiny base, trained once and cached
      const SmokeBaseSpec& b = o.smoke;
      auto base_train = std::make_shared<RangeSubset>(train, 0, b.images);
      const std::string recipe = b.describe(o.seed);
      const std::string path = (std::filesystem::path(o.out) / "base_model.safetensors").string();
      CachedModel cached = load_or_build_model(
          path, recipe, o.retrain_base,
          [&] {
            auto m = std::make_shared<nn::VisionTransformer>(b.config(), o.seed);
            FinetuneOptions f;
            f.epochs = b.epochs, f.batch_size = b.batch, f.lr = b.lr, f.seed = o.seed;
            finetune(*m, base_train, fashion_mnist_train_transform(m->config()), f);
            return m;
          },
          {{"shears.recipe", std::string(prog) + " --scale smoke base"}});
      st.original = cached.model;
      st.model_desc = std::string("tiny base ") + (cached.reused ? "cached in " : "trained here, cached in ") + path +
                      " (" + recipe + ")";
    }
    st.train_tf = fashion_mnist_train_transform(st.original->config());
    st.eval_tf = fashion_mnist_test_transform(st.original->config());
  }
  StudyBase full = study_base_for(st.original, train, test, st.train_tf, st.eval_tf, o, prog);
  full.model_desc = st.model_desc;
  full.dataset_name = st.dataset_name;
  return full;
}

StudyBase study_base_for(std::shared_ptr<nn::VisionTransformer> model, std::shared_ptr<const data::Dataset> train,
                         std::shared_ptr<const data::Dataset> test, data::Transform train_tf, data::Transform eval_tf,
                         const StudyBaseOptions& o, const char* prog) {
  StudyBase st;
  st.original = std::move(model);
  st.train_tf = std::move(train_tf);
  st.eval_tf = std::move(eval_tf);
  st.original->eval();
  st.model_name = study_model_name(st.original->config());
  st.train = train;
  st.test = o.eval_limit > 0 ? std::shared_ptr<const data::Dataset>(std::make_shared<EvenSubset>(test, o.eval_limit))
                             : test;
  // scoring set = the first score_images training images; validation = the next val_images (disjoint)
  SHEARS_CHECK(o.score_images + o.val_images <= train->size(), prog, "--score-images + --val-images (",
               o.score_images + o.val_images, ") exceed the ", train->size(), " training samples of ",
               train->describe(), ": lower them");
  auto scoring = std::make_shared<RangeSubset>(train, 0, o.score_images);
  auto validation = std::make_shared<RangeSubset>(train, o.score_images, o.val_images);
  st.scoring = fixed_batches(scoring, st.eval_tf, o.score_batch, false);
  st.validation = fixed_batches(validation, st.eval_tf, o.val_batch, true);
  st.scoring_desc = "training images 0.." + std::to_string(o.score_images - 1) + " (" +
                    std::to_string(st.scoring.size()) + " batches of <= " + std::to_string(o.score_batch) +
                    ", evaluation transform)";
  const int64_t used = int64_t(st.validation.size()) * o.val_batch;
  st.validation_desc = "training images " + std::to_string(o.score_images) + ".." +
                       std::to_string(o.score_images + used - 1) + " (" + std::to_string(st.validation.size()) +
                       " fixed batches of " + std::to_string(o.val_batch) + ", drop_last, evaluation transform)";
  st.timing_images = first_inputs(st.test, st.eval_tf, st.original->config(), o.throughput_batch);
  return st;
}

}  // namespace shears::recipes
