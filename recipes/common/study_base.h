// The model and data a pruning study of a trained ViT starts from, by --scale (shared by shears_amp
// and shears_compose): smoke = a tiny Fashion-MNIST ViT trained here and cached under --out (or a
// given shears checkpoint); mini = a shears checkpoint of a 10-class 28x28x1 ViT (the main job's);
// paper = a timm ViT/DeiT safetensors file + ImageFolder train/val folders. Also the fixed scoring and
// validation batches (disjoint ranges of the training split, evaluation transform) that data-driven
// steps read, and the fixed batch every model is timed on.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"
#include "nn/vision_transformer.h"
#include "pruning/transform.h"

namespace shears::recipes {

// The smoke scale's base: a tiny patch-7 ViT trained with recipes::finetune on the first `images`
// Fashion-MNIST training images, cached by recipes::load_or_build_model under the recipe text.
struct SmokeBaseSpec {
  int64_t dim = 32, depth = 3, heads = 2, mlp = 64, patch = 7, images = 4096, epochs = 4, batch = 64;
  double lr = 3e-3;
  nn::ModelConfig config() const;
  std::string describe(uint64_t seed) const;  // every setting that changes the weights (the cache key)
};

struct StudyBaseOptions {
  std::string scale;       // smoke | mini | paper
  std::string out;         // folder of the cached smoke base (base_model.safetensors)
  std::string data_dir;    // smoke/mini: Fashion-MNIST IDX folder
  std::string checkpoint;  // mini: shears file (required); smoke: optional; paper: timm file (required)
  std::string train_dir, val_dir;  // paper: ImageFolder roots
  int64_t heads = 0;               // paper: heads per block (0 = width / 64)
  int64_t eval_limit = 0;          // test samples, evenly spread (0 = all)
  int64_t score_images = 5120, score_batch = 128, val_images = 2048, val_batch = 128;
  int64_t throughput_batch = 256;
  bool retrain_base = false;  // smoke: train the tiny base again
  uint64_t seed = 0;
  SmokeBaseSpec smoke;
};

struct StudyBase {
  std::shared_ptr<nn::VisionTransformer> original;  // eval mode, unpruned
  std::string model_desc, model_name, dataset_name;
  std::shared_ptr<const data::Dataset> train, test;
  data::Transform train_tf, eval_tf;
  std::vector<pruning::CalibrationBatch> scoring, validation;  // fixed, disjoint training ranges
  std::string scoring_desc, validation_desc;
  Tensor timing_images;  // the first throughput_batch test inputs, preprocessed
};

// Checks the options before anything is loaded: paper needs --checkpoint/--train-dir/--val-dir (existing),
// the other scales refuse --train-dir/--val-dir and a --checkpoint that is not a file; batch sizes and
// counts in range. Errors name `prog` and the flag.
void check_study_base_options(const StudyBaseOptions& o, const char* prog);

// Loads (or, smoke, trains and caches) the model and the data. A mini/smoke checkpoint must be a
// 10-class 28x28x1 ViT with a CLS token and an empty prune log (the study prunes it).
StudyBase prepare_study_base(const StudyBaseOptions& o, const char* prog);

// The data part of a study for a model the caller already has (the main job's stacked row): the
// scoring and validation batches (training ranges as in prepare_study_base), the timing batch, and the
// given sets and transforms. `o` supplies the image counts, batch sizes and eval limit.
StudyBase study_base_for(std::shared_ptr<nn::VisionTransformer> model, std::shared_ptr<const data::Dataset> train,
                         std::shared_ptr<const data::Dataset> test, data::Transform train_tf, data::Transform eval_tf,
                         const StudyBaseOptions& o, const char* prog);

// "DeiT-S", "DeiT-B", or "ViT p7 d128 x6 MLP 256".
std::string study_model_name(const nn::ModelConfig& c);

}  // namespace shears::recipes
