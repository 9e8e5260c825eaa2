// Row bodies of the float kernels that write or read a subset of a row's channels (P3B's sliced blocks):
// adding a row of k values at k unique channels of an n-channel row (index_add's fast path and the residual
// add of kernels::add_layer_norm), and writing a layer norm's output at some channels only (layer_norm_select
// and add_layer_norm). A plan is built once per call from the channel index; the row functions then give the
// bits of the plain loops: one add per kept channel (the others copied), fma((x - mean) * rstd, w, b) per
// written channel. AVX-512: loads and expands / permutes where the channels allow, gathers elsewhere; AVX2:
// loads and permutes where the channels allow, gathers (select) or the plain loop (add, any order) elsewhere.
#pragma once
#include <cstdint>
#include <vector>

namespace shears::channel_rows {

// o[c] = b[c] + s[from[c]] for the channels with a source position, b[c] elsewhere (n channels).
struct AddAtPlan {
  int64_t n = 0;
  int64_t m = 0;                // source values per row
  std::vector<int32_t> from;    // source position of each channel, -1 for none; empty: no plan (see make)
  bool ascending = false;       // the source positions ascend along the channels (how slicing lists them)
  std::vector<uint16_t> kept;   // ascending: per chunk of a vector's channels (16 on AVX-512, else 8), its
                                // channels with a source (bit c % chunk)
  std::vector<int32_t> first;   // ascending: per chunk, the source position of its first such channel
  std::vector<int32_t> rank;    // ascending, AVX2 builds only (empty otherwise): per channel with a source,
                                // from - first of its chunk (else 0), padded to whole chunks
};
// The plan for src values idx.size() = m placed at channels idx[j] of n. `from` stays empty when a channel
// repeats (the adds would have to happen in index order) or n does not fit 32-bit offsets.
AddAtPlan make_add_at_plan(const int64_t* idx, int64_t m, int64_t n);
void add_at_row(const float* b, const float* s, const AddAtPlan& plan, float* o);

// y[j] = fma((x[idx[j]] - mean) * rstd, w[j], b[j]) for j < k, from a row x of C channels.
struct SelectPlan {
  int64_t C = 0, k = 0;
  std::vector<int64_t> idx;
  std::vector<int32_t> off;    // idx as 32-bit gather offsets
  std::vector<int64_t> base;   // per vector of outputs (16 on AVX-512, else 8): first channel of its window of
                               // twice as many channels, -1: gather
  std::vector<int32_t> perm;   // per output: offset in its window
};
SelectPlan make_select_plan(const int64_t* idx, int64_t k, int64_t C);
void layer_norm_select_row(const float* x, float mean, float rstd, const float* w, const float* b,
                           const SelectPlan& plan, float* y);

}  // namespace shears::channel_rows
