// Views of a data set: EvenSubset, `n` samples spread evenly over it (index i -> floor(i * size / n)),
// so a class-sorted folder keeps every class (trial runs and time budgets: --train-limit); and
// RangeSubset, the samples [begin, begin + n) (disjoint scoring and validation ranges).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "tensor/error.h"

namespace shears::recipes {

class EvenSubset : public data::Dataset {
 public:
  // n > size keeps everything; n must be >= 1.
  EvenSubset(std::shared_ptr<const data::Dataset> base, int64_t n)
      : base_(std::move(base)), n_(std::min<int64_t>(n, base_->size())) {
    SHEARS_CHECK(n >= 1, "EvenSubset", "need at least 1 sample, got ", n, " (of ", base_->describe(), ")");
  }
  int64_t size() const override { return n_; }
  data::Sample get(int64_t index) const override { return base_->get(index * base_->size() / n_); }
  int64_t num_classes() const override { return base_->num_classes(); }
  std::string describe() const override {
    return std::to_string(n_) + " evenly spread samples of " + base_->describe();
  }

 private:
  std::shared_ptr<const data::Dataset> base_;
  int64_t n_;
};

// Samples [begin, begin + n) of a data set; the range must lie inside it.
class RangeSubset : public data::Dataset {
 public:
  RangeSubset(std::shared_ptr<const data::Dataset> base, int64_t begin, int64_t n)
      : base_(std::move(base)), begin_(begin), n_(n) {
    SHEARS_CHECK(begin >= 0 && n >= 1 && begin + n <= base_->size(), "RangeSubset", "samples ", begin, "..",
                 begin + n - 1, " do not lie in ", base_->describe(), " (", base_->size(), " samples)");
  }
  int64_t size() const override { return n_; }
  data::Sample get(int64_t index) const override { return base_->get(begin_ + index); }
  int64_t num_classes() const override { return base_->num_classes(); }
  std::string describe() const override {
    return "samples " + std::to_string(begin_) + ".." + std::to_string(begin_ + n_ - 1) + " of " + base_->describe();
  }

 private:
  std::shared_ptr<const data::Dataset> base_;
  int64_t begin_, n_;
};

}  // namespace shears::recipes
