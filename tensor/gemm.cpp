// GEMM driven by oneTBB over a single-threaded provider (tensor/gemm_provider.h: oneDNN or
// OpenBLAS for float, OpenBLAS for double): large GEMMs are split into blocks of rows, columns
// or K that run as parallel TBB tasks (each one a single-threaded provider call), and batched
// GEMMs run in parallel over the batch.

// Threading decision. The library's rule is one owner of the cores at a time, and oneTBB
// owns them (kernels, attention over batch x heads). OpenBLAS threads inside a TBB region
// would oversubscribe; calling BLAS multi-threaded only outside TBB regions would need
// every caller to know where it runs. So OpenBLAS never starts its own threads here.
// Measured (bench/bench_kernels, 2 threads, medians of interleaved samples): the split
// single-threaded calls match or beat one OpenBLAS-threaded call on the ViT Linear shapes
// (12608x384 @ 384x1152: 134-139 vs 126-133 GFLOP/s; 3136x192 @ 192x576: 122-129 vs
// 118-132) and beat a loop of BLAS-threaded calls on batched attention GEMMs
// (64 x 197x64x197: 98-105 vs 70-89). Concurrent single-threaded cblas_sgemm calls from TBB threads were checked
// bit-exact against the same calls made serially (OpenBLAS 0.3.21 pthread build).
//
// Determinism: the split depends on (M, N, K) only, never on the thread count, so a
// GEMM gives the same bits on 1 or many threads.
#include "tensor/gemm.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "tensor/error.h"
#include "tensor/gemm_provider.h"
#include "tensor/parallel.h"
#include "tensor/storage.h"

namespace shears {
namespace {

// Below this many flops (2*M*N*K) a GEMM is one call: splitting costs more than it saves.
constexpr double kSplitMinFlops = 4e6;
// A block spans at least this many rows (M split) or columns (N split): each block
// repacks the other operand, so thin blocks waste bandwidth (measured: 128-row blocks ran
// 3136x192 @ 192x576 at 0.85 of one threaded OpenBLAS call, 512-row blocks at 0.99).
constexpr int64_t kMinBlockMN = 1024;
// Smaller GEMMs that none of the splits below fit still get this many rows/columns per
// block, so that they use more than one core.
constexpr int64_t kMinBlockSmall = 128;
// A K block spans at least this much of K; K splits add an (M, N) partial per block.
constexpr int64_t kMinBlockK = 256;
// Upper bound on blocks: enough for load balance on a shared 2-core machine (one slow
// core does not hold the other idle for half the GEMM) and for up to ~8 threads.
constexpr int64_t kMaxBlocks = 8;
constexpr int64_t kMaxBlocksK = 8;
// Split points are multiples of this (a multiple of the BLAS micro-tile sizes).
constexpr int64_t kBlockAlign = 32;
// From this many rows of C on, a trans_b float GEMM on a provider that prefers B untransposed
// (oneDNN) first transposes B into a scratch (K, N) copy: the N x K copy costs about 1% of the
// GEMM there and the GEMM runs 0-10% faster (bench/bench_gemm_providers, second table; docs/performance.md).
constexpr int64_t kPlainBMinRows = 1024;
// Tile edge of that transpose (a tile of source and destination stays in L1).
constexpr int64_t kTransposeTile = 32;

std::once_flag g_init_flag;

void ensure_init() {
  std::call_once(g_init_flag, [] { detail::gemm_provider_init(); });
}

template <typename T>
inline void blas_call(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                      const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  detail::provider_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// C = beta*C for the K == 0 case (BLAS would also do it, but its argument checks reject
// some leading dimensions that are harmless here).
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* row = C + i * ldc;
    if (beta == T(0)) std::fill(row, row + N, T(0));
    else for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

void check_args(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                int64_t ldc) {
  SHEARS_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm", "negative size M=", M, " N=", N, " K=", K);
  SHEARS_CHECK(lda >= std::max<int64_t>(1, ta ? M : K), "gemm", "lda ", lda, " too small");
  SHEARS_CHECK(ldb >= std::max<int64_t>(1, tb ? K : N), "gemm", "ldb ", ldb, " too small");
  SHEARS_CHECK(ldc >= std::max<int64_t>(1, N), "gemm", "ldc ", ldc, " too small");
  const int64_t lim = int64_t(1) << 31;
  SHEARS_CHECK(M < lim && N < lim && K < lim && lda < lim && ldb < lim && ldc < lim, "gemm",
               "sizes exceed the 32-bit BLAS interface");
}

// Bt (K, N, leading dimension N) = B^T for B stored as (N, K) with leading dimension ldb, in
// parallel over blocks of B's rows (tiles of kTransposeTile: reads and writes stay in L1).
template <typename T>
void transpose_into(const T* B, int64_t ldb, int64_t N, int64_t K, T* Bt) {
  const int64_t row_tiles = (N + kTransposeTile - 1) / kTransposeTile;
  parallel_for(row_tiles, grain_for(kTransposeTile * K), [&](int64_t t0, int64_t t1) {
    for (int64_t n0 = t0 * kTransposeTile; n0 < std::min(N, t1 * kTransposeTile); n0 += kTransposeTile) {
      const int64_t n1 = std::min(N, n0 + kTransposeTile);
      for (int64_t k0 = 0; k0 < K; k0 += kTransposeTile) {
        const int64_t k1 = std::min(K, k0 + kTransposeTile);
        for (int64_t k = k0; k < k1; ++k) {
          T* __restrict dst = Bt + k * N;
          for (int64_t n = n0; n < n1; ++n) dst[n] = B[n * ldb + k];
        }
      }
    }
  });
}

enum class Split { None, M, N, K };

// The split of a GEMM, a function of the shape only: rows when they give >= 4 blocks,
// else columns, else K (small M and N with a long K: weight gradients), else up to 4
// blocks of the larger of M and N.
Split choose_split(int64_t M, int64_t N, int64_t K, int64_t& nb) {
  nb = 1;
  if (2.0 * double(M) * double(N) * double(K) < kSplitMinFlops) return Split::None;
  const int64_t nb_m = std::min(kMaxBlocks, M / kMinBlockMN);
  const int64_t nb_n = std::min(kMaxBlocks, N / kMinBlockMN);
  const int64_t nb_k = std::min(kMaxBlocksK, K / kMinBlockK);
  Split s = Split::None;
  if (nb_m >= 4) s = Split::M, nb = nb_m;
  else if (nb_n >= 4) s = Split::N, nb = nb_n;
  else if (nb_k >= 2) s = Split::K, nb = nb_k;
  else if (M >= N) s = Split::M, nb = std::min<int64_t>(4, M / kMinBlockSmall);
  else s = Split::N, nb = std::min<int64_t>(4, N / kMinBlockSmall);
  return nb >= 2 ? s : Split::None;
}

// The GEMM without argument checks or init: split or single call. `rows_done` (may be null) runs on
// every block of finished rows of C: right after the block's call when the split is by rows (same
// thread, the rows still in cache), else once the whole GEMM is done, in parallel chunks of rows.
template <typename T>
void gemm_impl(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
               int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc,
               const RowEpilogue* rows_done = nullptr) {
  if (M == 0 || N == 0) return;
  auto finish_all = [&] {
    if (rows_done) parallel_for(M, grain_for(N), [&](int64_t r0, int64_t r1) { (*rows_done)(r0, r1); });
  };
  if (K == 0) {
    scale_c(M, N, beta, C, ldc);
    return finish_all();
  }
  std::unique_ptr<Storage> plain_b;  // B^T when trans_b is cheaper to undo once than to run (see kPlainBMinRows)
  if (tb && std::is_same_v<T, float> && M >= kPlainBMinRows && detail::provider_float_prefers_plain_b()) {
    plain_b = std::make_unique<Storage>(size_t(N) * size_t(K) * sizeof(T), Device::cpu());
    T* bt = static_cast<T*>(plain_b->data());
    transpose_into(B, ldb, N, K, bt);
    B = bt, ldb = N, tb = false;
  }
  int64_t nb;
  const Split split = choose_split(M, N, K, nb);
  if (split == Split::None) {
    blas_call(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return finish_all();
  }
  const int64_t extent = split == Split::M ? M : split == Split::N ? N : K;
  int64_t step = (extent + nb - 1) / nb;
  step = (step + kBlockAlign - 1) / kBlockAlign * kBlockAlign;
  nb = (extent + step - 1) / step;
  // K split: block 0 accumulates into C, blocks 1.. into dense (M, N) partials that are
  // added to C in block order afterwards (same bits on any thread count).
  std::vector<T> partial(split == Split::K ? (nb - 1) * M * N : 0);
  parallel_for(nb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t s = blk * step, n = std::min(extent, s + step) - s;
      if (split == Split::M) {  // rows s..s+n of op(A) and C
        const T* a = ta ? A + s : A + s * lda;
        blas_call(ta, tb, n, N, K, alpha, a, lda, B, ldb, beta, C + s * ldc, ldc);
        if (rows_done) (*rows_done)(s, s + n);
      } else if (split == Split::N) {  // columns s..s+n of op(B) and C
        const T* b = tb ? B + s * ldb : B + s;
        blas_call(ta, tb, M, n, K, alpha, A, lda, b, ldb, beta, C + s, ldc);
      } else {  // columns s..s+n of op(A), rows s..s+n of op(B)
        const T* a = ta ? A + s * lda : A + s;
        const T* b = tb ? B + s : B + s * ldb;
        if (blk == 0) blas_call(ta, tb, M, N, n, alpha, a, lda, b, ldb, beta, C, ldc);
        else blas_call(ta, tb, M, N, n, alpha, a, lda, b, ldb, T(0), &partial[(blk - 1) * M * N], N);
      }
    }
  });
  if (split == Split::M) return;
  if (split == Split::N) return finish_all();
  parallel_for(M, grain_for(N * (nb - 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t p = 0; p + 1 < nb; ++p) {
        T* __restrict c = C + i * ldc;
        const T* __restrict q = &partial[(p * M + i) * N];
        for (int64_t j = 0; j < N; ++j) c[j] += q[j];
      }
    if (rows_done) (*rows_done)(r0, r1);
  });
}

}  // namespace

void gemm_init() { ensure_init(); detail::gemm_provider_init(); }

std::string gemm_backend_info() {
  std::string info = "GEMM " + detail::gemm_provider_name() + " (kernels: " + detail::gemm_provider_isa() + ")";
#ifdef SHEARS_GEMM_ONEDNN
  info += "; float64 GEMM " + detail::openblas_config();
#endif
  return info;
}

std::string gemm_backend_warning() {
#ifdef SHEARS_GEMM_ONEDNN
  return {};  // float GEMM runs on oneDNN, which picks its kernels by instruction set
#else
  return detail::openblas_generic_kernel_warning();
#endif
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  check_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  ensure_init();
  gemm_impl(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <typename T>
void gemm_then_rows(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                    const T* B, int64_t ldb, T beta, T* C, int64_t ldc, const RowEpilogue& rows_done) {
  check_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  ensure_init();
  gemm_impl(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, &rows_done);
}

template <typename T>
void gemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* const* A, int64_t lda, const T* const* B, int64_t ldb, T beta,
                  T* const* C, int64_t ldc, int64_t batch) {
  check_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  SHEARS_CHECK(batch >= 0, "gemm_batched", "negative batch ", batch);
  ensure_init();
  if (batch == 0 || M == 0 || N == 0) return;
  // Each chunk of the batch carries ~1 MFLOP or more; a large GEMM splits itself further
  // (nested TBB loops compose), so a batch of 2 big GEMMs still uses every core.
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const int64_t grain = std::max<int64_t>(1, int64_t(1e6 / std::max(flops, 1.0)));
  parallel_for(batch, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i)
      gemm_impl(trans_a, trans_b, M, N, K, alpha, A[i], lda, B[i], ldb, beta, C[i], ldc);
  });
}

template <typename T>
void gemm_batched_strided(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha,
                          const T* A, int64_t lda, int64_t stride_a, const T* B, int64_t ldb,
                          int64_t stride_b, T beta, T* C, int64_t ldc, int64_t stride_c,
                          int64_t batch) {
  check_args(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  SHEARS_CHECK(batch >= 0, "gemm_batched", "negative batch ", batch);
  ensure_init();
  if (batch == 0 || M == 0 || N == 0) return;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const int64_t grain = std::max<int64_t>(1, int64_t(1e6 / std::max(flops, 1.0)));
  parallel_for(batch, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i)
      gemm_impl(trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb,
                beta, C + i * stride_c, ldc);
  });
}

#define SHEARS_GEMM_INSTANTIATE(T)                                                          \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t,        \
                        const T*, int64_t, T, T*, int64_t);                                 \
  template void gemm_then_rows<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, \
                                  const T*, int64_t, T, T*, int64_t, const RowEpilogue&);    \
  template void gemm_batched<T>(bool, bool, int64_t, int64_t, int64_t, T, const T* const*,  \
                                int64_t, const T* const*, int64_t, T, T* const*, int64_t,   \
                                int64_t);                                                   \
  template void gemm_batched_strided<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, \
                                        int64_t, int64_t, const T*, int64_t, int64_t, T,    \
                                        T*, int64_t, int64_t, int64_t);
SHEARS_GEMM_INSTANTIATE(float)
SHEARS_GEMM_INSTANTIATE(double)
#undef SHEARS_GEMM_INSTANTIATE

}  // namespace shears
