// Weight hash and cross-rank replica check (see replica_check.h).
#include "dist/replica_check.h"

#include "dist/world.h"
#include "tensor/kernels.h"

namespace shears::dist {

namespace {
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull, kFnvPrime = 0x100000001b3ull;

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}
}  // namespace

uint64_t weights_hash(const nn::Module& model) {
  uint64_t h = kFnvOffset;
  for (const auto& [name, tensor] : model.named_parameters()) {
    h = fnv1a(h, name.data(), name.size());
    const Tensor t = kernels::contiguous(tensor);
    h = fnv1a(h, t.raw_data(), size_t(t.numel()) * dtype_size(t.dtype()));
  }
  return h;
}

void check_replicas_identical(const nn::Module& model, const std::string& when) {
  const uint64_t h = weights_hash(model);
  SHEARS_CHECK(all_ranks_equal(h), "dist", "the ranks' weights differ ", when, " (rank ", rank(), " of ", size(),
               " has weight hash ", h, "): the replicas diverged");
}

}  // namespace shears::dist
