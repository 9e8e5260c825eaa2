// shears_main: the main job. Trains a small MLP (784 -> hidden -> 10, ReLU) on
// Fashion-MNIST with shears' autograd and SGD (+ optional momentum), prints a progress
// line every few steps, then the test accuracy and a Markdown summary table. It is the
// end-to-end demonstration of the tensor + autograd foundation (models and pruning
// recipes come later). `--scale quick` is the CI smoke run.
#include <cxxopts.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "data/fashion_mnist.h"
#include "tensor/parallel.h"

namespace {

using namespace shears;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Config {
  std::string data_dir;
  std::string scale;
  int64_t steps = 0;
  int64_t batch_size = 0;
  int64_t hidden = 0;
  double lr = 0;
  double momentum = 0;
  uint64_t seed = 0;
  int threads = 0;
  int64_t log_every = 0;
  int64_t eval_limit = 0;  // 0 = the whole test split
};

// Two-layer perceptron: logits = relu(x W1 + b1) W2 + b2.
struct Mlp {
  Tensor w1, b1, w2, b2;  // w1: (784, H), b1: (H), w2: (H, 10), b2: (10)

  Mlp(int64_t in, int64_t hidden, int64_t out, Generator& gen) {
    NoGradGuard no_grad;
    // He initialization for the ReLU layer, and for the output layer too (small net).
    w1 = randn({in, hidden}, DType::F32, &gen) * std::sqrt(2.0 / double(in));
    w2 = randn({hidden, out}, DType::F32, &gen) * std::sqrt(2.0 / double(hidden));
    b1 = zeros({hidden});
    b2 = zeros({out});
    for (Tensor* p : {&w1, &b1, &w2, &b2}) p->set_requires_grad(true);
  }
  TensorList params() const { return {w1, b1, w2, b2}; }
  int64_t num_params() const {
    int64_t n = 0;
    for (const Tensor& p : params()) n += p.numel();
    return n;
  }
  // x: (B, 784) -> logits: (B, 10)
  Tensor forward(const Tensor& x) const {
    Tensor h = relu(matmul(x, w1) + b1);  // (B, H)
    return matmul(h, w2) + b2;
  }
};

// Number of rows whose argmax equals the label. logits: (B, C), labels: (B)
int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  std::vector<int64_t> pred = kernels::argmax(logits, 1, false).to_vector<int64_t>();
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i];
  return correct;
}

// images: (N, 1, 28, 28) -> (N, 784)
Tensor flat_images(const Tensor& images) { return kernels::reshape(images, {images.size(0), -1}); }

Config parse_args(int argc, char** argv, bool& exit_now) {
  cxxopts::Options options(
      "shears_main",
      "shears main job: trains an MLP (784 -> hidden -> 10, ReLU) on Fashion-MNIST with shears'\n"
      "autograd and SGD, then reports test accuracy and a Markdown summary. Flags given\n"
      "explicitly override the values chosen by --scale.\n");
  options.add_options()
      ("data-dir", "folder with the Fashion-MNIST IDX files ({train,t10k}-{images-idx3,labels-idx1}-ubyte, "
                   "gzipped or raw); Debian's dataset-fashion-mnist installs them in the default",
       cxxopts::value<std::string>()->default_value(data::kFashionMnistDefaultDir))
      ("scale", "run size: 'quick' (50 steps, evaluated on 2000 test images; seconds, the CI smoke run) or "
                "'default' (600 steps of batch 128, the whole 10000-image test split)",
       cxxopts::value<std::string>()->default_value("default"))
      ("steps", "SGD steps (one batch each; the training set is reshuffled every epoch) [quick 50, default 600]",
       cxxopts::value<int64_t>())
      ("batch-size", "images per SGD step", cxxopts::value<int64_t>()->default_value("128"))
      ("lr", "SGD learning rate", cxxopts::value<double>()->default_value("0.05"))
      ("momentum", "SGD momentum in [0, 1) (0 = plain SGD)", cxxopts::value<double>()->default_value("0.9"))
      ("hidden", "width of the hidden layer", cxxopts::value<int64_t>()->default_value("256"))
      ("seed", "seed of the weight initialization and of the data order (same seed and thread count "
               "give the same run)",
       cxxopts::value<uint64_t>()->default_value("0"))
      ("threads", "worker threads (0 = SHEARS_NUM_THREADS when set, else all cores)",
       cxxopts::value<int>()->default_value("0"))
      ("log-every", "print a progress line every this many steps [quick 10, default 100]",
       cxxopts::value<int64_t>())
      ("eval-limit", "evaluate on the first this many test images (0 = all 10000) [quick 2000, default 0]",
       cxxopts::value<int64_t>())
      ("h,help", "print this help and exit");
  cxxopts::ParseResult r = options.parse(argc, argv);
  if (r.count("help")) {
    std::cout << options.help() << std::endl;
    exit_now = true;
    return {};
  }
  if (!r.unmatched().empty())
    fail("shears_main", "unexpected argument '", r.unmatched().front(), "' (see --help)");

  Config c;
  c.data_dir = r["data-dir"].as<std::string>();
  c.scale = r["scale"].as<std::string>();
  if (c.scale == "quick") {
    c.steps = 50, c.log_every = 10, c.eval_limit = 2000;
  } else if (c.scale == "default") {
    c.steps = 600, c.log_every = 100, c.eval_limit = 0;
  } else {
    fail("shears_main", "--scale must be 'quick' or 'default', got '", c.scale, "'");
  }
  if (r.count("steps")) c.steps = r["steps"].as<int64_t>();
  if (r.count("log-every")) c.log_every = r["log-every"].as<int64_t>();
  if (r.count("eval-limit")) c.eval_limit = r["eval-limit"].as<int64_t>();
  c.batch_size = r["batch-size"].as<int64_t>();
  c.lr = r["lr"].as<double>();
  c.momentum = r["momentum"].as<double>();
  c.hidden = r["hidden"].as<int64_t>();
  c.seed = r["seed"].as<uint64_t>();
  c.threads = r["threads"].as<int>();

  SHEARS_CHECK(c.steps >= 1, "shears_main", "--steps must be >= 1, got ", c.steps);
  SHEARS_CHECK(c.batch_size >= 1, "shears_main", "--batch-size must be >= 1, got ", c.batch_size);
  SHEARS_CHECK(c.lr > 0 && std::isfinite(c.lr), "shears_main", "--lr must be a positive number, got ", c.lr);
  SHEARS_CHECK(c.momentum >= 0 && c.momentum < 1, "shears_main", "--momentum must be in [0, 1), got ",
               c.momentum);
  SHEARS_CHECK(c.hidden >= 1, "shears_main", "--hidden must be >= 1, got ", c.hidden);
  SHEARS_CHECK(c.threads >= 0, "shears_main", "--threads must be >= 0, got ", c.threads);
  SHEARS_CHECK(c.log_every >= 1, "shears_main", "--log-every must be >= 1, got ", c.log_every);
  SHEARS_CHECK(c.eval_limit >= 0, "shears_main", "--eval-limit must be >= 0, got ", c.eval_limit);
  return c;
}

int run(const Config& c) {
  if (c.threads > 0) set_num_threads(c.threads);

  auto t_load = Clock::now();
  data::FashionMnist train = data::load_fashion_mnist(c.data_dir, true);
  data::FashionMnist test = data::load_fashion_mnist(c.data_dir, false);
  double load_s = seconds_since(t_load);
  const int64_t n_train = train.size();
  SHEARS_CHECK(c.batch_size <= n_train, "shears_main", "--batch-size ", c.batch_size,
               " is larger than the training set (", n_train, " images)");
  const int64_t n_test = c.eval_limit > 0 ? std::min(c.eval_limit, test.size()) : test.size();
  const int64_t in_features = train.images.numel() / n_train;

  std::printf("shears_main: MLP %lld -> %lld -> %lld (ReLU) on Fashion-MNIST, scale '%s'\n",
              (long long)in_features, (long long)c.hidden, (long long)data::kFashionMnistClasses,
              c.scale.c_str());
  std::printf("  data: %s (train %lld, test %lld of %lld images), loaded in %.2f s\n", c.data_dir.c_str(),
              (long long)n_train, (long long)n_test, (long long)test.size(), load_s);
  std::printf("  sgd: %lld steps, batch %lld, lr %g, momentum %g, seed %llu\n", (long long)c.steps,
              (long long)c.batch_size, c.lr, c.momentum, (unsigned long long)c.seed);
  std::printf("  threads %d (oneTBB; OpenBLAS single-threaded inside), dtype f32\n\n", get_num_threads());
  std::fflush(stdout);

  Generator init_gen(c.seed, /*stream=*/0);
  Generator order_gen(c.seed, /*stream=*/1);
  Mlp model(in_features, c.hidden, data::kFashionMnistClasses, init_gen);
  const TensorList params = model.params();
  TensorList velocity;
  if (c.momentum > 0)
    for (const Tensor& p : params) velocity.push_back(zeros_like(p));

  Tensor perm = randperm(n_train, &order_gen);
  int64_t pos = 0, epoch = 0;
  int64_t win_correct = 0, win_seen = 0, win_steps = 0;
  double win_loss = 0, last_loss = 0, last_acc = 0;
  int64_t last_window = 0;
  auto t_train = Clock::now();
  auto t_win = t_train;

  for (int64_t step = 1; step <= c.steps; ++step) {
    Tensor x, y;  // x: (B, 784), y: (B)
    {
      NoGradGuard no_grad;
      if (pos + c.batch_size > n_train) {  // drop the last partial batch, reshuffle
        perm = randperm(n_train, &order_gen);
        pos = 0;
        ++epoch;
      }
      Tensor idx = kernels::contiguous(kernels::narrow(perm, 0, pos, c.batch_size));
      pos += c.batch_size;
      x = flat_images(kernels::index_select(train.images, 0, idx));
      y = kernels::index_select(train.labels, 0, idx);
    }

    Tensor logits = model.forward(x);
    Tensor loss = cross_entropy(logits, y);
    backward(loss);

    {
      NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) {
        Tensor g = params[i].grad();
        if (!g.defined()) continue;
        if (c.momentum > 0) {
          kernels::axpby_(velocity[i], 1.0, g, c.momentum);  // v = momentum * v + g
          kernels::axpby_(params[i], -c.lr, velocity[i]);    // p -= lr * v
        } else {
          kernels::axpby_(params[i], -c.lr, g);  // p -= lr * g
        }
      }
      zero_grad(params);
    }

    const float loss_value = loss.item<float>();
    if (!std::isfinite(loss_value))
      fail("shears_main", "the training loss became ", loss_value, " at step ", step,
           "; lower --lr (now ", c.lr, ") or --momentum (now ", c.momentum, ")");
    win_loss += loss_value;
    win_correct += count_correct(logits, y);
    win_seen += c.batch_size;
    ++win_steps;

    if (step % c.log_every == 0 || step == c.steps) {
      const double win_s = seconds_since(t_win);
      const double elapsed = seconds_since(t_train);
      const double eta = elapsed / double(step) * double(c.steps - step);
      last_loss = win_loss / double(win_steps);
      last_acc = 100.0 * double(win_correct) / double(win_seen);
      last_window = win_steps;
      std::printf("step %5lld/%lld  epoch %lld  loss %.4f  train acc %5.1f%%  %7.0f img/s  eta %.1f s\n",
                  (long long)step, (long long)c.steps, (long long)epoch, last_loss, last_acc,
                  double(win_seen) / win_s, eta);
      std::fflush(stdout);
      win_loss = 0, win_correct = 0, win_seen = 0, win_steps = 0;
      t_win = Clock::now();
    }
  }
  const double train_s = seconds_since(t_train);

  // Evaluation: no graph, chunks of 1000 images.
  auto t_eval = Clock::now();
  int64_t correct = 0;
  {
    NoGradGuard no_grad;
    const int64_t chunk = 1000;
    for (int64_t start = 0; start < n_test; start += chunk) {
      const int64_t len = std::min(chunk, n_test - start);
      Tensor x = flat_images(kernels::narrow(test.images, 0, start, len));
      Tensor y = kernels::narrow(test.labels, 0, start, len);
      correct += count_correct(model.forward(x), y);
    }
  }
  const double eval_s = seconds_since(t_eval);
  const double test_acc = 100.0 * double(correct) / double(n_test);

  std::printf("\ntest accuracy: %.2f%% (%lld / %lld images), evaluated in %.2f s\n\n", test_acc,
              (long long)correct, (long long)n_test, eval_s);
  std::printf("| model | params | steps | batch | lr | momentum | train loss (last %lld steps) | "
              "train acc | test acc | test images | train time | train img/s |\n",
              (long long)last_window);
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::printf("| MLP %lld-%lld-%lld | %lld | %lld | %lld | %g | %g | %.4f | %.1f%% | %.2f%% | %lld | %.2f s | %.0f |\n",
              (long long)in_features, (long long)c.hidden, (long long)data::kFashionMnistClasses,
              (long long)model.num_params(), (long long)c.steps, (long long)c.batch_size, c.lr, c.momentum,
              last_loss, last_acc, test_acc, (long long)n_test, train_s,
              double(c.steps * c.batch_size) / train_s);
  if (test_acc <= 100.0 / double(data::kFashionMnistClasses) + 5.0)
    std::printf("\nwarning: test accuracy %.1f%% is near chance (10%%): the run did not learn; check --lr\n",
                test_acc);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bool exit_now = false;
    Config c = parse_args(argc, argv, exit_now);
    if (exit_now) return 0;
    return run(c);
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "error: %s (see --help)\n", e.what());
    return 2;
  } catch (const shears::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
