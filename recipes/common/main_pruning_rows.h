// The main job's pruning rows, printed after its checkpoint is safe on disk: token pruning installed
// without fine-tuning (token_rows.h), Gardener's block removal with and without a short fine-tune
// (block_removal.h), and the stacked row (stacked_row.h), each emitted as a table under `out`.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/finetune.h"
#include "data/dataset.h"
#include "nn/vision_transformer.h"

namespace shears::recipes {

struct MainPruningRows {
  std::vector<std::string> token_policies;  // "evit", "renyi:2", ...
  double token_keep_rate = 0.7;
  std::vector<int64_t> gardener_ks;         // empty = no Gardener rows
  std::string stack_row = "none";           // pipeline of the stacked row; "none" = no row
  FinetuneOptions finetune;                 // the short fine-tune of the Gardener and stacked rows
  int64_t crop_padding = 2;                 // the training augmentation of those fine-tunes
  bool quick = false;                       // the CI smoke scale: one timing sample, small AMP sets
  std::string out;                          // tables (and the stacked row's checkpoints) go here
};

// Prints and writes the rows for the trained 28x28 Fashion-MNIST `model` (its test top-1 `dense_top1`).
void emit_main_pruning_rows(nn::VisionTransformer& model, double dense_top1, std::shared_ptr<const data::Dataset> train,
                            std::shared_ptr<const data::Dataset> test, const MainPruningRows& rows);

}  // namespace shears::recipes
