// The float32 no-grad attention core (tensor/attention_nograd.cpp): kernels::attention runs it
// when no one asks for the probabilities. Not a public entry point: call kernels::attention.
#pragma once
#include <cstdint>

namespace shears::kernels {

// qkv: (B, N, 3C) contiguous, [q | k | v], C = heads * head_dim; out: (B, N, C) contiguous, written
// with concat_h softmax(q_h k_h^T * scale) v_h.
void attention_nograd_f32(const float* qkv, int64_t B, int64_t N, int64_t C, int64_t heads, double scale,
                          float* out);

}  // namespace shears::kernels
