// Checks shears_compose's outputs from a fresh process (tests/recipes/test_compose.sh): compose_points.json
// parses and every point has its fields in range, and every point's checkpoint reloads from the file alone
// (pruning::load_model) and scores exactly the top-1 the study reported on the same test images.
// Usage: check_compose_outputs <out dir> <Fashion-MNIST dir>
#include <cstdio>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/dataset_subset.h"
#include "common/evaluate.h"
#include "common/fashion_mnist_data.h"
#include "pruning/provenance.h"

using namespace shears;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: check_compose_outputs <out dir> <Fashion-MNIST dir>\n");
    return 2;
  }
  const std::string out = argv[1];
  std::ifstream in(out + "/compose_points.json");
  if (!in) {
    std::fprintf(stderr, "FAIL: %s/compose_points.json missing\n", out.c_str());
    return 1;
  }
  const nlohmann::json j = nlohmann::json::parse(in);  // throws (exit != 0) on bad JSON
  const auto& points = j.at("points");
  int failures = 0;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    ++failures;
  };
  if (points.size() < 4) fail("fewer than 4 points");
  const auto splits = recipes::load_fashion_mnist_splits(argv[2], 0, 0);
  int dense = 0, stacks = 0;
  for (const auto& p : points) {
    const std::string pipeline = p.at("pipeline").get<std::string>();
    const double top1 = p.at("top1").get<double>(), gflops = p.at("gflops").get<double>();
    const int64_t n = p.at("n_test").get<int64_t>();
    dense += pipeline.empty();
    stacks += p.at("stack").get<bool>();
    if (!(top1 >= 0 && top1 <= 1)) fail(pipeline + ": top1 out of [0, 1]");
    if (!(gflops > 0) || !(p.at("speedup").get<double>() > 0)) fail(pipeline + ": GFLOPs or speed-up not positive");
    if (p.at("prune_log").size() != (pipeline.empty() ? 0u : p.at("prune_log").size()) ||
        (!pipeline.empty() && p.at("prune_log").empty()))
      fail(pipeline + ": a pruned point without a prune log");
    auto model = pruning::load_model(p.at("checkpoint").get<std::string>());
    auto test = std::make_shared<recipes::EvenSubset>(splits.test, n);
    const double again = recipes::evaluate_accuracy(*model, test, recipes::fashion_mnist_test_transform(model->config())).top1;
    if (again != top1)
      fail(p.at("checkpoint").get<std::string>() + ": reloaded top-1 " + std::to_string(again) + " != reported " +
           std::to_string(top1));
  }
  if (dense != 2) fail("expected the dense point twice (pruned state and fine-tuned control), got " + std::to_string(dense));
  if (stacks == 0) fail("no stack among the points");
  std::printf("%zu points checked: JSON fields, checkpoints reload and reproduce their top-1\n", points.size());
  return failures ? 1 : 0;
}
