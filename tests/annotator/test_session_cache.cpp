// The state the frame list shows, cached in the session: totals and
// statuses follow every save and every reload of the assignments without
// re-reading the labels, and the filtered rows are rebuilt only on a change.
#include <doctest/doctest.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "annotator/core/session.h"
#include "annotator/core/tools.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using namespace excap::annotator;

namespace {

// Labels `frame` completely (class 1, CD clear) and saves it.
bool label_done(Session& s, const std::string& frame, double seconds) {
  auto doc = s.open_frame(frame);
  doc->apply("fill", [](cv::Mat& m) { return fill_unlabeled(m, 1); });
  doc->set_cd(0);
  return s.save(*doc, seconds);
}

// A stroke only: the frame is in progress.
void label_started(Session& s, const std::string& frame, double seconds) {
  auto doc = s.open_frame(frame);
  doc->apply("brush", [](cv::Mat& m) { return paint_segment(m, {40, 40}, {50, 50}, 4, 2); });
  s.save(*doc, seconds);
}

}  // namespace

TEST_CASE("progress counts the user's own labels found on disk at open") {
  test::ScratchDir dir("studio-cache-open");
  test::make_studio_project(dir / "proj", 6);
  {
    Session s = Session::open(dir / "proj", "a");
    label_done(s, "v1_00002", 10.0);
    label_started(s, "v1_00004", 2.5);
    Session b = Session::open(dir / "proj", "b");
    label_done(b, "v1_00001", 7.0);  // b's work: not in a's totals
  }
  const Session s = Session::open(dir / "proj", "a");
  const FrameProgress& p = s.progress();
  CHECK(p.total == 6);
  CHECK(p.done == 1);
  CHECK(p.in_progress == 1);
  CHECK(p.time_spent_s == doctest::Approx(12.5));
  REQUIRE(s.entries().size() == 6);
  const int i = s.index_of("v1_00002");
  REQUIRE(i >= 0);
  CHECK(s.entries()[static_cast<std::size_t>(i)].status == FrameStatus::Done);
  CHECK(s.frames()[static_cast<std::size_t>(i)] == "v1_00002");
  CHECK(s.index_of("v1_99999") == -1);
}

TEST_CASE("a save updates the cached entry, the totals and the revision") {
  test::ScratchDir dir("studio-cache-save");
  test::make_studio_project(dir / "proj", 5);
  Session s = Session::open(dir / "proj", "a");
  CHECK(s.progress().done == 0);
  const auto r0 = s.revision();

  label_started(s, "v1_00003", 1.0);
  const auto r1 = s.revision();
  CHECK(r1 > r0);
  CHECK(s.progress().in_progress == 1);
  CHECK(s.progress().time_spent_s == doctest::Approx(1.0));
  const auto& e = s.entries()[static_cast<std::size_t>(s.index_of("v1_00003"))];
  CHECK(e.status == FrameStatus::InProgress);

  // The same frame finished: moves from in progress to done, its time replaced.
  CHECK(label_done(s, "v1_00003", 4.0));
  CHECK(s.revision() > r1);
  CHECK(s.progress().in_progress == 0);
  CHECK(s.progress().done == 1);
  CHECK(s.progress().time_spent_s == doctest::Approx(4.0));
  CHECK(s.entries()[static_cast<std::size_t>(s.index_of("v1_00003"))].status == FrameStatus::Done);
}

TEST_CASE("the list does not re-read labels: a change on disk shows only after reopening") {
  test::ScratchDir dir("studio-cache-disk");
  Project p = test::make_studio_project(dir / "proj", 3);
  Session s = Session::open(dir / "proj", "a");
  CHECK(s.progress().in_progress == 0);
  test::add_label(p, "a", "v1_00001", std::nullopt, {});  // written behind the session's back
  CHECK(s.progress().in_progress == 0);
  CHECK(s.entry("v1_00001").status == FrameStatus::New);
  CHECK(Session::open(dir / "proj", "a").progress().in_progress == 1);
}

TEST_CASE("reloading the assignments adds and withdraws frames, keeping known statuses") {
  test::ScratchDir dir("studio-cache-assign");
  Project p = test::make_studio_project(dir / "proj", 6);
  auto assign = p.load_assignments();
  assign["v1_00004"] = {"b"};
  assign["v1_00005"] = {"b"};
  p.save_assignments(assign);
  Session s = Session::open(dir / "proj", "a");
  CHECK(s.progress().total == 4);
  label_done(s, "v1_00000", 3.0);
  CHECK_FALSE(s.reload_assignments());  // nothing changed
  const auto r0 = s.revision();

  assign["v1_00004"] = {"a", "b"};  // one more for a
  assign["v1_00001"] = {"b"};       // one withdrawn from a
  p.save_assignments(assign);
  CHECK(s.reload_assignments());
  CHECK(s.revision() > r0);
  CHECK(s.progress().total == 4);
  CHECK(s.progress().done == 1);
  CHECK(s.index_of("v1_00001") == -1);
  REQUIRE(s.index_of("v1_00004") >= 0);
  CHECK(s.entry("v1_00004").status == FrameStatus::New);
  CHECK(s.entry("v1_00000").status == FrameStatus::Done);
  // The order is the one a fresh session gets.
  CHECK(s.frames() == Session::open(dir / "proj", "a").frames());
  for (std::size_t i = 0; i < s.frames().size(); ++i) CHECK(s.entries()[i].frame == s.frames()[i]);
}

TEST_CASE("the filtered rows follow statuses and the filter, rebuilt only on a change") {
  test::ScratchDir dir("studio-cache-filter");
  test::make_studio_project(dir / "proj", 12);
  Session s = Session::open(dir / "proj", "a");
  FrameFilter f;
  CHECK(f.rows(s, "", std::nullopt).size() == 12);
  CHECK(f.rows(s, "", std::nullopt).size() == 12);
  CHECK(f.computations() == 1);  // the same question twice: one scan

  CHECK(f.rows(s, "v1_0001", std::nullopt).size() == 2);  // v1_00010, v1_00011
  CHECK(f.computations() == 2);
  CHECK(f.rows(s, "", FrameStatus::Done).empty());
  CHECK(f.computations() == 3);

  label_done(s, "v1_00007", 2.0);  // the revision moved: rebuilt
  const auto& done = f.rows(s, "", FrameStatus::Done);
  CHECK(f.computations() == 4);
  REQUIRE(done.size() == 1);
  CHECK(s.entries()[static_cast<std::size_t>(done[0])].frame == "v1_00007");
  CHECK(f.row_of(done[0]) == 0);
  CHECK(f.row_of(s.index_of("v1_00003")) == -1);
  CHECK(f.rows(s, "", FrameStatus::New).size() == 11);

  // Rows are indices into entries(), in the list's order.
  const auto& all = f.rows(s, "", std::nullopt);
  for (std::size_t r = 0; r < all.size(); ++r) CHECK(all[r] == static_cast<int>(r));
}

TEST_CASE("a big first listing (read on threads) equals reading each label alone") {
  test::ScratchDir dir("studio-cache-bulk");
  const int n = static_cast<int>(Session::kParallelReadFrom) + 16;
  Project p = test::make_studio_project(dir / "proj", n, 32);
  cv::Mat full(32, 32, CV_8U, cv::Scalar(1));
  for (int i = 0; i < n; i += 3) {
    char id[16];
    std::snprintf(id, sizeof id, "v1_%05d", i);
    test::add_label(p, "a", id, i % 2 ? std::optional<int>(0) : std::nullopt, full);
  }
  const Session bulk = Session::open(dir / "proj", "a");
  const Session single = Session::open(dir / "proj", "a");
  const auto& all = bulk.entries();
  REQUIRE(all.size() == static_cast<std::size_t>(n));
  int done = 0, started = 0;
  for (const auto& e : all) {
    const FrameEntry one = single.entry(e.frame);  // read alone, before any listing
    CHECK(e.status == one.status);
    done += e.status == FrameStatus::Done;
    started += e.status == FrameStatus::InProgress;
  }
  // Every 3rd frame labeled; the odd ones have a CD and so are done.
  CHECK(done + started == (n + 2) / 3);
  CHECK(done == (n + 2) / 3 / 2);
  CHECK(bulk.progress().done == done);
  CHECK(bulk.progress().in_progress == started);
}
