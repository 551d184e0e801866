#include "sample/synth.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "common/error.h"
#include "store/schema.h"

namespace excap {

// ---------------------------------------------------------------- helpers

int SynthRng::below(int n) {
  if (n <= 0) throw Error("SynthRng", "below() needs n > 0");
  // Multiply-shift on the top 32 bits: bias < n / 2^32, irrelevant here.
  return static_cast<int>(((engine_() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
}

double SynthRng::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
}

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t hash_text(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

namespace {
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

void validate_synth_options(const SynthOptions& o) {
  if (o.patients < 1 || o.patients > 100)
    throw Error("--patients", "must be 1..100, got " + std::to_string(o.patients));
  if (!(o.fps >= 1 && o.fps <= 60)) throw Error("--fps", "must be 1..60, got " + num(o.fps));
  if (!(o.seconds > 0 && o.seconds <= 3600))
    throw Error("--seconds", "must be > 0 and <= 3600, got " + num(o.seconds));
  if (std::llround(o.seconds * o.fps) < 1) throw Error("--seconds", "gives no frame at this --fps");
  if (o.size < 64 || o.size > 1024 || o.size % 2 != 0)
    throw Error("--size",
                "must be an even number of pixels in 64..1024, got " + std::to_string(o.size));
}

// ---------------------------------------------------------------- CD rule

MaskShares mask_shares(const cv::Mat& mask) {
  if (mask.empty() || mask.type() != CV_8UC1) throw Error("mask", "expected an 8-bit class mask");
  long long counts[256] = {};
  for (int y = 0; y < mask.rows; ++y) {
    const std::uint8_t* p = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) ++counts[p[x]];
  }
  MaskShares s;
  for (int v = 1; v < 255; ++v) s.fov_pixels += counts[v];
  if (s.fov_pixels == 0) return s;
  const double n = static_cast<double>(s.fov_pixels);
  s.invisible =
      static_cast<double>(counts[cecd::kBubbleInvisible] + counts[cecd::kExcretaInvisible]) / n;
  s.blurred = static_cast<double>(counts[cecd::kBlurredTissue]) / n;
  return s;
}

int clearness_from_mask(const cv::Mat& mask, const CdRule& rule) {
  const MaskShares s = mask_shares(mask);
  if (s.fov_pixels == 0) return cecd::kInvisible;  // nothing labeled in view: nothing to see
  if (s.invisible >= rule.invisible_share) return cecd::kInvisible;
  if (s.blurred >= rule.blur_share) return cecd::kBlur;
  return cecd::kClear;
}

std::string describe_cd_rule(const CdRule& r) {
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "shares are fractions of field-of-view pixels (mask not 0 and not 255): "
                "invisible (2) when invisible-by-bubble (5) + invisible-by-excreta (6) >= %.2f; "
                "else blur (1) when blurred tissue (2) >= %.2f; else clear (0)",
                r.invisible_share, r.blur_share);
  return buf;
}

// ---------------------------------------------------------------- noise

namespace {

constexpr double kPi = 3.14159265358979323846;

// Value noise: a random lattice every `cell` pixels, bicubically upsampled.
cv::Mat value_noise(SynthRng& rng, cv::Size size, double cell) {
  cell = std::max(cell, 1.0);
  const int gw = static_cast<int>(std::ceil(size.width / cell)) + 3;
  const int gh = static_cast<int>(std::ceil(size.height / cell)) + 3;
  cv::Mat grid(gh, gw, CV_32F);
  for (int y = 0; y < gh; ++y)
    for (int x = 0; x < gw; ++x) grid.at<float>(y, x) = static_cast<float>(rng.uniform());
  cv::Mat up;
  cv::resize(grid, up, cv::Size(static_cast<int>(gw * cell), static_cast<int>(gh * cell)), 0, 0,
             cv::INTER_CUBIC);
  const int off = static_cast<int>(cell);
  return up(cv::Rect(off, off, size.width, size.height)).clone();
}

// Fractal sum of value noise, normalised to roughly [0, 1].
cv::Mat fbm(SynthRng& rng, cv::Size size, std::initializer_list<double> cells) {
  cv::Mat sum = cv::Mat::zeros(size, CV_32F);
  double w = 1.0, total = 0.0;
  for (double c : cells) {
    sum += value_noise(rng, size, c) * w;
    total += w;
    w *= 0.55;
  }
  return sum / total;
}

float quantile(const cv::Mat& m, double q) {
  std::vector<float> v;
  v.reserve(m.total() / 9 + 1);
  for (int y = 0; y < m.rows; y += 3)
    for (int x = 0; x < m.cols; x += 3) v.push_back(m.at<float>(y, x));
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

inline float smoothstep(float e0, float e1, float x) {
  const float t = std::clamp((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3.0f - 2.0f * t);
}

// ---------------------------------------------------------------- scene plan

struct Pose {
  double x = 0, y = 0, angle = 0, zoom = 1;
};

struct Key {
  long long frame = 0;
  Pose pose;
};

enum class BlurMode { None, Motion, Defocus };

struct Scene {
  long long start = 0, end = 0;  // [start, end) frames
  SceneKind kind = SceneKind::Clear;
  std::uint64_t seed = 0;
  BlurMode blur = BlurMode::None;
  double blur_strength = 0;  // motion: kernel length; defocus: sigma (pixels at size 256)
  double motion_angle = 0;   // blur direction while the capsule sits still
  std::vector<Key> keys;
};

struct World {
  cv::Mat color;    // CV_8UC3
  cv::Mat label;    // CV_8UC1
  cv::Mat defocus;  // CV_8UC1 soft region (Defocus scenes only)
};

Pose lerp(const Pose& a, const Pose& b, double u) {
  const double s = u * u * (3 - 2 * u);  // ease in/out: the capsule starts and stops smoothly
  return {a.x + (b.x - a.x) * s, a.y + (b.y - a.y) * s, a.angle + (b.angle - a.angle) * s,
          a.zoom + (b.zoom - a.zoom) * s};
}

Pose pose_at(const Scene& sc, double k) {
  const auto& keys = sc.keys;
  if (k <= keys.front().frame) return keys.front().pose;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i)
    if (k < keys[i + 1].frame)
      return lerp(keys[i].pose, keys[i + 1].pose,
                  (k - keys[i].frame) / static_cast<double>(keys[i + 1].frame - keys[i].frame));
  return keys.back().pose;
}

}  // namespace

// ---------------------------------------------------------------- impl

struct CapsuleVideoSynth::Impl {
  SynthOptions opt;
  int patient = 1;
  std::uint64_t seed = 0;
  long long frames = 0;
  int S = 256, W = 512;
  double cx = 0, cy = 0, r = 0;
  double clock_offset_s = 0;
  std::string date;
  std::vector<Scene> scenes;
  cv::Mat fov;           // CV_8UC1 255 inside
  cv::Mat vignette;      // CV_32F
  cv::Mat overlay_keep;  // CV_8UC1: where the overlay may show (outside the circle + margin)

  mutable std::mutex mu;
  mutable int cached_index = -1;
  mutable std::shared_ptr<const World> cached;

  void plan_scenes();
  void plan_motion(Scene& sc, SynthRng& rng) const;
  std::shared_ptr<const World> world(int index) const;
  World build_world(const Scene& sc) const;
  void draw_overlay(cv::Mat& img, long long k) const;
  // The steps of render() after the world is warped into the frame.
  void motion_blur(SynthFrame& f, const Scene& sc, const Pose& p, long long k, double wobble) const;
  void defocus_blur(SynthFrame& f, const World& w, const cv::Matx23d& to_world, const Scene& sc,
                    double wobble) const;
  void expose(SynthFrame& f, long long k) const;
};

void CapsuleVideoSynth::Impl::plan_scenes() {
  SynthRng rng(mix_seed(seed, 0x7363656e6573ULL));
  // A shuffled deck of scene kinds (4 clear, 3 blurred, 3 obscured per 10)
  // keeps the CD mix near 50/30/20 even in short videos (some blurred and
  // obscured stretches fall under the CD thresholds and count as clear).
  std::vector<SceneKind> deck;
  auto refill = [&] {
    deck = {SceneKind::Clear,    SceneKind::Clear,   SceneKind::Clear,   SceneKind::Clear,
            SceneKind::Blurred,  SceneKind::Blurred, SceneKind::Blurred, SceneKind::Obscured,
            SceneKind::Obscured, SceneKind::Obscured};
    for (std::size_t i = deck.size(); i > 1; --i)
      std::swap(deck[i - 1], deck[rng.below(static_cast<int>(i))]);
  };
  long long k = 0;
  while (k < frames) {
    if (deck.empty()) refill();
    Scene sc;
    sc.kind = deck.back();
    deck.pop_back();
    sc.start = k;
    long long len = std::max<long long>(1, std::llround(rng.uniform(2.0, 4.5) * opt.fps));
    if (frames - (k + len) < std::llround(1.0 * opt.fps)) len = frames - k;  // no stub scene
    sc.end = std::min(frames, k + len);
    sc.seed = mix_seed(seed, static_cast<std::uint64_t>(scenes.size()) + 1);
    if (sc.kind == SceneKind::Blurred) {
      sc.blur = rng.chance(0.55) ? BlurMode::Motion : BlurMode::Defocus;
      sc.blur_strength = sc.blur == BlurMode::Motion ? rng.uniform(7, 15) : rng.uniform(2.2, 4.0);
    }
    sc.motion_angle = rng.uniform(0, kPi);
    plan_motion(sc, rng);
    scenes.push_back(std::move(sc));
    k = scenes.back().end;
  }
}

void CapsuleVideoSynth::Impl::plan_motion(Scene& sc, SynthRng& rng) const {
  const double sc_px = S / 256.0;
  const double zmin = 0.85, zmax = 1.25;
  const double half = W / 2.0;
  const double range = half - r / zmin - 4;  // the view circle never leaves the world
  auto clamp_pose = [&](Pose p) {
    p.x = std::clamp(p.x, half - range, half + range);
    p.y = std::clamp(p.y, half - range, half + range);
    p.zoom = std::clamp(p.zoom, zmin, zmax);
    return p;
  };
  Pose p{half + rng.uniform(-0.5, 0.5) * range, half + rng.uniform(-0.5, 0.5) * range,
         rng.uniform(0, 2 * kPi), rng.uniform(0.9, 1.15)};
  long long t = sc.start;
  sc.keys.push_back({t, p});
  const bool tumbling = sc.blur == BlurMode::Motion;
  bool still = !tumbling && rng.chance(0.5);
  while (t < sc.end) {
    if (still) {  // the capsule sits: identical poses, near-identical frames
      t += std::max<long long>(1, std::llround(rng.uniform(0.5, 1.6) * opt.fps));
    } else {
      const double reach = (tumbling ? rng.uniform(30, 70) : rng.uniform(15, 45)) * sc_px;
      const double dir = rng.uniform(0, 2 * kPi);
      p.x += reach * std::cos(dir);
      p.y += reach * std::sin(dir);
      p.angle += rng.uniform(-0.3, 0.3);
      p.zoom += rng.uniform(-0.08, 0.08);
      p = clamp_pose(p);
      t += std::max<long long>(
          1, std::llround((tumbling ? rng.uniform(0.3, 0.8) : rng.uniform(0.4, 1.2)) * opt.fps));
    }
    sc.keys.push_back({t, p});
    still = tumbling ? false : !still;
  }
}

std::shared_ptr<const World> CapsuleVideoSynth::Impl::world(int index) const {
  std::lock_guard<std::mutex> lock(mu);
  if (index != cached_index) {
    cached = std::make_shared<const World>(build_world(scenes[index]));
    cached_index = index;
  }
  return cached;
}

// ---------------------------------------------------------------- the world

namespace {

struct Occluders {
  double excreta = 0;   // target share of the world
  double clusters = 0;  // bubble clusters
  int clear_bubbles = 0;
  int lesions = 0;
};

Occluders choose_occluders(SceneKind kind, SynthRng& g) {
  Occluders o;
  switch (kind) {
    case SceneKind::Clear:
      o.excreta = g.chance(0.35) ? g.uniform(0.02, 0.10) : 0;
      o.clusters = g.chance(0.3) ? g.uniform(0.02, 0.08) : 0;
      o.clear_bubbles = g.chance(0.75) ? 2 + g.below(9) : 0;
      o.lesions = g.chance(0.5) ? 1 + g.below(2) : 0;
      break;
    case SceneKind::Blurred:
      o.excreta = g.chance(0.3) ? g.uniform(0.02, 0.10) : 0;
      o.clusters = g.chance(0.3) ? g.uniform(0.02, 0.08) : 0;
      o.clear_bubbles = g.below(6);
      o.lesions = g.chance(0.35) ? 1 : 0;
      break;
    case SceneKind::Obscured: {
      const int mode = g.below(3);  // excreta, bubbles, or both
      const double total = g.uniform(0.6, 0.9);
      const double split = mode == 2 ? g.uniform(0.35, 0.65) : (mode == 0 ? 1.0 : 0.0);
      o.excreta = total * split;
      o.clusters = total * (1 - split);
      o.clear_bubbles = g.below(5);
      o.lesions = g.chance(0.2) ? 1 : 0;
      break;
    }
  }
  return o;
}

// Soft occupancy region covering about `share` of the world.
cv::Mat region(SynthRng& g, cv::Size ws, double share, double scale) {
  cv::Mat occ = fbm(g, ws, {scale, scale / 2, scale / 4});
  const float t = quantile(occ, 1.0 - share);
  cv::Mat alpha(ws, CV_32F);
  for (int y = 0; y < ws.height; ++y) {
    const float* o = occ.ptr<float>(y);
    float* a = alpha.ptr<float>(y);
    for (int x = 0; x < ws.width; ++x) a[x] = smoothstep(t - 0.025f, t + 0.025f, o[x]);
  }
  return alpha;
}

// The scene's wall: the lumen (hole), the folds around it and the mucosa's colour.
struct WallLayout {
  bool lumen = false;
  double lx = 0, ly = 0, lr = 0;  // lumen centre and radius
  double wall_dir = 0, period = 0, phase = 0;
  cv::Vec3f albedo;
};

// The wall's noise fields, drawn in member order from the scene's stream.
struct WallNoise {
  cv::Mat warp, low, tint, shadow, villi, glint, hole_edge;
};

// Per world point: fold height and crest, and the distance into the hole (< 1 inside).
struct WallRelief {
  cv::Mat height, hole, crest;
};

// What the steps of build_world share: the scene's random stream and the world so far.
struct WorldDraft {
  WorldDraft(std::uint64_t seed, int world, int frame)
      : g(seed), W(world), ws(world, world), sp(frame / 256.0), half(world / 2.0) {}
  SynthRng g;
  int W;
  cv::Size ws;
  double sp, half;
  WallLayout wall;
  cv::Mat illum;  // CV_32F: the light reaching each point
  cv::Mat color;  // CV_32FC3 until the excreta are in; the bubbles draw on w.color
  World w;
};

WallLayout draw_wall_layout(SynthRng& g, int W) {
  const double half = W / 2.0;
  // Lumen (hole) and the circular folds around it; without a lumen in reach
  // the capsule faces the wall and the folds run as wavy parallel ridges.
  WallLayout l;
  l.lumen = g.chance(0.85);
  l.lx = half + g.uniform(-0.22, 0.22) * W;
  l.ly = half + g.uniform(-0.22, 0.22) * W;
  l.lr = g.uniform(0.045, 0.09) * W;
  l.wall_dir = g.uniform(0, kPi);
  l.period = g.uniform(0.07, 0.12) * W;
  l.phase = g.uniform(0, 2 * kPi);
  const cv::Vec3f albedo(static_cast<float>(g.uniform(0.34, 0.46)),
                         static_cast<float>(g.uniform(0.52, 0.68)),
                         static_cast<float>(g.uniform(0.92, 1.0)));  // BGR: pink-orange mucosa
  l.albedo = albedo;
  return l;
}

WallNoise draw_wall_noise(SynthRng& g, cv::Size ws, int W, double sp) {
  // A braced list evaluates in order, so the draws keep the stream's order.
  return {fbm(g, ws, {W / 5.0, W / 10.0}),
          fbm(g, ws, {W / 4.0, W / 8.0}),
          value_noise(g, ws, W / 6.0),
          value_noise(g, ws, W / 5.0),  // uneven light: wall closer or farther
          fbm(g, ws, {3.2 * sp, 1.6 * sp}),
          value_noise(g, ws, 2.2 * sp),
          value_noise(g, ws, W / 24.0)};
}

// Folds, light and hole of every world point; the light goes to d.illum.
WallRelief trace_folds(WorldDraft& d, const WallNoise& n) {
  const WallLayout& l = d.wall;
  const int W = d.W;
  WallRelief r{cv::Mat(d.ws, CV_32F), cv::Mat(d.ws, CV_32F), cv::Mat(d.ws, CV_32F)};
  d.illum = cv::Mat(d.ws, CV_32F);
  for (int y = 0; y < W; ++y) {
    for (int x = 0; x < W; ++x) {
      const double dx = x - l.lx, dy = y - l.ly;
      const double dist = l.lumen ? std::sqrt(dx * dx + dy * dy)
                                  : x * std::cos(l.wall_dir) + y * std::sin(l.wall_dir);
      const double dw = dist + 0.12 * W * (n.warp.at<float>(y, x) - 0.5) * 2;
      double fold = 0.5 + 0.5 * std::cos(2 * kPi * dw / l.period + l.phase);
      fold = fold * std::sqrt(fold);  // crests a little narrower than valleys
      r.crest.at<float>(y, x) = static_cast<float>(fold);
      r.height.at<float>(y, x) = static_cast<float>(1.3 * fold + 0.55 * n.villi.at<float>(y, x) +
                                                    0.3 * n.low.at<float>(y, x));
      double li;
      if (l.lumen) {
        const double t = std::clamp((dist - l.lr) / (0.5 * W), 0.0, 1.0);
        li = 0.3 + 0.7 * std::sqrt(t);  // tissue far down the lumen gets little light
      } else {
        li = 0.72 + 0.28 * n.low.at<float>(y, x);
      }
      d.illum.at<float>(y, x) = static_cast<float>(li * (0.7 + 0.45 * n.shadow.at<float>(y, x)));
      const double hd =
          l.lumen ? dist + 0.45 * l.lr * (n.hole_edge.at<float>(y, x) - 0.5) * 2 : 1e9;
      r.hole.at<float>(y, x) = static_cast<float>(hd / l.lr);  // < 1 inside the hole
    }
  }
  return r;
}

// Colours the wall from its relief and labels it clear tissue or hole.
void shade_wall(WorldDraft& d, const WallNoise& n, const WallRelief& r) {
  cv::Mat gx, gy;
  cv::Sobel(r.height, gx, CV_32F, 1, 0, 3, 1.0 / (8 * d.sp));
  cv::Sobel(r.height, gy, CV_32F, 0, 1, 3, 1.0 / (8 * d.sp));
  d.color = cv::Mat(d.ws, CV_32FC3);
  d.w.label = cv::Mat(d.ws, CV_8UC1, cv::Scalar(cecd::kClearTissue));
  for (int y = 0; y < d.W; ++y) {
    for (int x = 0; x < d.W; ++x) {
      const float gxx = gx.at<float>(y, x), gyy = gy.at<float>(y, x);
      const float slope = gxx * gxx + gyy * gyy;
      // Light comes from the capsule: slopes darken, a slight top-left key adds relief.
      const float shade =
          (1.0f / std::sqrt(1.0f + 6.0f * slope)) * (1.0f + 0.35f * (-0.6f * gxx - 0.8f * gyy));
      const float v = n.villi.at<float>(y, x);
      const float tn = n.tint.at<float>(y, x) - 0.5f;
      cv::Vec3f a = d.wall.albedo;
      a[0] *= 0.78f + 0.35f * v;
      a[1] *= 0.78f + 0.35f * v + 0.25f * tn;  // yellowish and pinkish patches
      a[2] *= 0.90f + 0.15f * v;
      const float fc = r.crest.at<float>(y, x);
      const float li = d.illum.at<float>(y, x) * (0.86f + 0.22f * fc);  // fold crests catch light
      // Wet glints, sparse, mostly on the crests.
      const float gl = std::max(0.0f, n.glint.at<float>(y, x) - 0.8f) / 0.2f;
      const float spec =
          gl * gl * 0.6f * (0.25f + 0.75f * fc) * (1.0f - std::min(1.0f, 3.0f * slope));
      cv::Vec3f c = a * (li * std::clamp(shade, 0.3f, 1.3f)) + cv::Vec3f(spec, spec, spec) * li;
      const float h = r.hole.at<float>(y, x);
      if (h < 1.35f) {  // the lumen: dark, with a soft rim
        const float t = smoothstep(0.55f, 1.35f, h);
        c = c * (0.06f + 0.94f * t) + cv::Vec3f(0.02f, 0.015f, 0.03f) * (1 - t);
        if (h < 1.0f) d.w.label.at<std::uint8_t>(y, x) = cecd::kHole;
      }
      d.color.at<cv::Vec3f>(y, x) = c;
    }
  }
}

// One ulcer-like lesion: whitish-yellow fibrin centre, red hyperaemic rim.
void draw_lesion(WorldDraft& d) {
  SynthRng& g = d.g;
  const WallLayout& l = d.wall;
  const int W = d.W;
  double cxl = 0, cyl = 0;
  for (int tries = 0; tries < 20; ++tries) {
    cxl = d.half + g.uniform(-0.3, 0.3) * W;
    cyl = d.half + g.uniform(-0.3, 0.3) * W;
    if (!l.lumen || std::hypot(cxl - l.lx, cyl - l.ly) > 1.8 * l.lr) break;
  }
  const double a = g.uniform(0.012, 0.045) * W, b = a * g.uniform(0.5, 1.0);
  const double ang = g.uniform(0, kPi);
  const double ca = std::cos(ang), sa = std::sin(ang);
  const int R = static_cast<int>(std::ceil(1.8 * a)) + 2;
  SynthRng ln(g.bits());
  const cv::Mat edge = value_noise(ln, cv::Size(2 * R + 1, 2 * R + 1), std::max(2.0, a / 2.5));
  const cv::Mat grain = value_noise(ln, cv::Size(2 * R + 1, 2 * R + 1), 1.5 * d.sp);
  for (int yy = -R; yy <= R; ++yy) {
    for (int xx = -R; xx <= R; ++xx) {
      const int X = static_cast<int>(cxl) + xx, Y = static_cast<int>(cyl) + yy;
      if (X < 0 || Y < 0 || X >= W || Y >= W) continue;
      const double u = xx * ca + yy * sa, v = -xx * sa + yy * ca;
      const double rho = std::sqrt((u / a) * (u / a) + (v / b) * (v / b)) *
                         (1.0 + 0.35 * (edge.at<float>(yy + R, xx + R) - 0.5));
      if (rho >= 1.7) continue;
      cv::Vec3f& c = d.color.at<cv::Vec3f>(Y, X);
      const float li = 0.55f + 0.45f * d.illum.at<float>(Y, X);
      const float gr = 0.8f + 0.35f * grain.at<float>(yy + R, xx + R);
      const cv::Vec3f fibrin = cv::Vec3f(0.58f, 0.83f, 0.92f) * (gr * li);
      const cv::Vec3f rim = cv::Vec3f(0.16f, 0.18f, 0.72f) * li;
      if (rho < 1.0) {
        const float t = smoothstep(0.75f, 1.0f, static_cast<float>(rho));
        c = fibrin * (1 - t) + rim * t;
      } else {
        const float t = smoothstep(1.0f, 1.7f, static_cast<float>(rho));
        c = rim * (1 - t) + c * t;
      }
      if (rho < 1.2) d.w.label.at<std::uint8_t>(Y, X) = cecd::kLesion;
    }
  }
}

// Excreta: turbid greenish-brown patches with a murky halo of fluid.
void draw_excreta(WorldDraft& d, double share) {
  SynthRng& g = d.g;
  const cv::Mat alpha = region(g, d.ws, share, d.W / 3.0);
  const cv::Mat halo = region(g, d.ws, std::min(0.95, share * 1.6), d.W / 3.0);
  const cv::Mat grain = fbm(g, d.ws, {3.0 * d.sp, 1.5 * d.sp});
  const cv::Vec3f brown(static_cast<float>(g.uniform(0.10, 0.18)),
                        static_cast<float>(g.uniform(0.38, 0.50)),
                        static_cast<float>(g.uniform(0.40, 0.55)));
  for (int y = 0; y < d.W; ++y) {
    for (int x = 0; x < d.W; ++x) {
      const float al = alpha.at<float>(y, x);
      const float ha = 0.35f * halo.at<float>(y, x) * (1 - al);
      if (al <= 0 && ha <= 0) continue;
      const float li = 0.45f + 0.55f * d.illum.at<float>(y, x);
      const cv::Vec3f e = brown * ((0.55f + 0.8f * grain.at<float>(y, x)) * li);
      cv::Vec3f& c = d.color.at<cv::Vec3f>(y, x);
      c = c * (1 - 0.97f * al - ha) + e * (0.97f * al + ha);
      if (al > 0.5f) d.w.label.at<std::uint8_t>(y, x) = cecd::kExcretaInvisible;
    }
  }
}

// One clear bubble: a transparent disc, a bright specular ring and highlights.
void draw_clear_bubble(WorldDraft& d) {
  SynthRng& g = d.g;
  const int W = d.W;
  const double bx = d.half + g.uniform(-0.35, 0.35) * W, by = d.half + g.uniform(-0.35, 0.35) * W;
  const double br = g.uniform(0.012, 0.05) * W;
  const int R = static_cast<int>(std::ceil(br)) + 1;
  for (int yy = -R; yy <= R; ++yy) {
    for (int xx = -R; xx <= R; ++xx) {
      const int X = static_cast<int>(bx) + xx, Y = static_cast<int>(by) + yy;
      if (X < 0 || Y < 0 || X >= W || Y >= W) continue;
      const double rho = std::hypot(X - bx, Y - by) / br;
      if (rho > 1.0) continue;
      double wgt = 0.06 + 0.45 * std::pow(rho, 8.0);
      if (rho > 0.9) wgt = 0.75;
      const double hx = (X - (bx - 0.38 * br)) / (0.2 * br),
                   hy = (Y - (by - 0.42 * br)) / (0.14 * br);
      if (hx * hx + hy * hy < 1) wgt = 0.92;
      if (std::hypot(X - (bx + 0.4 * br), Y - (by + 0.38 * br)) < 0.08 * br) wgt = 0.8;
      cv::Vec3b& c = d.w.color.at<cv::Vec3b>(Y, X);
      for (int ch = 0; ch < 3; ++ch)
        c[ch] = cv::saturate_cast<std::uint8_t>(c[ch] * (1 - wgt) + 250 * wgt);
      d.w.label.at<std::uint8_t>(Y, X) = cecd::kClearBubble;
    }
  }
}

// The foam's fluid: a yellowish murk over the cluster region `alpha`.
void tint_foam(WorldDraft& d, const cv::Mat& alpha) {
  const cv::Mat murk = value_noise(d.g, d.ws, 6 * d.sp);
  for (int y = 0; y < d.W; ++y) {
    for (int x = 0; x < d.W; ++x) {
      const float al = alpha.at<float>(y, x);
      if (al <= 0) continue;
      cv::Vec3b& c = d.w.color.at<cv::Vec3b>(y, x);
      const float m = 0.8f + 0.3f * murk.at<float>(y, x);
      const cv::Vec3f foam(105 * m, 175 * m, 195 * m);  // yellowish intestinal fluid
      for (int ch = 0; ch < 3; ++ch)
        c[ch] = cv::saturate_cast<std::uint8_t>(c[ch] * (1 - 0.72f * al) + foam[ch] * 0.72f * al);
      if (al > 0.5f) d.w.label.at<std::uint8_t>(y, x) = cecd::kBubbleInvisible;
    }
  }
}

// The foam's bubbles: small packed circles where the cluster region is dense.
void scatter_foam_bubbles(WorldDraft& d, const cv::Mat& alpha, double share) {
  SynthRng& g = d.g;
  const double sp = d.sp;
  const int candidates = static_cast<int>(share * d.W * d.W / (20.0 * sp * sp)) + 10;
  for (int i = 0; i < candidates; ++i) {
    const double bx = g.uniform(0, d.W), by = g.uniform(0, d.W);
    const double u = g.uniform();
    const double br = (2.5 + 8.0 * u * u) * sp;
    if (alpha.at<float>(static_cast<int>(by), static_cast<int>(bx)) < 0.6f) continue;
    const cv::Point c(static_cast<int>(bx * 16), static_cast<int>(by * 16));
    const int rr = static_cast<int>(br * 16);
    cv::circle(d.w.color, c, rr, cv::Scalar(95, 160, 180), -1, cv::LINE_AA, 4);
    cv::circle(d.w.color, c, rr, cv::Scalar(200, 238, 245), 1, cv::LINE_AA, 4);
    const cv::Point h(static_cast<int>((bx - 0.35 * br) * 16),
                      static_cast<int>((by - 0.35 * br) * 16));
    cv::circle(d.w.color, h, std::max(16, static_cast<int>(0.25 * br * 16)),
               cv::Scalar(255, 255, 255), -1, cv::LINE_AA, 4);
    cv::circle(d.w.label, cv::Point(static_cast<int>(bx), static_cast<int>(by)),
               static_cast<int>(std::lround(br)), cv::Scalar(cecd::kBubbleInvisible), -1,
               cv::LINE_8);
  }
}

// Bubble clusters: packed foam that hides the tissue.
void draw_bubble_clusters(WorldDraft& d, double share) {
  const cv::Mat alpha = region(d.g, d.ws, share, d.W / 3.5);
  tint_foam(d, alpha);
  scatter_foam_bubbles(d, alpha, share);
}

}  // namespace

// The steps draw from one stream in a fixed order: reordering them changes every world.
World CapsuleVideoSynth::Impl::build_world(const Scene& sc) const {
  WorldDraft d(mix_seed(sc.seed, 0x776f726c64ULL), W, S);
  d.wall = draw_wall_layout(d.g, W);
  const WallNoise noise = draw_wall_noise(d.g, d.ws, W, d.sp);
  shade_wall(d, noise, trace_folds(d, noise));
  const Occluders occ = choose_occluders(sc.kind, d.g);
  for (int i = 0; i < occ.lesions; ++i) draw_lesion(d);
  if (occ.excreta > 0) draw_excreta(d, occ.excreta);
  d.color.convertTo(d.w.color, CV_8UC3, 255.0);
  for (int i = 0; i < occ.clear_bubbles; ++i) draw_clear_bubble(d);
  if (occ.clusters > 0) draw_bubble_clusters(d, occ.clusters);
  if (sc.blur == BlurMode::Defocus) {
    const cv::Mat alpha = region(d.g, d.ws, d.g.uniform(0.6, 1.0), W / 2.5);
    alpha.convertTo(d.w.defocus, CV_8UC1, 255.0);
  }
  return std::move(d.w);
}

// ---------------------------------------------------------------- frames

CapsuleVideoSynth::CapsuleVideoSynth(const SynthOptions& opt, int patient)
    : impl_(std::make_unique<Impl>()) {
  validate_synth_options(opt);
  if (patient < 1) throw Error("synth", "patient numbers start at 1");
  Impl& m = *impl_;
  m.opt = opt;
  m.patient = patient;
  m.seed = mix_seed(opt.seed, static_cast<std::uint64_t>(patient));
  m.frames = std::llround(opt.seconds * opt.fps);
  m.S = opt.size;
  m.W = 2 * opt.size;
  m.cx = (m.S - 1) / 2.0;
  m.cy = (m.S - 1) / 2.0;
  m.r = 0.45 * m.S;
  SynthRng rng(mix_seed(m.seed, 0x636c6f636bULL));
  m.clock_offset_s = std::floor(rng.uniform(0.3, 3.2) * 3600);  // clips come from long recordings
  char date[32];
  std::snprintf(date, sizeof date, "2026-%02d-%02d", 1 + rng.below(12), 1 + rng.below(28));
  m.date = date;

  m.fov = cv::Mat::zeros(m.S, m.S, CV_8UC1);
  m.vignette = cv::Mat::zeros(m.S, m.S, CV_32F);
  for (int y = 0; y < m.S; ++y)
    for (int x = 0; x < m.S; ++x) {
      const double d2 = (x - m.cx) * (x - m.cx) + (y - m.cy) * (y - m.cy);
      if (d2 <= m.r * m.r) {
        m.fov.at<std::uint8_t>(y, x) = 255;
        const double t = std::sqrt(d2) / m.r;
        m.vignette.at<float>(y, x) = static_cast<float>(1.08 - 0.5 * std::pow(t, 2.5));
      }
    }
  cv::Mat grown;
  cv::dilate(m.fov, grown, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)));
  m.overlay_keep = 255 - grown;
  m.plan_scenes();
}

CapsuleVideoSynth::~CapsuleVideoSynth() = default;
CapsuleVideoSynth::CapsuleVideoSynth(CapsuleVideoSynth&&) noexcept = default;
CapsuleVideoSynth& CapsuleVideoSynth::operator=(CapsuleVideoSynth&&) noexcept = default;

long long CapsuleVideoSynth::frame_count() const { return impl_->frames; }
double CapsuleVideoSynth::fps() const { return impl_->opt.fps; }
cv::Size CapsuleVideoSynth::frame_size() const { return {impl_->S, impl_->S}; }
int CapsuleVideoSynth::patient() const { return impl_->patient; }
std::string CapsuleVideoSynth::patient_name() const {
  return "Synthetic Patient " + std::to_string(impl_->patient);
}
std::string CapsuleVideoSynth::device_name() const { return "SynthCam SB"; }
cv::Point2d CapsuleVideoSynth::fov_center() const { return {impl_->cx, impl_->cy}; }
double CapsuleVideoSynth::fov_radius() const { return impl_->r; }
cv::Mat CapsuleVideoSynth::fov_mask() const { return impl_->fov.clone(); }
int CapsuleVideoSynth::scene_count() const { return static_cast<int>(impl_->scenes.size()); }

int CapsuleVideoSynth::scene_index(long long k) const {
  if (k < 0 || k >= impl_->frames)
    throw Error("synth frame " + std::to_string(k),
                "out of range 0.." + std::to_string(impl_->frames - 1));
  const auto& s = impl_->scenes;
  const auto it = std::upper_bound(s.begin(), s.end(), k,
                                   [](long long v, const Scene& sc) { return v < sc.start; });
  return static_cast<int>(it - s.begin()) - 1;
}

SceneKind CapsuleVideoSynth::scene_kind(long long k) const {
  return impl_->scenes[scene_index(k)].kind;
}

void CapsuleVideoSynth::Impl::draw_overlay(cv::Mat& img, long long k) const {
  cv::Mat layer = cv::Mat::zeros(img.size(), CV_8UC3);
  const double scale = 0.3 * S / 256.0;
  const int th = 1;
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  const int m = std::max(2, S / 96);
  const long long t = static_cast<long long>(clock_offset_s + k / opt.fps);
  char clock[32];
  std::snprintf(clock, sizeof clock, "%02lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
  const std::string name = "Synthetic Patient " + std::to_string(patient);
  const std::string device = "SynthCam SB";
  const cv::Scalar ink(225, 225, 225);
  int base = 0;
  const cv::Size tc = cv::getTextSize(clock, font, scale, th, &base);
  cv::putText(layer, clock, {m, m + tc.height}, font, scale, ink, th, cv::LINE_AA);
  const cv::Size td = cv::getTextSize(device, font, scale, th, &base);
  cv::putText(layer, device, {S - m - td.width, m + td.height}, font, scale, ink, th, cv::LINE_AA);
  cv::putText(layer, name, {m, S - m - base}, font, scale, ink, th, cv::LINE_AA);
  const cv::Size tt = cv::getTextSize(date, font, scale, th, &base);
  cv::putText(layer, date, {S - m - tt.width, S - m - base}, font, scale, ink, th, cv::LINE_AA);
  layer.copyTo(img, overlay_keep);  // only outside the circle, as on a real reader screen
}

namespace {

// A normalised line of length `len` along `dir`: the blur of a short straight motion.
cv::Mat motion_kernel(double len, double dir) {
  const int ks = static_cast<int>(std::ceil(len)) | 1;
  cv::Mat kernel = cv::Mat::zeros(ks, ks, CV_32F);
  const double h = (ks - 1) / 2.0;
  const cv::Point2d d(std::cos(dir) * len / 2, std::sin(dir) * len / 2);
  cv::line(
      kernel,
      cv::Point(static_cast<int>(std::lround(h - d.x)), static_cast<int>(std::lround(h - d.y))),
      cv::Point(static_cast<int>(std::lround(h + d.x)), static_cast<int>(std::lround(h + d.y))),
      cv::Scalar(1.0), 1, cv::LINE_8);
  kernel /= cv::sum(kernel)[0];
  return kernel;
}

}  // namespace

void CapsuleVideoSynth::Impl::motion_blur(SynthFrame& f, const Scene& sc, const Pose& p,
                                          long long k, double wobble) const {
  const Pose a = pose_at(sc, k - 0.5), b = pose_at(sc, k + 0.5);
  const double vx = (b.x - a.x) * p.zoom, vy = (b.y - a.y) * p.zoom;
  // Image motion runs against the camera's world motion, rotated into the frame.
  const double dir = std::hypot(vx, vy) > 0.3 ? std::atan2(vy, vx) - p.angle : sc.motion_angle;
  const double len = std::max(3.0, sc.blur_strength * (S / 256.0) * wobble);
  cv::filter2D(f.image, f.image, -1, motion_kernel(len, dir), cv::Point(-1, -1), 0,
               cv::BORDER_REFLECT101);
  f.mask.setTo(cecd::kBlurredTissue, f.mask == cecd::kClearTissue);
}

void CapsuleVideoSynth::Impl::defocus_blur(SynthFrame& f, const World& w,
                                           const cv::Matx23d& to_world, const Scene& sc,
                                           double wobble) const {
  cv::Mat region;
  cv::warpAffine(w.defocus, region, to_world, cv::Size(S, S),
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REFLECT101);
  cv::Mat blurred;
  cv::GaussianBlur(f.image, blurred, cv::Size(0, 0), sc.blur_strength * (S / 256.0) * wobble);
  for (int y = 0; y < S; ++y) {
    cv::Vec3b* im = f.image.ptr<cv::Vec3b>(y);
    const cv::Vec3b* bl = blurred.ptr<cv::Vec3b>(y);
    const std::uint8_t* rg = region.ptr<std::uint8_t>(y);
    std::uint8_t* lb = f.mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < S; ++x) {
      const int a = rg[x];
      for (int ch = 0; ch < 3; ++ch)
        im[x][ch] = static_cast<std::uint8_t>((bl[x][ch] * a + im[x][ch] * (255 - a) + 127) / 255);
      if (a >= 128 && lb[x] == cecd::kClearTissue) lb[x] = cecd::kBlurredTissue;
    }
  }
}

// LED falloff towards the rim, slow auto-exposure drift, sensor noise.
void CapsuleVideoSynth::Impl::expose(SynthFrame& f, long long k) const {
  SynthRng noise(mix_seed(seed, 0x6e6f697365ULL ^ static_cast<std::uint64_t>(k)));
  const double exposure = 1.0 + 0.04 * std::sin(2 * kPi * k / (3.7 * opt.fps) + patient);
  for (int y = 0; y < S; ++y) {
    cv::Vec3b* im = f.image.ptr<cv::Vec3b>(y);
    const float* vg = vignette.ptr<float>(y);
    const std::uint8_t* in = fov.ptr<std::uint8_t>(y);
    std::uint8_t* lb = f.mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < S; ++x) {
      if (!in[x]) {
        im[x] = cv::Vec3b(0, 0, 0);
        lb[x] = cecd::kBackground;
        continue;
      }
      const std::uint64_t bits = noise.bits();
      const float gain = static_cast<float>(vg[x] * exposure);
      for (int ch = 0; ch < 3; ++ch) {
        const int n = static_cast<int>((bits >> (ch * 8)) & 7) +
                      static_cast<int>((bits >> (ch * 8 + 3)) & 7) - 7;
        im[x][ch] = cv::saturate_cast<std::uint8_t>(im[x][ch] * gain + 0.45f * n);
      }
    }
  }
}

SynthFrame CapsuleVideoSynth::render(long long k) const {
  const Impl& m = *impl_;
  const int si = scene_index(k);
  const Scene& sc = m.scenes[si];
  const std::shared_ptr<const World> w = m.world(si);

  // Frame pixel q maps to world point C + R(angle) (q - centre) / zoom.
  const Pose p = pose_at(sc, static_cast<double>(k));
  const double c = std::cos(p.angle) / p.zoom, s = std::sin(p.angle) / p.zoom;
  const cv::Matx23d to_world(c, -s, p.x - c * m.cx + s * m.cy, s, c, p.y - s * m.cx - c * m.cy);
  const cv::Size fs(m.S, m.S);
  SynthFrame f;
  cv::warpAffine(w->color, f.image, to_world, fs, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REFLECT101);
  cv::warpAffine(w->label, f.mask, to_world, fs, cv::INTER_NEAREST | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REFLECT101);

  // The strength breathes over the stretch, so blur is not one constant.
  const double wobble = 0.8 + 0.2 * std::sin(2 * kPi * (k - sc.start) / (1.7 * m.opt.fps));
  if (sc.blur == BlurMode::Motion)
    m.motion_blur(f, sc, p, k, wobble);
  else if (sc.blur == BlurMode::Defocus)
    m.defocus_blur(f, *w, to_world, sc, wobble);
  m.expose(f, k);
  m.draw_overlay(f.image, k);
  f.cd = clearness_from_mask(f.mask);
  return f;
}

// ---------------------------------------------------------------- video

long long count_decoded_frames(const fs::path& path) {
  cv::VideoCapture cap(path.string(), cv::CAP_ANY);
  if (!cap.isOpened()) throw Error(path.string(), "cannot open video for reading");
  long long n = 0;
  cv::Mat f;
  while (cap.read(f) && !f.empty()) ++n;
  return n;
}

fs::path write_synth_video(const CapsuleVideoSynth& synth, const fs::path& stem,
                           const std::function<void(long long, const SynthFrame&)>& on_frame) {
  struct Choice {
    const char* ext;
    const char* fourcc;
    int api;
  };
  const Choice choices[] = {{".mp4", "mp4v", cv::CAP_FFMPEG},
                            {".avi", "MJPG", cv::CAP_OPENCV_MJPEG}};
  for (const Choice& ch : choices) {
    const fs::path final_path = fs::path(stem.string() + ch.ext);
    // The container comes from the extension, so the temporary keeps it.
    const fs::path tmp = fs::path(stem.string() + ".part" + ch.ext);
    cv::VideoWriter writer;
    try {
      writer.open(tmp.string(), ch.api,
                  cv::VideoWriter::fourcc(ch.fourcc[0], ch.fourcc[1], ch.fourcc[2], ch.fourcc[3]),
                  synth.fps(), synth.frame_size(), true);
    } catch (const cv::Exception&) {
      continue;
    }
    if (!writer.isOpened()) continue;
    for (long long k = 0; k < synth.frame_count(); ++k) {
      const SynthFrame f = synth.render(k);
      writer.write(f.image);
      if (on_frame) on_frame(k, f);
    }
    writer.release();
    const long long got = count_decoded_frames(tmp);
    if (got != synth.frame_count()) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw Error(final_path.string(), "wrote " + std::to_string(synth.frame_count()) +
                                           " frames but " + std::to_string(got) + " decode back");
    }
    std::error_code ec;
    fs::rename(tmp, final_path, ec);
    if (ec) throw Error(final_path.string(), "cannot move the video into place: " + ec.message());
    return final_path;
  }
  throw Error(stem.string(), "no video writer opened (tried mp4v/MP4 via FFmpeg and MJPG/AVI)");
}

}  // namespace excap
