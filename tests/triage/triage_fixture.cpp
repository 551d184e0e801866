#include "triage_fixture.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/safetensors.h"
#include "media/video.h"
#include "sample/synth.h"
#include "store/project.h"
#include "store/schema.h"
#include "trainer/pack.h"
#include "trainer/packed.h"
#include "trainer/train.h"

namespace excap::test {

namespace {

constexpr int kSize = 64;  // model input: small enough to train in seconds on 2 cores
constexpr const char* kVersion = "triage-fixture-v4";

SynthOptions synth_options() {
  SynthOptions o;
  o.patients = 6;
  o.seconds = 30;
  o.fps = 10;
  o.seed = 11;
  o.size = 128;
  return o;
}

struct Rows {
  std::vector<std::uint8_t> images, masks, cd;
  std::vector<std::string> ids;
};

// As extraction (blank outside the field of view), then `excap pack`'s own preprocessing.
void add_row(Rows& rows, const cv::Mat& image, const cv::Mat& truth_mask, int cd,
             const cv::Mat& fov, const std::string& id) {
  cv::Mat bgr = image.clone();
  bgr.setTo(cv::Scalar::all(0), fov == 0);
  const std::size_t image_at = rows.images.size(), mask_at = rows.masks.size();
  rows.images.resize(image_at + std::size_t(kSize) * kSize * 3);
  rows.masks.resize(mask_at + std::size_t(kSize) * kSize);
  trainer::pack_image(bgr, kSize, rows.images.data() + image_at);
  trainer::pack_mask(truth_mask, kSize, rows.masks.data() + mask_at);
  rows.cd.push_back(static_cast<std::uint8_t>(cd));
  rows.ids.push_back(id);
}

void write_subset(const fs::path& root, const std::string& subset, Rows rows) {
  const LabelSchema schema = cecd_schema();
  trainer::PackedSubset s;
  s.split = "synth";
  s.subset = subset;
  s.size = kSize;
  s.ids = rows.ids;
  for (const auto& c : schema.cd) s.cd_names.push_back(c.name);
  for (const auto& t : schema.tissue) s.tissue_names.push_back(t.name);
  const auto n = static_cast<std::int64_t>(rows.ids.size());
  using safetensors::DType;
  s.images = safetensors::Tensor(DType::U8, {n, kSize, kSize, 3}, std::move(rows.images));
  s.masks = safetensors::Tensor(DType::U8, {n, kSize, kSize}, std::move(rows.masks));
  s.cd = safetensors::Tensor(DType::U8, {n}, std::move(rows.cd));
  trainer::write_packed(trainer::packed_path(root, "synth", kSize, subset), s);
}

TriageFixture load(const fs::path& dir) {
  TriageFixture f;
  f.root = dir;
  f.run_dir = dir / "runs" / "tiny";
  const nlohmann::json j = read_json_file(dir / "truth.json");
  f.video = dir / j.at("video").get<std::string>();
  f.fps = j.at("fps").get<double>();
  f.truth_cd = j.at("cd").get<std::vector<int>>();
  return f;
}

void build(const fs::path& dir) {
  std::cout << "[fixture] building " << dir.string() << " (synthetic video + a tiny MTCSN)\n";
  const SynthOptions so = synth_options();
  ensure_dir(dir);
  // Patient 1 is the video to triage; its truth comes from the renderer.
  CapsuleVideoSynth test_synth(so, 1);
  std::vector<int> truth(static_cast<std::size_t>(test_synth.frame_count()), -1);
  const fs::path video = write_synth_video(
      test_synth, dir / "patient1", [&](long long k, const SynthFrame& f) { truth[k] = f.cd; });
  // Patients 2-6 train the model (every 5th frame of each validates).
  Rows train, val;
  // Training frames are decoded from their own videos, as extracted frames
  // would be: the codec softens texture, and a model trained on raw renders
  // mistakes every decoded clear frame for a blurred one.
  for (int patient : {2, 3, 4, 5, 6}) {
    CapsuleVideoSynth synth(so, patient);
    const cv::Mat fov = synth.fov_mask();
    std::vector<cv::Mat> masks(static_cast<std::size_t>(synth.frame_count()));
    std::vector<int> cds(masks.size());
    const fs::path file =
        write_synth_video(synth, dir / ("train_patient" + std::to_string(patient)),
                          [&](long long k, const SynthFrame& f) {
                            masks[k] = f.mask.clone();
                            cds[k] = f.cd;
                          });
    VideoReader reader(file);
    cv::Mat frame;
    for (long long k = 0; k < synth.frame_count() && reader.read(frame); ++k) {
      const std::string id = "p" + std::to_string(patient) + "_" + std::to_string(k);
      add_row(k % 5 == 0 ? val : train, frame, masks[k], cds[k], fov, id);
    }
  }
  write_subset(dir, "train", std::move(train));
  write_subset(dir, "val", std::move(val));

  trainer::TrainConfig cfg;
  cfg.run = "tiny";
  cfg.split = "synth";
  cfg.size = kSize;
  cfg.model.arch = model::Arch::Mtcsn;
  cfg.model.backbone = "tiny";
  cfg.iters = 1500;
  cfg.batch = 8;
  cfg.lr = 0.05;
  cfg.val_interval = 500;
  cfg.device = "cpu";
  cfg.threads = 2;
  cfg.seed = 3;
  const trainer::TrainOutcome out = trainer::train(dir, cfg);
  std::cout << "[fixture] trained " << out.iter << " iterations, best score " << out.best_score
            << " at " << out.best_iter << "\n";
  write_json_atomic(
      dir / "truth.json",
      {{"video", video.filename().string()}, {"fps", test_synth.fps()}, {"cd", truth}});
}

}  // namespace

const TriageFixture& triage_fixture() {
  static const TriageFixture fixture = [] {
    const fs::path base = fs::path(EXCAP_BINARY_DIR) / "test-fixtures";
    ensure_dir(base);
    const fs::path dir = base / kVersion;
    const int lock =
        ::open((base / (std::string(kVersion) + ".lock")).c_str(), O_CREAT | O_RDWR, 0644);
    if (lock >= 0) ::flock(lock, LOCK_EX);
    if (!fs::exists(dir / "ready")) {
      std::error_code ec;
      fs::remove_all(dir, ec);
      build(dir);
      atomic_write(dir / "ready", std::string(kVersion) + "\n");
    }
    if (lock >= 0) {
      ::flock(lock, LOCK_UN);
      ::close(lock);
    }
    return load(dir);
  }();
  return fixture;
}

}  // namespace excap::test
