// Fuzz target: the pruning step grammar (pruning::parse_steps, docs/transforms.md). Accepted
// text must give transforms whose canonical names parse again to the same names.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "pruning/transform.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shears;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_shears_errors_only("fuzz_steps", [&] {
    const auto steps = pruning::parse_steps(text);
    std::string canonical;
    for (const auto& s : steps) canonical += (canonical.empty() ? "" : ",") + s->name();
    if (steps.empty()) return;
    const auto again = pruning::parse_steps(canonical);
    std::string canonical_again;
    for (const auto& s : again) canonical_again += (canonical_again.empty() ? "" : ",") + s->name();
    fuzz::require(canonical_again == canonical, "fuzz_steps",
                  "canonical names do not parse back: '" + canonical + "' -> '" + canonical_again + "'");
  });
  fuzz::expect_shears_errors_only("fuzz_steps", [&] { pruning::parse_step(text); });
  return 0;
}
