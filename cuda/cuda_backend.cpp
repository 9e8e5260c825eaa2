// The CUDA backend's device and memory half: registration at start-up, device queries, a
// caching allocator, host <-> device copies, cuBLAS handles, and the geometry helper of
// cuda/cuda_common.h. The kernels are in the other files of cuda/.
//
// Caching allocator: cudaMalloc/cudaFree synchronize the device and cost tens of microseconds,
// so freed blocks are kept per (device, rounded size) and handed to the next request of that
// size. Sizes round up to 512 B below 1 MiB and to 2 MiB above. All work of a device runs on
// its default stream in issue order, so a block freed by the host can be reused at once: any
// kernel still reading it was queued before the kernel that will write it. When cudaMalloc
// fails, the cache is emptied and the allocation tried once more; then the error names the size.
#include "cuda/cuda_backend.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/cuda_common.h"

namespace shears::cuda {

namespace {

constexpr int kMaxDevices = 16;

size_t rounded(size_t n) {
  if (n == 0) n = 1;
  const size_t step = n < (size_t(1) << 20) ? 512 : (size_t(2) << 20);
  return (n + step - 1) / step * step;
}

struct DevicePool {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;
  size_t in_use = 0, peak = 0, cached = 0;
};

DevicePool& pool(int index) {
  static DevicePool pools[kMaxDevices];
  return pools[index];
}

int count_devices() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: clear the sticky error, report none
    return 0;
  }
  return n < kMaxDevices ? n : kMaxDevices;
}

struct DeviceGuard {  // makes a device current, restores the previous one
  int previous = 0;
  explicit DeviceGuard(int index) {
    SHEARS_CUDA_CHECK(cudaGetDevice(&previous));
    if (previous != index) SHEARS_CUDA_CHECK(cudaSetDevice(index));
  }
  ~DeviceGuard() { cudaSetDevice(previous); }
};

}  // namespace

int CudaBackend::device_count() const {
  static const int n = count_devices();
  return n;
}

std::string CudaBackend::describe(int index) const {
  cudaDeviceProp p{};
  SHEARS_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs, " + std::to_string(p.totalGlobalMem >> 30) +
         " GiB; driver " + std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10) +
         ", runtime " + std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10) +
         (tf32_enabled() ? "; f32 GEMM on TF32 tensor cores" : "; f32 GEMM in full f32") + ")";
}

void CudaBackend::synchronize(int index) {
  DeviceGuard g(index);
  SHEARS_CUDA_CHECK(cudaDeviceSynchronize());
}

bool CudaBackend::supports(const std::string& op) const {
  static const char* const kOps[] = {
      "copy_", "to_dtype", "fill_", "unary", "binary", "binary_scalar", "pow_scalar", "pow_scalar_backward",
      "compare", "compare_scalar", "where", "clamp", "clamp_backward", "axpby_", "reduce", "argmax", "argmin",
      "var", "index_select", "gather", "scatter_add_", "index_add_", "smoothed_one_hot", "matmul", "softmax",
      "log_softmax", "softmax_backward", "log_softmax_backward", "layer_norm", "layer_norm_select",
      "layer_norm_backward", "linear", "linear_backward", "attention", "attention_backward", "adamw_update_",
      "row_entropy"};
  for (const char* k : kOps)
    if (op == k) return true;
  return false;
}

void* CudaBackend::allocate(size_t nbytes, int index) {
  const size_t r = rounded(nbytes);
  DevicePool& p = pool(index);
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    auto it = p.free_blocks.find(r);
    if (it != p.free_blocks.end()) {
      void* ptr = it->second;
      p.free_blocks.erase(it);
      p.cached -= r;
      p.in_use += r;
      if (p.in_use > p.peak) p.peak = p.in_use;
      return ptr;
    }
  }
  DeviceGuard g(index);
  void* ptr = nullptr;
  if (cudaMalloc(&ptr, r) != cudaSuccess) {
    cudaGetLastError();
    {  // give the cached blocks back and try once more
      std::lock_guard<std::mutex> lock(p.mutex);
      for (auto& kv : p.free_blocks) cudaFree(kv.second);
      p.free_blocks.clear();
      p.cached = 0;
    }
    cudaError_t e = cudaMalloc(&ptr, r);
    if (e != cudaSuccess) {
      cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      fail("cuda", "out of memory on cuda:", index, " allocating ", nbytes, " bytes (", free_b >> 20, " MiB free of ",
           total_b >> 20, " MiB): ", cudaGetErrorString(e));
    }
  }
  std::lock_guard<std::mutex> lock(p.mutex);
  p.in_use += r;
  if (p.in_use > p.peak) p.peak = p.in_use;
  return ptr;
}

void CudaBackend::deallocate(void* ptr, size_t nbytes, int index) noexcept {
  if (!ptr) return;
  const size_t r = rounded(nbytes);
  DevicePool& p = pool(index);
  std::lock_guard<std::mutex> lock(p.mutex);
  p.in_use -= r;
  p.free_blocks.emplace(r, ptr);
  p.cached += r;
}

void CudaBackend::copy_to_device(void* dst, const void* host_src, size_t nbytes, int index) {
  DeviceGuard g(index);
  SHEARS_CUDA_CHECK(cudaMemcpy(dst, host_src, nbytes, cudaMemcpyHostToDevice));
}

void CudaBackend::copy_to_host(void* host_dst, const void* src, size_t nbytes, int index) {
  DeviceGuard g(index);
  SHEARS_CUDA_CHECK(cudaMemcpy(host_dst, src, nbytes, cudaMemcpyDeviceToHost));  // waits for the queue
}

size_t CudaBackend::bytes_in_use(int index) const {
  std::lock_guard<std::mutex> lock(pool(index).mutex);
  return pool(index).in_use;
}

size_t CudaBackend::bytes_peak(int index) const {
  std::lock_guard<std::mutex> lock(pool(index).mutex);
  return pool(index).peak;
}

void set_device(const Tensor& t) {
  int current = 0;
  SHEARS_CUDA_CHECK(cudaGetDevice(&current));
  if (current != t.device().index) SHEARS_CUDA_CHECK(cudaSetDevice(t.device().index));
}

Geom geom_of(const Tensor& t, const Shape& out_shape, const char* op) {
  const int64_t nd = static_cast<int64_t>(out_shape.size());
  if (nd > kMaxDims) fail(op, "the CUDA kernels take at most ", kMaxDims, " dims, got shape ", shape_str(out_shape));
  const int64_t td = t.dim();
  if (td > nd) fail(op, "shape ", shape_str(t.shape()), " does not broadcast to ", shape_str(out_shape));
  Geom g;
  g.nd = static_cast<int>(nd);
  for (int64_t d = 0; d < nd; ++d) {
    g.size[d] = out_shape[d];
    const int64_t s = d - (nd - td);
    if (s < 0) {
      g.stride[d] = 0;
    } else if (t.shape()[s] == out_shape[d]) {
      g.stride[d] = t.strides()[s];
    } else if (t.shape()[s] == 1) {
      g.stride[d] = 0;
    } else {
      fail(op, "shape ", shape_str(t.shape()), " does not broadcast to ", shape_str(out_shape));
    }
  }
  return g;
}

cublasHandle_t cublas_handle() {
  static cublasHandle_t handles[kMaxDevices] = {};
  static std::mutex mutex;
  int dev = 0;
  SHEARS_CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lock(mutex);
  if (!handles[dev]) {
    SHEARS_CUBLAS_CHECK(cublasCreate(&handles[dev]));
    SHEARS_CUBLAS_CHECK(cublasSetMathMode(handles[dev], tf32_enabled() ? CUBLAS_TF32_TENSOR_OP_MATH
                                                                       : CUBLAS_DEFAULT_MATH));
  }
  return handles[dev];
}

bool tf32_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("SHEARS_CUDA_TF32");
    return v && std::string(v) == "1";
  }();
  return on;
}

namespace {
// Registers the backend when a program that links the module starts.
struct Registrar {
  Registrar() {
    static CudaBackend backend;
    register_backend(DeviceType::CUDA, &backend);
  }
} registrar;
}  // namespace

}  // namespace shears::cuda
