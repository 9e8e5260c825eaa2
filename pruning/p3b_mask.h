// P3B element masks inside one sub-block (METHODS.md §2.4 with §2.7; the authors' prune_forward,
// _get_num2prune, _get_new_mask, GateLayer.get_param_per_mask_elem, MaskLinear.get_num_param): the gate
// factors, parameter counts of a branch under hard masks, per-element dynamic costs, and the threshold
// search that turns element scores and a keep ratio into soft masks. Model-free: plain vectors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shears::pruning {

enum class BranchKind { Attention, Mlp };
enum class GateKind { AttnIn, AttnQkv, AttnOut, MlpIn, MlpHid, MlpOut };

// "attn_in", "attn_qkv", "attn_out", "mlp_in", "mlp_hid", "mlp_out" (the authors' gate names less "_gate").
const char* gate_kind_name(GateKind g);
GateKind in_gate(BranchKind k);   // AttnIn / MlpIn
GateKind mid_gate(BranchKind k);  // AttnQkv / MlpHid
GateKind out_gate(BranchKind k);  // AttnOut / MlpOut

// Factor s_g multiplying a gate's normalised ranks (--prune-scale-gate-imp). The defaults equal the
// authors' default string "attn_out:1.5,mlp_hid:0.75,mlp_out:1.5".
struct GateFactors {
  double attn_in = 1, attn_qkv = 1, attn_out = 1.5, mlp_in = 1, mlp_hid = 0.75, mlp_out = 1.5;
  // "name:value,name:value" (spaces around entries allowed). As the authors, gates not named get 1.0 (not
  // the defaults above); "" gives all 1.0. Throws naming the entry for an unknown gate, a missing ':',
  // a value that is not a number or not > 0, or a gate named twice.
  static GateFactors parse(const std::string& spec);
  double of(GateKind g) const;
  std::string describe() const;  // "attn_in:1,attn_qkv:1,attn_out:1.5,mlp_in:1,mlp_hid:0.75,mlp_out:1.5"
};

// A branch's three gates: in (dim: the LayerNorm output read by qkv / fc1), mid (attention: head_dim, one
// mask shared by q, k, v of every head; MLP: hidden), out (dim: the residual channels written).
// Attention: qkv (3·heads·mid × dim) + proj (dim × heads·mid); MLP: fc1 (mid × dim) + fc2 (dim × mid);
// each Linear with a bias when has_bias; the branch's LayerNorm (norm1 / norm2) has 2·dim parameters.
struct BranchShape {
  BranchKind kind = BranchKind::Attention;
  int64_t dim = 0;
  int64_t mid = 0;
  int64_t heads = 1;  // attention only (1 for an MLP)
  bool has_bias = true;
  void validate() const;                                // throws naming the bad field
  int64_t elements() const { return dim + mid + dim; }  // gate elements of the branch
};

// Hard mask: value >= 0.5 is kept (GateLayer.get_hard_mask).
std::vector<bool> hard_mask(const std::vector<double>& soft);

// W_b of the water-filling (§2.3, count_kept_param_per_block): Linear weights + biases + the LayerNorm.
int64_t unpruned_params(const BranchShape& shape);
// The authors' "remaining parameters" of a branch under hard masks (count_kept_param_per_block, used by
// transform_benefit): kept Linear weights + biases, plus the WHOLE LayerNorm (2·dim, as the authors count it
// before slicing). Equals unpruned_params() when every mask is kept.
int64_t kept_params(const BranchShape& shape, const std::vector<bool>& in, const std::vector<bool>& mid,
                    const std::vector<bool>& out);
// What the branch really holds after slicing: kept Linear weights + biases + 2·(kept in) LayerNorm entries.
int64_t sliced_params(const BranchShape& shape, const std::vector<bool>& in, const std::vector<bool>& mid,
                      const std::vector<bool>& out);
// The counts of the threshold search (_get_num2prune, §2.7): Linear weights + biases only, no LayerNorm.
// A Linear keeps (kept inputs × kept outputs) weights + (kept outputs) biases.
int64_t unpruned_linear_params(const BranchShape& shape);
int64_t kept_linear_params(const BranchShape& shape, const std::vector<bool>& in, const std::vector<bool>& mid,
                           const std::vector<bool>& out);

// Parameters one element of each gate stands for, given the kept counts ki, km, ko of the three gates
// (§2.7: the LayerNorm entry +1 on in-gates, no biases; independent of whether the element itself is kept):
//   attention  in: 1 + 3·heads·km   mid: 3·heads·ki + heads·ko   out: heads·km
//   MLP        in: 1 + km           mid: ki + ko                 out: km
struct ElementCosts {
  int64_t in = 0, mid = 0, out = 0;
};
ElementCosts element_costs(const BranchShape& shape, int64_t kept_in, int64_t kept_mid, int64_t kept_out);

struct BranchMasks {
  std::vector<double> in, mid, out;  // soft mask values in [0, 1] (sizes dim, mid, dim)
};

struct BranchSelection {
  BranchMasks masks;
  int64_t threshold = 0;    // t: elements at sorted position r (1-based, ascending) are kept iff r >= t
  int64_t reactivated = 0;  // elements hard-kept now that were hard-pruned in `previous`
  int64_t iterations = 0;   // threshold steps taken (<= 30)
  double param_error = 0;   // kept_linear_params − keep_ratio·unpruned_linear_params with the final masks
};

// Element selection of §2.4 with §2.7 (prune_forward, for one branch):
//  - scores (mean (m·∂L/∂m)² per element over the window) -> per-gate rank (stable: equal scores rank by
//    index) -> value s_g·(rank+1)/numel; the gates are pooled in the authors' module order in, out, mid
//    (attn_in, attn_out, attn_qkv / mlp_in, mlp_out, mlp_hid) and STABLE-sorted ascending, so equal values
//    keep that order (the authors' tie-break of adding linspace(0, 1e-20) intends the same; their order
//    is otherwise unknowable);
//  - the search starts from `previous`'s hard masks (nullptr = the first update: gates at 1, all kept, as
//    the authors initialise them): error e = kept_linear_params − keep_ratio·unpruned_linear_params, index
//    t = 0 (the authors restart the index at 0; the history enters through the masks: costs and first e);
//    each step: costs of every element from the current hard masks, sorted, cumulative sums cs[k]
//    (k = 0..n, cs[n] adds a 0), t <- min(n, #{k : cs[k] − cs[t] < e}), masks from t, e recomputed; the
//    first step is always accepted, later ones while |e| shrinks, else the best t is restored; at most 30
//    steps (the authors assert beyond; we stop with the best);
//  - soft mask at sorted position r of n: σ(ln 9·(r − t)/(τ·n + 1e-8)) (0.9 at r − t = τ·n; τ = 0 gives a
//    step: 1 above t, 0 below, 0.5 at r = t, which is hard-kept), so t−1 elements are pruned and the
//    top-ranked element never is.
// allow_reactivation = false (the "masks only shrink" control, not the paper): elements hard-pruned in
// `previous` are placed first in the sorted order and their masks are forced to 0.
// Throws when a score is not finite, sizes do not match the shape, keep_ratio is outside [0, 1] or τ < 0.
BranchSelection select_branch_elements(const BranchShape& shape, const std::vector<double>& score_in,
                                       const std::vector<double>& score_mid, const std::vector<double>& score_out,
                                       double keep_ratio, double tau, const GateFactors& factors,
                                       const BranchSelection* previous, bool allow_reactivation = true);

// §2.7 "skipped" sub-blocks: the branch writes nothing (every out element hard-pruned): removing it is exact.
bool branch_output_empty(const BranchMasks& masks);
// The branch reads nothing (every in or every mid element hard-pruned): its output is a constant (biases).
bool branch_input_empty(const BranchMasks& masks);

}  // namespace shears::pruning
