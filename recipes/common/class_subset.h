// A view of the samples of a data set whose labels are in a given class list, relabelled 0..k-1 in
// the list's order: the two halves of a data set's classes make a source task and a target task
// (P3B's transfer setting at mini scale: pre-train on classes 0-4, prune on 5-9 with a fresh head).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace shears::recipes {

class ClassSubset : public data::Dataset {
 public:
  // classes: distinct labels in [0, base->num_classes()), at least one. Reads every label of `base`
  // once (decodes every sample: meant for in-memory data sets). Throws naming the bad class.
  ClassSubset(std::shared_ptr<const data::Dataset> base, std::vector<int64_t> classes);
  int64_t size() const override { return static_cast<int64_t>(index_.size()); }
  data::Sample get(int64_t index) const override;
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  std::string describe() const override;

 private:
  std::shared_ptr<const data::Dataset> base_;
  std::vector<int64_t> classes_;
  std::vector<int64_t> index_;  // base indices kept, in base order
  std::vector<int64_t> remap_;  // base label -> new label (-1: dropped)
};

// "0-4" or "5,6,7" -> the class list; errors name `flag`.
std::vector<int64_t> parse_class_list(const std::string& text, const std::string& flag);

}  // namespace shears::recipes
