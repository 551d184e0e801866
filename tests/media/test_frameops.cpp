// Frame ids, the dHash near-duplicate measure, field-of-view detection and
// blanking (synthetic discs and the real CAPTIV8 frames with their overlay).
#include <doctest/doctest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "media/frameops.h"
#include "support/test_video.h"
#include "test_support.h"

using namespace excap;

TEST_CASE("frame_id pads the source index to six digits") {
  CHECK(frame_id("v001", 0) == "v001_000000");
  CHECK(frame_id("v001", 42) == "v001_000042");
  CHECK(frame_id("v001", 1234567) == "v001_1234567");
  CHECK_THROWS_AS(frame_id("v001", -1), Error);
}

TEST_CASE("dHash: identical frames 0 bits apart, distinct frames far, noise near") {
  const cv::Mat a = test::test_frame(3), b = test::test_frame(4);
  const std::uint64_t ha = perceptual_hash(a);
  CHECK(perceptual_hash(a.clone()) == ha);
  CHECK(hash_distance(ha, ha) == 0);
  CHECK(hash_distance(ha, perceptual_hash(b)) > 12);
  cv::Mat noisy = a.clone();
  cv::Mat noise(a.size(), CV_8UC3);
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(3));
  cv::add(noisy, noise, noisy);
  CHECK(hash_distance(ha, perceptual_hash(noisy)) <= 4);
  cv::Mat grey;
  cv::cvtColor(a, grey, cv::COLOR_BGR2GRAY);
  CHECK(perceptual_hash(grey) == ha);  // the hash is of the grey image
  CHECK(hash_hex(0x00ff00ff00ff00ffULL) == "00ff00ff00ff00ff");
  CHECK(parse_hash_hex(hash_hex(ha)) == ha);
  CHECK_THROWS_AS(parse_hash_hex("xyz"), Error);
  CHECK(hash_distance(0, ~0ULL) == 64);
}

TEST_CASE("detect_fov finds a disc beside corner text and blanking removes the text") {
  std::vector<cv::Mat> sample;
  for (int i = 0; i < 8; ++i) sample.push_back(test::test_frame(i));
  const FieldOfView fov = detect_fov(sample);
  REQUIRE(fov.kind == FieldOfView::Circle);
  CHECK(fov.cx == doctest::Approx(80).epsilon(0.03));
  CHECK(fov.cy == doctest::Approx(80).epsilon(0.03));
  CHECK(fov.r >= 66);  // true radius 72, minus the safety margin
  CHECK(fov.r <= 72);
  cv::Mat f = test::test_frame(5);
  blank_outside_fov(f, fov);
  CHECK(cv::countNonZero(f(cv::Rect(0, 0, 40, 16)).reshape(1)) == 0);      // index text
  CHECK(cv::countNonZero(f(cv::Rect(120, 140, 40, 20)).reshape(1)) == 0);  // "CAM"
  cv::Mat orig = test::test_frame(5);
  CHECK(cv::norm(orig(cv::Rect(40, 40, 80, 80)), f(cv::Rect(40, 40, 80, 80)), cv::NORM_INF) == 0);
}

TEST_CASE("detect_fov: a disc cropped top and bottom becomes a polygon") {
  cv::Mat f = cv::Mat::zeros(200, 200, CV_8UC3);
  cv::circle(f, cv::Point(100, 100), 95, cv::Scalar(120, 140, 160), cv::FILLED);
  f.rowRange(0, 20).setTo(cv::Scalar::all(0));
  f.rowRange(180, 200).setTo(cv::Scalar::all(0));
  cv::putText(f, "12:00", cv::Point(2, 14), cv::FONT_HERSHEY_PLAIN, 1.0, cv::Scalar::all(255), 1);
  const FieldOfView fov = detect_fov({f});
  REQUIRE(fov.kind == FieldOfView::Polygon);
  CHECK(fov.cx == doctest::Approx(100).epsilon(0.03));
  CHECK(fov.r == doctest::Approx(95).epsilon(0.05));
  const cv::Mat m = fov.mask(f.size());
  CHECK(cv::countNonZero(m.rowRange(0, 20)) == 0);
  CHECK(cv::countNonZero(m.rowRange(180, 200)) == 0);
  CHECK(m.at<uchar>(100, 100) == 255);
  CHECK(m.at<uchar>(25, 100) == 255);  // just inside the cut
}

TEST_CASE("detect_fov: full-frame content is kept whole, an empty sample is an error") {
  cv::Mat f(64, 64, CV_8UC3, cv::Scalar(90, 100, 110));
  const FieldOfView fov = detect_fov({f});
  CHECK(cv::countNonZero(fov.mask(f.size())) == 64 * 64);
  CHECK_THROWS_AS(detect_fov({}), Error);
  CHECK_THROWS_AS(detect_fov({cv::Mat::zeros(64, 64, CV_8UC3)}), Error);
}

TEST_CASE("field-of-view blanking on CAPTIV8 frames leaves no overlay pixel") {
  const fs::path dir = test::shared_data("captiv8");
  if (dir.empty()) return;
  std::vector<cv::Mat> frames;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".jpg") {
      cv::Mat m = cv::imread(e.path().string(), cv::IMREAD_COLOR);
      REQUIRE_MESSAGE(!m.empty(), e.path().string());
      frames.push_back(m);
    }
  REQUIRE(frames.size() >= 10);
  const FieldOfView fov = detect_fov(frames);  // one device: the sample of a "video"
  const cv::Size size = frames[0].size();
  // The overlay (elapsed time, date, "0P", device name) sits in the corners
  // and in the bands above and below the disc: beyond the 290 px circle
  // about the centre or in the outer 32 px of the frame.
  cv::Mat overlay_zone = cv::Mat::zeros(size, CV_8U);
  overlay_zone.setTo(255);
  cv::circle(overlay_zone, cv::Point(size.width / 2, size.height / 2), 290, cv::Scalar(0),
             cv::FILLED);
  overlay_zone.rowRange(0, 32).setTo(255);
  overlay_zone.rowRange(size.height - 32, size.height).setTo(255);
  overlay_zone.colRange(0, 32).setTo(255);
  overlay_zone.colRange(size.width - 32, size.width).setTo(255);
  long long bright_before = 0;
  for (const auto& original : frames) {
    cv::Mat f = original.clone();
    blank_outside_fov(f, fov);
    cv::Mat grey_before, grey_after;
    cv::cvtColor(original, grey_before, cv::COLOR_BGR2GRAY);
    cv::cvtColor(f, grey_after, cv::COLOR_BGR2GRAY);
    bright_before += cv::countNonZero((grey_before > 40) & overlay_zone);
    CHECK(cv::countNonZero((grey_after > 40) & overlay_zone) == 0);
    // No bright pixel at all outside the field of view.
    cv::Mat outside;
    cv::bitwise_not(fov.mask(size), outside);
    CHECK(cv::countNonZero((grey_after > 0) & outside) == 0);
    // The tissue stays: the central disc of radius 250 is untouched.
    cv::Mat centre = cv::Mat::zeros(size, CV_8U);
    cv::circle(centre, cv::Point(size.width / 2, size.height / 2), 250, cv::Scalar(255),
               cv::FILLED);
    cv::Mat diff;
    cv::absdiff(original, f, diff);
    cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
    CHECK(cv::countNonZero(diff & centre) == 0);
  }
  CHECK(bright_before > 1000);  // the overlay was there to remove
}
