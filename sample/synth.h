// A deterministic generator of small-bowel capsule-endoscopy-like videos with
// their ground truth (8-class CECD tissue mask and clearness degree), for the
// demo and the tests. Nothing here pretends to be clinical data.
//
// Determinism: every random draw comes from SynthRng (std::mt19937_64, whose
// output the C++ standard fixes for a seed) through our own uniform/normal
// helpers — never std::uniform_*_distribution or cv::theRNG(), whose output is
// not fixed across standard libraries or shared with other code. Pixels are
// then produced by OpenCV's resize/warpAffine/filter2D/GaussianBlur, which are
// bit-exact run to run on one build; across CPUs or OpenCV builds their
// SIMD paths may differ in the last bit, and the video bytes also depend on
// the FFmpeg version. So "same seed, same bytes" is promised per build; the
// scene plan (scenes, camera path, where each object lies) on every platform.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "common/fsutil.h"

namespace excap {

struct SynthOptions {
  int patients = 3;     // one video per patient
  double seconds = 20;  // video length
  double fps = 10;      // video frame rate
  std::uint64_t seed = 1;
  int size = 256;  // frames are size x size pixels
};

// Throws Error naming the option when a value is out of range.
void validate_synth_options(const SynthOptions& opt);

// Random draws that are bit-identical on every platform for a given seed.
class SynthRng {
 public:
  explicit SynthRng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t bits() { return engine_(); }
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n);  // [0, n), n > 0
  bool chance(double p) { return uniform() < p; }
  // Box-Muller; std::log/std::cos may differ in the last ulp between libms.
  double normal();

 private:
  std::mt19937_64 engine_;
};

// SplitMix64 finaliser of a ^ mix(b): derives independent stream seeds.
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b);
std::uint64_t hash_text(std::string_view s);  // FNV-1a, 64 bit

// ---- clearness degree from a mask ----

// The CD rule applied to every synthetic mask (and documented in truth.json):
// shares are fractions of the field-of-view pixels (mask != background and
// != 255). invisible (2) when bubble-invisible (5) + excreta-invisible (6)
// >= invisible_share; otherwise blur (1) when blurred tissue (2) >=
// blur_share; otherwise clear (0).
struct CdRule {
  double invisible_share = 0.5;
  double blur_share = 0.4;
};

struct MaskShares {
  long long fov_pixels = 0;
  double invisible = 0;  // classes 5 + 6
  double blurred = 0;    // class 2
};
MaskShares mask_shares(const cv::Mat& mask);
int clearness_from_mask(const cv::Mat& mask, const CdRule& rule = {});
std::string describe_cd_rule(const CdRule& rule = {});

// ---- the renderer ----

struct SynthFrame {
  cv::Mat image;  // CV_8UC3 BGR, black outside the circle but for the overlay text
  cv::Mat mask;   // CV_8UC1 CECD tissue ids; 0 exactly outside the field of view
  int cd = 0;     // clearness_from_mask(mask)
};

// What a stretch of video shows; the kind steers the content, the CD still
// comes from the mask.
enum class SceneKind { Clear, Blurred, Obscured };

// One patient's video. render(k) depends only on (options, patient, k), so
// frames can be rendered in any order; consecutive frames are coherent.
// Thread-safe: the per-scene world is cached under a mutex.
class CapsuleVideoSynth {
 public:
  CapsuleVideoSynth(const SynthOptions& opt, int patient);  // patient is 1-based
  ~CapsuleVideoSynth();
  CapsuleVideoSynth(CapsuleVideoSynth&&) noexcept;
  CapsuleVideoSynth& operator=(CapsuleVideoSynth&&) noexcept;

  long long frame_count() const;
  double fps() const;
  cv::Size frame_size() const;
  int patient() const;
  std::string patient_name() const;  // "Synthetic Patient <n>"; burned into the overlay
  std::string device_name() const;

  // The field of view: pixel (x, y) is inside when (x-cx)^2 + (y-cy)^2 <= r^2.
  cv::Point2d fov_center() const;
  double fov_radius() const;
  cv::Mat fov_mask() const;  // CV_8UC1, 255 inside

  SceneKind scene_kind(long long k) const;
  int scene_index(long long k) const;
  int scene_count() const;

  SynthFrame render(long long k) const;  // throws Error when k is out of range

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- the video file ----

// The file is mp4v in MP4 through FFmpeg (Debian's OpenCV writes and reads
// it back, and identical frames give identical bytes: no timestamps in the
// container), or MJPG in AVI (OpenCV's built-in writer) when FFmpeg cannot
// write mp4v.
// Renders every frame of `synth` into `stem` + extension, calling `on_frame`
// with each rendered frame (for the ground truth), then decodes the file and
// checks it holds exactly frame_count() frames. Returns the path written.
// Throws Error naming the file when no writer opens or the check fails.
fs::path write_synth_video(const CapsuleVideoSynth& synth, const fs::path& stem,
                           const std::function<void(long long, const SynthFrame&)>& on_frame = {});

// Frames a plain sequential decode of `path` yields (no container count).
long long count_decoded_frames(const fs::path& path);

}  // namespace excap
