// Tensors with a zero-size dim (legal in a safetensors file: shape [2, 0]) go through the
// strided elementwise kernels without touching memory: creation, copies of non-contiguous views,
// concat and arithmetic. Found by tests/fuzz/fuzz_hf_videomae: zeros({0, 0}) and cloning a
// transposed (2, 0) tensor divided by a zero dim size in for_each_row (SIGFPE).
#include <catch2/catch.hpp>

#include "tensor/creation.h"
#include "tensor/kernels.h"

using namespace shears;

TEST_CASE("empty tensors: every kernel visits no element and keeps the shape", "[tensor][empty]") {
  const std::vector<Shape> shapes = {{0}, {0, 2}, {2, 0}, {0, 0}, {0, 0, 1}, {2, 0, 3}, {3, 2, 0}};
  for (const Shape& s : shapes) {
    INFO("shape " << shape_str(s));
    const Tensor z = zeros(s);
    CHECK(z.shape() == s);
    CHECK(z.numel() == 0);
    CHECK(full(s, 2.0, DType::F64).numel() == 0);
    const Tensor t = kernels::transpose(z, 0, int64_t(s.size()) - 1);  // non-contiguous view
    const Tensor c = kernels::clone(t);
    CHECK(c.shape() == t.shape());
    CHECK(kernels::to_dtype(t, DType::F64).numel() == 0);
    const Tensor cat = kernels::concat({z, z, z}, 0);
    CHECK(cat.size(0) == 3 * s[0]);
    CHECK(kernels::binary(kernels::BinaryOp::Add, z, z).shape() == s);
  }
}
