// The float64 gradient-check cases of every registered op (shared by tests/autograd/test_gradcheck.cpp,
// which runs them on the host, and tests/cuda/test_cuda_gradcheck.cpp, which runs them on a GPU): small
// inputs that include non-contiguous and broadcast operands. Index and constant tensors made inside
// the cases are put on `case_device()`, the device the inputs are moved to.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

namespace shears::test {

inline Device& case_device() {
  static Device d = Device::cpu();
  return d;
}

inline Tensor rnd(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator g(seed);
  return uniform(shape, lo, hi, DType::F64, &g);
}
// values in [0.5, 2]: away from the kinks/poles of log, sqrt, abs, relu, div
inline Tensor pos(const Shape& shape, uint64_t seed) { return rnd(shape, seed, 0.5, 2.0); }
// values in [-2, -0.3] U [0.3, 2]: away from 0 (relu, abs kinks)
inline Tensor away_from_zero(const Shape& shape, uint64_t seed) {
  Tensor x = rnd(shape, seed, 0.3, 2.0);
  Generator g(seed + 99);
  Tensor sign = kernels::binary_scalar(kernels::BinaryOp::Sub,
                                       kernels::binary_scalar(kernels::BinaryOp::Mul,
                                                              bernoulli(shape, 0.5, DType::F64, &g), 2.0),
                                       1.0);
  return kernels::binary(kernels::BinaryOp::Mul, x, sign);
}
inline Tensor idx(const std::vector<int64_t>& v, const Shape& shape = {}) { return from_vector(v, shape).to(case_device()); }
// a non-contiguous (transposed) view of a fresh (cols, rows) tensor
inline Tensor transposed(const Shape& shape2d, uint64_t seed) {
  return kernels::transpose(rnd({shape2d[1], shape2d[0]}, seed), 0, 1);
}

struct Case {
  std::function<Tensor(const TensorList&)> f;
  TensorList inputs;
  GradcheckOptions opts = {};
};

// Step 2^-10 on inputs that are multiples of 2^-12: x +- h stays exact in f32, so a
// round trip through f32 is checked without f32 rounding noise.
inline GradcheckOptions f32_exact_step() {
  GradcheckOptions o;
  o.step = 1.0 / 1024.0;
  return o;
}

inline std::map<std::string, std::vector<Case>> gradcheck_cases() {
  std::map<std::string, std::vector<Case>> c;
  auto F = [](auto fn) { return std::function<Tensor(const TensorList&)>(fn); };
  // views and shape
  c["reshape"] = {{F([](const TensorList& x) { return reshape(x[0], {3, -1}); }), {rnd({2, 3, 2}, 1)}},
                  {F([](const TensorList& x) { return reshape(x[0], {6}); }), {transposed({2, 3}, 2)}}};
  c["permute"] = {{F([](const TensorList& x) { return permute(x[0], {2, 0, 1}); }), {rnd({2, 3, 4}, 3)}},
                  {F([](const TensorList& x) { return transpose(x[0], 0, -1); }), {rnd({2, 3}, 4)}}};
  c["slice"] = {{F([](const TensorList& x) { return slice(x[0], 1, 1, 5, 2); }), {rnd({2, 6}, 5)}},
                {F([](const TensorList& x) { return narrow(x[0], 0, 1, 2); }), {transposed({4, 3}, 6)}}};
  c["expand"] = {{F([](const TensorList& x) { return expand(x[0], {2, 3, 4}); }), {rnd({3, 1}, 7)}}};
  c["squeeze"] = {{F([](const TensorList& x) { return squeeze(x[0], 1); }), {rnd({3, 1, 2}, 8)}}};
  c["unsqueeze"] = {{F([](const TensorList& x) { return unsqueeze(x[0], -1); }), {rnd({3, 2}, 9)}}};
  c["contiguous"] = {{F([](const TensorList& x) { return contiguous(x[0]); }), {transposed({3, 4}, 10)}}};
  c["concat"] = {{F([](const TensorList& x) { return concat({x[0], x[1]}, 1); }), {rnd({2, 3}, 11), rnd({2, 2}, 12)}}};
  c["stack"] = {{F([](const TensorList& x) { return stack({x[0], x[1]}, 1); }), {rnd({2, 3}, 13), transposed({2, 3}, 14)}}};
  c["to_dtype"] = {{F([](const TensorList& x) { return to_dtype(mul_scalar(to_dtype(x[0], DType::F32), 2.0), DType::F64); }),
                    {from_vector(std::vector<double>{0.25, -1.5, 0.375, 1.0 + 1.0 / 4096.0})},
                    f32_exact_step()}};
  // indexing
  c["index_select"] = {{F([](const TensorList& x) { return index_select(x[0], 0, idx({2, 0, 2})); }), {rnd({3, 4}, 16)}},
                       {F([](const TensorList& x) { return index_select(x[0], 1, idx({1, 1})); }), {transposed({3, 2}, 17)}}};
  c["gather"] = {{F([](const TensorList& x) { return gather(x[0], 1, idx({0, 2, 2, 1, 0, 0}, {2, 3})); }), {rnd({2, 3}, 18)}}};
  c["scatter_add"] = {{F([](const TensorList& x) { return scatter_add(x[0], 0, idx({1, 0, 1, 1}, {2, 2}), x[1]); }),
                       {rnd({3, 2}, 19), rnd({2, 2}, 20)}}};
  c["index_add"] = {  // dim last, contiguous (the one-pass path); dim 0 strided with a repeated index (general path)
      {F([](const TensorList& x) { return index_add(x[0], -1, idx({4, 0, 2}), x[1]); }), {rnd({2, 3, 5}, 105), rnd({2, 3, 3}, 106)}},
      {F([](const TensorList& x) { return index_add(x[0], 0, idx({1, 1, 0}), x[1]); }), {transposed({2, 4}, 107), rnd({3, 4}, 108)}},
      {F([](const TensorList& x) { return index_add(x[0], 1, idx({2, 0}), expand(x[1], {3, 2})); }),  // broadcast src
       {rnd({3, 4}, 109), rnd({1, 2}, 110)}}};
  // elementwise (second cases broadcast and/or use non-contiguous operands)
  c["add"] = {{F([](const TensorList& x) { return add(x[0], x[1]); }), {rnd({2, 3}, 21), rnd({3}, 22)}},
              {F([](const TensorList& x) { return x[0] + x[1]; }), {transposed({3, 2}, 23), rnd({3, 1}, 24)}}};
  c["sub"] = {{F([](const TensorList& x) { return sub(x[0], x[1]); }), {rnd({2, 1}, 25), rnd({1, 3}, 26)}}};
  c["mul"] = {{F([](const TensorList& x) { return mul(x[0], x[1]); }), {rnd({2, 3}, 27), transposed({2, 3}, 28)}},
              {F([](const TensorList& x) { return x[0] * x[1]; }), {rnd({4, 1, 3}, 29), rnd({2, 1}, 30)}}};
  c["div"] = {{F([](const TensorList& x) { return div(x[0], x[1]); }), {rnd({2, 3}, 31), pos({3}, 32)}}};
  c["add_scalar"] = {{F([](const TensorList& x) { return x[0] + 2.5; }), {rnd({3}, 33)}}};
  c["mul_scalar"] = {{F([](const TensorList& x) { return 3.0 * x[0]; }), {rnd({3}, 34)}}};
  c["neg"] = {{F([](const TensorList& x) { return -x[0]; }), {transposed({2, 3}, 35)}}};
  c["exp"] = {{F([](const TensorList& x) { return exp(x[0]); }), {rnd({2, 3}, 36)}}};
  c["log"] = {{F([](const TensorList& x) { return log(x[0]); }), {pos({2, 3}, 37)}}};
  c["sqrt"] = {{F([](const TensorList& x) { return sqrt(x[0]); }), {pos({5}, 38)}}};
  c["rsqrt"] = {{F([](const TensorList& x) { return rsqrt(x[0]); }), {pos({5}, 39)}}};
  c["pow"] = {{F([](const TensorList& x) { return pow(x[0], 2.0); }), {rnd({4}, 40)}},
              {F([](const TensorList& x) { return pow(x[0], -1.5); }), {pos({4}, 41)}},
              {F([](const TensorList& x) { return 2.0 / x[0]; }), {pos({3}, 42)}}};
  c["abs"] = {{F([](const TensorList& x) { return abs(x[0]); }), {away_from_zero({6}, 43)}}};
  c["tanh"] = {{F([](const TensorList& x) { return tanh(x[0]); }), {rnd({6}, 44, -2, 2)}}};
  c["sigmoid"] = {{F([](const TensorList& x) { return sigmoid(x[0]); }), {rnd({6}, 45, -3, 3)}}};
  c["relu"] = {{F([](const TensorList& x) { return relu(x[0]); }), {away_from_zero({8}, 46)}}};
  c["gelu"] = {{F([](const TensorList& x) { return gelu(x[0]); }), {rnd({8}, 47, -3, 3)}}};
  c["where"] = {{F([](const TensorList& x) { return where(gt(x[2], zeros({}, DType::F64, case_device())), x[0], x[1]); }),
                 {rnd({2, 3}, 48), rnd({3}, 49), away_from_zero({2, 3}, 50)}}};
  c["clamp"] = {{F([](const TensorList& x) { return clamp(x[0], -0.5, 0.5); }),
                 {from_vector(std::vector<double>{-0.9, -0.2, 0.1, 0.7, 0.45, -0.75})}}};
  // reductions
  c["sum"] = {{F([](const TensorList& x) { return sum(x[0]); }), {rnd({2, 3}, 51)}},
              {F([](const TensorList& x) { return sum(x[0], {0, 2}, true); }), {rnd({2, 3, 2}, 52)}},
              {F([](const TensorList& x) { return sum(x[0], {-1}); }), {transposed({3, 4}, 53)}}};
  c["mean"] = {{F([](const TensorList& x) { return mean(x[0], {1}); }), {rnd({2, 3, 2}, 54)}}};
  c["amax"] = {{F([](const TensorList& x) { return amax(x[0], {1}); }), {rnd({3, 4}, 55)}},
               {F([](const TensorList& x) { return max(x[0], 0).first; }), {rnd({3, 4}, 56)}}};
  c["amin"] = {{F([](const TensorList& x) { return amin(x[0]); }), {rnd({3, 4}, 57)}}};
  c["var"] = {{F([](const TensorList& x) { return var(x[0], {1}); }), {rnd({3, 4}, 58)}},
              {F([](const TensorList& x) { return var(x[0], {}, 0, true); }), {transposed({3, 2}, 59)}}};
  // linear algebra and nn
  c["matmul"] = {{F([](const TensorList& x) { return matmul(x[0], x[1]); }), {rnd({3, 4}, 60), rnd({4, 2}, 61)}},
                 {F([](const TensorList& x) { return matmul(x[0], x[1]); }), {rnd({2, 1, 3, 4}, 62), transposed({4, 2}, 63)}},
                 {F([](const TensorList& x) { return matmul(x[0], x[1]); }), {rnd({2, 3, 4}, 64), rnd({3, 1, 4, 2}, 65)}},
                 {F([](const TensorList& x) { return matmul(x[0], x[1]); }), {rnd({4}, 66), rnd({2, 4, 3}, 67)}}};
  c["softmax"] = {{F([](const TensorList& x) { return softmax(x[0], -1); }), {rnd({2, 5}, 68, -2, 2)}},
                  {F([](const TensorList& x) { return softmax(x[0], 0); }), {transposed({3, 4}, 69)}}};
  c["log_softmax"] = {{F([](const TensorList& x) { return log_softmax(x[0], 1); }), {rnd({3, 4}, 70, -2, 2)}},
                      {F([](const TensorList& x) { return log_softmax(x[0], 0); }), {rnd({3, 2, 2}, 71)}}};
  c["layer_norm"] = {{F([](const TensorList& x) { return layer_norm(x[0], x[1], x[2], 1e-5); }),
                      {rnd({3, 5}, 72), rnd({5}, 73), rnd({5}, 74)}},
                     {F([](const TensorList& x) { return layer_norm(x[0], Tensor(), Tensor(), 1e-5); }),
                      {transposed({4, 6}, 75)}}};
  c["layer_norm_select"] = {{F([](const TensorList& x) { return layer_norm_select(x[0], idx({5, 1, 3}), x[1], x[2], 1e-5); }),
                             {rnd({2, 3, 6}, 111), rnd({3}, 112), rnd({3}, 113)}},
                            {F([](const TensorList& x) { return layer_norm_select(x[0], idx({0, 3}), Tensor(), Tensor(), 1e-5); }),
                             {transposed({3, 4}, 114)}},
                            {F([](const TensorList& x) { return layer_norm_select(x[0], idx({2, 1}), x[1], Tensor(), 0.1); }),
                             {rnd({4, 3}, 115), rnd({2}, 116)}}};
  c["linear"] = {{F([](const TensorList& x) { return linear(x[0], x[1], x[2]); }), {rnd({2, 3, 4}, 77), rnd({5, 4}, 78), rnd({5}, 79)}},
                 {F([](const TensorList& x) { return linear(x[0], x[1], Tensor()); }), {transposed({3, 4}, 81), transposed({2, 4}, 82)}}};
  c["attention"] = {{F([](const TensorList& x) { return attention(x[0], 2, 0.5); }), {rnd({2, 5, 12}, 83, -2, 2)}},
                    {F([](const TensorList& x) {
                       return attention(concat({x[0], x[1], x[2]}, 2), 1, 0.7);  // q, k, v from separate tensors
                     }),
                     {rnd({1, 4, 3}, 84), rnd({1, 4, 3}, 85), rnd({1, 4, 3}, 86)}},
                    // a longer sequence (66 tokens, one head)
                    {F([](const TensorList& x) { return attention(x[0], 1, 0.9); }), {rnd({1, 66, 3}, 90, -2, 2)}}};
  c["attention_probs"] = {{F([](const TensorList& x) {
                             Tensor p;
                             attention(x[0], 2, 0.5, &p);
                             return p;
                           }),
                           {rnd({2, 5, 12}, 91, -2, 2)}},
                          // both outputs feed the objective (as with EViT's token fusion)
                          {F([](const TensorList& x) {
                             Tensor p;
                             Tensor o = attention(x[0], 3, 0.6, &p);
                             return concat({reshape(o, {-1}), reshape(p, {-1})}, 0);
                           }),
                           {rnd({2, 4, 18}, 92, -2, 2)}}};
  c["cross_entropy"] = {{F([](const TensorList& x) { return soft_cross_entropy(x[0], softmax(x[1], 1)); }),
                         {rnd({3, 4}, 87, -2, 2), rnd({3, 4}, 88)}},
                        {F([](const TensorList& x) { return cross_entropy(x[0], idx({2, 0, 3}), 0.1); }),
                         {transposed({3, 4}, 89)}}};
  c["dropout"] = {{F([](const TensorList& x) {
                     Generator g(7);
                     return dropout(x[0], 0.3, true, &g);
                   }),
                   {rnd({4, 5}, 76)}}};
  c["conv2d"] = {{F([](const TensorList& x) { return conv2d(x[0], x[1], x[2]); }),
                  {rnd({2, 3, 4, 2}, 93), rnd({3, 2, 3, 3}, 94), rnd({3}, 95)}},
                 // non-contiguous input, no bias, 1x1 kernel
                 {F([](const TensorList& x) { return conv2d(permute(x[0], {0, 2, 1, 3}), x[1]); }),
                  {rnd({1, 3, 2, 4}, 96), rnd({2, 4, 1, 1}, 97)}},
                 // kernel larger than the image (5x5 on 2x3): every tap outside is padding
                 {F([](const TensorList& x) { return conv2d(x[0], x[1], x[2]); }),
                  {rnd({1, 2, 3, 1}, 98), rnd({2, 1, 5, 5}, 99), rnd({2}, 100)}}};
  c["batch_norm"] = {{F([](const TensorList& x) { return batch_norm(x[0], x[1], x[2], 1e-5); }),
                      {rnd({5, 3}, 101), rnd({3}, 102), rnd({3}, 103)}},
                     // statistics over all leading dims of a non-contiguous input, no affine
                     {F([](const TensorList& x) { return batch_norm(permute(x[0], {1, 0, 2}), Tensor(), Tensor(), 0.1); }),
                      {rnd({2, 3, 2}, 104)}}};
  return c;
}


}  // namespace shears::test
