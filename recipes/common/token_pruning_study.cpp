// Base model and data of the token-pruning study (see token_pruning_study.h).
#include "common/token_pruning_study.h"

#include <cstdio>
#include <filesystem>

#include "common/cached_model.h"
#include "common/dataset_subset.h"
#include "common/fashion_mnist_data.h"
#include "common/model_cost.h"
#include "common/report.h"
#include "common/timm_deit.h"
#include "data/datasets.h"
#include "nn/checkpoint.h"
#include "train/progress.h"

namespace shears::recipes {

TokenPruningStudy prepare_token_pruning_study(const TokenPruningSettings& s, const char* prog,
                                              const RootFirst& root_first, bool is_root) {
  TokenPruningStudy st;
  if (s.scale == "paper") {
    timm_deit_config(s.checkpoint, 1000);  // a wrong file fails before the folders are listed
    auto train = std::make_shared<data::ImageFolder>(s.train_dir);
    auto val = std::make_shared<data::ImageFolder>(s.val_dir);
    SHEARS_CHECK(train->classes() == val->classes(), prog, "--train-dir '", s.train_dir, "' (",
                 train->num_classes(), " classes) and --val-dir '", s.val_dir, "' (", val->num_classes(),
                 " classes) must have the same class folders");
    bool head_replaced = false;
    st.base = load_timm_deit(s.checkpoint, train->num_classes(), s.drop_path, &head_replaced);
    st.base_desc = "timm " + std::string(st.base->config().dim == 384 ? "DeiT-S" : "DeiT-B") + " from " +
                   s.checkpoint + (head_replaced ? " (fresh " + std::to_string(train->num_classes()) + "-class head)" : "");
    st.train = s.train_limit > 0 ? std::shared_ptr<const data::Dataset>(std::make_shared<EvenSubset>(train, s.train_limit))
                                 : train;
    st.test = s.eval_limit > 0 ? std::shared_ptr<const data::Dataset>(std::make_shared<EvenSubset>(val, s.eval_limit))
                               : val;
    st.train_tf = deit_train_transform(224, 0.25);
    st.test_tf = deit_eval_transform(224);
    st.dataset_name = s.train_dir;
  } else {
    FashionMnistSplits splits = load_fashion_mnist_splits(s.data_dir, s.train_limit, s.eval_limit);
    st.train = splits.train;
    st.test = splits.test;
    st.dataset_name = "Fashion-MNIST";
    if (!s.base_checkpoint.empty()) {
      st.base = nn::load_model(s.base_checkpoint);
      const nn::ModelConfig c = st.base->config();
      SHEARS_CHECK(c.has_cls_token() && c.in_chans == 1 && c.image_size == 28, prog, "--base-checkpoint '",
                   s.base_checkpoint, "' holds a ", c.arch, " model for ", c.image_size, "x", c.image_size, "x",
                   c.in_chans, " inputs; expected a ViT with a CLS token for 28x28x1 Fashion-MNIST (the main job's)");
      st.base_desc = s.base_checkpoint;
    } else {  // the patch-4 base: trained here once, cached under --out
      auto base_train = load_fashion_mnist_splits(s.data_dir, s.base.train_images, 1).train;
      const std::string recipe = s.base.describe(base_train->size());
      const std::string path = (std::filesystem::path(s.out) / "base_model.safetensors").string();
      const double t0 = train::now_s();
      CachedModel cached;
      const std::function<void()> load_or_build = [&] {
        cached = load_or_build_model(
            path, recipe, s.retrain_base && is_root,
            [&] {
              std::printf("base: training %s (%s) ...\n", recipe.c_str(),
                          s.retrain_base ? "--retrain-base" : "no cached model with this recipe");
              std::fflush(stdout);
              return train_token_pruning_base(s.base, base_train, s.scale == "mini" ? 200 : 0);
            },
            {{"shears.recipe", std::string(prog) + " --scale " + s.scale + " base"}});
      };
      if (root_first) root_first(load_or_build);  // under mpirun: rank 0 builds the cache, then the others load it
      else load_or_build();
      st.base = cached.model;
      if (cached.reused) {
        st.base_desc = "patch-4 base cached in " + path + " (" + recipe + ")";
      } else {
        st.base_train_seconds = train::now_s() - t0;
        st.base_desc = "patch-4 base trained here (" + recipe + ") in " + fmt(st.base_train_seconds, 0) +
                       " s, cached in " + path + " [" + cached.reason + "]";
      }
      std::printf("base: %s\n", st.base_desc.c_str());
    }
    st.train_tf = fashion_mnist_train_transform(st.base->config());
    st.test_tf = fashion_mnist_test_transform(st.base->config());
  }
  st.timing_images = first_inputs(st.test, st.test_tf, st.base->config(), s.throughput_batch);
  return st;
}

}  // namespace shears::recipes
