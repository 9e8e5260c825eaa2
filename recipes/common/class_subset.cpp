// Class subset of a data set with relabelling (see class_subset.h).
#include "common/class_subset.h"

#include <algorithm>
#include <sstream>

#include "common/recipe_main.h"

namespace shears::recipes {

ClassSubset::ClassSubset(std::shared_ptr<const data::Dataset> base, std::vector<int64_t> classes)
    : base_(std::move(base)), classes_(std::move(classes)) {
  SHEARS_CHECK(!classes_.empty(), "ClassSubset", "no classes given (of ", base_->describe(), ")");
  const int64_t n = base_->num_classes();
  remap_.assign(static_cast<size_t>(n), -1);
  for (size_t i = 0; i < classes_.size(); ++i) {
    const int64_t c = classes_[i];
    SHEARS_CHECK(c >= 0 && c < n, "ClassSubset", "class ", c, " is not in [0, ", n, ") of ", base_->describe());
    SHEARS_CHECK(remap_[static_cast<size_t>(c)] < 0, "ClassSubset", "class ", c, " is listed twice");
    remap_[static_cast<size_t>(c)] = static_cast<int64_t>(i);
  }
  for (int64_t i = 0; i < base_->size(); ++i) {
    const int64_t label = base_->get(i).label;
    SHEARS_CHECK(label >= 0 && label < n, "ClassSubset", "sample ", i, " of ", base_->describe(), " has label ",
                 label, " outside [0, ", n, ")");
    if (remap_[static_cast<size_t>(label)] >= 0) index_.push_back(i);
  }
  SHEARS_CHECK(!index_.empty(), "ClassSubset", "no sample of ", base_->describe(), " has one of the classes ",
               describe());
}

data::Sample ClassSubset::get(int64_t index) const {
  SHEARS_CHECK(index >= 0 && index < size(), "ClassSubset", "index ", index, " out of range [0, ", size(), ")");
  data::Sample s = base_->get(index_[static_cast<size_t>(index)]);
  s.label = remap_[static_cast<size_t>(s.label)];
  return s;
}

std::string ClassSubset::describe() const {
  std::ostringstream s;
  s << "classes {";
  for (size_t i = 0; i < classes_.size(); ++i) s << (i ? "," : "") << classes_[i];
  s << "} (" << index_.size() << " samples) of " << base_->describe();
  return s.str();
}

std::vector<int64_t> parse_class_list(const std::string& text, const std::string& flag) {
  std::vector<int64_t> out;
  auto number = [&](const std::string& t) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    SHEARS_CHECK(used == t.size() && !t.empty() && v >= 0 && v <= (1 << 24), "class list", flag, ": '", t,
                 "' is not a class index (e.g. 0-4 or 5,6,7)");
    return static_cast<int64_t>(v);
  };
  for (const std::string& item : split_list(text)) {
    const size_t dash = item.find('-');
    if (dash == std::string::npos) {
      out.push_back(number(item));
    } else {
      const int64_t a = number(item.substr(0, dash)), b = number(item.substr(dash + 1));
      SHEARS_CHECK(a <= b, "class list", flag, ": range '", item, "' goes backwards");
      for (int64_t c = a; c <= b; ++c) out.push_back(c);
    }
  }
  SHEARS_CHECK(!out.empty(), "class list", flag, " is empty; give classes like 0-4 or 5,6,7");
  std::vector<int64_t> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  SHEARS_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), "class list", flag, ": '", text,
               "' lists a class twice");
  return out;
}

}  // namespace shears::recipes
