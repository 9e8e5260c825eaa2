// The main job's stacked row: one pipeline of several pruning methods (by default the composition
// study's most accurate mini stack at about half the dense GFLOPs; docs/compose.md) applied to the
// trained model through the study's runner (recipes/common/compose_study.h), measured right after
// pruning and after one recovery fine-tune, both saved and reloaded from their files.
#pragma once
#include <memory>
#include <string>

#include "common/finetune.h"
#include "common/report.h"
#include "data/dataset.h"
#include "data/transforms.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

struct StackedRowOptions {
  std::string steps;             // pruning/transform.h pipeline
  FinetuneOptions recovery;      // the fine-tune after the stack (epochs 0 = none)
  std::string models_dir;        // where the two checkpoints go
  int64_t score_images = 5120, val_images = 2048, calib_batch = 128;  // AMP's scoring / validation images
  int timing_samples = 3;
};

// Table "stacked_row": the dense model, the stack right after pruning, and after the fine-tune (params,
// GFLOPs and their ratio to dense, measured speed-up interleaved with the dense model, top-1 ± SE).
Table stacked_row_table(const nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train,
                        std::shared_ptr<const data::Dataset> test, data::Transform train_tf, data::Transform test_tf,
                        const StackedRowOptions& options);

}  // namespace shears::recipes
