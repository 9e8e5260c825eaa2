// Differentiable elementwise ops with broadcasting, their operators, and comparisons.
// Broadcast inputs get their gradient summed back to their own shape (sum_to).
#include "autograd/ops.h"

namespace shears {

namespace K = kernels;
using K::BinaryOp;
using K::UnaryOp;

namespace {
Tensor bin(BinaryOp op, const Tensor& a, const Tensor& b) { return K::binary(op, a, b); }
Tensor mulk(const Tensor& a, const Tensor& b) { return K::binary(BinaryOp::Mul, a, b); }
}  // namespace

// da = dy, db = dy (each summed to its shape)
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = bin(BinaryOp::Add, a, b);
  Shape as = a.shape(), bs = b.shape();
  return record("add", y, {a, b}, [as, bs](const Tensor& dy) {
    return TensorList{K::sum_to(dy, as), K::sum_to(dy, bs)};
  });
}

// da = dy, db = -dy
Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = bin(BinaryOp::Sub, a, b);
  Shape as = a.shape(), bs = b.shape();
  return record("sub", y, {a, b}, [as, bs](const Tensor& dy) {
    Tensor db = input_needs_grad(1) ? K::unary(UnaryOp::Neg, K::sum_to(dy, bs)) : Tensor();
    return TensorList{K::sum_to(dy, as), db};
  });
}

// da = dy * b, db = dy * a
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = bin(BinaryOp::Mul, a, b);
  return record("mul", y, {a, b}, [a, b](const Tensor& dy) {
    Tensor da = input_needs_grad(0) ? K::sum_to(mulk(dy, b), a.shape()) : Tensor();
    Tensor db = input_needs_grad(1) ? K::sum_to(mulk(dy, a), b.shape()) : Tensor();
    return TensorList{da, db};
  });
}

// da = dy / b, db = -dy * y / b
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = bin(BinaryOp::Div, a, b);
  Shape as = a.shape();
  return record("div", y, {a, b}, [as, b, y](const Tensor& dy) {
    Tensor da = input_needs_grad(0) ? K::sum_to(bin(BinaryOp::Div, dy, b), as) : Tensor();
    Tensor db;
    if (input_needs_grad(1))
      db = K::sum_to(K::unary(UnaryOp::Neg, bin(BinaryOp::Div, mulk(dy, y), b)), b.shape());
    return TensorList{da, db};
  });
}

// y = x + s;  dx = dy
Tensor add_scalar(const Tensor& x, double s) {
  return record("add_scalar", K::binary_scalar(BinaryOp::Add, x, s), {x},
                [](const Tensor& dy) { return TensorList{dy}; });
}

// y = x * s;  dx = dy * s
Tensor mul_scalar(const Tensor& x, double s) {
  return record("mul_scalar", K::binary_scalar(BinaryOp::Mul, x, s), {x},
                [s](const Tensor& dy) { return TensorList{K::binary_scalar(BinaryOp::Mul, dy, s)}; });
}

// dx = -dy
Tensor neg(const Tensor& x) {
  return record("neg", K::unary(UnaryOp::Neg, x), {x},
                [](const Tensor& dy) { return TensorList{K::unary(UnaryOp::Neg, dy)}; });
}

// dx = dy * y
Tensor exp(const Tensor& x) {
  Tensor y = K::unary(UnaryOp::Exp, x);
  return record("exp", y, {x}, [y](const Tensor& dy) { return TensorList{mulk(dy, y)}; });
}

// dx = dy / x
Tensor log(const Tensor& x) {
  return record("log", K::unary(UnaryOp::Log, x), {x},
                [x](const Tensor& dy) { return TensorList{bin(BinaryOp::Div, dy, x)}; });
}

// dx = dy * 0.5 / y
Tensor sqrt(const Tensor& x) {
  Tensor y = K::unary(UnaryOp::Sqrt, x);
  return record("sqrt", y, {x}, [y](const Tensor& dy) {
    return TensorList{K::binary_scalar(BinaryOp::Mul, bin(BinaryOp::Div, dy, y), 0.5)};
  });
}

// y = x^-1/2;  dx = -0.5 * dy * y^3
Tensor rsqrt(const Tensor& x) {
  Tensor y = K::unary(UnaryOp::Rsqrt, x);
  return record("rsqrt", y, {x}, [y](const Tensor& dy) {
    return TensorList{K::binary_scalar(BinaryOp::Mul, mulk(dy, K::pow_scalar(y, 3.0)), -0.5)};
  });
}

// dx = dy * p * x^(p-1)
Tensor pow(const Tensor& x, double p) {
  return record("pow", K::pow_scalar(x, p), {x},
                [x, p](const Tensor& dy) { return TensorList{K::pow_scalar_backward(x, p, dy)}; });
}

// dx = dy * sign(x)
Tensor abs(const Tensor& x) {
  return record("abs", K::unary(UnaryOp::Abs, x), {x},
                [x](const Tensor& dy) { return TensorList{mulk(dy, K::unary(UnaryOp::Sign, x))}; });
}

// dx = dy * (1 - y^2)
Tensor tanh(const Tensor& x) {
  Tensor y = K::unary(UnaryOp::Tanh, x);
  return record("tanh", y, {x}, [y](const Tensor& dy) { return TensorList{bin(BinaryOp::TanhBackward, y, dy)}; });
}

// dx = dy * y * (1 - y)
Tensor sigmoid(const Tensor& x) {
  Tensor y = K::unary(UnaryOp::Sigmoid, x);
  return record("sigmoid", y, {x},
                [y](const Tensor& dy) { return TensorList{bin(BinaryOp::SigmoidBackward, y, dy)}; });
}

// dx = dy * (x > 0)
Tensor relu(const Tensor& x) {
  return record("relu", K::unary(UnaryOp::Relu, x), {x},
                [x](const Tensor& dy) { return TensorList{bin(BinaryOp::ReluBackward, x, dy)}; });
}

// y = x * Phi(x);  dx = dy * (Phi(x) + x * phi(x))
Tensor gelu(const Tensor& x) {
  return record("gelu", K::unary(UnaryOp::Gelu, x), {x},
                [x](const Tensor& dy) { return TensorList{bin(BinaryOp::GeluBackward, x, dy)}; });
}

// da = dy where cond, db = dy elsewhere
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tensor y = K::where(cond, a, b);
  Shape as = a.shape(), bs = b.shape();
  return record("where", y, {cond, a, b}, [cond, as, bs](const Tensor& dy) {
    Tensor zero = zeros({}, dy.dtype(), dy.device());
    Tensor da = input_needs_grad(1) ? K::sum_to(K::where(cond, dy, zero), as) : Tensor();
    Tensor db = input_needs_grad(2) ? K::sum_to(K::where(cond, zero, dy), bs) : Tensor();
    return TensorList{Tensor(), da, db};
  });
}

// dx = dy inside [lo, hi], 0 outside
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  return record("clamp", K::clamp(x, lo, hi), {x},
                [x, lo, hi](const Tensor& dy) { return TensorList{K::clamp_backward(x, lo, hi, dy)}; });
}

Tensor eq(const Tensor& a, const Tensor& b) { return K::compare(K::CompareOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return K::compare(K::CompareOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return K::compare(K::CompareOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return K::compare(K::CompareOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return K::compare(K::CompareOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return K::compare(K::CompareOp::Ge, a, b); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double s) { return add_scalar(a, s); }
Tensor operator-(const Tensor& a, double s) { return add_scalar(a, -s); }
Tensor operator*(const Tensor& a, double s) { return mul_scalar(a, s); }
Tensor operator/(const Tensor& a, double s) { return mul_scalar(a, 1.0 / s); }
Tensor operator+(double s, const Tensor& a) { return add_scalar(a, s); }
Tensor operator-(double s, const Tensor& a) { return add_scalar(neg(a), s); }
Tensor operator*(double s, const Tensor& a) { return mul_scalar(a, s); }
Tensor operator/(double s, const Tensor& a) { return mul_scalar(pow(a, -1.0), s); }

}  // namespace shears
