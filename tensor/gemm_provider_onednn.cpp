// oneDNN's sgemm behind the GEMM provider seam (compiled when SHEARS_GEMM_ONEDNN is defined:
// -DSHEARS_GEMM_PROVIDER=AUTO finding Debian's libdnnl-dev, or =onednn). oneDNN picks its JIT
// kernels from the CPU's instruction set (cpuid), so a CPU newer than the library still gets
// AVX2/AVX-512 kernels; OpenBLAS 0.3.21 picks by CPU model and falls back to generic SSE3
// kernels on models it does not know (Zen 5, Sapphire Rapids) unless OPENBLAS_CORETYPE is set.
//
// Threads: Debian's oneDNN runs on OpenMP. oneTBB owns the cores here and every call comes
// from one TBB task, so each calling thread sets its own OpenMP team size to 1 once
// (omp_set_num_threads is per thread for threads OpenMP did not create): no OpenMP team is
// ever started, nothing oversubscribes, and the bits depend on the shape only.
#ifdef SHEARS_GEMM_ONEDNN
#include <oneapi/dnnl/dnnl.h>

#include "tensor/error.h"
#include "tensor/gemm_provider.h"

// From OpenMP's runtime (libgomp, linked by CMake). Declared here rather than through <omp.h>
// so that no file needs -fopenmp (clang builds have no OpenMP headers of their own here).
extern "C" void omp_set_num_threads(int);

namespace shears::detail {

void provider_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  thread_local const bool one_omp_thread = (omp_set_num_threads(1), true);
  (void)one_omp_thread;
  const dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  SHEARS_CHECK(st == dnnl_success, "gemm", "oneDNN sgemm failed with status ", int(st), " (M=", M, " N=", N,
               " K=", K, ")");
}

bool provider_float_prefers_plain_b() { return true; }

std::string gemm_provider_name() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

std::string gemm_provider_isa() {
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "isa " + std::to_string(int(dnnl_get_effective_cpu_isa()));
  }
}

}  // namespace shears::detail
#endif
