// OpenBLAS behind the GEMM provider seam: double always, float when SHEARS_GEMM_ONEDNN is not
// defined (configured with -DSHEARS_GEMM_PROVIDER=openblas, or oneDNN not found under AUTO).
#include <cblas.h>

#include <cstdlib>

#include "tensor/gemm_provider.h"

namespace shears::detail {
namespace {
CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }
}  // namespace

void gemm_provider_init() { openblas_set_num_threads(1); }

void provider_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                   const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B,
              (blasint)ldb, beta, C, (blasint)ldc);
}

std::string openblas_config() { return openblas_get_config(); }

std::string openblas_generic_kernel_warning() {
  const std::string core = openblas_get_corename();
  const bool generic = core == "Prescott" || core == "Core2" || core == "Penryn" || core == "Atom" || core == "Nehalem";
  if (!generic || !__builtin_cpu_supports("avx2")) return {};
  const char* suggested = __builtin_cpu_supports("avx512f") && __builtin_cpu_is("intel") ? "SkylakeX" : "Haswell";
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  return "warning: OpenBLAS uses its generic '" + core + "' kernels on this AVX2" +
         (__builtin_cpu_supports("avx512f") ? std::string("/AVX-512") : std::string()) +
         " CPU (OPENBLAS_CORETYPE=" + (set ? set : "unset") +
         "): matrix products run about 4x slower than they could. Configure shears with oneDNN "
         "(-DSHEARS_GEMM_PROVIDER=onednn, Debian package libdnnl-dev), or set OPENBLAS_CORETYPE=" +
         suggested + " in the environment before starting.";
}

#ifndef SHEARS_GEMM_ONEDNN
void provider_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B,
              (blasint)ldb, beta, C, (blasint)ldc);
}

bool provider_float_prefers_plain_b() { return false; }

std::string gemm_provider_name() {
  const std::string config = openblas_get_config();  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
  const size_t second_space = config.find(' ', config.find(' ') + 1);
  return config.substr(0, second_space);
}

std::string gemm_provider_isa() { return openblas_get_corename(); }
#endif

}  // namespace shears::detail
