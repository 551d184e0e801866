// Each mask tool on small synthetic masks, checked pixel by pixel.
#include <doctest/doctest.h>

#include <opencv2/imgproc.hpp>
#include <sstream>

#include "annotator/core/overlay.h"
#include "annotator/core/tools.h"

using namespace excap::annotator;

namespace {

cv::Mat mask_from(const std::vector<std::string>& rows) {
  cv::Mat m(static_cast<int>(rows.size()), static_cast<int>(rows[0].size()), CV_8UC1);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) {
      const char c = rows[static_cast<std::size_t>(y)][static_cast<std::size_t>(x)];
      m.at<std::uint8_t>(y, x) = c == '.' ? kUnlabeled : static_cast<std::uint8_t>(c - '0');
    }
  return m;
}

std::string text(const cv::Mat& m) {
  std::ostringstream s;
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      const int v = m.at<std::uint8_t>(y, x);
      s << (v == kUnlabeled ? '.' : static_cast<char>('0' + v));
    }
    s << '\n';
  }
  return s.str();
}

std::string text(const std::vector<std::string>& rows) {
  std::string s;
  for (const auto& r : rows) s += r + '\n';
  return s;
}

}  // namespace

TEST_CASE("brush paints a disc of the given radius, clipped at the border") {
  cv::Mat m = mask_from({".......", ".......", ".......", ".......", "......."});
  const cv::Rect r = paint_segment(m, {3, 2}, {3, 2}, 1, 3);
  CHECK(text(m) == text({".......", "...3...", "..333..", "...3...", "......."}));
  CHECK(r == cv::Rect(2, 1, 3, 3));
  paint_segment(m, {0, 0}, {0, 0}, 2, 1);
  CHECK(text(m) == text({"111....", "11.3...", "1.333..", "...3...", "......."}));
}

TEST_CASE("brush stroke segment covers the capsule between its ends") {
  cv::Mat m = mask_from({"........", "........", "........", "........", "........"});
  paint_segment(m, {1, 2}, {6, 2}, 1, 2);
  CHECK(text(m) == text({"........", ".222222.", "22222222", ".222222.", "........"}));
}

TEST_CASE("eraser sets pixels back to unlabeled, radius 0 is a one-pixel line") {
  cv::Mat m = mask_from({"1111", "1111", "1111"});
  const cv::Rect r = paint_segment(m, {0, 0}, {3, 2}, 0, kUnlabeled);
  CHECK(text(m) == text({".111", "1..1", "111."}));
  CHECK(r == cv::Rect(0, 0, 4, 3));
}

TEST_CASE("polygon fill fills the closed polygon including its edges") {
  cv::Mat m = mask_from({"......", "......", "......", "......", "......"});
  const cv::Rect r = fill_polygon(m, {{1, 1}, {4, 1}, {4, 3}, {1, 3}}, 4);
  CHECK(text(m) == text({"......", ".4444.", ".4444.", ".4444.", "......"}));
  CHECK(r == cv::Rect(1, 1, 4, 3));
  CHECK(fill_polygon(m, {{0, 0}, {1, 1}}, 4).empty());  // fewer than 3 points
}

TEST_CASE("flood fill replaces the 4-connected region of equal value") {
  cv::Mat m = mask_from({"1122", "1.22", "2211", "..11"});
  const cv::Rect r = flood_fill(m, {0, 0}, 5);
  CHECK(text(m) == text({"5522", "5.22", "2211", "..11"}));
  CHECK(r == cv::Rect(0, 0, 2, 2));
  flood_fill(m, {1, 1}, 3);  // an unlabeled hole
  CHECK(text(m) == text({"5522", "5322", "2211", "..11"}));
  CHECK(flood_fill(m, {9, 9}, 3).empty());
  CHECK(flood_fill(m, {0, 0}, 5).empty());  // same value: nothing to do
}

TEST_CASE("fill unlabeled sets only unlabeled pixels, optionally within a region") {
  cv::Mat m = mask_from({"1..", ".2.", "..3"});
  cv::Mat within = mask_from({"000", "000", "000"});
  within.at<std::uint8_t>(0, 1) = 255;
  within.at<std::uint8_t>(1, 0) = 255;
  CHECK(fill_unlabeled(m, 7, within) == cv::Rect(0, 0, 2, 2));
  CHECK(text(m) == text({"17.", "72.", "..3"}));
  fill_unlabeled(m, 4);
  CHECK(text(m) == text({"174", "724", "443"}));
  CHECK(fill_unlabeled(m, 4).empty());
}

TEST_CASE("background outside the field of view") {
  cv::Mat m = mask_from({"...", ".1.", "..."});
  cv::Mat fov = cv::Mat::zeros(3, 3, CV_8UC1);
  fov.at<std::uint8_t>(1, 1) = 255;
  fov.at<std::uint8_t>(1, 2) = 255;
  fill_outside_fov(m, fov, 0);
  CHECK(text(m) == text({"000", "01.", "000"}));
}

TEST_CASE("remove islands: small regions take the majority class of their border") {
  cv::Mat m = mask_from({"111111", "113111", "111122", "111122", "4....."});
  const cv::Rect r = remove_islands(m, 2);
  // The single 3 is surrounded by 1; the single 4 touches 1 (twice) and '.' (ignored).
  CHECK(text(m) == text({"111111", "111111", "111122", "111122", "1....."}));
  CHECK(r == cv::Rect(0, 1, 3, 4));
  cv::Mat big = mask_from({"1111", "1221", "1221", "1111"});
  CHECK(remove_islands(big, 4).empty());  // exactly 4 pixels stays
  CHECK(text(big) == text({"1111", "1221", "1221", "1111"}));
  remove_islands(big, 5);
  CHECK(text(big) == text({"1111", "1111", "1111", "1111"}));
}

TEST_CASE("superpixel brush paints whole superpixels") {
  // Two flat halves: every superpixel lies inside one half.
  cv::Mat img(40, 40, CV_8UC3, cv::Scalar(30, 30, 30));
  img(cv::Rect(20, 0, 20, 40)).setTo(cv::Scalar(220, 200, 180));
  const Superpixels sp = Superpixels::compute(img, 10);
  REQUIRE(!sp.empty());
  cv::Mat m(40, 40, CV_8UC1, cv::Scalar(kUnlabeled));
  const cv::Rect r = sp.paint(m, {30, 20}, 0, 6);
  const int id = sp.labels().at<int>(20, 30);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 40; ++x)
      CHECK((m.at<std::uint8_t>(y, x) == 6) == (sp.labels().at<int>(y, x) == id));
  CHECK(r == sp.bounds(id));
  CHECK(cv::countNonZero(m(cv::Rect(0, 0, 20, 40)) == 6) == 0);  // stays in its half
}

TEST_CASE("grabcut from a rough loop keeps the object inside it") {
  cv::Mat img(80, 80, CV_8UC3, cv::Scalar(40, 60, 50));
  cv::randn(img, cv::Scalar(40, 60, 50), cv::Scalar(4, 4, 4));
  cv::circle(img, {40, 40}, 15, cv::Scalar(40, 40, 230), cv::FILLED);
  cv::Mat m(80, 80, CV_8UC1, cv::Scalar(1));
  const std::vector<cv::Point> loop{{18, 18}, {62, 18}, {62, 62}, {18, 62}};
  const cv::Rect r = grabcut_region(m, img, loop, 3, 8, 5);
  cv::Mat truth = cv::Mat::zeros(80, 80, CV_8UC1);
  cv::circle(truth, {40, 40}, 15, cv::Scalar(255), cv::FILLED);
  const cv::Mat got = m == 3;
  const double inter = cv::countNonZero(got & truth), uni = cv::countNonZero(got | truth);
  CHECK(inter / uni > 0.9);
  CHECK(cv::countNonZero(got(cv::Rect(0, 0, 80, 18))) == 0);  // nothing outside the loop
  CHECK(r.x >= 18);
}

TEST_CASE("overlay colours come from the schema, outline keeps only borders") {
  const auto schema = excap::cecd_schema();
  const auto pal = OverlayPalette::from_schema(schema);
  cv::Mat m = mask_from({"3333", "3333", "33..", "...."});
  cv::Mat rgba;
  render_overlay(m, pal, OverlayMode::Fill, cv::Rect(0, 0, 4, 4), rgba);
  const auto lesion = schema.tissue[3].color;
  auto px = rgba.at<cv::Vec4b>(0, 0);
  CHECK(px == cv::Vec4b(lesion[0], lesion[1], lesion[2], 255));
  CHECK(rgba.at<cv::Vec4b>(3, 3)[3] == 0);  // unlabeled is transparent
  render_overlay(m, pal, OverlayMode::Outline, cv::Rect(0, 0, 4, 4), rgba);
  CHECK(rgba.at<cv::Vec4b>(0, 0)[3] == 0);    // interior of the lesion
  CHECK(rgba.at<cv::Vec4b>(1, 2)[3] == 255);  // borders the unlabeled part below
  CHECK(overlay_dirty_rect({1, 1, 1, 1}, {4, 4}, OverlayMode::Outline) == cv::Rect(0, 0, 3, 3));
}
