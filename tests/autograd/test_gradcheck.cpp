// Float64 finite-difference gradient checks: one case per registered op (the registry
// test fails when an op has none), each on small inputs that include non-contiguous
// and broadcast operands, with max relative error <= 1e-6.
#include <catch2/catch.hpp>

#include <functional>
#include <map>

#include "autograd/gradcheck.h"
#include "autograd/gradcheck_cases.h"
#include "autograd/op_registry.h"
#include "autograd/ops.h"

using namespace shears;

using namespace shears::test;

TEST_CASE("every registered op has a float64 gradient check", "[gradcheck]") {
  auto cases = gradcheck_cases();
  for (const std::string& op : registered_ops()) {
    INFO("op: " << op);
    CHECK(cases.count(op) == 1);
  }
  for (const auto& kv : cases) {
    INFO("case for unregistered op: " << kv.first);
    CHECK(is_registered_op(kv.first));
  }
}

TEST_CASE("gradcheck of every registered op", "[gradcheck]") {
  auto cases = gradcheck_cases();
  for (const auto& kv : cases) {
    for (size_t i = 0; i < kv.second.size(); ++i) {
      GradcheckResult r = gradcheck(kv.second[i].f, kv.second[i].inputs, kv.second[i].opts);
      INFO(kv.first << " case " << i << ": max rel error " << r.max_rel_error << "; " << r.report);
      CHECK(r.ok);
      CHECK(r.max_rel_error <= 1e-6);
    }
  }
}

TEST_CASE("gradcheck catches a wrong backward", "[gradcheck]") {
  // exp recorded under the name "exp" but with the derivative of x^2: must fail
  auto wrong = [](const TensorList& x) {
    Tensor y = kernels::unary(kernels::UnaryOp::Exp, x[0]);
    Tensor xi = x[0];
    return record("exp", y, {x[0]}, [xi](const Tensor& dy) {
      return TensorList{kernels::binary(kernels::BinaryOp::Mul, dy, kernels::binary_scalar(kernels::BinaryOp::Mul, xi, 2.0))};
    });
  };
  GradcheckResult r = gradcheck(wrong, {rnd({4}, 80)});
  CHECK_FALSE(r.ok);
  CHECK(r.max_rel_error > 1e-3);
}
