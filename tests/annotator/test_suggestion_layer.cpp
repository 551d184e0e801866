// The suggestion layer of the Label workspace: shown only when the project
// allows pre-labels; accepted whole, by class or by region as one undo step;
// the saved label records its origin; an uncertainty-first queue orders the
// session and says why a frame is early.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "annotator/core/session.h"
#include "annotator/core/suggestion_layer.h"
#include "common/error.h"
#include "curation/assign.h"
#include "media/imageio.h"
#include "store/prelabel.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using namespace excap::annotator;

namespace {

constexpr int kSize = 48;

// Clear tissue everywhere, two separate lesion squares: two regions of class 3.
cv::Mat suggested_mask() {
  cv::Mat m(kSize, kSize, CV_8UC1, cv::Scalar(1));
  m(cv::Rect(14, 20, 5, 5)).setTo(3);
  m(cv::Rect(28, 20, 5, 5)).setTo(3);
  return m;
}

void write_suggestion(const Project& p, const std::string& run, const std::string& frame,
                      double entropy) {
  Suggestion s;
  s.frame = frame, s.run = run, s.checkpoint = "best", s.weights_sha256 = "w" + run;
  s.time = "2026-01-01T00:00:00Z";
  s.width = s.height = kSize;
  s.cd_probs = {0.1, 0.8, 0.1};
  s.cd = 1;
  s.cd_entropy = s.pixel_entropy = entropy;
  ensure_dir(suggestions_dir(p, run));
  write_json_atomic(suggestion_json_path(p, run, frame), suggestion_json(s));
  write_png_atomic(suggestion_mask_path(p, run, frame), suggested_mask());
  write_png_atomic(suggestion_confidence_path(p, run, frame),
                   cv::Mat(kSize, kSize, CV_8UC1, cv::Scalar(200)));
}

// The mask expected after copying the suggestion where `select` and the field of view are.
cv::Mat expected(const LabelDocument& doc, const cv::Mat& before, const cv::Mat& select) {
  cv::Mat out = before.clone();
  suggested_mask().copyTo(out, select & doc.fov());
  return out;
}

bool same(const cv::Mat& a, const cv::Mat& b) { return cv::countNonZero(a != b) == 0; }

}  // namespace

TEST_CASE(
    "suggestion layer: hidden while pre-labels are off, then accepted by region, class, whole") {
  test::ScratchDir dir("studio-suggestion");
  Project p = test::make_studio_project(dir / "proj", 3, kSize);
  write_suggestion(p, "r1", "v1_00000", 0.3);
  CHECK_FALSE(load_suggestion_layer(p, "v1_00000"));  // the setting is off
  set_prelabels(p.root(), true, "expert");
  p = Project::open(p.root());
  CHECK_FALSE(load_suggestion_layer(p, "v1_00001"));  // no run suggested this frame
  const auto layer = load_suggestion_layer(p, "v1_00000");
  REQUIRE(layer);
  CHECK(layer->info.run == "r1");
  CHECK(layer->confidence.at<std::uint8_t>(0, 0) == 200);

  Session a = Session::open(dir / "proj", "a");
  auto doc = a.open_frame("v1_00000");
  const cv::Mat start = doc->mask().clone();
  CHECK_FALSE(doc->origin());
  // Region: only the lesion square under the click, not the other one.
  CHECK(accept_region(*doc, *layer, {15, 21}));
  cv::Mat region(kSize, kSize, CV_8UC1, cv::Scalar(0));
  region(cv::Rect(14, 20, 5, 5)).setTo(255);
  CHECK(same(doc->mask(), expected(*doc, start, region)));
  REQUIRE(doc->origin());
  CHECK(doc->origin()->run == "r1");
  CHECK(doc->origin()->checkpoint == "wr1");
  CHECK(doc->undo());
  CHECK(same(doc->mask(), start));
  CHECK(doc->origin());  // the label still started from the suggestion

  CHECK(accept_class(*doc, *layer, 1));
  CHECK(same(doc->mask(), expected(*doc, start, suggested_mask() == 1)));
  CHECK(accept_whole(*doc, *layer));
  CHECK(doc->cd() == 1);
  CHECK(same(doc->mask(), expected(*doc, start, cv::Mat(kSize, kSize, CV_8UC1, cv::Scalar(255)))));
  CHECK_FALSE(accept_whole(*doc, *layer));  // nothing left to take

  a.save(*doc, 3.0);
  const auto rec = p.load_label("a", "v1_00000");
  REQUIRE(rec->from_suggestion);
  CHECK(rec->from_suggestion->run == "r1");
  CHECK(a.open_frame("v1_00000")->origin());  // reopened: still recorded
  // A frame labeled without the suggestion records no origin.
  auto plain = a.open_frame("v1_00001");
  plain->set_cd(0);
  a.save(*plain, 1.0);
  CHECK_FALSE(p.load_label("a", "v1_00001")->from_suggestion);
}

TEST_CASE("session: an uncertainty-first queue orders the frames and gives each its score") {
  test::ScratchDir dir("studio-queue");
  Project p = test::make_studio_project(dir / "proj", 4, kSize);
  write_suggestion(p, "r1", "v1_00002", 0.2);
  write_suggestion(p, "r1", "v1_00003", 0.9);
  AssignOptions opt{{"a", "b"}, 2, 0};
  QueueOrder order{"uncertainty", "r1"};
  assign_project(p, opt, "expert", order);
  const Session a = Session::open(dir / "proj", "a");
  CHECK(a.queue_run() == "r1");
  CHECK(a.frames() == std::vector<std::string>{"v1_00003", "v1_00002", "v1_00000", "v1_00001"});
  CHECK(a.entry("v1_00003").queue_score.value() == doctest::Approx(0.9));
  CHECK_FALSE(a.entry("v1_00000").queue_score);
}
