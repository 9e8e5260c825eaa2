// A data set as fixed calibration batches, in order and without shuffling (AMP's scoring and
// validation sets): the same images, the same batches, every run.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.h"
#include "pruning/transform.h"

namespace shears::recipes {

// Batches of `batch` samples of `d` through `tf`; drop_last keeps every batch full.
std::vector<pruning::CalibrationBatch> fixed_batches(std::shared_ptr<const data::Dataset> d, const data::Transform& tf,
                                                     int64_t batch, bool drop_last);

}  // namespace shears::recipes
