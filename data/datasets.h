// The concrete datasets: Fashion-MNIST (IDX), ImageFolder (class subfolders of JPEG/PNG/BMP
// decoded by stb_image), VideoFolder (class subfolders of raw-frame folders, with clip
// sampling by frame count, sampling rate and clip index) and MovingFashionMnist, a
// synthetic clip dataset (moving Fashion-MNIST items) deterministic from a seed.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/fashion_mnist.h"

namespace shears::data {

// Caps on a decoded image (docs/DESIGN.md, Hostile input): each side, and width * height
// (64 Mpixel: 768 MB as f32 RGB).
inline constexpr int64_t kMaxImageSide = 16384;
inline constexpr int64_t kMaxImagePixels = int64_t(1) << 26;

// Decodes one image file (JPEG, PNG or BMP) to f32 (3, H, W) in [0, 1]: grey is replicated,
// alpha dropped, 16-bit PNG reduced to 8 bits. Before decoding, the header's size is checked
// against the caps above and against the file length (an uncompressed BMP must hold all its
// rows; a PNG or JPEG cannot encode more pixels than its format's best compression allows), so
// a tiny file claiming a huge image is refused instead of decoding gigabytes of garbage. Throws
// shears::Error naming the file and the reason. Thread-safe.
Tensor load_image_rgb(const std::string& path);

// Orders names with digit runs compared as numbers ("frame_2" < "frame_10"); for
// zero-padded names this is plain lexicographic order.
bool natural_less(const std::string& a, const std::string& b);

// ---------------------------------------------------------------------------------------
// Fashion-MNIST as a Dataset: get(i) returns a fresh (1, 28, 28) f32 copy and the label.
class FashionMnistDataset : public Dataset {
 public:
  // Loads the split from `dir` (see load_fashion_mnist); limit > 0 keeps the first `limit` samples.
  explicit FashionMnistDataset(const std::string& dir = kFashionMnistDefaultDir, bool train = true,
                               int64_t limit = -1);
  // Wraps already-loaded data (shares its storage).
  explicit FashionMnistDataset(FashionMnist data, int64_t limit = -1, std::string name = "fashion-mnist");
  int64_t size() const override { return size_; }
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return kFashionMnistClasses; }
  std::string describe() const override;
  const FashionMnist& data() const { return data_; }

 private:
  FashionMnist data_;
  int64_t size_ = 0;
  std::string name_;
};

// ---------------------------------------------------------------------------------------
// root/<class>/<image files>: classes are the subfolder names sorted (std::string order)
// and numbered from 0; files (.jpg .jpeg .png .bmp, any case; hidden files skipped) are
// sorted by name inside each class. The constructor throws when the root is missing, has
// no class folders, or any class folder holds no image; get() decodes the file and throws
// naming it when it is unreadable or corrupt. get() returns f32 (3, H, W) in [0, 1] at the
// file's own size (resizing is a transform's job).
class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(const std::string& root);
  int64_t size() const override { return int64_t(items_.size()); }
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return int64_t(classes_.size()); }
  std::string describe() const override;
  const std::vector<std::string>& classes() const { return classes_; }
  const std::string& path(int64_t index) const;
  int64_t label(int64_t index) const;

 private:
  struct Item {
    std::string path;
    int64_t label;
  };
  std::string root_;
  std::vector<std::string> classes_;
  std::vector<Item> items_;
};

// ---------------------------------------------------------------------------------------
// root/<class>/<video>/<frame files>: one folder of frame images per video, frames in
// natural name order (natural_less). A clip is `num_frames` frames `sampling_rate` apart,
// spanning S = (num_frames - 1) * sampling_rate + 1 frames of a video with n frames;
// its start, with m = max(0, n - S):
//   test (train = false): clip k of num_clips starts at floor(k * m / (num_clips - 1))
//     (VideoMAE's evenly spaced test clips); a single clip is the center one, floor(m / 2);
//   train: uniform in [0, m] from Generator(seed ^ epoch mix, item index), so item i gets
//     the same clip in a given epoch (see set_epoch) on any thread.
// Frame indices past the end repeat the last frame (short videos are padded).
// The dataset has videos * num_clips items: item i is clip i % num_clips of video
// i / num_clips, with Sample::group = the video index (per-video aggregation).
// get() returns f32 (3, num_frames, H, W) in [0, 1]; all frames of a video must share a size.
// Only frame counts are kept in memory (get() re-lists the video's folder), so datasets of
// hundreds of thousands of videos stay small.
struct VideoFolderOptions {
  int64_t num_frames = 16;
  int64_t sampling_rate = 4;
  int64_t num_clips = 1;  // clips per video (each one an item)
  bool train = false;     // random clip start instead of the evenly spaced ones
  uint64_t seed = 0;      // for the train-mode start
};

class VideoFolder : public Dataset {
 public:
  explicit VideoFolder(const std::string& root, VideoFolderOptions options = {});
  int64_t size() const override { return int64_t(videos_.size()) * options_.num_clips; }
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return int64_t(classes_.size()); }
  std::string describe() const override;
  const std::vector<std::string>& classes() const { return classes_; }
  int64_t num_videos() const { return int64_t(videos_.size()); }
  const std::string& video_path(int64_t video) const;
  int64_t video_label(int64_t video) const;
  int64_t video_frames(int64_t video) const;
  // The frame indices (into the video's sorted frames) of item `index`.
  std::vector<int64_t> clip_frame_indices(int64_t index) const;
  // Train mode draws a new start per epoch; call before each epoch (thread-safe).
  void set_epoch(int64_t epoch) { epoch_.store(epoch); }

 private:
  struct Video {
    std::string path;
    int64_t label;
    int64_t num_frames;  // counted at construction; get() lists the folder again
  };
  std::string root_;
  VideoFolderOptions options_;
  std::vector<std::string> classes_;
  std::vector<Video> videos_;
  std::atomic<int64_t> epoch_{0};
};

// ---------------------------------------------------------------------------------------
// Synthetic moving-Fashion-MNIST clips. Item i is a pure function of (seed, i):
//   * a coarse appearance group g, uniform over 5 groups of Fashion-MNIST classes
//       0 tops {T-shirt/top, Shirt}        1 warm tops {Pullover, Coat}
//       2 long garments {Trouser, Dress}   3 footwear {Sandal, Sneaker, Ankle boot}
//       4 bags {Bag}
//     and a source image drawn uniformly among the source split's images of that group;
//   * a motion type m, uniform in {0 = horizontal, 1 = vertical}: the item moves with a
//     constant velocity whose dominant axis speed is U(1, 2.5) px/frame and whose other
//     axis speed is at most half of it (random signs), bouncing off the borders (a bounce
//     flips one sign, so the dominant axis never changes);
//   * label = 2 * g + m (10 classes): neither one frame (appearance) nor motion alone
//     determines it.
//   * with probability distractor_prob a second, STATIONARY item from another group is
//     drawn underneath (max compositing); only motion tells which item carries the label.
// Items are area-downscaled from 28 x 28 to item_side, placed at integer positions
// (rounded), and the grey frame is replicated to `channels` (3 by default, to feed RGB
// models; 1 keeps it grey). get() returns f32 (channels, num_frames, side, side) in [0, 1],
// group = -1. Use the train split with one seed for training and the test split with
// another for evaluation.
struct MovingFashionMnistOptions {
  int64_t size = 10000;        // number of clips
  uint64_t seed = 0;
  int64_t num_frames = 16;
  int64_t side = 32;           // frame side
  int64_t item_side = 16;      // side of the downscaled item
  int64_t channels = 3;        // 3 (replicated grey) or 1
  double distractor_prob = 0.5;
};

class MovingFashionMnist : public Dataset {
 public:
  static constexpr int64_t kGroups = 5;
  static constexpr int64_t kMotions = 2;
  // The coarse group (0..4) of a Fashion-MNIST class, and the group names.
  static int64_t group_of_class(int64_t fashion_class);
  static const char* group_name(int64_t group);

  MovingFashionMnist(FashionMnist source, MovingFashionMnistOptions options = {});
  // Loads the split from `dir` first.
  MovingFashionMnist(const std::string& dir, bool train, MovingFashionMnistOptions options = {});
  int64_t size() const override { return options_.size; }
  Sample get(int64_t index) const override;
  int64_t num_classes() const override { return kGroups * kMotions; }
  std::string describe() const override;
  const MovingFashionMnistOptions& options() const { return options_; }
  // "footwear/horizontal" etc., in label order.
  static std::string class_name(int64_t label);

 private:
  FashionMnist source_;
  MovingFashionMnistOptions options_;
  std::vector<std::vector<int64_t>> by_group_;  // source indices per coarse group
};

}  // namespace shears::data
