// The expert's workspace core: role gate, undecided frames, disagreement
// regions, take A/B, region by region, accept with the right source.
#include <doctest/doctest.h>

#include "annotator/core/adjudication_document.h"
#include "annotator/core/fov.h"
#include "annotator/core/session.h"
#include "annotator/core/tools.h"
#include "common/error.h"
#include "media/imageio.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using namespace excap::annotator;

namespace {
// Both annotators fill the frame with clear tissue; b also marks two lesions.
void label_both(const fs::path& dir, const std::string& frame, int cd_a, int cd_b) {
  for (const std::string user : {"a", "b"}) {
    Session s = Session::open(dir, user);
    auto doc = s.open_frame(frame);
    doc->apply("fill", [](cv::Mat& m) { return fill_unlabeled(m, 1); });
    if (user == "b") {
      doc->apply("brush", [](cv::Mat& m) {
        return fill_polygon(m, {{30, 30}, {34, 30}, {34, 33}, {30, 33}}, 3);
      });
      doc->apply("brush", [](cv::Mat& m) {
        return fill_polygon(m, {{60, 60}, {61, 60}, {61, 61}, {60, 61}}, 3);
      });
    }
    doc->set_cd(user == "a" ? cd_a : cd_b);
    s.save(*doc, 1.0);
  }
}
}  // namespace

TEST_CASE("the studio's final label starts from what both annotators agree on") {
  cv::Mat a(5, 6, CV_8UC1, cv::Scalar(1)), b = a.clone();
  b.at<std::uint8_t>(0, 0) = 2;
  b.at<std::uint8_t>(1, 1) = 2;  // diagonal: same region
  b(cv::Rect(4, 3, 2, 2)).setTo(3);
  AdjudicationCase c;
  c.frame = "f";
  c.annotators = {"a", "b"};
  c.cd = {0, 1};
  c.mask = {a, b};
  c.image = cv::Mat(5, 6, CV_8UC3, cv::Scalar(50, 50, 50));
  AdjudicationDocument doc(cecd_schema(), c, cv::Mat(), cv::Mat(), std::nullopt, 0);
  REQUIRE(doc.disagreement().regions.size() == 2);
  CHECK(doc.disagree_pixels() == 6);
  CHECK(doc.region_at({1, 1}) == doc.region_at({0, 0}));
  CHECK(doc.region_at({2, 2}) == 0);
  const cv::Mat& f = doc.final_label().mask();
  CHECK(f.at<std::uint8_t>(0, 0) == kUnlabeled);
  CHECK(f.at<std::uint8_t>(3, 4) == kUnlabeled);
  CHECK(f.at<std::uint8_t>(2, 2) == 1);
  CHECK_FALSE(doc.final_label().cd().has_value());  // the CDs differ
  CHECK(doc.take_region(doc.region_at({4, 3}), 1));
  CHECK(f.at<std::uint8_t>(4, 5) == 3);
  CHECK(doc.take(0));
  CHECK(cv::countNonZero(f != a) == 0);
  CHECK(doc.final_label().cd() == 0);
  CHECK(doc.final_label().undo());  // the CD step
  CHECK(doc.final_label().undo());  // the mask step
  CHECK(f.at<std::uint8_t>(4, 5) == 3);
}

TEST_CASE("adjudication opens only for the expert role, never on the expert's own frames") {
  test::ScratchDir dir("studio-adj-role");
  test::make_studio_project(dir / "proj", 1);
  CHECK_THROWS_AS(AdjudicationSession::open(dir / "proj", "a"), Error);
  CHECK_NOTHROW(AdjudicationSession::open(dir / "proj", "expert"));
}

TEST_CASE("an expert who labeled a frame cannot settle it") {
  test::ScratchDir dir("studio-adj-own");
  test::make_studio_project(dir / "proj", 1, 96, {"a", "expert"});
  for (const std::string user : {"a", "expert"}) {
    Session s = Session::open(dir / "proj", user);
    auto doc = s.open_frame("v1_00000");
    doc->apply("fill", [](cv::Mat& m) { return fill_unlabeled(m, 1); });
    doc->set_cd(0);
    s.save(*doc, 1.0);
  }
  const AdjudicationSession s = AdjudicationSession::open(dir / "proj", "expert");
  CHECK(s.undecided().empty());
  CHECK_THROWS_AS(s.open_frame("v1_00000"), Error);
}

TEST_CASE("expert takes A, picks a region from B, accepts, decided frames leave the queue") {
  test::ScratchDir dir("studio-adj-flow");
  test::make_studio_project(dir / "proj", 3);
  label_both(dir / "proj", "v1_00000", 0, 1);
  label_both(dir / "proj", "v1_00001", 0, 0);
  AdjudicationSession s = AdjudicationSession::open(dir / "proj", "expert");
  CHECK(s.undecided() == std::vector<std::string>{"v1_00000", "v1_00001"});  // 00002 unlabeled

  auto doc = s.open_frame("v1_00000");
  CHECK(doc->disagreement().regions.size() == 2);
  CHECK(doc->disagree_pixels() == 5 * 4 + 2 * 2);
  // The start: agreed pixels set, disagreements unlabeled, no CD (they differ).
  CHECK(doc->final_label().mask().at<std::uint8_t>(31, 31) == kUnlabeled);
  CHECK_FALSE(doc->final_label().cd().has_value());
  CHECK_THROWS_AS(s.accept(*doc), Error);  // not complete

  CHECK(doc->take(0));
  CHECK(doc->final_label().cd() == 0);
  const int big = doc->region_at({31, 31});
  REQUIRE(big > 0);
  CHECK(doc->take_region(big, 1));
  CHECK(doc->final_label().mask().at<std::uint8_t>(31, 31) == 3);
  CHECK(doc->final_label().mask().at<std::uint8_t>(60, 60) == 1);  // other region still A
  CHECK(s.accept(*doc) == "merged");
  auto fl = s.project().load_final("v1_00000");
  REQUIRE(fl);
  CHECK(fl->source == "merged");
  CHECK(fl->expert == "expert");
  CHECK(fl->annotators == std::vector<std::string>{"a", "b"});
  CHECK(s.undecided() == std::vector<std::string>{"v1_00001"});

  auto doc2 = s.open_frame("v1_00001");
  CHECK(doc2->take(1));
  CHECK(s.accept(*doc2) == "B");
  doc2->final_label().undo();  // undo is per document and still works after accept
  CHECK(doc2->final_label().mask().at<std::uint8_t>(31, 31) == kUnlabeled);
}

TEST_CASE("expert's draft is autosaved and restored") {
  test::ScratchDir dir("studio-adj-draft");
  test::make_studio_project(dir / "proj", 1);
  label_both(dir / "proj", "v1_00000", 1, 1);
  const AdjudicationSession s = AdjudicationSession::open(dir / "proj", "expert");
  {
    auto doc = s.open_frame("v1_00000");
    CHECK(doc->final_label().cd() == 1);  // both said blur
    doc->take_region(doc->region_at({31, 31}), 1);
    s.save_draft(*doc, 2.0);
  }
  auto doc = s.open_frame("v1_00000");
  CHECK(doc->final_label().mask().at<std::uint8_t>(31, 31) == 3);
  CHECK(doc->final_label().mask().at<std::uint8_t>(60, 60) == kUnlabeled);
}

TEST_CASE("a decided frame reopens with its final label, and only a revision replaces it") {
  test::ScratchDir dir("studio-adj-review");
  Project p = test::make_studio_project(dir / "proj", 1);
  label_both(dir / "proj", "v1_00000", 0, 0);
  // Decided elsewhere: blurred tissue in the field of view, CD 1.
  cv::Mat decided(96, 96, CV_8UC1, cv::Scalar(0));
  decided.setTo(2, frame_fov_mask(read_frame(p.frame_path("v1_00000"))));
  test::add_final(p, "v1_00000", 1, decided, "repainted", "expert");
  const AdjudicationSession s = AdjudicationSession::open(dir / "proj", "expert");
  CHECK(s.undecided().empty());
  auto doc = s.open_frame("v1_00000");
  CHECK(cv::countNonZero(doc->final_label().mask() != decided) == 0);
  CHECK(doc->final_label().cd() == 1);
  CHECK(doc->take(1));
  CHECK_THROWS_AS(s.accept(*doc), Error);  // an expert's decision is not replaced unasked
  CHECK(s.project().load_final("v1_00000")->source == "repainted");
  CHECK(s.accept(*doc, true) == "B");
  CHECK(s.project().load_final("v1_00000")->cd == 0);
}
