// Kernel micro-benchmarks with plain timers, printed as Markdown: matmul GFLOP/s through
// shears (kernels::matmul on Tensors) next to direct OpenBLAS calls on the same shapes,
// and GB/s of softmax, layer_norm and gelu on a (12608, 384) f32 tensor; then the ops P3B added
// (no-grad forwards): layer_norm_select and index_add (GB/s), batch_norm (GB/s), conv2d 3x3 (GFLOP/s),
// add_layer_norm beside the index_add + layer_norm_select pair it fuses;
// the attention core with its (B, H, N, N) probabilities vs the fused no-grad kernel (GFLOP/s);
// and fc1 + GELU as two ops vs linear_gelu (the GELU in the GEMM's epilogue).
// Method: warm-up, then --samples samples of at least --min-time seconds each, the
// variants of one comparison interleaved sample by sample; medians are reported.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

using namespace shears;

#include "bench_util.h"

namespace {
using bench::median;
using bench::now_s;

double g_min_time = 0.3;  // seconds per sample
int g_samples = 5;

// Seconds per call of fn, averaged over a sample of at least g_min_time.
double sample(const std::function<void()>& fn) {
  int64_t iters = 0;
  const double t0 = now_s();
  double t = t0;
  do {
    fn();
    ++iters;
    t = now_s();
  } while (t - t0 < g_min_time);
  return (t - t0) / double(iters);
}

// Median seconds per call of each variant, sampled in interleaved order after a warm-up.
std::vector<double> measure(const std::vector<std::function<void()>>& variants) {
  const double keep = g_min_time;
  g_min_time = std::min(0.2, keep);
  for (const auto& v : variants) sample(v);  // warm-up
  g_min_time = keep;
  std::vector<std::vector<double>> times(variants.size());
  for (int s = 0; s < g_samples; ++s)
    for (size_t i = 0; i < variants.size(); ++i) times[i].push_back(sample(variants[i]));
  std::vector<double> med;
  for (auto& t : times) med.push_back(median(t));
  return med;
}

Tensor random_tensor(const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng);
  return t;
}

double max_rel_diff(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return den > 0 ? num / den : num;
}

// The direct baseline: OpenBLAS with its own threads (as PyTorch calls it), outside any
// TBB region; restored to 1 thread afterwards so shears' single-threaded-BLAS rule holds.
struct BlasThreads {
  explicit BlasThreads(int n) { openblas_set_num_threads(n); }
  ~BlasThreads() { gemm_init(); }
};

struct MatmulRow {
  std::string what, shape;
  double flops;
  double shears_s;   // kernels::matmul on Tensors (allocates its output)
  double gemm_s;     // shears::gemm into a reused buffer (0: not measured)
  double direct_s;   // direct cblas_sgemm, OpenBLAS threaded
  double direct1_s;  // direct cblas_sgemm, OpenBLAS at 1 thread
  double check;      // max |shears - direct| / max |direct|
};

// Interleaved samples of the four variants (sample 0 is the warm-up); fills the times.
void run_matmul_bench(MatmulRow& r, int threads, const std::function<void()>& shears_fn,
                      const std::function<void()>& gemm_fn, const std::function<void()>& direct_fn) {
  std::vector<double> ts, tg, td, t1;
  for (int w = 0; w <= g_samples; ++w) {
    const double s_shears = sample(shears_fn);
    const double s_gemm = gemm_fn ? sample(gemm_fn) : 0.0;
    double s_direct;
    {
      BlasThreads bt(threads);
      s_direct = sample(direct_fn);
    }
    const double s_one = sample(direct_fn);
    if (w == 0) continue;
    ts.push_back(s_shears);
    tg.push_back(s_gemm);
    td.push_back(s_direct);
    t1.push_back(s_one);
  }
  r.shears_s = median(ts);
  r.gemm_s = median(tg);
  r.direct_s = median(td);
  r.direct1_s = median(t1);
}

// One (M, K) @ (K, N) GEMM.
MatmulRow bench_single(int64_t M, int64_t N, int64_t K, int threads) {
  Tensor a = random_tensor({M, K}, 1), b = random_tensor({K, N}, 2);
  const float* A = a.data<float>();
  const float* B = b.data<float>();
  std::vector<float> c(M * N), c2(M * N);
  auto direct = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, c.data(), N);
  };
  Tensor out;
  MatmulRow r;
  r.what = "matmul";
  r.shape = std::to_string(M) + "x" + std::to_string(K) + " @ " + std::to_string(K) + "x" + std::to_string(N);
  r.flops = 2.0 * M * N * K;
  run_matmul_bench(
      r, threads, [&] { out = kernels::matmul(a, b); },
      [&] { gemm<float>(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, c2.data(), N); }, direct);
  {
    BlasThreads bt(threads);
    direct();
  }
  out = kernels::matmul(a, b);
  r.check = max_rel_diff(out.data<float>(), c.data(), M * N);
  return r;
}

// batch x (M, K) @ (K, N): kernels::matmul vs a loop of cblas_sgemm calls.
// transposed_b: b is a transposed view (q @ k^T in attention), passed to BLAS as Trans.
MatmulRow bench_batched(int64_t batch, int64_t M, int64_t N, int64_t K, int threads, bool transposed_b) {
  Tensor a = random_tensor({batch, M, K}, 3);
  Tensor b = transposed_b ? kernels::transpose(random_tensor({batch, N, K}, 4), 1, 2)
                          : random_tensor({batch, K, N}, 4);
  const float* A = a.data<float>();
  const float* B = b.data<float>();
  std::vector<float> c(batch * M * N);
  auto loop = [&] {
    for (int64_t i = 0; i < batch; ++i)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, transposed_b ? CblasTrans : CblasNoTrans, M, N, K,
                  1.0f, A + i * M * K, K, B + i * K * N, transposed_b ? K : N, 0.0f,
                  c.data() + i * M * N, N);
  };
  Tensor out;
  MatmulRow r;
  r.what = transposed_b ? "batched matmul, b = k^T view" : "batched matmul";
  r.shape = std::to_string(batch) + " x (" + std::to_string(M) + "x" + std::to_string(K) + " @ " +
            std::to_string(K) + "x" + std::to_string(N) + ")";
  r.flops = 2.0 * batch * M * N * K;
  run_matmul_bench(r, threads, [&] { out = kernels::matmul(a, b); }, nullptr, loop);
  loop();
  out = kernels::matmul(a, b);
  r.check = max_rel_diff(out.data<float>(), c.data(), batch * M * N);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", arg.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (arg == "--min-time") g_min_time = std::atof(value());
    else if (arg == "--samples") g_samples = std::max(1, std::atoi(value()));
    else if (arg == "--threads") threads = std::atoi(value());
    else {
      std::printf(
          "usage: bench_kernels [--min-time SECONDS (0.3)] [--samples N (5)] [--threads N]\n"
          "Prints matmul GFLOP/s (shears vs direct OpenBLAS), softmax/layer_norm/gelu GB/s, and P3B's ops\n"
          "(layer_norm_select, index_add, batch_norm GB/s; conv2d 3x3 GFLOP/s), the attention core and fc1 + GELU.\n"
          "--threads sets shears' TBB threads and the direct BLAS call's threads\n"
          "(default: SHEARS_NUM_THREADS or all cores).\n");
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  if (threads > 0) set_num_threads(threads);
  threads = get_num_threads();
  const int blas_default = openblas_get_num_threads();
  gemm_init();
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("# shears kernel benchmarks\n\n");
  std::printf("- CPU: %s; shears threads (TBB): %d\n", bench::cpu_model().c_str(), threads);
  std::printf("- %s; OpenBLAS core %s; OPENBLAS_CORETYPE=%s; default BLAS threads %d\n",
              gemm_backend_info().c_str(), openblas_get_corename(), coretype ? coretype : "(unset)", blas_default);
  std::printf("- shears: BLAS single-threaded inside TBB tasks; direct: cblas_sgemm with OpenBLAS at %d "
              "threads (set for the direct samples only, back to 1 after)\n",
              threads);
  std::printf("- medians of %d interleaved samples of >= %.2f s after a warm-up\n\n", g_samples, g_min_time);

  std::vector<MatmulRow> rows;
  rows.push_back(bench_single(12608, 1152, 384, threads));
  rows.push_back(bench_single(3136, 576, 192, threads));
  rows.push_back(bench_batched(64, 197, 197, 64, threads, false));
  rows.push_back(bench_batched(64, 197, 197, 64, threads, true));
  std::printf("| op | shape | shears matmul GFLOP/s | direct BLAS %d-thread GFLOP/s | shears/direct | "
              "shears gemm(), no alloc | direct BLAS 1-thread | max rel diff |\n"
              "|---|---|---|---|---|---|---|---|\n", threads);
  for (const MatmulRow& r : rows) {
    char g[32] = "-";
    if (r.gemm_s > 0) std::snprintf(g, sizeof g, "%.1f", r.flops / r.gemm_s / 1e9);
    std::printf("| %s | %s | %.1f | %.1f | %.2f | %s | %.1f | %.1e |\n", r.what.c_str(), r.shape.c_str(),
                r.flops / r.shears_s / 1e9, r.flops / r.direct_s / 1e9, r.direct_s / r.shears_s, g,
                r.flops / r.direct1_s / 1e9, r.check);
  }

  // Memory-bound kernels on (12608, 384) f32: bytes = input read + output written.
  const int64_t R = 12608, C = 384, n = R * C;
  Tensor x = random_tensor({R, C}, 5), w = random_tensor({C}, 6), b = random_tensor({C}, 7);
  Tensor y;
  kernels::LayerNormResult ln;
  std::vector<double> t = measure({
      [&] { y = kernels::softmax(x, -1); },
      [&] { ln = kernels::layer_norm(x, w, b, 1e-6); },
      [&] { y = kernels::unary(kernels::UnaryOp::Gelu, x); },
  });
  const double bytes[] = {2.0 * n * 4, 2.0 * n * 4 + 2.0 * R * 4 + 2.0 * C * 4, 2.0 * n * 4};
  const char* names[] = {"softmax(dim=-1)", "layer_norm (+w, b)", "gelu"};
  std::printf("\n| kernel | shape | ms | GB/s |\n|---|---|---|---|\n");
  for (int i = 0; i < 3; ++i)
    std::printf("| %s | (%lld, %lld) f32 | %.3f | %.1f |\n", names[i], (long long)R, (long long)C,
                t[i] * 1e3, bytes[i] / t[i] / 1e9);

  // P3B's ops, forward without a graph: the sliced-branch pair on the same (12608, 384) rows with half
  // the channels kept (even indices), batch_norm on the same tensor, the BPI heads' 3x3 conv, and the
  // evaluation forward's fused residual add + norm beside the two ops it replaces.
  NoGradGuard no_grad;
  const int64_t k = C / 2;
  Tensor index = zeros({k}, DType::I64);
  for (int64_t j = 0; j < k; ++j) index.data<int64_t>()[j] = 2 * j;
  Tensor wk = random_tensor({k}, 8), bk = random_tensor({k}, 9), half = random_tensor({R, k}, 10);
  const int64_t cb = 64, grid = 7, ch = 96;  // conv: batch 64 of a 7x7 grid, 96 -> 96 channels
  Tensor img = random_tensor({cb, grid, grid, ch}, 11), cw = random_tensor({ch, ch, 3, 3}, 12);
  Tensor o;
  std::vector<double> t2 = measure({
      [&] { o = layer_norm_select(x, index, wk, bk, 1e-6); },
      [&] { o = index_add(x, -1, index, half); },
      [&] { o = batch_norm(x, w, b, 1e-5); },
      [&] { o = conv2d(img, cw); },
      // the residual add and the next norm: two passes (index_add, then layer_norm_select) vs one (add_layer_norm)
      [&] { o = layer_norm_select(index_add(x, -1, index, half), index, wk, bk, 1e-6); },
      [&] { o = add_layer_norm(x, half, index, index, wk, bk, 1e-6).normed; },
  });
  const double conv_flops = 2.0 * cb * grid * grid * ch * ch * 9;
  std::printf("\n| op (no grad) | shape | ms | GB/s or GFLOP/s |\n|---|---|---|---|\n");
  std::printf("| layer_norm_select (%lld of %lld channels) | (%lld, %lld) f32 | %.3f | %.1f GB/s |\n", (long long)k,
              (long long)C, (long long)R, (long long)C, t2[0] * 1e3, (double(n) + double(R * k)) * 4 / t2[0] / 1e9);
  std::printf("| index_add (%lld channels into %lld) | (%lld, %lld) f32 | %.3f | %.1f GB/s |\n", (long long)k,
              (long long)C, (long long)R, (long long)C, t2[1] * 1e3, (2.0 * n + double(R * k)) * 4 / t2[1] / 1e9);
  std::printf("| batch_norm (training statistics) | (%lld, %lld) f32 | %.3f | %.1f GB/s |\n", (long long)R,
              (long long)C, t2[2] * 1e3, 3.0 * n * 4 / t2[2] / 1e9);
  std::printf("| conv2d 3x3 same, channels-last | (%lld, %lld, %lld, %lld) -> %lld ch | %.3f | %.1f GFLOP/s |\n",
              (long long)cb, (long long)grid, (long long)grid, (long long)ch, (long long)ch, t2[3] * 1e3,
              conv_flops / t2[3] / 1e9);
  std::printf("| index_add then layer_norm_select (%lld of %lld channels) | (%lld, %lld) f32 | %.3f | %.1f GB/s |\n",
              (long long)k, (long long)C, (long long)R, (long long)C, t2[4] * 1e3,
              (2.0 * n + 2.0 * double(R * k)) * 4 / t2[4] / 1e9);
  std::printf("| add_layer_norm (the same in one pass) | (%lld, %lld) f32 | %.3f | %.1f GB/s |\n", (long long)R,
              (long long)C, t2[5] * 1e3, (2.0 * n + 2.0 * double(R * k)) * 4 / t2[5] / 1e9);

  // Attention core, no grad: with the (B, H, N, N) probabilities written out (what token pruning reads;
  // per-(b, h) GEMMs and a softmax pass over each N x N tile) vs without (the fused float kernel of
  // tensor/attention_nograd.cpp), interleaved. Shapes: DeiT-S (197 tokens, 6 heads of 64), a P3B-sliced
  // DeiT-S block (6 heads of 24) and the main job's model (17 tokens, 4 heads of 32). FLOPs: 2 GEMMs of
  // 2·N·N·D per (b, h).
  struct AttnShape {
    const char* name;
    int64_t b, n, h, d;
  };
  const AttnShape attn_shapes[] = {{"DeiT-S", 64, 197, 6, 64}, {"P3B-sliced DeiT-S", 64, 197, 6, 24},
                                   {"main job", 128, 17, 4, 32}};
  std::printf("\n| attention core (no grad) | qkv shape | probabilities kept: ms | GFLOP/s | not materialised (fused): ms "
              "| GFLOP/s | speedup |\n|---|---|---|---|---|---|---|\n");
  for (const AttnShape& a : attn_shapes) {
    Tensor qkv = random_tensor({a.b, a.n, 3 * a.h * a.d}, 13), probs;
    const double scale = 1.0 / std::sqrt(double(a.d));
    std::vector<double> t3 = measure({
        [&] { o = attention(qkv, a.h, scale, &probs); },
        [&] { o = attention(qkv, a.h, scale); },
    });
    const double attn_flops = 4.0 * a.b * a.h * a.n * a.n * a.d;
    std::printf("| %s | (%lld, %lld, %lld), %lld heads | %.3f | %.1f | %.3f | %.1f | %.2fx |\n", a.name, (long long)a.b,
                (long long)a.n, (long long)(3 * a.h * a.d), (long long)a.h, t3[0] * 1e3, attn_flops / t3[0] / 1e9,
                t3[1] * 1e3, attn_flops / t3[1] / 1e9, t3[0] / t3[1]);
  }

  // The MLP's first layer at inference: linear then gelu (two ops, the hidden activations written and read
  // again) vs linear_gelu (the bias and GELU in the GEMM's row epilogue, while each block of rows is in cache;
  // the same bits). Shapes: DeiT-S fc1 at batch 64 and the P3B-sliced fc1 of docs/p3b.md's pr70 block 0.
  struct Fc1Shape {
    const char* name;
    int64_t rows, in, out;
  };
  const Fc1Shape fc1_shapes[] = {{"DeiT-S fc1", 12608, 384, 1536}, {"P3B pr70 block 0 fc1", 12608, 274, 945}};
  std::printf("\n| fc1 + GELU (no grad) | x, weight | linear then gelu: ms | GFLOP/s | linear_gelu: ms | GFLOP/s "
              "| speedup | bit-equal |\n|---|---|---|---|---|---|---|---|\n");
  for (const Fc1Shape& f : fc1_shapes) {
    Tensor xf = random_tensor({f.rows, f.in}, 14), wf = random_tensor({f.out, f.in}, 15), bf = random_tensor({f.out}, 16);
    Tensor two, one;
    std::vector<double> t4 = measure({
        [&] { two = gelu(linear(xf, wf, bf)); },
        [&] { one = linear_gelu(xf, wf, bf); },
    });
    const bool same = std::memcmp(two.data<float>(), one.data<float>(), size_t(two.numel()) * sizeof(float)) == 0;
    const double fc1_flops = 2.0 * f.rows * f.in * f.out;
    std::printf("| %s | (%lld, %lld), (%lld, %lld) | %.3f | %.1f | %.3f | %.1f | %.2fx | %s |\n", f.name,
                (long long)f.rows, (long long)f.in, (long long)f.out, (long long)f.in, t4[0] * 1e3,
                fc1_flops / t4[0] / 1e9, t4[1] * 1e3, fc1_flops / t4[1] / 1e9, t4[0] / t4[1], same ? "yes" : "NO");
  }
  return 0;
}
