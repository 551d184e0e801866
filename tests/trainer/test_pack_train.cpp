// Packing, the packed format, batches, augmentation and the schedule.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "media/imageio.h"
#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"
#include "trainer/data.h"
#include "trainer/pack.h"
#include "trainer/packed.h"
#include "trainer/train_config.h"

using namespace excap;
using namespace excap::trainer;

TEST_CASE(
    "pack writes one safetensors per subset with ids, NHWC images and nearest-resized masks") {
  test::ScratchDir dir("trainer_pack");
  test::SyntheticSetOptions o;
  o.size = 40;
  o.train = 6, o.val = 3, o.test = 2;
  test::make_synthetic_project(dir.path(), "s", o);
  Project p = Project::open(dir.path());
  PackOptions po;
  po.split = "s";
  po.size = 24;
  auto summaries = pack_split(p, po);
  REQUIRE(summaries.size() == 3);
  PackedSubset train = read_packed(packed_path(dir.path(), "s", 24, "train"));
  CHECK(train.count() == 6);
  CHECK(train.images.shape() == std::vector<std::int64_t>{6, 24, 24, 3});
  CHECK(train.masks.shape() == std::vector<std::int64_t>{6, 24, 24});
  CHECK(train.tissue_names.size() == 8);
  CHECK(train.cd_names.size() == 3);
  // Masks hold only the frame's own class values (no blending from resizing).
  cv::Mat src = read_mask(p.final_mask_path(train.ids[0]));
  cv::Mat small;
  cv::resize(src, small, {24, 24}, 0, 0, cv::INTER_NEAREST);
  CHECK(std::memcmp(small.data, train.masks.data(), 24 * 24) == 0);
  CHECK(int(train.cd.data()[0]) == p.load_final(train.ids[0])->cd);
  // RGB order: the frame on disk is BGR.
  cv::Mat frame = read_frame(p.frame_path(train.ids[0]));
  cv::Mat rgb;
  cv::cvtColor(frame, rgb, cv::COLOR_BGR2RGB);
  cv::resize(rgb, rgb, {24, 24}, 0, 0, cv::INTER_AREA);
  CHECK(std::memcmp(rgb.data, train.images.data(), 24 * 24 * 3) == 0);
}

TEST_CASE("pack reports frames without a final label instead of skipping them") {
  test::ScratchDir dir("trainer_pack_missing");
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 3, o.val = 1, o.test = 1;
  test::make_synthetic_project(dir.path(), "s", o);
  Project p = Project::open(dir.path());
  fs::remove(p.final_json_path("syn0001"));
  PackOptions po;
  po.split = "s";
  po.size = 16;
  try {
    pack_split(p, po);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("syn0001") != std::string::npos);
    CHECK(std::string(e.what()).find("1 frame(s)") != std::string::npos);
  }
  po.split = "nope";
  CHECK_THROWS_AS(pack_split(p, po), Error);
}

TEST_CASE(
    "batches are deterministic, cover each epoch once, and depend only on (seed, iteration)") {
  auto a = batch_indices(5, 3, 4, 10);
  CHECK(a == batch_indices(5, 3, 4, 10));
  CHECK(a != batch_indices(6, 3, 4, 10));
  std::vector<int> seen(10, 0);
  for (int it = 0; it < 5; ++it)  // 5 batches of 4 = two epochs of 10
    for (auto i : batch_indices(5, it, 4, 10)) ++seen[i];
  for (int c : seen) CHECK(c == 2);
}

TEST_CASE("augmentation moves image and mask together") {
  // A 3-frame subset whose image encodes the mask: red channel = 20 * class.
  const int s = 8, n = 3;
  PackedSubset info;
  info.size = s;
  info.ids = {"a", "b", "c"};
  torch::Tensor masks = torch::randint(0, 8, {n, s, s}, torch::kUInt8);
  torch::Tensor images = torch::zeros({n, s, s, 3}, torch::kUInt8);
  images.select(3, 0).copy_(masks * 20);
  images.select(3, 1).fill_(100);
  SubsetTensors data;
  data.info = info;
  data.images = images;
  data.masks = masks;
  data.cd = torch::zeros({n}, torch::kInt64);
  int changed = 0;
  for (int it = 0; it < 6; ++it) {
    std::vector<AugmentParams> aug;
    for (int k = 0; k < n; ++k) {
      aug.push_back(draw_augment(9, it, k));
      aug.back().brightness = aug.back().contrast = aug.back().saturation = 1;  // geometry only
    }
    Batch b = make_batch(data, {0, 1, 2}, torch::kCPU, &aug, false);
    // Undo the normalisation of the red channel and compare with the mask.
    auto red = (b.images.select(1, 0) * 0.229 + 0.485) * 255;
    auto expect = b.masks.to(torch::kFloat32) * 20;
    CHECK(torch::allclose(red, expect, 1e-3, 0.05));
    if (!torch::equal(b.masks, masks.to(torch::kInt64))) ++changed;
  }
  CHECK(changed > 0);
}

TEST_CASE("poly schedule matches mmcv's PolyLrUpdaterHook") {
  CHECK(poly_lr(0.01, 1e-4, 0.9, 0, 100) == doctest::Approx(0.01));
  CHECK(poly_lr(0.01, 1e-4, 0.9, 100, 100) == doctest::Approx(1e-4));
  CHECK(poly_lr(0.01, 1e-4, 0.9, 50, 100) ==
        doctest::Approx((0.01 - 1e-4) * std::pow(0.5, 0.9) + 1e-4));
}

TEST_CASE("train config round-trips through JSON and rejects bad values") {
  TrainConfig c;
  c.split = "s";
  c.iters = 123;
  c.model.backbone = "tiny";
  nlohmann::json j = c;
  TrainConfig d = j.get<TrainConfig>();
  CHECK(d.iters == 123);
  CHECK(d.model.backbone == "tiny");
  CHECK(d.val_interval == 12);
  j["amp"] = "fp8";
  CHECK_THROWS_AS(j.get<TrainConfig>(), Error);
}
