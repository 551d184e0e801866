// The label document: strokes as undo steps (pixel diffs over a bounding
// box), undo/redo sequences, the memory cap, CD edits and the "done" rule.
#include <doctest/doctest.h>

#include "annotator/core/label_document.h"
#include "annotator/core/tools.h"

using namespace excap::annotator;

namespace {

LabelDocument make_doc(int w = 8, int h = 6, std::size_t undo_bytes = 64u << 20,
                       cv::Mat fov = cv::Mat()) {
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(90, 90, 90));
  return LabelDocument(excap::cecd_schema(), "f1", img, cv::Mat(), std::nullopt, fov, 0,
                       undo_bytes);
}

cv::Rect brush(LabelDocument& d, cv::Point a, cv::Point b, int r, std::uint8_t v) {
  cv::Rect out;
  d.stroke_apply([&](cv::Mat& m) { return out = paint_segment(m, a, b, r, v); });
  return out;
}

}  // namespace

TEST_CASE("a stroke is one undo step storing only its changed bounding box") {
  LabelDocument d = make_doc();
  d.take_changed_rect();
  d.begin_stroke("brush");
  brush(d, {1, 1}, {1, 1}, 0, 2);
  brush(d, {3, 2}, {3, 2}, 0, 2);
  CHECK(d.end_stroke());
  REQUIRE(d.history().undo_depth() == 1);
  CHECK(d.take_changed_rect() == cv::Rect(1, 1, 3, 2));
  CHECK(d.dirty());
  CHECK(d.mask().at<std::uint8_t>(1, 1) == 2);
  CHECK(d.mask().at<std::uint8_t>(2, 3) == 2);
  CHECK(d.undo());
  CHECK(cv::countNonZero(d.mask() != kUnlabeled) == 0);
  CHECK(d.take_changed_rect() == cv::Rect(1, 1, 3, 2));
  CHECK(d.redo());
  CHECK(d.mask().at<std::uint8_t>(2, 3) == 2);
  CHECK_FALSE(d.redo());
}

TEST_CASE("a stroke that changes nothing leaves no undo step") {
  LabelDocument d = make_doc();
  d.begin_stroke("brush");
  brush(d, {2, 2}, {2, 2}, 0, 2);
  d.end_stroke();
  d.begin_stroke("brush");
  brush(d, {2, 2}, {2, 2}, 0, 2);  // same pixel, same class
  CHECK_FALSE(d.end_stroke());
  CHECK(d.history().undo_depth() == 1);
}

TEST_CASE("undo/redo sequence interleaving mask and CD edits, new edit clears redo") {
  LabelDocument d = make_doc();
  d.apply("flood fill", [](cv::Mat& m) { return flood_fill(m, {0, 0}, 1); });
  CHECK(d.set_cd(0));
  d.apply("brush", [](cv::Mat& m) { return paint_segment(m, {4, 3}, {4, 3}, 1, 3); });
  CHECK(d.set_cd(2));
  CHECK(d.history().undo_depth() == 4);
  CHECK(d.undo());
  CHECK(d.cd() == 0);
  CHECK(d.undo());
  CHECK(d.mask().at<std::uint8_t>(3, 4) == 1);
  CHECK(d.undo());
  CHECK_FALSE(d.cd().has_value());
  CHECK(d.redo());
  CHECK(d.cd() == 0);
  CHECK(d.history().redo_depth() == 2);
  d.apply("brush", [](cv::Mat& m) { return paint_segment(m, {0, 0}, {0, 0}, 0, 4); });
  CHECK(d.history().redo_depth() == 0);
  CHECK(d.mask().at<std::uint8_t>(0, 0) == 4);
  CHECK(d.mask().at<std::uint8_t>(3, 4) == 1);
  CHECK_FALSE(d.set_cd(0));  // unchanged
  CHECK_FALSE(d.set_cd(7));  // not in the schema
}

TEST_CASE("undo history is capped by memory, not by a count") {
  // 40 one-pixel edits fit in 256 KiB; 40 full-frame edits of 200x200 (80 KB each) do not.
  LabelDocument small = make_doc(200, 200, 256u << 10);
  for (int i = 0; i < 40; ++i)
    small.apply("brush", [&](cv::Mat& m) { return paint_segment(m, {i, 0}, {i, 0}, 0, 1); });
  CHECK(small.history().undo_depth() == 40);
  LabelDocument big = make_doc(200, 200, 256u << 10);
  for (int i = 0; i < 40; ++i)
    big.apply("fill", [&](cv::Mat& m) {
      m.setTo(static_cast<std::uint8_t>(i % 7 + 1));
      return cv::Rect(0, 0, 200, 200);
    });
  CHECK(big.history().undo_depth() == 3);
  CHECK(big.history().bytes() <= 256u << 10);
  while (big.undo()) {
  }
  // The oldest edits were dropped, so undo stops at an older full fill.
  CHECK(big.mask().at<std::uint8_t>(0, 0) != kUnlabeled);
}

TEST_CASE("cancel_stroke restores the mask as it was") {
  LabelDocument d = make_doc();
  d.begin_stroke("brush");
  brush(d, {2, 2}, {5, 2}, 1, 3);
  d.cancel_stroke();
  CHECK(cv::countNonZero(d.mask() != kUnlabeled) == 0);
  CHECK(d.history().undo_depth() == 0);
}

TEST_CASE("background is filled outside the field of view, done needs CD and full FOV") {
  cv::Mat fov = cv::Mat::zeros(6, 8, CV_8UC1);
  fov(cv::Rect(2, 1, 4, 4)).setTo(255);
  LabelDocument d = make_doc(8, 6, 1 << 20, fov);
  CHECK(d.mask().at<std::uint8_t>(0, 0) == 0);
  CHECK(d.mask().at<std::uint8_t>(1, 2) == kUnlabeled);
  CHECK(d.history().undo_depth() == 0);  // starting state, not an edit
  CHECK_FALSE(d.dirty());                // so merely viewing a frame saves nothing
  Completeness c = d.completeness();
  CHECK_FALSE(c.done());
  CHECK(c.unlabeled_in_fov == 16);
  CHECK(c.message() ==
        "no clearness degree chosen; 16 unlabeled pixels inside the field of view "
        "(first at x=2, y=1)");
  d.apply("fill", [](cv::Mat& m) { return fill_unlabeled(m, 1); });
  CHECK(d.completeness().message() == "no clearness degree chosen");
  d.set_cd(1);
  CHECK(d.completeness().done());
  CHECK(d.completeness().message() == "done");
  d.apply("erase", [](cv::Mat& m) { return paint_segment(m, {5, 4}, {5, 4}, 0, kUnlabeled); });
  CHECK(d.completeness().message() ==
        "1 unlabeled pixel inside the field of view (first at x=5, y=4)");
}

TEST_CASE("work timer counts only active time") {
  WorkTimer t(10.0);
  t.tick(1.0, true);
  for (int i = 0; i < 30; ++i) t.tick(1.0, false);  // 10 s grace, then idle
  CHECK(t.seconds() == doctest::Approx(11.0));
  t.tick(2.0, true);
  CHECK(t.seconds() == doctest::Approx(13.0));
}

TEST_CASE("a mask holding a class outside the schema is never done, and says which class") {
  cv::Mat img(6, 8, CV_8UC3, cv::Scalar(90, 90, 90));
  cv::Mat mask(6, 8, CV_8UC1, cv::Scalar(1));
  mask.at<std::uint8_t>(2, 3) = 9;    // an imported mask with a class CECD lacks
  mask.at<std::uint8_t>(4, 5) = 200;  // and another
  LabelDocument d(excap::cecd_schema(), "f1", img, mask, 0, cv::Mat(), 0);
  const Completeness c = d.completeness();
  CHECK_FALSE(c.done());
  CHECK(c.out_of_schema == 2);
  CHECK(c.message().find("hold class 9, outside the schema (classes 0..7)") != std::string::npos);
  d.apply("fix", [](cv::Mat& m) {
    m.setTo(1);
    return cv::Rect(0, 0, m.cols, m.rows);
  });
  CHECK(d.completeness().done());
  LabelDocument bad_cd(excap::cecd_schema(), "f2", img, cv::Mat(6, 8, CV_8UC1, cv::Scalar(1)), 7,
                       cv::Mat(), 0);
  CHECK_FALSE(bad_cd.completeness().done());
  CHECK(bad_cd.completeness().message() == "no clearness degree chosen");  // 7 is no CECD CD
}
