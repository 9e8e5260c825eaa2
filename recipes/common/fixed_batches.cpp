// Fixed in-order calibration batches (see fixed_batches.h).
#include "common/fixed_batches.h"

#include "data/data_loader.h"

namespace shears::recipes {

std::vector<pruning::CalibrationBatch> fixed_batches(std::shared_ptr<const data::Dataset> d, const data::Transform& tf,
                                                     int64_t batch, bool drop_last) {
  data::LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = false;
  o.drop_last = drop_last;
  o.prefetch = 0;
  data::DataLoader loader(d, o, tf);
  loader.start_epoch(0);
  std::vector<pruning::CalibrationBatch> out;
  for (data::Batch b; loader.next(b);) out.push_back({b.inputs, b.labels});
  return out;
}

}  // namespace shears::recipes
