// Bad input throws shears::Error whose message names the op ("[op] ...") and the
// offending shapes, dims, dtypes or index values: shape mismatches, bad dims, dtype
// mismatches, out-of-range indices, bad reshapes/narrows/concats and autograd misuse.
#include <catch2/catch.hpp>

#include "autograd/node.h"
#include "autograd/ops.h"

using namespace shears;
using Catch::Matchers::Contains;

namespace {
Tensor f32(const Shape& s) { return ones(s, DType::F32); }
Tensor f64(const Shape& s) { return ones(s, DType::F64); }
Tensor idx(const std::vector<int64_t>& v, const Shape& s = {}) { return from_vector(v, s); }
}  // namespace

TEST_CASE("errors: matmul inner-dim mismatch names both shapes", "[errors]") {
  REQUIRE_THROWS_AS(matmul(f32({2, 3}), f32({4, 5})), Error);
  REQUIRE_THROWS_WITH(matmul(f32({2, 3}), f32({4, 5})),
                      Contains("[matmul]") && Contains("(2, 3)") && Contains("(4, 5)"));
  // batched, and through 1-d promotion
  REQUIRE_THROWS_WITH(matmul(f32({7, 2, 3}), f32({7, 4, 5})),
                      Contains("[matmul]") && Contains("(7, 2, 3)") && Contains("(7, 4, 5)"));
  REQUIRE_THROWS_WITH(matmul(f32({3}), f32({4, 5})), Contains("[matmul]") && Contains("(4, 5)"));
  REQUIRE_THROWS_WITH(matmul(f32({2, 3}), f32({4})), Contains("[matmul]") && Contains("(2, 3)"));
  // non-broadcastable batch dims
  REQUIRE_THROWS_WITH(matmul(f32({2, 3, 4}), f32({5, 4, 6})),
                      Contains("[matmul]") && Contains("(2, 3, 4)") && Contains("(5, 4, 6)"));
  // 0-d operands
  REQUIRE_THROWS_WITH(matmul(f32({}), f32({3})), Contains("[matmul]") && Contains("()"));
  // the raw kernel validates too
  REQUIRE_THROWS_WITH(kernels::matmul(f32({2, 3}), f32({4, 5})),
                      Contains("[matmul]") && Contains("(2, 3)") && Contains("(4, 5)"));
}

TEST_CASE("errors: matmul dtype mismatch names both dtypes", "[errors]") {
  REQUIRE_THROWS_AS(matmul(f32({2, 3}), f64({3, 4})), Error);
  REQUIRE_THROWS_WITH(matmul(f32({2, 3}), f64({3, 4})), Contains("[matmul]") && Contains("f32") && Contains("f64"));
  REQUIRE_THROWS_WITH(matmul(ones({2, 3}, DType::I64), ones({3, 4}, DType::I64)),
                      Contains("[matmul]") && Contains("i64"));
}

TEST_CASE("errors: elementwise shape mismatch names the op and both shapes", "[errors]") {
  REQUIRE_THROWS_AS(add(f32({2, 3}), f32({4, 5})), Error);
  REQUIRE_THROWS_WITH(add(f32({2, 3}), f32({4, 5})),
                      Contains("[add]") && Contains("(2, 3)") && Contains("(4, 5)") && Contains("broadcast"));
  REQUIRE_THROWS_WITH(f32({2, 3}) + f32({2}), Contains("[add]") && Contains("(2, 3)") && Contains("(2,)"));
  REQUIRE_THROWS_WITH(sub(f32({3, 1, 4}), f32({2, 5})),
                      Contains("[sub]") && Contains("(3, 1, 4)") && Contains("(2, 5)"));
  REQUIRE_THROWS_WITH(mul(f64({2, 3}), f64({3, 2})), Contains("[mul]") && Contains("(2, 3)") && Contains("(3, 2)"));
  REQUIRE_THROWS_WITH(div(f64({4}), f64({5})), Contains("[div]") && Contains("(4,)") && Contains("(5,)"));
  REQUIRE_THROWS_WITH(where(gt(f32({2, 3}), f32({2, 3})), f32({2, 3}), f32({4})),
                      Contains("[where]") && Contains("(4,)"));
}

TEST_CASE("errors: dtype mismatch in elementwise ops names both dtypes", "[errors]") {
  REQUIRE_THROWS_AS(add(f32({2, 3}), f64({2, 3})), Error);
  REQUIRE_THROWS_WITH(add(f32({2, 3}), f64({2, 3})),
                      Contains("[add]") && Contains("f32") && Contains("f64") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(mul(f64({3}), f32({3})), Contains("[mul]") && Contains("f64") && Contains("f32"));
  REQUIRE_THROWS_WITH(where(gt(f32({2}), f32({2})), f32({2}), f64({2})), Contains("[where]") && Contains("f64"));
  REQUIRE_THROWS_WITH(where(f32({2}), f32({2}), f32({2})), Contains("[where]") && Contains("bool") && Contains("f32"));
  REQUIRE_THROWS_WITH(exp(ones({2}, DType::I64)), Contains("[exp]") && Contains("i64"));
  REQUIRE_THROWS_WITH(mean(ones({2}, DType::I64)), Contains("[mean]") && Contains("i64"));
  REQUIRE_THROWS_WITH(softmax(ones({2, 3}, DType::I64), 1), Contains("[softmax]") && Contains("i64"));
  REQUIRE_THROWS_WITH(concat({f32({2}), f64({2})}, 0), Contains("[concat]") && Contains("f32") && Contains("f64"));
  REQUIRE_THROWS_WITH(randn({2}, DType::I64), Contains("[randn]") && Contains("i64"));
}

TEST_CASE("errors: bad dims name the op, the dim and the rank", "[errors]") {
  Tensor x = f32({2, 3});
  REQUIRE_THROWS_AS(sum(x, {5}), Error);
  REQUIRE_THROWS_WITH(sum(x, {5}), Contains("[sum]") && Contains("dim 5") && Contains("2-d"));
  REQUIRE_THROWS_WITH(sum(x, {-3}), Contains("[sum]") && Contains("dim -3"));
  REQUIRE_THROWS_WITH(mean(x, {0, 2}), Contains("[mean]") && Contains("dim 2"));
  // amax reports through its kernel as "[max]" (see the report); accept either name
  REQUIRE_THROWS_WITH(amax(x, {7}), Contains("max]") && Contains("dim 7"));
  REQUIRE_THROWS_WITH(amin(x, {-4}), Contains("min]") && Contains("dim -4"));
  REQUIRE_THROWS_WITH(var(x, {2}), Contains("[var]") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(sum(x, {1, -1}), Contains("[sum]") && Contains("more than once"));
  REQUIRE_THROWS_WITH(argmax(x, 2), Contains("[argmax]") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(max(x, -3), Contains("dim -3"));
  REQUIRE_THROWS_AS(softmax(x, 2), Error);
  REQUIRE_THROWS_WITH(softmax(x, 2), Contains("[softmax]") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(softmax(x, -3), Contains("[softmax]") && Contains("dim -3"));
  REQUIRE_THROWS_WITH(log_softmax(x, 2), Contains("[log_softmax]") && Contains("dim 2"));
  REQUIRE_THROWS_AS(transpose(x, 0, 2), Error);
  REQUIRE_THROWS_WITH(transpose(x, 0, 2), Contains("[transpose]") && Contains("dim 2") && Contains("2-d"));
  REQUIRE_THROWS_WITH(kernels::transpose(x, -3, 0), Contains("[transpose]") && Contains("dim -3"));
  REQUIRE_THROWS_WITH(permute(x, {0, 0}), Contains("[permute]") && Contains("(0, 0)"));
  REQUIRE_THROWS_WITH(permute(x, {0, 1, 2}), Contains("[permute]") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(squeeze(x, 1), Contains("[squeeze]") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(squeeze(x, 2), Contains("[squeeze]") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(unsqueeze(x, 3), Contains("[unsqueeze]") && Contains("dim 3"));
  REQUIRE_THROWS_WITH(slice(x, 2, 0, 1), Contains("[slice]") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(slice(x, 1, 0, 3, 0), Contains("[slice]") && Contains("step"));
  REQUIRE_THROWS_WITH(concat({x, x}, 2), Contains("[concat]") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(stack({x, x}, 3), Contains("[stack]") && Contains("dim 3"));
  REQUIRE_THROWS_WITH(gather(x, 2, idx({0, 0, 0, 0, 0, 0}, {2, 3})), Contains("[gather]") && Contains("dim 2"));
  REQUIRE_THROWS_WITH(index_select(x, -3, idx({0})), Contains("[index_select]") && Contains("dim -3"));
  REQUIRE_THROWS_WITH(x.size(2), Contains("dim 2"));
}

TEST_CASE("errors: out-of-range indices name the index value and the size", "[errors]") {
  Tensor x = f32({2, 3});
  REQUIRE_THROWS_AS(gather(x, 1, idx({0, 1, 7, 0, 0, 0}, {2, 3})), Error);
  REQUIRE_THROWS_WITH(gather(x, 1, idx({0, 1, 7, 0, 0, 0}, {2, 3})),
                      Contains("[gather]") && Contains("index 7") && Contains("size 3"));
  REQUIRE_THROWS_WITH(gather(x, 0, idx({0, -1, 0}, {1, 3})),
                      Contains("[gather]") && Contains("index -1") && Contains("size 2"));
  REQUIRE_THROWS_WITH(gather(x, 1, idx({0, 1, 2, 3, 0, 0}, {2, 3})), Contains("index 3") && Contains("size 3"));
  REQUIRE_THROWS_AS(index_select(x, 0, idx({0, 5})), Error);
  REQUIRE_THROWS_WITH(index_select(x, 0, idx({0, 5})),
                      Contains("[index_select]") && Contains("index 5") && Contains("size 2"));
  REQUIRE_THROWS_WITH(index_select(x, 1, idx({-2})), Contains("[index_select]") && Contains("index -2"));
  REQUIRE_THROWS_WITH(scatter_add(x, 0, idx({0, 2, 0}, {1, 3}), f32({1, 3})),
                      Contains("[scatter_add]") && Contains("index 2") && Contains("size 2"));
  // an index whose shape does not fit
  REQUIRE_THROWS_WITH(gather(x, 0, idx({0, 0, 0, 0}, {1, 4})),
                      Contains("[gather]") && Contains("(1, 4)") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(gather(x, 0, idx({0, 0})), Contains("[gather]") && Contains("(2,)"));
  REQUIRE_THROWS_WITH(index_select(x, 0, idx({0, 0}, {1, 2})), Contains("[index_select]") && Contains("(1, 2)"));
}

TEST_CASE("errors: a non-i64 index names the dtype", "[errors]") {
  Tensor x = f32({2, 3});
  REQUIRE_THROWS_AS(gather(x, 1, f32({2, 3})), Error);
  REQUIRE_THROWS_WITH(gather(x, 1, f32({2, 3})), Contains("[gather]") && Contains("i64") && Contains("f32"));
  REQUIRE_THROWS_WITH(index_select(x, 0, f64({1})), Contains("[index_select]") && Contains("i64") && Contains("f64"));
  REQUIRE_THROWS_WITH(scatter_add(x, 0, f32({1, 3}), f32({1, 3})), Contains("[scatter_add]") && Contains("i64"));
}

TEST_CASE("errors: reshape, narrow, expand, concat and stack with bad shapes", "[errors]") {
  Tensor x = f32({2, 3});
  REQUIRE_THROWS_AS(reshape(x, {4, 2}), Error);
  REQUIRE_THROWS_WITH(reshape(x, {4, 2}), Contains("[reshape]") && Contains("(2, 3)") && Contains("(4, 2)"));
  REQUIRE_THROWS_WITH(reshape(x, {4, -1}), Contains("[reshape]") && Contains("(4, -1)"));
  REQUIRE_THROWS_WITH(reshape(x, {-1, -1}), Contains("[reshape]") && Contains("-1"));
  REQUIRE_THROWS_AS(narrow(x, 1, 2, 2), Error);
  REQUIRE_THROWS_WITH(narrow(x, 1, 2, 2), Contains("[narrow]") && Contains("size 3") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(narrow(x, 0, -1, 1), Contains("[narrow]"));
  REQUIRE_THROWS_WITH(expand(x, {2, 4}), Contains("[expand]") && Contains("(2, 3)") && Contains("(2, 4)"));
  REQUIRE_THROWS_WITH(expand(x, {3}), Contains("[expand]") && Contains("(2, 3)"));
  REQUIRE_THROWS_AS(concat({x, f32({3, 3})}, 1), Error);
  REQUIRE_THROWS_WITH(concat({x, f32({3, 3})}, 1), Contains("[concat]") && Contains("(3, 3)") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(concat({x, f32({2, 3, 1})}, 0), Contains("[concat]") && Contains("(2, 3, 1)"));
  REQUIRE_THROWS_WITH(concat({}, 0), Contains("[concat]"));
  REQUIRE_THROWS_WITH(stack({x, f32({3, 2})}, 0), Contains("[stack]") && Contains("(3, 2)") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), Contains("[from_vector]") && Contains("(2, 2)"));
  REQUIRE_THROWS_WITH(layer_norm(f32({2, 4}), f32({3}), Tensor()), Contains("[layer_norm]") && Contains("(3,)"));
  REQUIRE_THROWS_WITH(layer_norm(f32({2, 4}), Tensor(), f32({5})), Contains("[layer_norm]") && Contains("(5,)"));
  REQUIRE_THROWS_WITH(dropout(x, 1.0, true), Contains("[dropout]"));
  REQUIRE_THROWS_WITH(dropout(x, -0.1, true), Contains("[dropout]"));
  REQUIRE_THROWS_WITH(bernoulli({2}, 1.5), Contains("[bernoulli]"));
  REQUIRE_THROWS_WITH(arange(0.0, 1.0, 0.0), Contains("[arange]"));
  REQUIRE_THROWS_WITH(Tensor().shape(), Contains("undefined"));
}

TEST_CASE("errors: autograd misuse", "[errors]") {
  // backward of a non-scalar without a seed names the shape
  Tensor x = f64({2, 3}).set_requires_grad();
  Tensor y = mul_scalar(x, 2.0);
  REQUIRE_THROWS_AS(backward(y), Error);
  REQUIRE_THROWS_WITH(backward(y), Contains("[backward]") && Contains("(2, 3)") && Contains("seed"));
  // a seed of the wrong shape or dtype
  REQUIRE_THROWS_WITH(backward(y, f64({3, 2})), Contains("[backward]") && Contains("(3, 2)") && Contains("(2, 3)"));
  REQUIRE_THROWS_WITH(backward(y, f32({2, 3})), Contains("[backward]") && Contains("f32") && Contains("f64"));
  // backward of a tensor that does not require grad
  REQUIRE_THROWS_WITH(backward(sum(f64({2}))), Contains("[backward]"));

  // requires_grad on an integer tensor names the dtype
  Tensor i = ones({3}, DType::I64);
  REQUIRE_THROWS_AS(i.set_requires_grad(), Error);
  REQUIRE_THROWS_WITH(i.set_requires_grad(), Contains("[set_requires_grad]") && Contains("i64"));
  Tensor b = zeros({3}, DType::Bool);
  REQUIRE_THROWS_WITH(b.set_requires_grad(), Contains("[set_requires_grad]") && Contains("bool"));
  // only leaves can be marked
  REQUIRE_THROWS_WITH(y.set_requires_grad(), Contains("[set_requires_grad]"));

  // an op that is not in the registry cannot be recorded when an input requires grad
  Tensor out = kernels::clone(x);
  auto bw = [](const Tensor& g) { return TensorList{g}; };
  REQUIRE_THROWS_AS(record("not_an_op", out, {x}, bw), Error);
  REQUIRE_THROWS_WITH(record("not_an_op", out, {x}, bw), Contains("not_an_op") && Contains("registry"));

  // set_grad with a mismatched gradient
  REQUIRE_THROWS_WITH(x.set_grad(f64({3})), Contains("[set_grad]") && Contains("(3,)") && Contains("(2, 3)"));
}
