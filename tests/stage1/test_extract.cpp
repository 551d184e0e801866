// Stage I extraction: rates, positions against a sequential read, dedupe,
// idempotent and interrupted runs, broken videos, the manual field of view.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "common/error.h"
#include "media/imageio.h"
#include "stage1/stage1.h"
#include "support/test_video.h"
#include "test_support.h"

using namespace excap;
using excap::test::ScratchDir;

namespace {

struct Fixture {
  ScratchDir tmp;
  fs::path video;
  Project p;
  Video v;
  Fixture(const std::string& name, const test::TestVideoSpec& spec, const std::string& ext = ".mkv")
      : tmp(name),
        video(tmp / ("exam" + ext)),
        p((test::write_test_video(video, spec), Project::create(tmp / "proj", cecd_schema()))),
        v(import_video(p, video, "Test Patient", "u")) {}
};

// Every record names an existing, readable PNG; ids are unique.
void check_consistent(const Project& p) {
  std::set<std::string> ids;
  for (const auto& f : p.load_frames()) {
    CHECK(ids.insert(f.id).second);
    CHECK_MESSAGE(fs::exists(p.root() / f.file), f.file);
    CHECK_NOTHROW(read_frame(p.root() / f.file));
  }
}

std::vector<long long> source_indices(const Project& p) {
  std::vector<long long> out;
  for (const auto& f : p.load_frames()) out.push_back(f.source_index);
  return out;
}

}  // namespace

TEST_CASE("extract --fps: frame count, positions, timestamps and progress") {
  Fixture fx("stage1-fps", {60, 10});
  const Clip a = add_clip(fx.p, fx.v.id, 0, 30, "u", "");
  const Clip b = add_clip(fx.p, fx.v.id, 33, 60, "u", "");
  ExtractOptions o;
  o.fps = 2;
  o.dedupe = 0;
  long long last_done = 0, last_total = 0;
  bool monotonic = true;
  o.progress = [&](long long d, long long t) {
    monotonic = monotonic && d >= last_done;
    last_done = d;
    last_total = t;
  };
  const ExtractReport r = extract_frames(fx.p, o);
  CHECK(r.written == 12);
  CHECK(r.failed == 0);
  CHECK(r.warnings.empty());
  CHECK(monotonic);
  CHECK(last_done == 12);
  CHECK(last_total == 12);
  const std::vector<long long> expected{0, 5, 10, 15, 20, 25, 33, 38, 43, 48, 53, 58};
  CHECK(source_indices(fx.p) == expected);
  for (const auto& f : fx.p.load_frames()) {
    CHECK(f.id == frame_id(fx.v.id, f.source_index));
    CHECK(f.clip == (f.source_index < 30 ? a.id : b.id));
    CHECK(f.video == fx.v.id);
    CHECK(f.patient == fx.v.patient);
    CHECK(f.time_s == doctest::Approx(f.source_index / 10.0));
    CHECK(f.file == "frames/" + f.id + ".png");
    CHECK(f.phash.size() == 16);
    const cv::Mat png = read_frame(fx.p.root() / f.file);
    CHECK(test::decode_test_index(png) == f.source_index);
    CHECK(hash_hex(perceptual_hash(png)) == f.phash);
  }
  check_consistent(fx.p);
  // Non-integer steps take the nearest source frame of each output tick.
  CHECK(clip_frame_indices(Clip{"c", "v", 10, 20, "", ""}, 10, 3, 0) ==
        std::vector<long long>{10, 13, 17});
  CHECK(clip_frame_indices(Clip{"c", "v", 0, 4, "", ""}, 10, 25, 0) ==
        std::vector<long long>{0, 1, 2, 3});
}

TEST_CASE("extract --every N: every N-th source frame from the clip start") {
  Fixture fx("stage1-every", {50, 10});
  add_clip(fx.p, fx.v.id, 3, 40, "u", "");
  ExtractOptions o;
  o.every_n = 7;
  o.dedupe = 0;
  const ExtractReport r = extract_frames(fx.p, o);
  CHECK(r.written == 6);
  CHECK(source_indices(fx.p) == std::vector<long long>{3, 10, 17, 24, 31, 38});
  for (const auto& f : fx.p.load_frames()) {
    CHECK(f.time_s == doctest::Approx(f.source_index / 10.0));
    CHECK(test::decode_test_index(read_frame(fx.p.root() / f.file)) == f.source_index);
  }
}

TEST_CASE(
    "frame k of a clip is the same alone or with other clips, and matches a sequential read") {
  // A lossy inter-frame codec when this OpenCV can write one, else FFV1.
  std::string fourcc = "FFV1";
  {
    ScratchDir probe("stage1-codec");
    cv::VideoWriter w((probe / "t.mp4").string(), cv::CAP_FFMPEG,
                      cv::VideoWriter::fourcc('a', 'v', 'c', '1'), 10, cv::Size(64, 64));
    if (w.isOpened()) fourcc = "avc1";
  }
  INFO("codec " << fourcc);
  const std::string ext = fourcc == "avc1" ? ".mp4" : ".mkv";
  // Both projects import the one encoded file: the case is about extraction,
  // not about whether two encodes of the same frames come out byte-identical.
  Fixture alone("stage1-alone", {80, 10, fourcc}, ext);
  ScratchDir other("stage1-together");
  Project together = Project::create(other / "proj", cecd_schema());
  const Video together_v = import_video(together, alone.video, "Test Patient", "u");
  for (Project* p : {&alone.p, &together}) {
    add_clip(*p, alone.v.id, 5, 25, "u", "");
    add_clip(*p, alone.v.id, 31, 52, "u", "");
    add_clip(*p, alone.v.id, 60, 80, "u", "");
  }
  ExtractOptions o;
  o.every_n = 3;
  o.dedupe = 0;
  o.clip_id = "v001-c2";
  CHECK(extract_frames(alone.p, o).written == 7);
  o.clip_id.clear();
  CHECK(extract_frames(together, o).written == 7 + 7 + 7);

  // The reference: a plain frame-by-frame read, blanked with the same field of view.
  const FieldOfView fov = video_fov(together, together_v);
  const cv::Size size(test::kVideoSize, test::kVideoSize);
  CHECK(cv::norm(video_fov(alone.p, alone.v).mask(size), fov.mask(size), cv::NORM_INF) == 0);
  cv::VideoCapture cap(alone.video.string(), cv::CAP_FFMPEG);
  REQUIRE(cap.isOpened());
  std::vector<cv::Mat> sequential;
  cv::Mat f;
  while (cap.read(f)) sequential.push_back(f.clone());
  REQUIRE(sequential.size() == 80);

  std::map<std::string, Frame> with_others;
  for (const auto& fr : together.load_frames()) with_others[fr.id] = fr;
  const auto alone_frames = alone.p.load_frames();
  REQUIRE(alone_frames.size() == 7);
  for (const auto& fr : alone_frames) {
    CAPTURE(fr.id);
    REQUIRE(with_others.count(fr.id));
    const cv::Mat x = read_frame(alone.p.root() / fr.file);
    const cv::Mat y = read_frame(together.root() / with_others[fr.id].file);
    CHECK(cv::norm(x, y, cv::NORM_INF) == 0);
    CHECK(fr.phash == with_others[fr.id].phash);
  }
  for (const auto& fr : together.load_frames()) {
    CAPTURE(fr.id);
    cv::Mat expected = sequential[static_cast<std::size_t>(fr.source_index)].clone();
    blank_outside_fov(expected, fov);
    const cv::Mat got = read_frame(together.root() / fr.file);
    CHECK(cv::norm(expected, got, cv::NORM_INF) == 0);
    CHECK(test::decode_test_index(got) == fr.source_index);
  }
}

TEST_CASE("dedupe drops a planted run of identical frames and keeps distinct ones") {
  Fixture fx("stage1-dedupe", {60, 10, "FFV1", 20, 35});
  add_clip(fx.p, fx.v.id, 0, 60, "u", "");
  // The project's setting applies when the option is left at -1.
  fx.p.mutable_meta().extraction.dedupe = 4;
  fx.p.save_meta();
  ExtractOptions o;
  o.every_n = 1;
  const ExtractReport r = extract_frames(fx.p, o);
  CHECK(r.duplicates_skipped == 14);  // frames 21..34 repeat frame 20
  CHECK(r.written == 46);
  std::vector<long long> expected;
  for (long long i = 0; i < 60; ++i)
    if (i <= 20 || i >= 35) expected.push_back(i);
  CHECK(source_indices(fx.p) == expected);
  // A re-run makes the same decisions from the stored hashes.
  const ExtractReport again = extract_frames(fx.p, o);
  CHECK(again.written == 0);
  CHECK(again.kept_existing == 46);
  CHECK(again.duplicates_skipped == 14);
  // Off: every frame is kept.
  Fixture off("stage1-dedupe-off", {60, 10, "FFV1", 20, 35});
  add_clip(off.p, off.v.id, 0, 60, "u", "");
  o.dedupe = 0;
  CHECK(extract_frames(off.p, o).written == 60);
}

TEST_CASE("re-runs are idempotent and an interrupted run is completed by the next") {
  Fixture fx("stage1-rerun", {60, 10});
  add_clip(fx.p, fx.v.id, 0, 60, "u", "");
  std::atomic<bool> cancel{false};
  ExtractOptions o;
  o.every_n = 1;
  o.dedupe = 0;
  o.cancel = &cancel;
  o.progress = [&](long long done, long long) {
    if (done >= 25) cancel = true;
  };
  const ExtractReport first = extract_frames(fx.p, o);
  CHECK(first.written == 25);
  REQUIRE(!first.warnings.empty());
  CHECK(first.warnings.back().find("cancelled") != std::string::npos);
  check_consistent(fx.p);
  cancel = false;
  o.progress = nullptr;
  const ExtractReport second = extract_frames(fx.p, o);
  CHECK(second.kept_existing == 25);
  CHECK(second.written == 35);
  const ExtractReport third = extract_frames(fx.p, o);
  CHECK(third.written == 0);
  CHECK(third.kept_existing == 60);
  CHECK(fx.p.load_frames().size() == 60);

  // A crash between writing PNGs and committing frames.json: records lost,
  // files orphaned; another frame lost its file; a temp file was left.
  auto frames = fx.p.load_frames();
  frames.resize(50);
  fx.p.save_frames(frames);
  fs::remove(fx.p.root() / frames[3].file);
  { std::ofstream(fx.p.root() / "frames" / "v001_000007.png.tmp-123") << "partial"; }
  const ExtractReport fourth = extract_frames(fx.p, o);
  CHECK(fourth.written == 11);
  CHECK(fourth.kept_existing == 49);
  CHECK(fx.p.load_frames().size() == 60);
  check_consistent(fx.p);
}

TEST_CASE("a write failure mid-run leaves a consistent project that the next run completes") {
  Fixture fx("stage1-crash", {60, 10});
  add_clip(fx.p, fx.v.id, 0, 60, "u", "");
  ExtractOptions o;
  o.every_n = 1;
  o.dedupe = 0;
  o.progress = [&](long long done, long long) {
    if (done == 30) set_atomic_write_fault_for_tests(true);  // every later write "crashes"
  };
  bool threw = false;
  try {
    extract_frames(fx.p, o);
  } catch (const std::exception&) {
    threw = true;
  }
  set_atomic_write_fault_for_tests(false);
  CHECK(threw);
  check_consistent(fx.p);
  const auto partial = fx.p.load_frames().size();
  CHECK(partial < 60);
  o.progress = nullptr;
  const ExtractReport r = extract_frames(fx.p, o);
  CHECK(r.kept_existing == static_cast<long long>(partial));
  CHECK(r.written == 60 - static_cast<long long>(partial));
  CHECK(r.failed == 0);
  check_consistent(fx.p);
}

TEST_CASE("a truncated video extracts what it can and says where it stopped") {
  Fixture fx("stage1-truncated", {60, 10, "MJPG"}, ".avi");
  add_clip(fx.p, fx.v.id, 0, 60, "u", "");
  fs::resize_file(fx.video, fs::file_size(fx.video) * 55 / 100);
  ExtractOptions o;
  o.every_n = 1;
  o.dedupe = 0;
  const ExtractReport r = extract_frames(fx.p, o);
  CHECK(r.written > 10);
  CHECK(r.written < 60);
  CHECK(r.failed == 60 - r.written);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].find("decoding stopped at frame " + std::to_string(r.written)) !=
        std::string::npos);
  check_consistent(fx.p);
  for (const auto& f : fx.p.load_frames())
    CHECK(test::decode_test_index(read_frame(fx.p.root() / f.file)) == f.source_index);
  // Running again changes nothing and says the same.
  const ExtractReport again = extract_frames(fx.p, o);
  CHECK(again.written == 0);
  CHECK(again.kept_existing == r.written);
  CHECK(again.failed == r.failed);
}

TEST_CASE("a corrupt video extracts what it can and keeps the project consistent") {
  // MKV stores a timestamp with every frame, so frames after the damage keep
  // their true positions; AVI has none (FFmpeg renumbers), so there we only
  // promise consistency and a warning.
  for (const auto& [ext, fourcc] : {std::pair<std::string, std::string>{".mkv", "FFV1"},
                                    std::pair<std::string, std::string>{".avi", "MJPG"}}) {
    CAPTURE(ext);
    ScratchDir tmp("stage1-corrupt");
    const fs::path video = tmp / ("a" + ext);
    test::write_test_video(video, {60, 10, fourcc});
    Project p = Project::create(tmp / "proj", cecd_schema());
    const Video v = import_video(p, video, "Pat", "u");
    add_clip(p, v.id, 0, 60, "u", "");
    {  // scribble over 5% of the file in the middle
      std::fstream io(video, std::ios::in | std::ios::out | std::ios::binary);
      const auto size = static_cast<long long>(fs::file_size(video));
      io.seekp(size * 45 / 100);
      for (long long i = 0; i < size / 20; ++i) io.put(static_cast<char>((i * 131 + 7) & 0xff));
    }
    ExtractOptions o;
    o.every_n = 1;
    o.dedupe = 0;
    const ExtractReport r = extract_frames(p, o);
    for (const auto& w : r.warnings) MESSAGE(w);
    CHECK(r.written > 0);
    CHECK(r.failed > 0);
    CHECK(r.written + r.failed == 60);
    CHECK(!r.warnings.empty());
    CHECK(static_cast<long long>(p.load_frames().size()) == r.written);
    check_consistent(p);
    if (ext == ".mkv") {
      CHECK(r.warnings[0].find("lost frames") != std::string::npos);
      // Away from the damage (about frames 27-36; a frame at its edge may be
      // garbled by the decoder's concealment) every frame is where it belongs.
      for (const auto& f : p.load_frames())
        if (f.source_index < 20 || f.source_index >= 40)
          CHECK(test::decode_test_index(read_frame(p.root() / f.file)) == f.source_index);
    }
    // Truncated below its header: refused at import with a reason, or
    // imported with what the container says.
    fs::copy_file(video, tmp / ("b" + ext));
    fs::resize_file(tmp / ("b" + ext), 2000);
    try {
      import_video(p, tmp / ("b" + ext), "Pat", "u");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("b" + ext) != std::string::npos);
    }
  }
}

TEST_CASE("manual field of view from project.json: circle and polygon") {
  Fixture fx("stage1-manual-fov", {20, 10});
  add_clip(fx.p, fx.v.id, 0, 20, "u", "");
  fx.p.mutable_meta().extraction.fov = FovOverride{"circle", 80, 80, 30, {}};
  fx.p.save_meta();
  Project p = Project::open(fx.p.root());
  ExtractOptions o;
  o.every_n = 10;
  o.dedupe = 0;
  CHECK(extract_frames(p, o).written == 2);
  FieldOfView circle;
  circle.cx = 80, circle.cy = 80, circle.r = 30;
  const cv::Mat inside = circle.mask(cv::Size(test::kVideoSize, test::kVideoSize));
  for (const auto& f : p.load_frames()) {
    const cv::Mat png = read_frame(p.root() / f.file);
    cv::Mat grey;
    cv::cvtColor(png, grey, cv::COLOR_BGR2GRAY);
    CHECK(cv::countNonZero(grey & ~inside) == 0);
    const cv::Mat src = test::test_frame(f.source_index);
    CHECK(cv::norm(src(cv::Rect(70, 70, 20, 20)), png(cv::Rect(70, 70, 20, 20)), cv::NORM_INF) ==
          0);
  }
  p.mutable_meta().extraction.fov =
      FovOverride{"polygon", 0, 0, 0, {{40, 40}, {120, 40}, {120, 120}, {40, 120}}};
  p.save_meta();
  CHECK(video_fov(Project::open(p.root()), fx.v).kind == FieldOfView::Polygon);
}

TEST_CASE("extraction refuses a rate or dedupe out of range instead of using project.json's") {
  Fixture fx("stage1-rate-range", {20, 10});
  add_clip(fx.p, fx.v.id, 0, 20, "u", "");
  auto refused = [&](const ExtractOptions& o, const std::string& what) {
    try {
      extract_frames(fx.p, o);
    } catch (const Error& e) {
      CHECK_MESSAGE(std::string(e.what()).find(what) != std::string::npos, e.what());
      return true;
    }
    return false;
  };
  ExtractOptions o;
  for (double fps : {-1.0, std::nan(""), HUGE_VAL}) {
    o.fps = fps;
    CHECK_MESSAGE(refused(o, "fps"), fps);
  }
  o = ExtractOptions{};
  o.every_n = -3;
  CHECK(refused(o, "every-N"));
  o = ExtractOptions{};
  for (double t : {-2.0, 65.0, std::nan("")}) {
    o.dedupe = t;
    CHECK_MESSAGE(refused(o, "dedupe"), t);
  }
  CHECK(fx.p.load_frames().empty());
  // The documented unset values still mean project.json's settings.
  CHECK(extract_frames(fx.p, ExtractOptions{}).written > 0);
}
