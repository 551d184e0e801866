// The synthetic capsule sample: determinism, mask rules, CD rule, videos,
// simulated annotators and the ready project.
#include <doctest/doctest.h>

#include <array>
#include <set>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "media/frameops.h"
#include "media/imageio.h"
#include "sample/annotator_sim.h"
#include "sample/sample.h"
#include "sample/synth.h"
#include "store/project.h"
#include "test_support.h"

using namespace excap;
using excap::test::ScratchDir;

namespace {

SynthOptions small_options(std::uint64_t seed = 7) {
  SynthOptions o;
  o.patients = 2;
  o.seconds = 4;
  o.fps = 10;
  o.seed = seed;
  o.size = 128;
  return o;
}

bool same_bytes(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() &&
         cv::countNonZero(a.reshape(1) != b.reshape(1)) == 0;
}

std::vector<std::uint8_t> bytes_of(const fs::path& p) { return read_bytes(p); }

}  // namespace

TEST_CASE("synth: the same seed renders the same frames and masks, another seed differs") {
  const SynthOptions o = small_options();
  CapsuleVideoSynth a(o, 1), b(o, 1);
  SynthOptions o2 = o;
  o2.seed = 8;
  CapsuleVideoSynth c(o2, 1), other_patient(o, 2);
  REQUIRE(a.frame_count() == 40);
  int differing = 0;
  for (long long k : {0LL, 13LL, 39LL, 5LL}) {  // any order: render(k) depends on k only
    const SynthFrame fa = a.render(k), fb = b.render(k);
    CHECK(same_bytes(fa.image, fb.image));
    CHECK(same_bytes(fa.mask, fb.mask));
    CHECK(fa.cd == fb.cd);
    differing += same_bytes(fa.image, c.render(k).image) ? 0 : 1;
    CHECK_FALSE(same_bytes(fa.image, other_patient.render(k).image));
  }
  CHECK(differing == 4);
}

TEST_CASE("synth: masks hold only schema ids, background exactly outside the field of view") {
  const SynthOptions o = small_options();
  const LabelSchema schema = cecd_schema();
  for (int patient = 1; patient <= o.patients; ++patient) {
    CapsuleVideoSynth s(o, patient);
    const cv::Mat fov = s.fov_mask();
    const cv::Point2d c = s.fov_center();
    const double r = s.fov_radius();
    for (long long k = 0; k < s.frame_count(); k += 3) {
      const SynthFrame f = s.render(k);
      REQUIRE(f.mask.type() == CV_8UC1);
      REQUIRE(f.image.type() == CV_8UC3);
      REQUIRE(f.mask.size() == f.image.size());
      long long bad = 0, bad_fov = 0;
      for (int y = 0; y < f.mask.rows; ++y)
        for (int x = 0; x < f.mask.cols; ++x) {
          const int v = f.mask.at<std::uint8_t>(y, x);
          const bool inside = (x - c.x) * (x - c.x) + (y - c.y) * (y - c.y) <= r * r;
          if (inside != (fov.at<std::uint8_t>(y, x) != 0)) ++bad_fov;
          if (inside ? !(v >= 1 && v < schema.num_tissue()) : v != 0) ++bad;
        }
      CHECK_MESSAGE(bad == 0, "patient " << patient << " frame " << k);
      CHECK(bad_fov == 0);
      // The overlay is burned in outside the circle; the corners are otherwise black.
      cv::Mat any;
      cv::cvtColor(f.image, any, cv::COLOR_BGR2GRAY);
      CHECK(cv::countNonZero(any & ~fov) > 20);
    }
  }
}

TEST_CASE("synth: CD follows the documented rule and all three classes occur") {
  SynthOptions o;  // the default sample: 3 patients x 20 s x 10 fps at 256 px
  std::array<long long, 3> hist{};
  long long total = 0, identical_neighbours = 0, cuts = 0;
  for (int patient = 1; patient <= o.patients; ++patient) {
    CapsuleVideoSynth s(o, patient);
    CHECK(s.scene_count() >= 3);
    std::uint64_t last = 0;
    for (long long k = 0; k < s.frame_count(); ++k) {
      const SynthFrame f = s.render(k);
      CHECK(f.cd == clearness_from_mask(f.mask));
      ++hist[static_cast<std::size_t>(f.cd)];
      ++total;
      const std::uint64_t h = perceptual_hash(f.image);
      if (k > 0 && hash_distance(h, last) == 0) ++identical_neighbours;
      if (k > 0 && s.scene_index(k) != s.scene_index(k - 1)) ++cuts;
      last = h;
    }
  }
  MESSAGE("CD clear/blur/invisible: " << hist[0] << "/" << hist[1] << "/" << hist[2]);
  for (int c = 0; c < 3; ++c) CHECK(hist[static_cast<std::size_t>(c)] >= total / 10);
  CHECK(hist[0] >= hist[1]);
  CHECK(hist[0] >= hist[2]);
  CHECK(identical_neighbours > total / 10);  // still stretches: dedupe has work
  CHECK(cuts >= 6);                          // and scene changes

  // The rule itself on hand-made masks.
  cv::Mat m(10, 10, CV_8UC1, cv::Scalar(cecd::kClearTissue));
  CHECK(clearness_from_mask(m) == cecd::kClear);
  m.rowRange(0, 4).setTo(cecd::kBlurredTissue);
  CHECK(clearness_from_mask(m) == cecd::kBlur);
  m.rowRange(4, 7).setTo(cecd::kBubbleInvisible);
  m.rowRange(7, 9).setTo(cecd::kExcretaInvisible);
  CHECK(clearness_from_mask(m) == cecd::kInvisible);
  m.setTo(cecd::kBackground);
  m.at<std::uint8_t>(0, 0) = cecd::kHole;  // shares count field-of-view pixels only
  CHECK(clearness_from_mask(m) == cecd::kClear);
}

TEST_CASE("synth: videos decode to the promised frame count, same seed same bytes") {
  ScratchDir tmp("synth-video");
  const SynthOptions o = small_options();
  CapsuleVideoSynth s(o, 1);
  long long seen = 0;
  const fs::path v1 = write_synth_video(s, tmp / "one", [&](long long k, const SynthFrame& f) {
    CHECK(k == seen);
    ++seen;
  });
  CHECK(seen == s.frame_count());
  CHECK(count_decoded_frames(v1) == s.frame_count());
  CapsuleVideoSynth again(o, 1);
  const fs::path v2 = write_synth_video(again, tmp / "two");
  CHECK(bytes_of(v1) == bytes_of(v2));
  SynthOptions o2 = o;
  o2.seed = 99;
  const fs::path v3 = write_synth_video(CapsuleVideoSynth(o2, 1), tmp / "three");
  CHECK(bytes_of(v1) != bytes_of(v3));
  CHECK_FALSE(fs::exists(tmp / "one.part.mp4"));
}

TEST_CASE("synth: options out of range are refused with the option's name") {
  SynthOptions o;
  o.size = 10;
  CHECK_THROWS_WITH_AS(validate_synth_options(o), doctest::Contains("--size"), Error);
  o = SynthOptions{};
  o.patients = 0;
  CHECK_THROWS_WITH_AS(CapsuleVideoSynth(o, 1), doctest::Contains("--patients"), Error);
  o = SynthOptions{};
  CHECK_THROWS_AS(CapsuleVideoSynth(o, 1).render(200), Error);  // frames are 0..199
}

TEST_CASE("annotator sim: deterministic, disagreeing like people but within bounds") {
  const SynthOptions o = small_options(3);
  const AnnotatorSim a(11, default_annotator_profile(0, "a")),
      a2(11, default_annotator_profile(0, "a"));
  const AnnotatorSim b(11, default_annotator_profile(1, "b"));
  double agree_sum = 0, truth_agree = 0;
  int frames = 0, cd_diff = 0, identical = 0;
  for (int patient = 1; patient <= o.patients; ++patient) {
    CapsuleVideoSynth s(o, patient);
    for (long long k = 0; k < s.frame_count(); k += 2) {
      const SynthFrame f = s.render(k);
      const std::string id = "v" + std::to_string(patient) + "_" + std::to_string(k);
      const SimulatedLabel la = a.label(id, f.mask, f.cd), la2 = a2.label(id, f.mask, f.cd);
      const SimulatedLabel lb = b.label(id, f.mask, f.cd);
      CHECK(same_bytes(la.mask, la2.mask));
      CHECK(la.cd == la2.cd);
      CHECK(la.time_spent_s == la2.time_spent_s);
      CHECK(la.time_spent_s >= 5);
      CHECK(la.time_spent_s <= 900);
      for (const SimulatedLabel* l : {&la, &lb}) {
        CHECK(same_bytes(l->mask == 0, f.mask == 0));  // the field of view is kept
        const MaskCheck mc = check_mask_values(l->mask, 8, 255);
        CHECK(mc.bad_pixels == 0);
        CHECK(l->cd >= 0);
        CHECK(l->cd <= 2);
      }
      const double ag = mask_agreement(la.mask, lb.mask);
      agree_sum += ag;
      truth_agree += mask_agreement(la.mask, f.mask);
      identical += ag == 1.0 ? 1 : 0;
      cd_diff += la.cd != lb.cd ? 1 : 0;
      ++frames;
    }
  }
  const double mean = agree_sum / frames;
  MESSAGE("a/b mask agreement " << mean << ", CD differs on " << cd_diff << "/" << frames
                                << ", identical masks " << identical);
  CHECK(mean > 0.75);  // people mostly agree ...
  CHECK(mean < 0.98);  // ... but not perfectly
  CHECK(truth_agree / frames > 0.9);
  CHECK(identical < frames / 2);
  CHECK(cd_diff >= 1);
  CHECK(cd_diff <= frames * 4 / 10);
}

TEST_CASE("sample: a ready project with truth, assignments and two annotators' labels") {
  ScratchDir tmp("synth-sample");
  const SynthOptions o = small_options(5);
  std::vector<std::string> lines;
  const SampleSummary s =
      write_sample(tmp / "out", o, [&](const std::string& l) { lines.push_back(l); });
  CHECK(lines.size() >= 5);
  REQUIRE(s.patients.size() == 2);
  CHECK(s.video_frames == 80);
  for (const SamplePatient& p : s.patients) {
    CHECK(fs::exists(p.video));
    CHECK(p.video.parent_path() == tmp / "out" / "videos");
    CHECK(p.video.stem().string() == "patient_" + std::to_string(p.patient));
    CHECK(count_decoded_frames(p.video) == 40);
  }

  // Ground truth for every source frame, under the extractor's frame ids.
  const nlohmann::json tj = read_json_file(tmp / "out" / "truth" / "truth.json");
  CHECK(tj["frames"].size() == 80);
  CHECK(tj["cd_rule"].get<std::string>().find("0.50") != std::string::npos);
  for (const auto& [id, rec] : tj["frames"].items()) {
    CHECK(fs::exists(tmp / "out" / "truth" / (id + ".png")));
    CHECK(rec["cd"].get<int>() >= 0);
    CHECK(rec["cd"].get<int>() <= 2);
  }

  Project p = Project::open(s.project);
  CHECK(p.load_videos().size() == 2);
  CHECK(p.load_clips().size() == 2);
  const std::vector<Frame> frames = p.load_frames();
  REQUIRE(!frames.empty());
  CHECK(static_cast<long long>(frames.size()) == s.extracted);
  CHECK(s.extracted + s.duplicates_skipped == 16);  // 2 fps of 2 x 4 s
  const auto assignments = p.load_assignments();
  std::set<std::string> users_seen;
  for (const Frame& f : frames) {
    REQUIRE(assignments.count(f.id) == 1);
    CHECK(std::set<std::string>(assignments.at(f.id).begin(), assignments.at(f.id).end()) ==
          std::set<std::string>{"a", "b"});
    const cv::Mat truth = read_mask(tmp / "out" / "truth" / (f.id + ".png"));
    const cv::Size frame_size = image_size(p.frame_path(f.id));
    CHECK(truth.size() == frame_size);
    CHECK(tj["frames"][f.id]["cd"].get<int>() == clearness_from_mask(truth));
    for (const char* user : {"a", "b"}) {
      const auto rec = p.load_label(user, f.id);
      REQUIRE(rec.has_value());
      CHECK(rec->cd.has_value());
      CHECK(rec->time_spent_s > 0);
      const cv::Mat m = read_mask(p.label_mask_path(user, f.id));
      CHECK(m.size() == frame_size);
      CHECK(check_mask_values(m, 8, 255).bad_pixels == 0);
    }
  }
  CHECK(s.labels.at("a") == s.extracted);
  CHECK(s.labels.at("b") == s.extracted);
  CHECK(s.mask_agreement > 0.8);
  CHECK(s.mask_agreement < 1.0);
  CHECK(p.meta().find_user("expert") != nullptr);
  CHECK(p.meta().find_user("expert")->role == Role::Expert);

  // Same seed: the same videos and truth masks, byte for byte.
  const SampleSummary s2 = write_sample(tmp / "again", o);
  for (std::size_t i = 0; i < s.patients.size(); ++i)
    CHECK(bytes_of(s.patients[i].video) == bytes_of(s2.patients[i].video));
  for (const auto& [id, rec] : tj["frames"].items())
    CHECK(bytes_of(tmp / "out" / "truth" / (id + ".png")) ==
          bytes_of(tmp / "again" / "truth" / (id + ".png")));

  // A non-empty target is refused before anything is written.
  CHECK_THROWS_WITH_AS(write_sample(tmp / "out", o), doctest::Contains("not empty"), Error);
}

TEST_CASE("cli: excap synth writes a sample and refuses a non-empty folder") {
  const std::string exe = excap::test::built_binary("excap");
  if (!fs::exists(exe)) {
    MESSAGE("[skip] " << exe << " is not built");
    return;
  }
  ScratchDir tmp("synth-cli");
  std::string out;
  const std::string dir = (tmp / "s").string();
  CHECK(excap::test::run_command(
            {exe, "synth", dir, "--patients", "1", "--seconds", "2", "--size", "96", "--seed", "4"},
            &out) == 0);
  CHECK(out.find("wrote sample") != std::string::npos);
  CHECK(fs::exists(tmp / "s" / "project" / "project.json"));
  CHECK(excap::test::run_command({exe, "synth", dir}, &out) != 0);
  CHECK(out.find("not empty") != std::string::npos);
  CHECK(excap::test::run_command({exe, "synth", (tmp / "t").string(), "--size", "7"}, &out) != 0);
  CHECK(out.find("--size") != std::string::npos);
}
