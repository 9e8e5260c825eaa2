// The GEMM provider candidates side by side on the shapes shears runs (docs/DESIGN.md, "GEMM
// provider"): OpenBLAS (cblas_sgemm), oneDNN (dnnl_sgemm) and, when built with it, BLIS
// (bli_sgemm), each called directly on one thread (how shears calls its provider, inside oneTBB
// tasks) and with the library's own threads (--threads). Row-major single-precision GFLOP/s,
// median of interleaved samples. A second table runs oneDNN's trans_b forward shapes (DeiT-S and
// P3B-sliced Linear layers) with B stored as (N, K) and as (K, N) on one thread: the measurement
// behind tensor/gemm.cpp's kPlainBMinRows (large trans_b GEMMs transpose B first on oneDNN).
// Built only when oneDNN is found (bench/CMakeLists.txt).
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#ifdef SHEARS_BENCH_BLIS
#include <blis.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"

extern "C" void omp_set_num_threads(int);  // oneDNN's OpenMP runtime (libgomp)

namespace {

struct Shape {
  const char* what;
  bool ta, tb;
  int M, N, K;
};

// The Linear layers of DeiT-S at batch 64 (12608 tokens) forward and backward, the attention
// GEMMs of one head, and the main job's and config (a)'s small layers.
const Shape kShapes[] = {
    {"DeiT-S qkv forward", false, true, 12608, 1152, 384},   {"DeiT-S fc1 forward", false, true, 12608, 1536, 384},
    {"DeiT-S fc2 forward", false, true, 12608, 384, 1536},   {"DeiT-S proj forward", false, true, 12608, 384, 384},
    {"DeiT-S fc1 dX", false, false, 12608, 384, 1536},       {"DeiT-S fc1 dW", true, false, 1536, 384, 12608},
    {"DeiT-S attention q k^T", false, true, 197, 197, 64},   {"DeiT-S attention p v", false, false, 197, 64, 197},
    {"ViT-Tiny (a) fc1 forward", false, true, 6400, 768, 192}, {"main job fc1 forward", false, true, 2176, 256, 128},
    {"main job attention q k^T", false, true, 17, 17, 32},
};

// Linear forward layers of a P3B-sliced DeiT-S (the 70% bench model of docs/p3b.md, batch 32): short K
// and N that are not multiples of the kernels' tiles.
const Shape kSlicedShapes[] = {
    {"P3B pr70 block 0 qkv", false, true, 6304, 486, 156},  {"P3B pr70 block 4 proj", false, true, 6304, 195, 102},
    {"P3B pr70 block 11 fc1", false, true, 6304, 1248, 330}, {"P3B pr70 block 3 fc2", false, true, 6304, 302, 874},
};

enum Provider { OpenBLAS, OneDNN, BLIS, kProviders };
const char* kNames[kProviders] = {"OpenBLAS", "oneDNN", "BLIS"};

void call(Provider p, const Shape& s, const float* A, const float* B, float* C) {
  const int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  if (p == OpenBLAS) {
    cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.M, s.N, s.K, 1.f,
                A, lda, B, ldb, 0.f, C, s.N);
  } else if (p == OneDNN) {
    dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1.f, A, lda, B, ldb, 0.f, C, s.N);
  } else {
#ifdef SHEARS_BENCH_BLIS
    float one = 1.f, zero = 0.f;
    bli_sgemm(s.ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, s.tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, s.M, s.N, s.K, &one,
              const_cast<float*>(A), lda, 1, const_cast<float*>(B), ldb, 1, &zero, C, s.N, 1);
#endif
  }
}

void set_threads(int n) {
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
#ifdef SHEARS_BENCH_BLIS
  bli_thread_set_num_threads(n);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, samples = 5;
  double min_time = 0.3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--samples" && i + 1 < argc) samples = std::atoi(argv[++i]);
    else if (a == "--min-time" && i + 1 < argc) min_time = std::atof(argv[++i]);
    else {
      std::printf("usage: bench_gemm_providers [--threads N (2)] [--samples N (5)] [--min-time S (0.3)]\n"
                  "GFLOP/s of OpenBLAS, oneDNN%s sgemm on shears' shapes, 1 thread and N threads.\n",
#ifdef SHEARS_BENCH_BLIS
                  " and BLIS"
#else
                  ""
#endif
      );
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
#ifdef SHEARS_BENCH_BLIS
  const int providers = 3;
#else
  const int providers = 2;
#endif
  std::printf("# GEMM providers, single precision, row-major\n\n- CPU: %s\n- OpenBLAS: %s\n- oneDNN %d.%d.%d\n"
              "- medians of %d interleaved samples of >= %.2f s\n\n",
              shears::bench::cpu_model().c_str(), openblas_get_config(), dnnl_version()->major,
              dnnl_version()->minor, dnnl_version()->patch, samples, min_time);
  std::printf("| shape | M x N x K | threads |");
  for (int p = 0; p < providers; ++p) std::printf(" %s GFLOP/s |", kNames[p]);
  std::printf("\n|---|---|---|");
  for (int p = 0; p < providers; ++p) std::printf("---|");
  std::printf("\n");
  for (const Shape& s : kShapes) {
    std::vector<float> A(size_t(s.M) * s.K, 0.5f), B(size_t(s.K) * s.N, 0.25f), C(size_t(s.M) * s.N);
    const double flops = 2.0 * s.M * s.N * s.K;
    for (int t : {1, threads}) {
      set_threads(t);
      std::vector<std::vector<double>> per_call(static_cast<size_t>(providers));
      for (int p = 0; p < providers; ++p) call(Provider(p), s, A.data(), B.data(), C.data());  // warm-up
      for (int rep = 0; rep < samples; ++rep)
        for (int p = 0; p < providers; ++p) {
          int64_t n = 0;
          const double t0 = shears::bench::now_s();
          double t1 = t0;
          do {
            call(Provider(p), s, A.data(), B.data(), C.data());
            ++n;
            t1 = shears::bench::now_s();
          } while (t1 - t0 < min_time);
          per_call[size_t(p)].push_back((t1 - t0) / double(n));
        }
      std::printf("| %s | %d x %d x %d%s%s | %d |", s.what, s.M, s.N, s.K, s.ta ? " (A^T)" : "", s.tb ? " (B^T)" : "", t);
      for (int p = 0; p < providers; ++p) std::printf(" %.1f |", flops / shears::bench::median(per_call[size_t(p)]) / 1e9);
      std::printf("\n");
      std::fflush(stdout);
      if (t == threads) break;
    }
  }

  // oneDNN, one thread: the same C = A B with B stored transposed (N, K) and untransposed (K, N)
  std::printf("\n| shape (oneDNN, 1 thread) | M x N x K | B stored (N, K) GFLOP/s | B stored (K, N) GFLOP/s | ratio |\n"
              "|---|---|---|---|---|\n");
  set_threads(1);
  std::vector<Shape> forward;
  for (const Shape& s : kShapes)
    if (s.tb && !s.ta && s.M >= 1024) forward.push_back(s);
  forward.insert(forward.end(), std::begin(kSlicedShapes), std::end(kSlicedShapes));
  for (const Shape& s : forward) {
    std::vector<float> A(size_t(s.M) * s.K, 0.5f), B(size_t(s.K) * s.N, 0.25f), C(size_t(s.M) * s.N);
    Shape plain = s;
    plain.tb = false;
    std::vector<double> per_call[2];
    for (int rep = 0; rep <= samples; ++rep)  // the first round warms up
      for (int form = 0; form < 2; ++form) {
        int64_t n = 0;
        const double t0 = shears::bench::now_s();
        double t1 = t0;
        do {
          call(OneDNN, form == 0 ? s : plain, A.data(), B.data(), C.data());
          ++n;
          t1 = shears::bench::now_s();
        } while (t1 - t0 < min_time);
        if (rep > 0) per_call[form].push_back((t1 - t0) / double(n));
      }
    const double flops = 2.0 * s.M * s.N * s.K, nk = shears::bench::median(per_call[0]),
                 kn = shears::bench::median(per_call[1]);
    std::printf("| %s | %d x %d x %d | %.1f | %.1f | %.3f |\n", s.what, s.M, s.N, s.K, flops / nk / 1e9,
                flops / kn / 1e9, nk / kn);
    std::fflush(stdout);
  }
  return 0;
}
