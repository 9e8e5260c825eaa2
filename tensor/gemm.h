// The one GEMM entry point of the library (row-major, C = alpha*op(A)*op(B) + beta*C),
// float and double, plus batched forms. Backed by a provider chosen at configure time
// (tensor/gemm_provider.h: oneDNN or OpenBLAS for float, OpenBLAS for double); callers never
// include a BLAS header. Threading: oneTBB owns the cores and BLAS always runs single-threaded inside
// TBB tasks (see gemm.cpp for the split policy and the measurements behind it).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace shears {

// op(A): (M, K), op(B): (K, N), C: (M, N), all row-major with leading dimensions
// lda/ldb/ldc (elements between consecutive rows of the stored matrix). trans_a means A
// is stored as (K, M), trans_b that B is stored as (N, K). Large GEMMs are split into
// thread-count-independent blocks run in parallel, so the bits do not depend on the
// number of threads. K == 0 gives C = beta*C (C = 0 when beta == 0).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// The same GEMM, then rows_done(r0, r1) on every block of finished rows of C, for an epilogue (a bias,
// an activation) while those rows are still in cache: a block is handed over right after its provider
// call on the same thread when the GEMM is split by rows, else in parallel chunks once C is complete.
// Blocks cover [0, M) exactly once; their boundaries depend on the shape only.
using RowEpilogue = std::function<void(int64_t, int64_t)>;
template <typename T>
void gemm_then_rows(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                    const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const RowEpilogue& rows_done);

// `batch` independent GEMMs of one shape, given per-batch pointers. Parallel over the
// batch (each GEMM may itself be split when it is large).
template <typename T>
void gemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* const* A, int64_t lda, const T* const* B, int64_t ldb, T beta,
                  T* const* C, int64_t ldc, int64_t batch);

// Same with base pointers and batch strides (elements between consecutive batch items;
// a stride of 0 reuses one matrix for the whole batch).
template <typename T>
void gemm_batched_strided(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                          const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                          int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c,
                          int64_t batch);

// Puts BLAS into single-threaded mode (idempotent; gemm calls it on first use). Code that
// calls BLAS directly (benchmarks) calls this after changing the BLAS thread count.
void gemm_init();

// A one-line description of the GEMM provider and the kernels it runs on this CPU:
// "GEMM oneDNN 2.6.3 (kernels: avx512_core_bf16); float64 GEMM OpenBLAS 0.3.21 ... Cooperlake ..."
// or "GEMM OpenBLAS 0.3.21 (kernels: Haswell)". Every program prints it with its configuration.
std::string gemm_backend_info();

// Empty when the float GEMM runs kernels suited to this CPU (always with oneDNN). Otherwise a one-line warning: Debian 12's
// OpenBLAS 0.3.21 does not recognise some newer CPUs (e.g. Intel Sapphire/Emerald Rapids,
// AMD Zen 5) and falls back to its generic 'Prescott' SSE3 kernels, which run GEMM about
// 4x slower; the warning names the remedies (oneDNN, or the OPENBLAS_CORETYPE value to set). Nothing is changed
// silently: OPENBLAS_CORETYPE is read by OpenBLAS when it loads, before main().
std::string gemm_backend_warning();

}  // namespace shears
