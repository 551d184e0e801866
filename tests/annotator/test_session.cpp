// Sessions: per-user shuffled order, the double-blind rules, statuses,
// autosave round trip and crash restore, opening and browsing that write
// nothing, and which roles may choose clips.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "annotator/core/fov.h"
#include "annotator/core/session.h"
#include "annotator/core/tools.h"
#include "common/error.h"
#include "media/imageio.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using namespace excap::annotator;

TEST_CASE("shuffled order is a deterministic permutation, different per user") {
  const auto a = shuffled_order(50, user_order_seed("a", "2026"));
  const auto a2 = shuffled_order(50, user_order_seed("a", "2026"));
  const auto b = shuffled_order(50, user_order_seed("b", "2026"));
  CHECK(a == a2);
  CHECK(a != b);
  CHECK(std::set<std::size_t>(a.begin(), a.end()).size() == 50);
  CHECK(*std::max_element(a.begin(), a.end()) == 49);
}

TEST_CASE("a session lists only its own assignments in its own order") {
  test::ScratchDir dir("studio-session-order");
  Project p = test::make_studio_project(dir / "proj", 12);
  auto assign = p.load_assignments();
  assign["v1_00011"] = {"b"};  // one frame only b has
  p.save_assignments(assign);
  const Session a = Session::open(dir / "proj", "a");
  const Session b = Session::open(dir / "proj", "b");
  CHECK(a.frames().size() == 11);
  CHECK(b.frames().size() == 12);
  CHECK_FALSE(a.is_assigned("v1_00011"));
  CHECK(a.frames() != std::vector<std::string>(b.frames().begin(), b.frames().begin() + 11));
  CHECK_THROWS_AS(Session::open(dir / "proj", "nobody"), Error);
}

TEST_CASE("double blind: A cannot load B's frame, and B's work changes nothing A sees") {
  test::ScratchDir dir("studio-session-blind");
  Project p = test::make_studio_project(dir / "proj", 4);
  auto assign = p.load_assignments();
  assign["v1_00003"] = {"b"};
  p.save_assignments(assign);
  Session a = Session::open(dir / "proj", "a");
  Session b = Session::open(dir / "proj", "b");
  CHECK_THROWS_AS(a.open_frame("v1_00003"), Error);
  const auto before = a.list();

  // b labels a frame both share, completely.
  auto doc = b.open_frame("v1_00000");
  doc->apply("fill", [](cv::Mat& m) { return fill_unlabeled(m, 1); });
  doc->set_cd(0);
  CHECK(b.save(*doc, 12.0));
  CHECK(b.entry("v1_00000").status == FrameStatus::Done);

  // A fresh session of a sees exactly what it saw before.
  const Session a2 = Session::open(dir / "proj", "a");
  const auto after = a2.list();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].frame == before[i].frame);
    CHECK(after[i].status == FrameStatus::New);
    CHECK(after[i].time_spent_s == 0);
  }
  // ...and opening the shared frame gives a's own empty label, not b's.
  auto mine = a2.open_frame("v1_00000");
  CHECK_FALSE(mine->cd().has_value());
  CHECK(mine->completeness().unlabeled_in_fov > 0);
  CHECK_FALSE(fs::exists(p.label_json_path("a", "v1_00000")));
}

TEST_CASE("autosave round trip restores the exact mask, CD and time, status follows") {
  test::ScratchDir dir("studio-session-save");
  test::make_studio_project(dir / "proj", 3);
  cv::Mat saved_mask;
  {
    Session s = Session::open(dir / "proj", "a");
    auto doc = s.open_frame("v1_00001");
    CHECK(doc->mask().at<std::uint8_t>(0, 0) == 0);  // background outside the FOV
    CHECK(doc->mask().at<std::uint8_t>(48, 48) == kUnlabeled);
    doc->apply("brush", [](cv::Mat& m) { return paint_segment(m, {40, 40}, {60, 50}, 5, 3); });
    CHECK_FALSE(s.save(*doc, 3.5));
    CHECK_FALSE(doc->dirty());
    CHECK(s.entry("v1_00001").status == FrameStatus::InProgress);
    doc->set_cd(1);
    s.save(*doc, 4.0);
    CHECK(s.entry("v1_00001").status == FrameStatus::InProgress);  // still unlabeled pixels
    saved_mask = doc->mask().clone();
  }
  Session s = Session::open(dir / "proj", "a");
  CHECK(s.entry("v1_00001").status == FrameStatus::InProgress);
  CHECK(s.entry("v1_00001").time_spent_s == doctest::Approx(4.0));
  CHECK(s.entry("v1_00000").status == FrameStatus::New);
  auto doc = s.open_frame("v1_00001");
  CHECK(cv::countNonZero(doc->mask() != saved_mask) == 0);
  CHECK(doc->cd() == 1);
  doc->apply("fill", [](cv::Mat& m) { return fill_unlabeled(m, 1); });
  CHECK(s.save(*doc, 5.0));  // became done
  const Session again = Session::open(dir / "proj", "a");
  CHECK(again.entry("v1_00001").status == FrameStatus::Done);
}

TEST_CASE("crash restore: a save interrupted before rename keeps the last saved state") {
  test::ScratchDir dir("studio-session-crash");
  Project p = test::make_studio_project(dir / "proj", 2);
  cv::Mat first;
  {
    Session s = Session::open(dir / "proj", "a");
    auto doc = s.open_frame("v1_00000");
    doc->apply("brush", [](cv::Mat& m) { return paint_segment(m, {30, 30}, {30, 30}, 4, 2); });
    doc->set_cd(0);
    s.save(*doc, 1.0);
    first = doc->mask().clone();
    doc->apply("brush", [](cv::Mat& m) { return paint_segment(m, {60, 60}, {60, 60}, 6, 4); });
    doc->set_cd(2);
    set_atomic_write_fault_for_tests(true);
    CHECK_THROWS(s.save(*doc, 2.0));
    set_atomic_write_fault_for_tests(false);
    CHECK(doc->dirty());  // the UI keeps it dirty and retries
  }
  const fs::path labels = p.label_mask_path("a", "v1_00000").parent_path();
  int temps = 0;
  for (const auto& e : fs::directory_iterator(labels))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) ++temps;
  CHECK(temps == 0);  // the change took its temporaries back: nothing of it landed
  Session s = Session::open(dir / "proj", "a");  // reopening restores the last saved state
  auto doc = s.open_frame("v1_00000");
  CHECK(cv::countNonZero(doc->mask() != first) == 0);
  CHECK(doc->cd() == 0);
  doc->set_cd(1);
  s.save(*doc, 3.0);
  temps = 0;
  for (const auto& e : fs::directory_iterator(labels))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) ++temps;
  CHECK(temps == 0);
}

TEST_CASE("opening a session and browsing every frame writes nothing, even past the FOV") {
  test::ScratchDir dir("studio-session-readonly");
  Project p = test::make_studio_project(dir / "proj", 4, 96);
  // An imported label: class 1 everywhere, also outside the field of view
  // (what the studio would clip to background), and a CD.
  const cv::Mat image = read_frame(p.frame_path("v1_00001"));
  const cv::Mat outside = frame_fov_mask(image) == 0;
  REQUIRE(cv::countNonZero(outside) > 0);
  write_png_atomic(p.label_mask_path("a", "v1_00001"), cv::Mat(image.size(), CV_8UC1, 1));
  LabelRecord rec;
  rec.frame = "v1_00001";
  rec.user = "a";
  rec.cd = 0;
  p.save_label(rec);
  // A partial label of another frame, and a temp file an interrupted write left.
  {
    Session s = Session::open(dir / "proj", "a");
    auto doc = s.open_frame("v1_00002");
    doc->apply("brush", [](cv::Mat& m) { return paint_segment(m, {40, 40}, {50, 50}, 5, 3); });
    s.save(*doc, 2.0);
  }
  atomic_write(p.label_mask_path("a", "x").parent_path() / "v1_00003.png.tmp-1-abc", "partial");
  const auto before = test::tree_snapshot(dir / "proj");
  {
    Session s = Session::open(dir / "proj", "a");
    for (const auto& e : s.list()) {
      auto doc = s.open_frame(e.frame);
      CHECK_FALSE(doc->dirty());
    }
    auto doc = s.open_frame("v1_00001");
    CHECK(cv::countNonZero(doc->mask() != 1) > 0);  // clipped to the FOV for display only
  }
  CHECK(test::tree_snapshot(dir / "proj") == before);
}

TEST_CASE("only the roles that choose clips may see the raw video") {
  CHECK_FALSE(may_choose_clips(Role::Annotator));
  CHECK(may_choose_clips(Role::Expert));
  CHECK(may_choose_clips(Role::Engineer));
  CHECK(may_choose_clips(Role::Admin));
}

TEST_CASE(
    "autosave writer: writes off the caller's thread, newest snapshot wins, errors come back") {
  test::ScratchDir dir("studio-session-writer");
  test::make_studio_project(dir / "proj", 2);
  Session s = Session::open(dir / "proj", "a");
  auto doc = s.open_frame("v1_00000");
  {
    AutosaveWriter writer([&](const LabelSnapshot& snap) { s.write(snap); });
    for (int i = 0; i < 10; ++i) {
      doc->apply("brush", [&](cv::Mat& m) {
        return paint_segment(m, {20 + 5 * i, 40}, {20 + 5 * i, 40}, 2, 3);
      });
      writer.submit(s.snapshot(*doc, i));
    }
    doc->set_cd(2);
    writer.submit(s.snapshot(*doc, 10.0));
    writer.flush();
    CHECK_FALSE(writer.busy());
    const auto results = writer.take_results();
    REQUIRE(!results.empty());
    CHECK(results.size() <= 11);  // coalesced while a write was running
    for (const auto& r : results) CHECK(r.error.empty());
    CHECK(s.record_saved(results.back().snapshot) == false);  // not done: unlabeled pixels remain
  }
  const Session again = Session::open(dir / "proj", "a");
  auto back = again.open_frame("v1_00000");
  CHECK(cv::countNonZero(back->mask() != doc->mask()) == 0);
  CHECK(back->cd() == 2);
  CHECK(again.entry("v1_00000").time_spent_s == doctest::Approx(10.0));

  AutosaveWriter failing([](const LabelSnapshot&) { throw Error("disk", "full"); });
  failing.submit(s.snapshot(*doc, 1.0));
  failing.flush();
  const auto r = failing.take_results();
  REQUIRE(r.size() == 1);
  CHECK(r[0].error == "disk: full");
}

TEST_CASE("a saved label whose mask holds a class outside the schema is listed in progress") {
  test::ScratchDir dir("studio-session-out-of-schema");
  Project p = test::make_studio_project(dir / "proj", 2);
  const cv::Mat img = read_frame(p.frame_path("v1_00000"));
  cv::Mat mask(img.size(), CV_8UC1, cv::Scalar(1));
  test::add_label(p, "a", "v1_00000", 0, mask);
  mask.at<std::uint8_t>(5, 5) = 200;
  test::add_label(p, "a", "v1_00001", 0, mask);
  const Session s = Session::open(dir / "proj", "a");
  CHECK(s.entry("v1_00000").status == FrameStatus::Done);
  CHECK(s.entry("v1_00001").status == FrameStatus::InProgress);
}
