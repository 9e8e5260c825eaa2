// P3B element masks (pruning/p3b_mask.h) against hand-computed values: gate factors parsing, parameter
// counts and element costs of a small attention and MLP branch, and the threshold search traced step by
// step (keep all, a 4-step search, reactivation, the masks-only-shrink control, the top element at keep
// ratio 0, stable ties, the soft mask at r - t = τn).
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "pruning/p3b_mask.h"
#include "tensor/error.h"

using namespace shears;
using namespace shears::pruning;
using V = std::vector<double>;
using B = std::vector<bool>;

namespace {
BranchShape attention_4_2_2() {  // dim 4, 2 heads of head_dim 2
  BranchShape s;
  s.kind = BranchKind::Attention;
  s.dim = 4;
  s.mid = 2;
  s.heads = 2;
  return s;
}
BranchShape mlp(int64_t dim, int64_t hidden) {
  BranchShape s;
  s.kind = BranchKind::Mlp;
  s.dim = dim;
  s.mid = hidden;
  return s;
}
// The constructed MLP case (dim 2, hidden 4, default gate factors in 1, hid 0.75, out 1.5):
//   in  scores {0.2, 0.1}           ranks {1, 0}        values (r+1)/2        = {1.0, 0.5}
//   hid scores {0.4, 0.1, 0.3, 0.2} ranks {3, 0, 2, 1}  values 0.75 (r+1)/4   = {0.75, 0.1875, 0.5625, 0.375}
//   out scores {0.5, 0.6}           ranks {0, 1}        values 1.5 (r+1)/2    = {0.75, 1.5}
// pooled in, out, hid and stable-sorted: position 1 hid1, 2 hid3, 3 in1, 4 hid2, 5 out0 (0.75, before hid0
// by pool order), 6 hid0, 7 in0, 8 out1. Linear params: fc1 4x2 + 4 = 12, fc2 2x4 + 2 = 10 -> 22.
const V kIn = {0.2, 0.1}, kHid = {0.4, 0.1, 0.3, 0.2}, kOut = {0.5, 0.6};

B hard(const V& v) { return hard_mask(v); }
}  // namespace

TEST_CASE("GateFactors: defaults, parse as the authors, clear errors", "[pruning][p3b]") {
  const GateFactors d;
  const GateFactors p = GateFactors::parse("attn_out:1.5,mlp_hid:0.75,mlp_out:1.5");  // the authors' default
  for (GateKind g :
       {GateKind::AttnIn, GateKind::AttnQkv, GateKind::AttnOut, GateKind::MlpIn, GateKind::MlpHid, GateKind::MlpOut})
    CHECK(p.of(g) == d.of(g));
  CHECK(d.of(GateKind::AttnOut) == 1.5);
  CHECK(d.of(GateKind::MlpHid) == 0.75);
  CHECK(d.of(GateKind::AttnQkv) == 1.0);
  // gates not named are 1 (not the defaults), spaces allowed
  const GateFactors q = GateFactors::parse(" attn_out : 2 , attn_in:3");
  CHECK(q.attn_out == 2.0);
  CHECK(q.attn_in == 3.0);
  CHECK(q.mlp_hid == 1.0);
  CHECK(q.mlp_out == 1.0);
  const GateFactors e = GateFactors::parse("");
  CHECK(e.attn_out == 1.0);
  CHECK(e.mlp_hid == 1.0);
  CHECK(d.describe() == "attn_in:1,attn_qkv:1,attn_out:1.5,mlp_in:1,mlp_hid:0.75,mlp_out:1.5");
  CHECK_THROWS_WITH(GateFactors::parse("attn_out"), Catch::Contains("'attn_out' has no ':'"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:1.5,mlp_hidden:2"), Catch::Contains("unknown gate 'mlp_hidden'"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:x"), Catch::Contains("'x' of entry 'attn_out:x' is not a number"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:1.5abc"), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:"), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:-1"), Catch::Contains("'attn_out:-1' must be a finite number > 0"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:0"), Catch::Contains("> 0"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:1,attn_out:2"), Catch::Contains("given twice"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:1,,mlp_hid:1"), Catch::Contains("empty entry"));
  CHECK_THROWS_WITH(GateFactors::parse("attn_out:1,"), Catch::Contains("empty entry"));
}

TEST_CASE("parameter counts of a small attention branch by hand", "[pruning][p3b]") {
  const BranchShape a = attention_4_2_2();
  // qkv: 3*2*2 = 12 rows x 4 = 48 + 12 bias = 60; proj: 4 x (2*2) = 16 + 4 = 20; Linear 80; LayerNorm 2*4 = 8
  CHECK(unpruned_linear_params(a) == 80);
  CHECK(unpruned_params(a) == 88);
  const B all4(4, true), all2(2, true);
  CHECK(kept_params(a, all4, all2, all4) == 88);
  CHECK(sliced_params(a, all4, all2, all4) == 88);
  // in {1,1,0,1} (3), mid {1,0} (1), out {1,0,1,0} (2): qkv rows 3*2*1 = 6: 3*6 + 6 = 24; proj cols 2*1 = 2:
  // 2*2 + 2 = 6; Linear 30; + whole LayerNorm 8 = 38; sliced LayerNorm 2*3 = 6 -> 36
  const B in = {true, true, false, true}, mid = {true, false}, out = {true, false, true, false};
  CHECK(kept_linear_params(a, in, mid, out) == 30);
  CHECK(kept_params(a, in, mid, out) == 38);
  CHECK(sliced_params(a, in, mid, out) == 36);
  // element costs: in 1 + 3*2*1 = 7, mid 3*2*3 + 2*2 = 22, out 2*1 = 2; dense: 13, 32, 4
  const ElementCosts c = element_costs(a, 3, 1, 2);
  CHECK(c.in == 7);
  CHECK(c.mid == 22);
  CHECK(c.out == 2);
  const ElementCosts cd = element_costs(a, 4, 2, 4);
  CHECK(cd.in == 13);
  CHECK(cd.mid == 32);
  CHECK(cd.out == 4);
  // without biases: 48 + 16 = 64; kept 18 + 4 = 22
  BranchShape nb = a;
  nb.has_bias = false;
  CHECK(unpruned_linear_params(nb) == 64);
  CHECK(unpruned_params(nb) == 72);
  CHECK(kept_linear_params(nb, in, mid, out) == 22);
  CHECK_THROWS_WITH(kept_params(a, all2, all2, all4), Catch::Contains("masks of sizes"));
}

TEST_CASE("parameter counts of a small MLP branch by hand", "[pruning][p3b]") {
  const BranchShape m = mlp(4, 8);
  // fc1: 8x4 = 32 + 8 = 40; fc2: 4x8 = 32 + 4 = 36; Linear 76; LayerNorm 8 -> 84
  CHECK(unpruned_linear_params(m) == 76);
  CHECK(unpruned_params(m) == 84);
  // in {1,0,0,1} (2), hidden first 5 (5), out all (4): fc1 2*5 + 5 = 15, fc2 5*4 + 4 = 24 -> 39;
  // + whole LayerNorm 8 = 47; sliced LayerNorm 2*2 = 4 -> 43
  const B in = {true, false, false, true}, hid = {true, true, true, true, true, false, false, false}, out(4, true);
  CHECK(kept_linear_params(m, in, hid, out) == 39);
  CHECK(kept_params(m, in, hid, out) == 47);
  CHECK(sliced_params(m, in, hid, out) == 43);
  // costs: in 1 + 5 = 6, hidden 2 + 4 = 6, out 5
  const ElementCosts c = element_costs(m, 2, 5, 4);
  CHECK(c.in == 6);
  CHECK(c.mid == 6);
  CHECK(c.out == 5);
  BranchShape bad = m;
  bad.heads = 2;
  CHECK_THROWS_WITH(unpruned_params(bad), Catch::Contains("heads 1"));
}

TEST_CASE("select_branch_elements: keep ratio 1 keeps every element", "[pruning][p3b]") {
  const BranchShape a = attention_4_2_2();
  const V si = {0.3, 0.1, 0.2, 0.4}, sm = {0.5, 0.6}, so = {0.9, 0.8, 0.7, 0.1};
  // e = 80 - 80 = 0: t = #{cs[k] - cs[0] < 0} = 0, the next step finds t = 0 again (not better): t 0
  const BranchSelection s = select_branch_elements(a, si, sm, so, 1.0, 0.0, GateFactors{}, nullptr);
  CHECK(s.threshold == 0);
  CHECK(s.param_error == 0.0);
  CHECK(s.iterations == 2);
  for (const V* m : {&s.masks.in, &s.masks.mid, &s.masks.out})
    for (double v : *m) CHECK(v == 1.0);
  // with tau 0.1 the soft masks are below 1 but every element is hard-kept
  const BranchSelection soft = select_branch_elements(a, si, sm, so, 1.0, 0.1, GateFactors{}, nullptr);
  CHECK(kept_linear_params(a, hard(soft.masks.in), hard(soft.masks.mid), hard(soft.masks.out)) == 80);
  double lowest = 1;
  for (double v : soft.masks.in) lowest = std::min(lowest, v);
  CHECK(lowest < 1.0);
}

TEST_CASE("select_branch_elements: the threshold lands where the hand trace says", "[pruning][p3b]") {
  const BranchShape m = mlp(2, 4);
  // keep ratio 0.3: goal 0.3*22 = 6.6, start dense: e = 22 - 6.6 = 15.4
  // step 1, costs (ki 2, km 4, ko 2): in 5, hid 4, out 4; sorted: 4 4 5 4 4 4 5 4 (+0)
  //   cs = 4 8 13 17 21 25 30 34 34; cs - cs[0] = 0 4 9 13 17 21 26 30 30; # < 15.4 = 4 -> t 4
  //   pruned positions 1..3 (hid1, hid3, in1): ki 1 km 2 ko 2: fc1 1*2+2 = 4, fc2 2*2+2 = 6 -> 10, e = 3.4 (accepted)
  // step 2, costs (1, 2, 2): in 3, hid 3, out 2; sorted 3 3 3 3 2 3 3 2: cs = 3 6 9 12 14 17 20 22 22,
  //   cs - cs[4] = -11 -8 -5 -2 0 3 6 8 8; # < 3.4 = 6 -> t 6: pruned hid1 hid3 in1 hid2 out0:
  //   ki 1 km 1 ko 1 -> 2 + 2 = 4, e = -2.6 (|2.6| < 3.4: accepted)
  // step 3, costs (1, 1, 1): in 2, hid 2, out 1; sorted 2 2 2 2 1 2 2 1: cs = 2 4 6 8 9 11 13 14 14,
  //   cs - cs[6] = -11 -9 -7 -5 -4 -2 0 1 1; # < -2.6 = 5 -> t 5: pruned hid1 hid3 in1 hid2:
  //   ki 1 km 1 ko 2 -> fc1 2, fc2 1*2+2 = 4 -> 6, e = -0.6 (accepted)
  // step 4, costs (1, 1, 2): in 2, hid 3, out 1; cs = 3 6 8 11 12 15 17 18 18, cs - cs[5] = -12 -9 -7 -4 -3 0 2 3 3;
  //   # < -0.6 = 5 -> t 5 again, e -0.6 not smaller: restore t 5
  const BranchSelection s = select_branch_elements(m, kIn, kHid, kOut, 0.3, 0.0, GateFactors{}, nullptr);
  CHECK(s.threshold == 5);
  CHECK(s.iterations == 4);
  CHECK(s.param_error == Approx(-0.6).epsilon(1e-12));
  CHECK(hard(s.masks.in) == B{true, false});
  CHECK(hard(s.masks.mid) == B{true, false, false, false});
  CHECK(hard(s.masks.out) == B{true, true});
  CHECK(kept_linear_params(m, hard(s.masks.in), hard(s.masks.mid), hard(s.masks.out)) == 6);
  CHECK(s.masks.out[0] == 0.5);  // position 5 = t: σ(0), hard-kept
  CHECK(s.masks.in[0] == 1.0);
  CHECK(s.masks.in[1] == 0.0);
  CHECK(s.reactivated == 0);  // no previous selection

  // keep ratio 0.5: goal 11, e = 11; step 1: # (cs - 4) < 11 = 3 -> t 3 (hid1, hid3 pruned): 6 + 6 = 12, e = 1;
  // step 2: costs in 3 hid 4 out 2, cs = 4 8 11 15 17 21 24 26 26, cs - 15 < 1: 4 -> t 4: 4 + 6 = 10, e = -1
  // (not smaller): t 3
  const BranchSelection h = select_branch_elements(m, kIn, kHid, kOut, 0.5, 0.0, GateFactors{}, nullptr);
  CHECK(h.threshold == 3);
  CHECK(h.iterations == 2);
  CHECK(h.param_error == Approx(1.0).epsilon(1e-12));
  CHECK(hard(h.masks.mid) == B{true, false, true, false});
}

TEST_CASE("select_branch_elements: a higher keep ratio brings pruned elements back", "[pruning][p3b]") {
  const BranchShape m = mlp(2, 4);
  const BranchSelection first = select_branch_elements(m, kIn, kHid, kOut, 0.3, 0.0, GateFactors{}, nullptr);
  // from the 0.3 masks (hid1 hid3 in1 hid2 pruned, 6 params) at keep ratio 0.5: e = 6 - 11 = -5
  // step 1: costs (1,1,2) cs - cs[0] = 0 3 5 8 ...; # < -5 = 0 -> t 0: all kept, e = 11 (first: accepted)
  // step 2: dense costs, # (cs - cs[0]) < 11 = 3 -> t 3: e = 1 (accepted); step 3: t 4, e = -1: restore t 3
  // hard-kept again: in1 and hid2 -> reactivated 2
  const BranchSelection next = select_branch_elements(m, kIn, kHid, kOut, 0.5, 0.0, GateFactors{}, &first);
  CHECK(next.threshold == 3);
  CHECK(next.iterations == 3);
  CHECK(next.reactivated == 2);
  CHECK(hard(next.masks.in) == B{true, true});
  CHECK(hard(next.masks.mid) == B{true, false, true, false});
  CHECK(hard(next.masks.out) == B{true, true});

  // the masks-only-shrink control: the four pruned elements stay pruned (e = -5 cannot shrink): nothing back
  const BranchSelection frozen = select_branch_elements(m, kIn, kHid, kOut, 0.5, 0.0, GateFactors{}, &first, false);
  CHECK(frozen.reactivated == 0);
  CHECK(hard(frozen.masks.in) == hard(first.masks.in));
  CHECK(hard(frozen.masks.mid) == hard(first.masks.mid));
  CHECK(hard(frozen.masks.out) == hard(first.masks.out));
  CHECK(frozen.param_error == Approx(-5.0).epsilon(1e-12));

  // a high-ranked element pruned before (in0) stays pruned under the control even at keep ratio 1,
  // and comes back (1 reactivated) when reactivation is allowed
  BranchSelection hand;
  hand.masks.in = {0.0, 1.0};
  hand.masks.mid = {1, 1, 1, 1};
  hand.masks.out = {1, 1};
  const BranchSelection locked = select_branch_elements(m, kIn, kHid, kOut, 1.0, 0.0, GateFactors{}, &hand, false);
  CHECK(locked.masks.in[0] == 0.0);
  CHECK(hard(locked.masks.mid) == B(4, true));
  CHECK(locked.reactivated == 0);
  const BranchSelection back = select_branch_elements(m, kIn, kHid, kOut, 1.0, 0.0, GateFactors{}, &hand);
  CHECK(back.masks.in[0] == 1.0);
  CHECK(back.reactivated == 1);
}

TEST_CASE("select_branch_elements: the top-ranked element survives keep ratio 0", "[pruning][p3b]") {
  const BranchShape m = mlp(2, 4);
  // goal 0, e = 22; step 1: # (cs - 4) < 22 = 6 -> t 6: in0 hid0 out1 kept: 2 + 2 = 4, e = 4
  // step 2: costs (1,1,1): cs - cs[6] = -11 -9 -7 -5 -4 -2 0 1 1, all 9 < 4 -> t = min(9, 8) = 8: only out1
  //   (position 8) kept: fc1 0, fc2 bias 1 -> e = 1; step 3: t 8 again, not smaller: t 8
  const BranchSelection s = select_branch_elements(m, kIn, kHid, kOut, 0.0, 0.0, GateFactors{}, nullptr);
  CHECK(s.threshold == 8);
  CHECK(s.iterations == 3);
  CHECK(s.param_error == 1.0);
  CHECK(hard(s.masks.in) == B{false, false});
  CHECK(hard(s.masks.mid) == B(4, false));
  CHECK(hard(s.masks.out) == B{false, true});
  CHECK(s.masks.out[1] == 0.5);  // r = t
  CHECK(branch_input_empty(s.masks));
  CHECK(!branch_output_empty(s.masks));

  // attention at keep ratio 0 with random scores: exactly one element survives, the highest pooled value
  const BranchShape a = attention_4_2_2();
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  V si(4), sm(2), so(4);
  for (double& v : si) v = u(rng);
  for (double& v : sm) v = u(rng);
  for (double& v : so) v = u(rng);
  const BranchSelection z = select_branch_elements(a, si, sm, so, 0.0, 0.0, GateFactors{}, nullptr);
  // highest value: attn_out's top (1.5 * 4/4 = 1.5) beats attn_in's 1 and attn_qkv's 1
  int64_t kept = 0;
  for (const V* v : {&z.masks.in, &z.masks.mid, &z.masks.out})
    for (double x : *v) kept += x >= 0.5;
  CHECK(kept == 1);
  const int64_t top_out = std::max_element(so.begin(), so.end()) - so.begin();
  CHECK(z.masks.out[top_out] >= 0.5);
  CHECK(z.threshold == a.elements());
}

TEST_CASE("select_branch_elements: equal values keep the pool order in, out, mid", "[pruning][p3b]") {
  const BranchShape m = mlp(2, 4);
  // all scores equal, all factors 1: ranks by index; values in {0.5, 1}, out {0.5, 1}, hid {0.25, 0.5, 0.75, 1}
  // stable order: hid0, in0, out0, hid1, hid2, in1, out1, hid3 -> at keep ratio 0 only hid3 survives
  const GateFactors ones = GateFactors::parse("");
  const BranchSelection s = select_branch_elements(m, {0, 0}, {0, 0, 0, 0}, {0, 0}, 0.0, 0.0, ones, nullptr);
  CHECK(hard(s.masks.mid) == B{false, false, false, true});
  CHECK(hard(s.masks.in) == B{false, false});
  CHECK(hard(s.masks.out) == B{false, false});
  CHECK(branch_output_empty(s.masks));
  CHECK(branch_input_empty(s.masks));
}

TEST_CASE("select_branch_elements: soft mask 0.9 at r - t = tau*n, 0.1 at -tau*n", "[pruning][p3b]") {
  const BranchShape m = mlp(2, 4);
  // n = 8, tau 0.25 -> tau*n = 2; the hard masks (and t = 5) are as with tau 0
  // position 7 (in0): σ(ln 9 * 2 / (2 + 1e-8)) = 0.9; position 3 (in1): 0.1; position 5 (out0): 0.5
  // position 6 (hid0): σ(ln 9 / 2) = 3/4; position 8 (out1): σ(ln 9 * 3/2) = 27/28
  const BranchSelection s = select_branch_elements(m, kIn, kHid, kOut, 0.3, 0.25, GateFactors{}, nullptr);
  CHECK(s.threshold == 5);
  CHECK(s.masks.in[0] == Approx(0.9).epsilon(1e-8));
  CHECK(s.masks.in[1] == Approx(0.1).epsilon(1e-7));
  CHECK(s.masks.out[0] == 0.5);
  CHECK(s.masks.mid[0] == Approx(0.75).epsilon(1e-8));
  CHECK(s.masks.out[1] == Approx(27.0 / 28.0).epsilon(1e-8));
  CHECK(hard(s.masks.mid) == B{true, false, false, false});
}

TEST_CASE("select_branch_elements: attention search matches its own parameter error", "[pruning][p3b]") {
  BranchShape a;
  a.kind = BranchKind::Attention;
  a.dim = 8;
  a.mid = 4;
  a.heads = 2;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  const BranchSelection* prev = nullptr;
  BranchSelection last;
  for (double kr : {0.9, 0.6, 0.3, 0.7}) {
    V si(8), sm(4), so(8);
    for (double& v : si) v = u(rng);
    for (double& v : sm) v = u(rng);
    for (double& v : so) v = u(rng);
    const BranchSelection s = select_branch_elements(a, si, sm, so, kr, 0.05, GateFactors{}, prev);
    const int64_t kept = kept_linear_params(a, hard(s.masks.in), hard(s.masks.mid), hard(s.masks.out));
    CHECK(s.param_error == Approx(double(kept) - kr * double(unpruned_linear_params(a))).margin(1e-9));
    CHECK(s.iterations >= 1);
    CHECK(s.iterations <= 30);
    // within one qkv element's cost (the largest: 3*2*8 + 2*8 = 64) of the goal
    CHECK(std::abs(s.param_error) <= 64.0);
    last = s;
    prev = &last;
  }
}

TEST_CASE("select_branch_elements: bad inputs throw", "[pruning][p3b]") {
  const BranchShape m = mlp(2, 4);
  CHECK_THROWS_WITH(select_branch_elements(m, {1}, kHid, kOut, 0.5, 0, GateFactors{}, nullptr),
                    Catch::Contains("scores of sizes"));
  CHECK_THROWS_WITH(select_branch_elements(m, kIn, kHid, kOut, 1.5, 0, GateFactors{}, nullptr),
                    Catch::Contains("keep ratio in [0, 1]"));
  CHECK_THROWS_WITH(select_branch_elements(m, kIn, kHid, kOut, 0.5, -0.1, GateFactors{}, nullptr),
                    Catch::Contains("tau >= 0"));
  CHECK_THROWS_WITH(select_branch_elements(m, kIn, {0.1, NAN, 0.2, 0.3}, kOut, 0.5, 0, GateFactors{}, nullptr),
                    Catch::Contains("mlp_hid score 1 is not finite"));
  BranchSelection wrong;
  wrong.masks.in = {1, 1, 1};
  wrong.masks.mid = {1, 1, 1, 1};
  wrong.masks.out = {1, 1};
  CHECK_THROWS_WITH(select_branch_elements(m, kIn, kHid, kOut, 0.5, 0, GateFactors{}, &wrong),
                    Catch::Contains("previous mlp_in mask has 3 elements"));
}
