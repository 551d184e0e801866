#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/fsutil.h"
#include "media/imageio.h"
#include "support/project_builder.h"

namespace excap {
namespace {

TEST_CASE("project builder: users, frames, assignments, labels, finals and a split") {
  test::ScratchDir dir("builder");
  const cv::Mat m = test::planted_mask(32);
  Project p = test::ProjectBuilder(dir / "p")
                  .users(test::curation_users())
                  .frames(4, {})
                  .assign({"a", "b"})
                  .labels("a", "f001", 1, m)
                  .final("f002", 2, m)
                  .split("s", {{"train", {"f000", "f001"}}, {"test", {"f002"}}})
                  .build();
  const auto frames = p.load_frames();
  REQUIRE(frames.size() == 4);
  CHECK(frames[3].id == "f003");
  CHECK(frames[3].patient == "P1");
  CHECK(frames[3].clip == "C3");
  CHECK(read_frame(p.frame_path("f003")).size() == cv::Size(32, 32));
  CHECK(p.load_assignments().at("f002") == std::vector<std::string>{"a", "b"});
  CHECK(p.load_label("a", "f001")->cd == 1);
  CHECK(cv::countNonZero(read_mask(p.label_mask_path("a", "f001")) != m) == 0);
  CHECK(p.load_final("f002")->cd == 2);
  CHECK(p.meta().users.size() == 5);
  const auto split = nlohmann::json::parse(read_file(p.split_path("s")));
  CHECK(split["subsets"]["test"] == nlohmann::json::array({"f002"}));
}

TEST_CASE("project builder: given images and capsule frames of one video") {
  test::ScratchDir dir("builder-video");
  test::FrameOptions o;
  o.look = test::FrameLook::Capsule;
  o.naming = test::FrameNaming::SingleVideo;
  o.size = 64;
  const cv::Mat img(16, 16, CV_8UC3, cv::Scalar(1, 2, 3));
  Project p = test::ProjectBuilder(dir / "p").frame("x", img).frames(2, o).build();
  const auto frames = p.load_frames();
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].id == "x");
  CHECK(frames[2].id == "v1_00002");
  CHECK(frames[2].source_index == 2);
  CHECK(frames[2].video == "v1");
  CHECK(cv::norm(read_frame(p.frame_path("v1_00001")), test::capsule_frame(64, 1), cv::NORM_INF) ==
        0);
  CHECK(cv::norm(read_frame(p.frame_path("x")), img, cv::NORM_INF) == 0);
}

TEST_CASE("synthetic sets are reproducible and follow their visual rules") {
  std::mt19937 r1(7), r2(7);
  cv::Mat a, am, b, bm;
  test::synthetic_frame(r1, 48, 2, a, am);
  test::synthetic_frame(r2, 48, 2, b, bm);
  CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
  CHECK(cv::countNonZero(am == 6) > 0);  // invisible: excreta
  CHECK(am.at<uchar>(0, 0) == 0);        // background outside the field of view
  test::ScratchDir dir("builder-synthetic");
  test::SyntheticSetOptions o;
  o.train = 3, o.val = 1, o.test = 2;
  test::make_synthetic_project(dir / "p", "syn", o);
  Project p = Project::open(dir / "p");
  CHECK(p.load_frames().size() == 6);
  CHECK(p.final_frames().size() == 6);
  CHECK(fs::exists(p.split_path("syn")));
}

}  // namespace
}  // namespace excap
