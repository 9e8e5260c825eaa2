// The main job's pruning rows (main_pruning_rows.h).
#include "common/main_pruning_rows.h"

#include <cstdio>

#include "common/block_removal.h"
#include "common/fashion_mnist_data.h"
#include "common/stacked_row.h"
#include "common/token_rows.h"

namespace shears::recipes {

void emit_main_pruning_rows(nn::VisionTransformer& model, double dense_top1, std::shared_ptr<const data::Dataset> train,
                            std::shared_ptr<const data::Dataset> test, const MainPruningRows& o) {
  std::printf("\n## Pruning the trained model\n\n");
  const nn::ModelConfig cfg = model.config();
  const data::Transform test_tf = fashion_mnist_test_transform(cfg);
  const data::Transform train_tf = fashion_mnist_train_transform(cfg, o.crop_padding);
  token_rows_table(token_pruning_rows(model, test, test_tf, o.token_policies, o.token_keep_rate, 250, o.quick ? 1 : 3))
      .emit(o.out);
  if (!o.gardener_ks.empty()) {
    std::string ks;
    for (int64_t k : o.gardener_ks) ks += (ks.empty() ? "" : "/") + std::to_string(k);
    std::printf("Gardener: removing the %s lowest-entropy block(s), then %ld fine-tune epoch(s) each ...\n",
                ks.c_str(), long(o.finetune.epochs));
    std::fflush(stdout);
    auto rows = gardener_rows(model, train, test, train_tf, test_tf, o.gardener_ks, o.finetune);
    Table t = gardener_rows_table(rows, model, dense_top1);
    t.title = "Gardener block removal (fp16 weight-number entropy, data-free ranking)";
    t.emit(o.out);
  }
  if (o.stack_row != "none") {
    StackedRowOptions so;
    so.steps = o.stack_row;
    so.recovery = o.finetune;
    so.models_dir = o.out + "/stacked";
    if (o.quick) so.score_images = 256, so.val_images = 256, so.calib_batch = 64, so.timing_samples = 1;
    std::printf("Stacked pruning: %s, then %ld fine-tune epoch(s) ...\n", o.stack_row.c_str(), long(so.recovery.epochs));
    std::fflush(stdout);
    stacked_row_table(model, train, test, train_tf, test_tf, so).emit(o.out);
  }
}

}  // namespace shears::recipes
