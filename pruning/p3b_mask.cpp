// P3B element masks inside one sub-block (see p3b_mask.h): gate factors, parameter counts, element costs
// and the threshold search of prune_forward.
#include "pruning/p3b_mask.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/error.h"

namespace shears::pruning {

namespace {

const GateKind kAllGates[] = {GateKind::AttnIn, GateKind::AttnQkv, GateKind::AttnOut,
                              GateKind::MlpIn,  GateKind::MlpHid,  GateKind::MlpOut};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

int64_t count_kept(const std::vector<bool>& m) { return std::count(m.begin(), m.end(), true); }

struct KeptCounts {
  int64_t in = 0, mid = 0, out = 0;
};

KeptCounts kept_counts(const BranchShape& shape, const std::vector<bool>& in, const std::vector<bool>& mid,
                       const std::vector<bool>& out, const char* op) {
  shape.validate();
  SHEARS_CHECK(int64_t(in.size()) == shape.dim && int64_t(mid.size()) == shape.mid && int64_t(out.size()) == shape.dim,
               op, "expected masks of sizes (in ", shape.dim, ", mid ", shape.mid, ", out ", shape.dim, "), got (",
               in.size(), ", ", mid.size(), ", ", out.size(), ")");
  return {count_kept(in), count_kept(mid), count_kept(out)};
}

// Kept Linear weights + biases for kept counts (ki, km, ko).
int64_t linear_params(const BranchShape& s, int64_t ki, int64_t km, int64_t ko) {
  const int64_t bias = s.has_bias ? 1 : 0;
  if (s.kind == BranchKind::Attention) {
    const int64_t qkv_rows = 3 * s.heads * km, proj_cols = s.heads * km;
    return (ki * qkv_rows + bias * qkv_rows) + (proj_cols * ko + bias * ko);
  }
  return (ki * km + bias * km) + (km * ko + bias * ko);  // fc1, fc2
}

double stable_sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// Ranks 0..n-1 of `scores` ascending; equal scores rank by index (stable).
std::vector<int64_t> stable_ranks(const std::vector<double>& scores) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] < scores[b]; });
  std::vector<int64_t> rank(scores.size());
  for (size_t p = 0; p < order.size(); ++p) rank[order[p]] = int64_t(p);
  return rank;
}

}  // namespace

const char* gate_kind_name(GateKind g) {
  switch (g) {
    case GateKind::AttnIn:
      return "attn_in";
    case GateKind::AttnQkv:
      return "attn_qkv";
    case GateKind::AttnOut:
      return "attn_out";
    case GateKind::MlpIn:
      return "mlp_in";
    case GateKind::MlpHid:
      return "mlp_hid";
    case GateKind::MlpOut:
      return "mlp_out";
  }
  fail("p3b gate_kind_name", "unknown gate kind");
}

GateKind in_gate(BranchKind k) { return k == BranchKind::Attention ? GateKind::AttnIn : GateKind::MlpIn; }
GateKind mid_gate(BranchKind k) { return k == BranchKind::Attention ? GateKind::AttnQkv : GateKind::MlpHid; }
GateKind out_gate(BranchKind k) { return k == BranchKind::Attention ? GateKind::AttnOut : GateKind::MlpOut; }

GateFactors GateFactors::parse(const std::string& spec) {
  const char* op = "p3b --prune-scale-gate-imp";
  GateFactors f;
  f.attn_in = f.attn_qkv = f.attn_out = f.mlp_in = f.mlp_hid = f.mlp_out = 1.0;  // unnamed gates: 1 (the authors)
  if (trim(spec).empty()) return f;
  std::vector<bool> seen(6, false);
  size_t begin = 0;
  while (begin <= spec.size()) {
    size_t end = spec.find(',', begin);
    if (end == std::string::npos) end = spec.size();
    const std::string entry = trim(spec.substr(begin, end - begin));
    begin = end + 1;
    SHEARS_CHECK(!entry.empty(), op, "empty entry in '", spec, "' (expected name:value[,name:value...])");
    const auto colon = entry.find(':');
    SHEARS_CHECK(colon != std::string::npos, op, "entry '", entry,
                 "' has no ':' (expected name:value, e.g. attn_out:1.5)");
    const std::string name = trim(entry.substr(0, colon)), value = trim(entry.substr(colon + 1));
    int found = -1;
    for (int g = 0; g < 6; ++g)
      if (name == gate_kind_name(kAllGates[g])) found = g;
    SHEARS_CHECK(found >= 0, op, "unknown gate '", name, "' in entry '", entry,
                 "' (known: attn_in, attn_qkv, attn_out, mlp_in, mlp_hid, mlp_out)");
    SHEARS_CHECK(!seen[found], op, "gate '", name, "' given twice in '", spec, "'");
    seen[found] = true;
    double v = 0;
    size_t used = 0;
    try {
      v = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    SHEARS_CHECK(!value.empty() && used == value.size(), op, "value '", value, "' of entry '", entry,
                 "' is not a number");
    SHEARS_CHECK(std::isfinite(v) && v > 0, op, "value of entry '", entry, "' must be a finite number > 0");
    switch (kAllGates[found]) {
      case GateKind::AttnIn:
        f.attn_in = v;
        break;
      case GateKind::AttnQkv:
        f.attn_qkv = v;
        break;
      case GateKind::AttnOut:
        f.attn_out = v;
        break;
      case GateKind::MlpIn:
        f.mlp_in = v;
        break;
      case GateKind::MlpHid:
        f.mlp_hid = v;
        break;
      case GateKind::MlpOut:
        f.mlp_out = v;
        break;
    }
    if (end == spec.size()) break;
  }
  return f;
}

double GateFactors::of(GateKind g) const {
  switch (g) {
    case GateKind::AttnIn:
      return attn_in;
    case GateKind::AttnQkv:
      return attn_qkv;
    case GateKind::AttnOut:
      return attn_out;
    case GateKind::MlpIn:
      return mlp_in;
    case GateKind::MlpHid:
      return mlp_hid;
    case GateKind::MlpOut:
      return mlp_out;
  }
  fail("p3b GateFactors::of", "unknown gate kind");
}

std::string GateFactors::describe() const {
  std::string out;
  for (GateKind g : kAllGates) out += str_cat(out.empty() ? "" : ",", gate_kind_name(g), ":", of(g));
  return out;
}

void BranchShape::validate() const {
  const char* op = "p3b BranchShape";
  SHEARS_CHECK(dim >= 1 && mid >= 1 && heads >= 1, op, "expected dim, mid and heads >= 1, got dim ", dim, ", mid ", mid,
               ", heads ", heads);
  SHEARS_CHECK(kind == BranchKind::Attention || heads == 1, op, "an MLP branch has heads 1, got ", heads);
}

std::vector<bool> hard_mask(const std::vector<double>& soft) {
  std::vector<bool> h(soft.size());
  for (size_t i = 0; i < soft.size(); ++i) h[i] = soft[i] >= 0.5;
  return h;
}

int64_t unpruned_linear_params(const BranchShape& shape) {
  shape.validate();
  return linear_params(shape, shape.dim, shape.mid, shape.dim);
}

int64_t unpruned_params(const BranchShape& shape) { return unpruned_linear_params(shape) + 2 * shape.dim; }

int64_t kept_linear_params(const BranchShape& shape, const std::vector<bool>& in, const std::vector<bool>& mid,
                           const std::vector<bool>& out) {
  const KeptCounts k = kept_counts(shape, in, mid, out, "p3b kept_linear_params");
  return linear_params(shape, k.in, k.mid, k.out);
}

int64_t kept_params(const BranchShape& shape, const std::vector<bool>& in, const std::vector<bool>& mid,
                    const std::vector<bool>& out) {
  return kept_linear_params(shape, in, mid, out) + 2 * shape.dim;
}

int64_t sliced_params(const BranchShape& shape, const std::vector<bool>& in, const std::vector<bool>& mid,
                      const std::vector<bool>& out) {
  return kept_linear_params(shape, in, mid, out) + 2 * count_kept(in);
}

ElementCosts element_costs(const BranchShape& shape, int64_t ki, int64_t km, int64_t ko) {
  shape.validate();
  if (shape.kind == BranchKind::Attention)
    return {1 + 3 * shape.heads * km, 3 * shape.heads * ki + shape.heads * ko, shape.heads * km};
  return {1 + km, ki + ko, km};
}

BranchSelection select_branch_elements(const BranchShape& shape, const std::vector<double>& score_in,
                                       const std::vector<double>& score_mid, const std::vector<double>& score_out,
                                       double keep_ratio, double tau, const GateFactors& factors,
                                       const BranchSelection* previous, bool allow_reactivation) {
  const char* op = "p3b select_branch_elements";
  shape.validate();
  SHEARS_CHECK(int64_t(score_in.size()) == shape.dim && int64_t(score_mid.size()) == shape.mid &&
                   int64_t(score_out.size()) == shape.dim,
               op, "expected scores of sizes (in ", shape.dim, ", mid ", shape.mid, ", out ", shape.dim, "), got (",
               score_in.size(), ", ", score_mid.size(), ", ", score_out.size(), ")");
  SHEARS_CHECK(keep_ratio >= 0 && keep_ratio <= 1, op, "expected keep ratio in [0, 1], got ", keep_ratio);
  SHEARS_CHECK(std::isfinite(tau) && tau >= 0, op, "expected tau >= 0, got ", tau);

  // Pool in the authors' gate order: in, out, mid. Gate index per pooled element: 0 in, 1 mid, 2 out.
  const int64_t n = shape.elements();
  const std::vector<double>* scores[3] = {&score_in, &score_mid, &score_out};
  const GateKind kinds[3] = {in_gate(shape.kind), mid_gate(shape.kind), out_gate(shape.kind)};
  const int pool_order[3] = {0, 2, 1};
  std::vector<int> gate_of(n);
  std::vector<int64_t> index_of(n);
  std::vector<double> value(n);
  int64_t p = 0;
  for (int g : pool_order) {
    const std::vector<double>& s = *scores[g];
    for (size_t i = 0; i < s.size(); ++i)
      SHEARS_CHECK(std::isfinite(s[i]), op, gate_kind_name(kinds[g]), " score ", i, " is not finite: ", s[i]);
    const std::vector<int64_t> rank = stable_ranks(s);
    const double numel = double(s.size());
    for (size_t i = 0; i < s.size(); ++i, ++p) {
      gate_of[p] = g;
      index_of[p] = int64_t(i);
      value[p] = factors.of(kinds[g]) * double(rank[i] + 1) / numel;  // the authors' order of operations
    }
  }

  // Starting hard masks: the previous selection's, or all kept.
  std::vector<bool> start[3] = {std::vector<bool>(shape.dim, true), std::vector<bool>(shape.mid, true),
                                std::vector<bool>(shape.dim, true)};
  if (previous) {
    const std::vector<double>* pm[3] = {&previous->masks.in, &previous->masks.mid, &previous->masks.out};
    for (int g = 0; g < 3; ++g) {
      SHEARS_CHECK(pm[g]->size() == start[g].size(), op, "previous ", gate_kind_name(kinds[g]), " mask has ",
                   pm[g]->size(), " elements, expected ", start[g].size());
      start[g] = hard_mask(*pm[g]);
    }
  }
  std::vector<bool> locked(n, false);  // hard-pruned before and not allowed back
  if (!allow_reactivation)
    for (int64_t q = 0; q < n; ++q) locked[q] = !start[gate_of[q]][index_of[q]];

  // Ascending order of the pooled values (stable); locked elements first when reactivation is off.
  std::vector<int64_t> sorted(n);
  std::iota(sorted.begin(), sorted.end(), 0);
  std::stable_sort(sorted.begin(), sorted.end(), [&](int64_t a, int64_t b) {
    if (locked[a] != locked[b]) return bool(locked[a]);
    return value[a] < value[b];
  });

  std::vector<bool> hard[3] = {start[0], start[1], start[2]};
  BranchMasks masks;
  std::vector<double>* soft[3] = {&masks.in, &masks.mid, &masks.out};
  auto make_masks = [&](int64_t t) {
    masks.in.assign(shape.dim, 0);
    masks.mid.assign(shape.mid, 0);
    masks.out.assign(shape.dim, 0);
    const double width = tau * double(n) + 1e-8;
    for (int64_t pos = 0; pos < n; ++pos) {
      const int64_t q = sorted[pos];
      const double r = double(pos + 1);  // 1-based sorted position
      const double m = locked[q] ? 0.0 : stable_sigmoid(std::log(9.0) * (r - double(t)) / width);
      (*soft[gate_of[q]])[index_of[q]] = m;
    }
    for (int g = 0; g < 3; ++g) hard[g] = hard_mask(*soft[g]);
  };
  const double goal = keep_ratio * double(unpruned_linear_params(shape));
  auto param_error = [&] {
    return double(linear_params(shape, count_kept(hard[0]), count_kept(hard[1]), count_kept(hard[2]))) - goal;
  };

  double error = param_error();
  double best_error = error;
  int64_t best_t = -1, t = 0, iterations = 0;
  std::vector<double> cumsum(n + 1);
  const int64_t kMaxIterations = 30;
  while (true) {
    const ElementCosts c = element_costs(shape, count_kept(hard[0]), count_kept(hard[1]), count_kept(hard[2]));
    const int64_t cost_of[3] = {c.in, c.mid, c.out};
    double acc = 0;
    for (int64_t pos = 0; pos <= n; ++pos) {
      acc += pos < n ? double(cost_of[gate_of[sorted[pos]]]) : 0.0;  // cs[n] adds the authors' 0 placeholder
      cumsum[pos] = acc;
    }
    const double base = cumsum[t];
    int64_t below = 0;
    for (int64_t k = 0; k <= n; ++k)
      if (cumsum[k] - base < error) ++below;
    t = std::min(below, n);
    make_masks(t);
    error = param_error();
    ++iterations;
    if (std::abs(error) < std::abs(best_error) || best_t < 0) {
      best_error = error;
      best_t = t;
    } else {
      make_masks(best_t);  // restore the best threshold
      error = best_error;
      break;
    }
    if (iterations >= kMaxIterations) break;  // the authors assert here; we keep the best (= current)
  }

  BranchSelection sel;
  sel.masks = masks;
  sel.threshold = best_t;
  sel.iterations = iterations;
  sel.param_error = error;
  if (previous)
    for (int g = 0; g < 3; ++g)
      for (size_t i = 0; i < hard[g].size(); ++i)
        if (hard[g][i] && !start[g][i]) ++sel.reactivated;
  return sel;
}

bool branch_output_empty(const BranchMasks& masks) {
  const std::vector<bool> h = hard_mask(masks.out);
  return std::none_of(h.begin(), h.end(), [](bool b) { return b; });
}

bool branch_input_empty(const BranchMasks& masks) {
  const std::vector<bool> hi = hard_mask(masks.in), hm = hard_mask(masks.mid);
  return std::none_of(hi.begin(), hi.end(), [](bool b) { return b; }) ||
         std::none_of(hm.begin(), hm.end(), [](bool b) { return b; });
}

}  // namespace shears::pruning
