// Parameter initializers (see init.h).
#include "nn/init.h"

#include <cmath>

namespace shears::nn {

Tensor trunc_normal(const Shape& shape, double std, Generator& gen) {
  Tensor t = randn(shape, DType::F32, &gen);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    double z = p[i];
    while (std::fabs(z) > 2.0) z = gen.normal();
    p[i] = static_cast<float>(z * std);
  }
  return t;
}

}  // namespace shears::nn
