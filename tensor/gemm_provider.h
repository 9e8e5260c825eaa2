// The GEMM provider seam behind tensor/gemm: one single-threaded, row-major GEMM call on one
// thread (tensor/gemm.cpp does the splitting and the threading over oneTBB). float GEMM goes to
// the provider chosen at configure time (SHEARS_GEMM_PROVIDER: oneDNN, which picks its kernels
// from the CPU's instruction set, or OpenBLAS, which picks them from its list of CPU models);
// double GEMM (gradient checks, float64 studies) always goes to OpenBLAS.
#pragma once
#include <cstdint>
#include <string>

namespace shears::detail {

// Once per process: OpenBLAS to one thread (oneTBB owns the cores).
void gemm_provider_init();

// C = alpha*op(A)*op(B) + beta*C on the calling thread only. Sizes were checked by the caller
// (M, N, K >= 1, leading dimensions valid and below 2^31).
void provider_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void provider_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                   const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// Whether the float provider runs C = A*B faster with B stored untransposed (K, N) than with
// B stored as (N, K) (trans_b), by enough to pay for transposing B once per GEMM when M is large
// (tensor/gemm.cpp). oneDNN 2.6: yes (4-12% on ViT shapes); OpenBLAS 0.3.21: no (within 1%).
bool provider_float_prefers_plain_b();

// "oneDNN 2.6.3" or "OpenBLAS 0.3.21" (the float provider).
std::string gemm_provider_name();
// The instruction set the float provider's kernels run: "avx512_core" (oneDNN's effective ISA)
// or OpenBLAS's core name ("Cooperlake", "Haswell", "Prescott" = generic SSE3).
std::string gemm_provider_isa();

// OpenBLAS's configuration line ("OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... Cooperlake ...").
std::string openblas_config();
// Empty when OpenBLAS runs kernels suited to this CPU, else the warning of gemm_backend_warning().
std::string openblas_generic_kernel_warning();

}  // namespace shears::detail
