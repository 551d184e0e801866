// Training parity with PyTorch: from the same weights on the same batches, a
// few ExCap steps leave every parameter and buffer where PyTorch's do.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <cmath>
#include <iostream>

#include "bench/parity_bench.h"
#include "common/error.h"
#include "model/tensor_io.h"
#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"
#include "trainer/pack.h"

using namespace excap;
using namespace excap::trainer;

namespace {
const char* kPython = "/usr/bin/python3";

bool python_has_torch() {
  std::string out;
  return test::run_command({kPython, "-c", "import torch, numpy"}, &out) == 0;
}

ParityOptions tiny_parity(const fs::path& dir) {
  ParityOptions o;
  o.project = dir;
  o.split = "syn";
  o.size = 32;
  o.batch = 4;
  o.threads = 1;
  o.first_seed = 5;
  o.model.backbone = "tiny";
  o.python = kPython;
  o.python_script = fs::path(EXCAP_SOURCE_DIR) / "bench" / "peers" / "parity_reference.py";
  return o;
}

double largest(const std::vector<TensorDiff>& diffs) {
  double m = 0;
  for (const auto& d : diffs) m = std::max(m, d.max_abs);
  return m;
}
}  // namespace

void make_packed_project(const fs::path& dir) {
  test::SyntheticSetOptions so;
  so.size = 32;
  so.train = 12, so.val = 4, so.test = 4;
  test::make_synthetic_project(dir, "syn", so);
  PackOptions po;
  po.split = "syn";
  po.size = 32;
  pack_split(Project::open(dir), po);
}

TEST_CASE("one and three ExCap training steps match PyTorch's tensor by tensor") {
  if (!python_has_torch()) {
    MESSAGE("skipped: " << kPython << " has no torch/numpy (Debian python3-torch)");
    return;
  }
  test::ScratchDir dir("trainer_parity");
  make_packed_project(dir.path());

  ParityOptions o = tiny_parity(dir.path());
  // Large enough that weight decay and momentum each move the weights by more
  // than the tolerance within these steps: leaving either out fails.
  o.lr = 0.1;
  o.weight_decay = 0.05;
  for (int steps : {1, 3}) {
    const std::vector<TensorDiff> diffs = parity_step_check(o, steps);
    INFO(format_step_check(diffs, steps, 1e-4));
    CHECK(diffs.size() > 40);  // every parameter and buffer of the tiny MTCSN
    CHECK(largest(diffs) < 1e-4);
  }
}

TEST_CASE("bench parity scores both sides' final weights with ExCap's evaluator") {
  if (!python_has_torch()) {
    MESSAGE("skipped: " << kPython << " has no torch/numpy (Debian python3-torch)");
    return;
  }
  test::ScratchDir dir("trainer_parity_bench");
  make_packed_project(dir.path());
  ParityOptions o = tiny_parity(dir.path());
  o.seeds = 2;
  o.iters = 3;
  // The peer's weights file must load into ExCap's model as it is (buffer
  // shapes included, e.g. 0-d num_batches_tracked), or the bench throws here.
  const ParityResult r = bench_parity(o);
  REQUIRE(r.seeds.size() == 2);
  for (const auto& s : r.seeds) {
    CHECK(s.cpp.accuracy >= 0);
    CHECK(s.cpp.accuracy <= 1);
    // ExCap's evaluator on the peer's weights agrees with the peer's own scores
    // (to a rounding flip of one test frame or a few pixels).
    CHECK(std::abs(s.python.accuracy - s.python_own_accuracy) <= 0.25 + 1e-9);
    CHECK(std::abs(s.python.miou - s.python_own_miou) < 0.02);
  }
  CHECK(format_parity(o, r).find("mean") != std::string::npos);
}

TEST_CASE("the weight comparison names the tensor that differs") {
  test::ScratchDir dir("trainer_parity_diff");
  const fs::path a = dir.path() / "a.safetensors", b = dir.path() / "b.safetensors";
  torch::Tensor w = torch::arange(6, torch::kFloat32).view({2, 3});
  model::save_tensors(
      a, {{"x.weight", w}, {"x.num_batches_tracked", torch::zeros({1}, torch::kInt64)}});
  torch::Tensor moved = w.clone();
  moved[1][2] += 0.5f;
  // A [] scalar against a [1] one compares by value (PyTorch's and LibTorch's BN counters).
  model::save_tensors(
      b, {{"x.weight", moved}, {"x.num_batches_tracked", torch::zeros({}, torch::kInt64)}});
  const auto diffs = compare_weight_files(a, b);
  REQUIRE(diffs.size() == 2);
  CHECK(diffs[0].name == "x.num_batches_tracked");
  CHECK(diffs[0].max_abs == 0.0);
  CHECK(diffs[1].name == "x.weight");
  CHECK(diffs[1].max_abs == doctest::Approx(0.5));
  CHECK(format_step_check(diffs, 1, 1e-4).find("first tensor over 0.0001: x.weight") !=
        std::string::npos);

  model::save_tensors(b, {{"x.weight", w}});
  CHECK_THROWS_AS(compare_weight_files(a, b), Error);
}

TEST_CASE("the parity table gives every seed and mean +- sample sd per side") {
  ParityOptions o;
  o.model.backbone = "resnet18";
  ParityResult r;
  for (int k = 0; k < 3; ++k) {
    ParitySeed s;
    s.seed = static_cast<std::uint64_t>(k);
    s.cpp = {0.5 + 0.1 * k, 0.9, 1};
    s.python = {0.6, 0.8 + 0.05 * k, 1};
    r.seeds.push_back(s);
  }
  const std::string t = format_parity(o, r);
  CHECK(t.find("ExCap    mIoU 0.6000 +- 0.1000") != std::string::npos);
  CHECK(t.find("accuracy 0.8500 +- 0.0500") != std::string::npos);
  CHECK(t.find("PyTorch  mIoU 0.6000 +- 0.0000") != std::string::npos);
}
