// DataLoader: per-epoch seeded permutation, batches built by a oneTBB-parallel get() +
// transform of each sample (each with its own (seed, epoch, index) generator), an optional
// batch transform on the batch's own stream, and a background producer thread that keeps
// up to `prefetch` batches ready in order. Batch contents never depend on thread timing.
#include "data/data_loader.h"

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "tensor/creation.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "tensor/profile.h"

namespace shears::data {
namespace {

// Batch-transform streams: kind 2 in the layout documented in dataset.cpp
// (bits 62..63 kind, 40..61 epoch, 0..39 batch index); permutation streams are the bare epoch.
constexpr uint64_t kBatchStreamTag = uint64_t{2} << 62;

Generator batch_generator(uint64_t seed, int64_t epoch, int64_t batch_index) {
  return Generator(seed, kBatchStreamTag | (static_cast<uint64_t>(epoch) << 40) | static_cast<uint64_t>(batch_index));
}

// One produced batch, or the exception its production raised.
struct Slot {
  Batch batch;
  std::exception_ptr error;
};

}  // namespace

struct DataLoader::Impl {
  std::shared_ptr<const Dataset> dataset;
  LoaderOptions options;
  Transform transform;
  BatchTransform batch_transform;

  // Consumer-side state (the caller's thread).
  int64_t epoch = -1;
  int64_t next_batch = 0;
  std::vector<int64_t> order;  // dataset indices of this epoch, in batch order
  double wait_seconds = 0.0;

  // Producer state, guarded by mutex.
  std::thread producer;
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Slot> queue;
  int64_t produce_next = 0;
  bool stop = false;

  int64_t num_batches() const {
    const int64_t n = dataset->size(), b = options.batch_size;
    return options.drop_last ? n / b : (n + b - 1) / b;
  }

  Batch make_batch(int64_t batch_index) const;
  void producer_loop();
  void stop_producer();
};

Batch DataLoader::Impl::make_batch(int64_t batch_index) const {
  const int64_t n = dataset->size(), bs = options.batch_size;
  const int64_t begin = batch_index * bs, end = std::min(n, begin + bs), count = end - begin;
  Batch batch;
  batch.indices.assign(order.begin() + begin, order.begin() + end);

  // Phase 1: decode + per-sample transforms in parallel. Each sample's randomness comes
  // only from its own generator, so the chunking cannot change the result. Errors are
  // collected per sample and the first one in batch order is reported (deterministic).
  std::vector<Sample> samples(count);
  std::vector<std::exception_ptr> errors(count);
  parallel_for(count, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      try {
        const int64_t idx = batch.indices[i];
        Sample s = dataset->get(idx);
        if (transform) {
          Generator gen = sample_generator(options.seed, epoch, idx);
          s.input = transform(s.input, gen);
        }
        if (s.input.dtype() != DType::F32) s.input = kernels::to_dtype(s.input, DType::F32);
        samples[i] = std::move(s);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  });
  for (int64_t i = 0; i < count; ++i) {
    if (!errors[i]) continue;
    try {
      std::rethrow_exception(errors[i]);
    } catch (const std::exception& ex) {
      fail("DataLoader", "sample ", batch.indices[i], " (epoch ", epoch, ", batch ", batch_index, ") of ",
           dataset->describe(), ": ", ex.what());
    }
  }

  // Phase 2: check shapes and labels, stack into (B, ...).
  const Shape& shape0 = samples[0].input.shape();
  const int64_t classes = dataset->num_classes();
  std::vector<int64_t> labels(count);
  batch.groups.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    const Sample& s = samples[i];
    if (s.input.shape() != shape0)
      fail("DataLoader", "sample ", batch.indices[i], " has shape ", shape_str(s.input.shape()), " but sample ",
           batch.indices[0], " of the same batch has shape ", shape_str(shape0),
           "; every sample of a batch must have the same shape (add a resize/crop transform)");
    if (classes > 0 && (s.label < 0 || s.label >= classes))
      fail("DataLoader", "sample ", batch.indices[i], " has label ", s.label, " outside [0, ", classes, ") of ",
           dataset->describe());
    labels[i] = s.label;
    batch.groups[i] = s.group;
  }
  Shape out_shape{count};
  out_shape.insert(out_shape.end(), shape0.begin(), shape0.end());
  batch.inputs = Tensor::empty(out_shape, DType::F32);
  const int64_t per = shape_numel(shape0);
  float* dst = batch.inputs.data<float>();
  parallel_for(count, grain_for(per, 1 << 16), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Tensor src = kernels::contiguous(samples[i].input);
      std::memcpy(dst + i * per, src.data<float>(), static_cast<size_t>(per) * sizeof(float));
    }
  });
  batch.labels = from_vector(labels);

  if (batch_transform) {
    Generator gen = batch_generator(options.seed, epoch, batch_index);
    batch_transform(batch, gen);
  }
  return batch;
}

void DataLoader::Impl::producer_loop() {
  const int64_t total = num_batches();
  for (;;) {
    int64_t b;
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return stop || static_cast<int64_t>(queue.size()) < options.prefetch; });
      if (stop || produce_next >= total) return;
      b = produce_next;
    }
    Slot slot;
    try {
      slot.batch = make_batch(b);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stop) return;
      const bool failed = static_cast<bool>(slot.error);
      queue.push_back(std::move(slot));
      ++produce_next;
      cv.notify_all();
      if (failed) return;  // the error stays at the queue's end; next() rethrows it
    }
  }
}

void DataLoader::Impl::stop_producer() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  cv.notify_all();
  if (producer.joinable()) producer.join();
  queue.clear();
  stop = false;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options, Transform transform,
                       BatchTransform batch_transform)
    : impl_(std::make_unique<Impl>()) {
  SHEARS_CHECK(dataset != nullptr, "DataLoader", "dataset is null");
  SHEARS_CHECK(options.batch_size >= 1, "DataLoader", "batch_size must be >= 1, got ", options.batch_size);
  SHEARS_CHECK(options.prefetch >= 0, "DataLoader", "prefetch must be >= 0, got ", options.prefetch);
  impl_->dataset = std::move(dataset);
  impl_->options = options;
  impl_->transform = std::move(transform);
  impl_->batch_transform = std::move(batch_transform);
}

DataLoader::~DataLoader() {
  if (impl_) impl_->stop_producer();
}

int64_t DataLoader::batches_per_epoch() const { return impl_->num_batches(); }

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  Impl& m = *impl_;
  const int64_t total = m.num_batches();
  SHEARS_CHECK(epoch >= 0, "DataLoader", "epoch must be >= 0, got ", epoch);
  SHEARS_CHECK(first_batch >= 0 && first_batch <= total, "DataLoader", "first_batch ", first_batch,
               " out of range [0, ", total, "] for epoch ", epoch);
  m.stop_producer();
  m.epoch = epoch;
  m.next_batch = first_batch;
  const int64_t n = m.dataset->size();
  if (m.options.shuffle) {
    Generator gen(m.options.seed, static_cast<uint64_t>(epoch));  // permutation stream = epoch (kind 0)
    m.order = randperm(n, &gen).to_vector<int64_t>();
  } else {
    m.order.resize(n);
    for (int64_t i = 0; i < n; ++i) m.order[i] = i;
  }
  if (m.options.prefetch > 0 && first_batch < total) {
    m.produce_next = first_batch;
    m.producer = std::thread([&m] { m.producer_loop(); });
  }
}

bool DataLoader::next(Batch& batch) {
  SHEARS_PROFILE(Data);  // the main thread's time in here is data time (sync build or waiting for a prefetched batch)
  Impl& m = *impl_;
  SHEARS_CHECK(m.epoch >= 0, "DataLoader", "next() called before start_epoch()");
  if (m.next_batch >= m.num_batches()) return false;
  const auto t0 = std::chrono::steady_clock::now();
  auto waited = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (m.options.prefetch == 0) {
    // Synchronous: building the batch is all data-wait time.
    try {
      batch = m.make_batch(m.next_batch);
    } catch (...) {
      m.wait_seconds += waited();
      throw;
    }
    ++m.next_batch;
    m.wait_seconds += waited();
    return true;
  }
  std::unique_lock<std::mutex> lock(m.mutex);
  m.cv.wait(lock, [&] { return !m.queue.empty(); });
  m.wait_seconds += waited();
  Slot& front = m.queue.front();
  // A failed batch stays queued, so every later next() of this epoch rethrows it too.
  if (front.error) std::rethrow_exception(front.error);
  batch = std::move(front.batch);
  m.queue.pop_front();
  ++m.next_batch;
  lock.unlock();
  m.cv.notify_all();
  return true;
}

int64_t DataLoader::epoch() const { return impl_->epoch; }
int64_t DataLoader::next_batch_index() const { return impl_->next_batch; }
const Dataset& DataLoader::dataset() const { return *impl_->dataset; }

double DataLoader::take_wait_seconds() {
  double s = impl_->wait_seconds;
  impl_->wait_seconds = 0.0;
  return s;
}

}  // namespace shears::data
