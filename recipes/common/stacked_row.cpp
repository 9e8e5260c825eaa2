// The main job's stacked row (stacked_row.h).
#include "common/stacked_row.h"

#include <algorithm>

#include "common/compose_study.h"
#include "common/evaluate.h"
#include "common/model_cost.h"
#include "common/study_base.h"
#include "pruning/provenance.h"

namespace shears::recipes {

Table stacked_row_table(const nn::VisionTransformer& model, std::shared_ptr<const data::Dataset> train,
                        std::shared_ptr<const data::Dataset> test, data::Transform train_tf, data::Transform test_tf,
                        const StackedRowOptions& options) {
  StudyBaseOptions o;
  o.score_images = std::min<int64_t>(options.score_images, train->size() / 2);
  o.val_images = std::min<int64_t>(options.val_images, train->size() - o.score_images);
  o.score_batch = o.val_batch = std::min<int64_t>(options.calib_batch, o.val_images);
  o.throughput_batch = 256;
  const StudyBase base = study_base_for(pruning::clone_model(model), train, test, train_tf, test_tf, o, "stacked row");
  ComposeRunOptions ro;
  ro.recovery = options.recovery;
  ro.p3b_run = options.recovery;
  ro.p3b_run.lr = 5e-4 * double(options.recovery.batch_size) / 512.0;  // P3B's pruning run: the authors' rule
  ro.timing.samples = options.timing_samples;
  ro.models_dir = options.models_dir;
  ComposeRunner runner(base, ro);
  const std::vector<ComposePoint> points = runner.run(make_pipeline(options.steps));
  const ComposePoint& first = points.front();
  Table t;
  t.name = "stacked_row";
  t.title = "Stacked pruning: " + first.pipeline.family + " (`" + options.steps + "`)";
  t.columns = {"Model", "Params (M)", "GFLOPs", "GFLOPs / dense", "Speed-up", "Top-1 (%) ± SE"};
  const ModelCost dense = model_cost(*base.original, base.timing_images);
  ComposePoint d;  // the dense model's top-1 on the same test images, for its SE
  d.top1 = evaluate_accuracy(*base.original, base.test, base.eval_tf, 250).top1;
  d.n_test = base.test->size();
  t.add_row({"dense", fmt(dense.params / 1e6, 3), fmt(dense.gflops, 5), "1.000", "1.00x",
             fmt_percent(d.top1) + " ± " + fmt(100 * d.se(), 2)});
  for (const ComposePoint& p : points)
    t.add_row({p.finetuned ? "stack + " + std::to_string(options.recovery.epochs) + " fine-tune epoch(s)"
                           : "stack, no fine-tune",
               fmt(p.params / 1e6, 3), fmt(p.gflops, 5), fmt(p.gflops / dense.gflops, 3), fmt(p.speedup(), 2) + "x",
               fmt_percent(p.top1) + " ± " + fmt(100 * p.se(), 2)});
  t.notes.push_back("The stack is the composition study's most accurate mini stack at about half the dense GFLOPs "
                    "(shears_compose, docs/compose.md); --stack-row changes it. Speed-up: no-grad forward of 256 test "
                    "images, medians of interleaved samples against the dense model. Checkpoints: " +
                    options.models_dir + " (each reloaded from its file and re-scored).");
  return t;
}

}  // namespace shears::recipes
