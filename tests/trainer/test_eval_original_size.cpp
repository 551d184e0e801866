// `eval` scores as mmsegmentation does: seg logits resized to each frame's
// final mask (bilinear, align_corners=False), predictions written at that size.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "media/imageio.h"
#include "metrics/seg_areas.h"
#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"
#include "trainer/evaluate.h"
#include "trainer/pack.h"
#include "trainer/run_eval.h"
#include "trainer/train.h"

using namespace excap;
using namespace excap::trainer;

namespace {
// Reads the logits file, resizes each requested size in PyTorch and writes the argmax maps.
const char* kTorchResize = R"(
import sys, numpy as np, torch
import torch.nn.functional as F
src, shape, out = sys.argv[1], [int(v) for v in sys.argv[2].split(',')], sys.argv[3]
x = torch.from_numpy(np.fromfile(src, dtype='<f4').reshape(shape))
with open(out, 'wb') as f:
    for hw in sys.argv[4:]:
        h, w = (int(v) for v in hw.split('x'))
        y = F.interpolate(x, size=(h, w), mode='bilinear', align_corners=False)
        f.write(y.argmax(1).to(torch.uint8).numpy().tobytes())
)";

std::vector<std::uint8_t> bytes_of(const at::Tensor& t) {
  const auto* p = t.data_ptr<std::uint8_t>();
  return std::vector<std::uint8_t>(p, p + t.numel());
}

// A synthetic project of `original`-pixel frames, packed at `packed` and trained briefly as `run`.
void train_run(const fs::path& dir, int packed, const std::string& run) {
  PackOptions po;
  po.split = "syn";
  po.size = packed;
  pack_split(Project::open(dir), po);
  TrainConfig c;
  c.split = "syn";
  c.size = packed;
  c.iters = 30;
  c.lr = 0.05;
  c.val_interval = 30;
  c.model.arch = model::Arch::Mtcsn;
  c.model.backbone = "tiny";
  c.device = "cpu";
  c.threads = 2;
  c.seed = 5;
  c.run = run;
  REQUIRE(train(dir, c).status == TrainOutcome::Status::Finished);
}

EvalResult eval_run(const fs::path& dir, const std::string& run, bool at_packed_size) {
  EvalOptions eo;
  eo.run = run;
  eo.device = "cpu";
  eo.threads = 2;
  eo.at_packed_size = at_packed_size;
  return evaluate_run(dir, eo);
}

void make_project(const fs::path& dir, int original) {
  test::SyntheticSetOptions o;
  o.size = original;
  o.train = 16, o.val = 4, o.test = 6;
  test::make_synthetic_project(dir, "syn", o);
}
}  // namespace

TEST_CASE("eval: seg logits resized as torch.nn.functional.interpolate(bilinear) then argmax") {
  const std::string py = test::reference_python();
  if (py.empty()) return;  // reference_python() printed why
  test::ScratchDir dir("eval_resize_reference");
  torch::manual_seed(11);
  const at::Tensor logits = torch::randn({1, 5, 9, 11});
  {
    std::ofstream f(dir / "logits.f32", std::ios::binary);
    f.write(reinterpret_cast<const char*>(logits.data_ptr<float>()), logits.nbytes());
  }
  // Up by a non-integer factor, up by an integer one, and down.
  const std::vector<std::pair<int, int>> sizes = {{37, 23}, {36, 44}, {6, 5}};
  std::vector<std::string> argv = {py,           "-c",
                                   kTorchResize, (dir / "logits.f32").string(),
                                   "1,5,9,11",   (dir / "labels.u8").string()};
  for (auto [h, w] : sizes) argv.push_back(std::to_string(h) + "x" + std::to_string(w));
  std::string log;
  REQUIRE_MESSAGE(test::run_command(argv, &log) == 0, log);
  std::ifstream in(dir / "labels.u8", std::ios::binary);
  const std::vector<std::uint8_t> ref((std::istreambuf_iterator<char>(in)),
                                      std::istreambuf_iterator<char>());
  std::size_t at = 0;
  for (auto [h, w] : sizes) {
    CAPTURE(h);
    CAPTURE(w);
    const at::Tensor ours = labels_at_size(logits, h, w);
    REQUIRE(ours.sizes() == at::IntArrayRef({h, w}));
    REQUIRE(ref.size() >= at + std::size_t(h) * w);
    CHECK(bytes_of(ours) == std::vector<std::uint8_t>(ref.begin() + at, ref.begin() + at + h * w));
    at += std::size_t(h) * w;
  }
  // The check can fail: nearest resizing gives another label map at 37x23.
  namespace F = torch::nn::functional;
  const at::Tensor nearest =
      F::interpolate(
          logits,
          F::InterpolateFuncOptions().size(std::vector<std::int64_t>{37, 23}).mode(torch::kNearest))
          .argmax(1)
          .squeeze(0)
          .to(torch::kUInt8)
          .contiguous();
  CHECK(bytes_of(nearest) != std::vector<std::uint8_t>(ref.begin(), ref.begin() + 37 * 23));
}

TEST_CASE("eval: labels_at_size refuses a batch and an empty size") {
  CHECK_THROWS_AS(labels_at_size(torch::zeros({2, 3, 4, 4}), 8, 8), Error);
  CHECK_THROWS_AS(labels_at_size(torch::zeros({1, 3, 4, 4}), 0, 8), Error);
}

TEST_CASE("eval: masks larger than the packed size score differently, equal ones identically") {
  test::ScratchDir dir("eval_original_size");
  make_project(dir.path(), 48);
  train_run(dir.path(), 24, "small");
  train_run(dir.path(), 48, "same");

  const EvalResult original = eval_run(dir.path(), "small", false);
  const EvalResult packed = eval_run(dir.path(), "small", true);
  CHECK(original.scored_at == ScoredAt::Original);
  CHECK(packed.scored_at == ScoredAt::Packed);
  // Scored on the 48x48 final masks, not on the 24x24 packed ones.
  metrics::SegAreas expect(8, 255);
  const Project project = Project::open(dir.path());
  REQUIRE(original.pred_original.size() == 6);
  for (std::size_t i = 0; i < original.data.ids.size(); ++i) {
    const FrameMask label = read_final_mask(project, original.data.ids[i]);
    const FrameMask& pred = original.pred_original[i];
    REQUIRE(pred.height == 48);
    REQUIRE(pred.width == 48);
    expect.process(pred.pixels.data(), label.pixels.data(), label.pixels.size());
  }
  CHECK(original.seg.label_area == expect.compute().label_area);
  CHECK(original.seg.intersect == expect.compute().intersect);
  long long original_px = 0, packed_px = 0;
  for (auto v : original.seg.label_area) original_px += v;
  for (auto v : packed.seg.label_area) packed_px += v;
  CHECK(original_px == 6 * 48 * 48);
  CHECK(packed_px == 6 * 24 * 24);
  CHECK(original.seg.mIoU != packed.seg.mIoU);
  CHECK(original.cls.accuracy == packed.cls.accuracy);  // classification does not change

  const EvalResult same_original = eval_run(dir.path(), "same", false);
  const EvalResult same_packed = eval_run(dir.path(), "same", true);
  CHECK(same_original.seg.intersect == same_packed.seg.intersect);
  CHECK(same_original.seg.pred_area == same_packed.seg.pred_area);
  CHECK(same_original.seg.label_area == same_packed.seg.label_area);
  CHECK(same_original.seg.mIoU == same_packed.seg.mIoU);
  CHECK(same_original.seg.aAcc == same_packed.seg.aAcc);

  // A frame whose final mask is gone is named, not skipped.
  fs::remove(project.final_mask_path(original.data.ids[2]));
  try {
    eval_run(dir.path(), "small", false);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(original.data.ids[2] + ".png") != std::string::npos);
  }
}

TEST_CASE("cli: eval writes predicted masks at the final masks' size, --at-packed-size keeps 24") {
  test::ScratchDir dir("eval_original_cli");
  make_project(dir.path(), 40);
  train_run(dir.path(), 24, "a");
  const std::string excap = test::built_binary("excap");
  const std::string d = dir.path().string();
  const fs::path out = dir.path() / "runs/a/eval";
  std::string log;
  REQUIRE_MESSAGE(test::run_command({excap, "eval", d, "--run", "a", "--device", "cpu"}, &log) == 0,
                  log);
  CHECK(log.find("at the original size") != std::string::npos);
  REQUIRE_MESSAGE(test::run_command({excap, "eval", d, "--run", "a", "--device", "cpu",
                                     "--at-packed-size", "--out", "packed"},
                                    &log) == 0,
                  log);
  CHECK(read_json_file(out / "test/metrics.json").at("scored_at") == "original");
  CHECK(read_json_file(out / "packed/metrics.json").at("scored_at") == "packed");
  const auto ids = read_json_file(out / "test/metrics.json").at("count").get<int>();
  CHECK(ids == 6);
  int files = 0;
  for (const auto& e : fs::directory_iterator(out / "test/pred")) {
    const cv::Mat m = read_mask(e.path());
    CHECK(m.rows == 40);
    CHECK(m.cols == 40);
    CHECK(read_mask(out / "packed/pred" / e.path().filename()).rows == 24);
    ++files;
  }
  CHECK(files == 6);
}
