// recipes::EvenSubset: which base indices it keeps (floor(i * size / n)), that a class-sorted data
// set keeps every class evenly, that n > size keeps everything, and that n < 1 is refused.
#include <catch2/catch.hpp>

#include <map>

#include "common/dataset_subset.h"

using namespace shears;

namespace {

// Sample i has label (i / per_class): a class-sorted folder of `classes` x `per_class` samples.
class ClassSorted : public data::Dataset {
 public:
  ClassSorted(int64_t classes, int64_t per_class) : classes_(classes), per_class_(per_class) {}
  int64_t size() const override { return classes_ * per_class_; }
  int64_t num_classes() const override { return classes_; }
  std::string describe() const override { return "class-sorted"; }
  data::Sample get(int64_t index) const override {
    SHEARS_CHECK(index >= 0 && index < size(), "ClassSorted", "index ", index, " out of range");
    data::Sample s;
    s.label = index / per_class_;
    s.group = index;  // the base index, to see which sample the subset read
    return s;
  }

 private:
  int64_t classes_, per_class_;
};

}  // namespace

TEST_CASE("EvenSubset keeps floor(i * size / n) of the base", "[recipes_common][subset]") {
  auto base = std::make_shared<ClassSorted>(1, 10);
  recipes::EvenSubset sub(base, 4);
  REQUIRE(sub.size() == 4);
  std::vector<int64_t> got;
  for (int64_t i = 0; i < sub.size(); ++i) got.push_back(sub.get(i).group);
  CHECK(got == std::vector<int64_t>{0, 2, 5, 7});
  CHECK(sub.num_classes() == 1);
  CHECK(sub.describe() == "4 evenly spread samples of class-sorted");
}

TEST_CASE("EvenSubset of a class-sorted data set keeps every class evenly", "[recipes_common][subset]") {
  auto base = std::make_shared<ClassSorted>(5, 20);
  recipes::EvenSubset sub(base, 10);
  std::map<int64_t, int64_t> per_class;
  for (int64_t i = 0; i < sub.size(); ++i) ++per_class[sub.get(i).label];
  CHECK(per_class == std::map<int64_t, int64_t>{{0, 2}, {1, 2}, {2, 2}, {3, 2}, {4, 2}});
  // fewer samples than classes still spreads over the classes: 3 of 5 -> classes 0, 1, 3
  recipes::EvenSubset three(base, 3);
  CHECK(three.get(0).label == 0);
  CHECK(three.get(1).label == 1);
  CHECK(three.get(2).label == 3);
}

TEST_CASE("EvenSubset with n >= size keeps everything in order, n < 1 is refused", "[recipes_common][subset]") {
  auto base = std::make_shared<ClassSorted>(3, 4);
  for (int64_t n : {12, 13, 1000}) {
    recipes::EvenSubset all(base, n);
    REQUIRE(all.size() == 12);
    for (int64_t i = 0; i < 12; ++i) CHECK(all.get(i).group == i);
  }
  CHECK_THROWS_WITH(recipes::EvenSubset(base, 0), Catch::Contains("EvenSubset") && Catch::Contains("got 0"));
}
