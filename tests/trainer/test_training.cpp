// The training loop end to end on small data: it learns, resumes exactly,
// stops on divergence, and runs on the real capsule frames.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <atomic>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/tensor_io.h"
#include "report/compare.h"
#include "report/eval_report.h"
#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"
#include "trainer/checkpoint.h"
#include "trainer/eval_result.h"
#include "trainer/pack.h"
#include "trainer/run_eval.h"
#include "trainer/speed.h"
#include "trainer/train.h"

using namespace excap;
using namespace excap::trainer;

namespace {
TrainConfig tiny_config(const std::string& split, int size, int iters) {
  TrainConfig c;
  c.split = split;
  c.size = size;
  c.iters = iters;
  c.model.arch = model::Arch::Mtcsn;
  c.model.backbone = "tiny";
  c.device = "cpu";
  c.threads = 2;
  c.seed = 3;
  c.log_interval = 5;
  return c;
}

void pack(const fs::path& dir, const std::string& split, int size) {
  PackOptions po;
  po.split = split;
  po.size = size;
  pack_split(Project::open(dir), po);
}

std::map<std::string, at::Tensor> final_weights(const fs::path& run_dir) {
  return model::load_tensors(*checkpoint_folder(run_dir, "latest") / "weights.safetensors");
}

// Trains a tiny MTCSN on held-out synthetic frames with `amp`
// and checks the stated margin over the majority-class baselines: +0.15 CD
// accuracy and +0.15 mIoU over predicting the training set's majority class /
// majority tissue class everywhere. Returns the test subset's result; the run is runs/tiny.
EvalResult check_margins(const test::ScratchDir& dir, AmpMode amp) {
  test::SyntheticSetOptions o;
  o.size = 48;
  test::make_synthetic_project(dir.path(), "syn", o);
  pack(dir.path(), "syn", 48);
  TrainConfig c = tiny_config("syn", 48, 300);
  c.run = "tiny";
  c.lr = 0.05;
  c.val_interval = 100;
  c.amp = amp;
  TrainOutcome out = train(dir.path(), c);
  REQUIRE(out.status == TrainOutcome::Status::Finished);
  CHECK(out.best_iter > 0);
  const fs::path run_dir = dir.path() / "runs" / "tiny";
  const auto speed = read_json_file(run_dir / "config.json")["speed"];
  CHECK(speed["bf16_autocast"]["on"] == (amp == AmpMode::Bf16));

  EvalOptions eo;
  eo.run = "tiny";
  eo.subset = "test";
  eo.device = "cpu";
  eo.at_packed_size = true;  // the baselines below are rescored against the packed masks
  EvalResult r = evaluate_run(dir.path(), eo);

  // Majority baselines, the majority taken on the training subset.
  PackedSubset train_set = read_packed(packed_path(dir.path(), "syn", 48, "train"));
  std::vector<long long> cd_count(3, 0), tissue_count(8, 0);
  for (int i = 0; i < train_set.count(); ++i) ++cd_count[train_set.cd.data()[i]];
  for (std::size_t i = 0; i < train_set.masks.nbytes(); ++i)
    if (train_set.masks.data()[i] < 8) ++tissue_count[train_set.masks.data()[i]];
  const int cd_major = int(std::max_element(cd_count.begin(), cd_count.end()) - cd_count.begin());
  const int tissue_major =
      int(std::max_element(tissue_count.begin(), tissue_count.end()) - tissue_count.begin());
  EvalResult base = r;
  std::fill(base.pred_cd.begin(), base.pred_cd.end(), cd_major);
  std::fill(base.pred_masks.begin(), base.pred_masks.end(), tissue_major);
  score(base);
  std::cout << "tiny MTCSN test (" << speed["bf16_autocast"]["why"].get<std::string>()
            << "): accuracy " << r.cls.accuracy << " (majority " << base.cls.accuracy << "), mIoU "
            << r.seg.mIoU << " (majority " << base.seg.mIoU << ")\n";
  CHECK(r.cls.accuracy >= base.cls.accuracy + 0.15);
  CHECK(r.seg.mIoU >= base.seg.mIoU + 0.15);
  write_eval_files(run_dir, r, false);
  return r;
}
}  // namespace

TEST_CASE("a tiny MTCSN beats the majority-class baseline on held-out synthetic frames (fp32)") {
  test::ScratchDir dir("trainer_learns");
  const EvalResult r = check_margins(dir, AmpMode::Off);

  // The report and the comparison table come out of the same run.
  const fs::path run_dir = dir.path() / "runs" / "tiny";
  const fs::path report = write_eval_report(run_dir, r, Project::open(dir.path()).meta().schema);
  CHECK(fs::exists(report));
  for (const char* f : {"plots/confusion.png", "plots/per_class_iou.png", "plots/loss.png",
                        "plots/validation.png", "overlays.png", "metrics.json"})
    CHECK_MESSAGE(fs::exists(report.parent_path() / f), f);
  CHECK(fs::exists(report.parent_path() / "pred" / (r.data.ids[0] + ".png")));
  const std::string table = compare_markdown(compare_runs(dir.path(), {"tiny"}, "test"), "test");
  CHECK(table.find("| tiny | MTCSN | Tiny | 300 |") != std::string::npos);
}

TEST_CASE("with bf16 autocast the tiny MTCSN keeps the same margins (fp32 master weights)") {
  // Where the CPU has no bf16 instructions autocast is emulated: correct but
  // several times slower, and `--cpu-fast auto` never picks it there.
  if (!host_cpu_features().bf16_fast()) {
    std::printf("[skip] this CPU has no AVX512-BF16 or AMX-BF16: auto never uses bf16 here\n");
    return;
  }
  test::ScratchDir dir("trainer_learns_bf16");
  check_margins(dir, AmpMode::Bf16);
  for (const auto& [name, t] : final_weights(dir.path() / "runs" / "tiny"))
    CHECK_FALSE_MESSAGE((t.scalar_type() == torch::kBFloat16), name);
}

TEST_CASE("resume: N iterations in one go equal N/2, interrupt, resume, N/2 (CPU, same weights)") {
  test::ScratchDir dir("trainer_resume");
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 24, o.val = 8, o.test = 4;
  test::make_synthetic_project(dir.path(), "syn", o);
  pack(dir.path(), "syn", 32);
  const int n = 12;
  TrainConfig c = tiny_config("syn", 32, n);
  c.val_interval = 4;  // validation and best checkpoints interleave with the stop
  c.run = "whole";
  REQUIRE(train(dir.path(), c).status == TrainOutcome::Status::Finished);

  c.run = "split";
  std::atomic<bool> stop{false};
  TrainHooks hooks;
  hooks.stop = &stop;
  hooks.progress = [&](const TrainProgress& p) {
    if (p.iter >= n / 2) stop = true;
  };
  c.log_interval = 1;
  TrainOutcome first = train(dir.path(), c, hooks);
  CHECK(first.status == TrainOutcome::Status::Interrupted);
  CHECK(first.iter == n / 2);
  TrainHooks again;
  again.resume = true;
  TrainConfig r = c;  // resume reads runs/split/config.json; only device/threads come from here
  TrainOutcome second = train(dir.path(), r, again);
  CHECK(second.status == TrainOutcome::Status::Finished);
  CHECK(second.iter == n);

  auto a = final_weights(dir.path() / "runs" / "whole");
  auto b = final_weights(dir.path() / "runs" / "split");
  REQUIRE(a.size() == b.size());
  int differing = 0;
  for (const auto& [name, t] : a)
    if (!torch::equal(t, b.at(name))) ++differing;
  CHECK(differing == 0);
  CHECK_THROWS_AS(train(dir.path(), c), Error);  // a new run may not overwrite checkpoints
}

TEST_CASE("a diverging loss stops the run and keeps the last good checkpoint") {
  test::ScratchDir dir("trainer_diverge");
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 16, o.val = 4, o.test = 4;
  test::make_synthetic_project(dir.path(), "syn", o);
  pack(dir.path(), "syn", 32);
  TrainConfig c = tiny_config("syn", 32, 4);
  c.run = "d";
  REQUIRE(train(dir.path(), c).status == TrainOutcome::Status::Finished);
  // Make the next step "explode": any loss above 1e-9 counts.
  const fs::path cfg_path = dir.path() / "runs" / "d" / "config.json";
  auto j = read_json_file(cfg_path);
  j["explode_loss"] = 1e-9;
  write_json_atomic(cfg_path, j);
  TrainHooks h;
  h.resume = true;
  c.iters = 8;
  TrainOutcome out = train(dir.path(), c, h);
  CHECK(out.status == TrainOutcome::Status::Diverged);
  CHECK(out.message.find("stopped") != std::string::npos);
  CHECK(checkpoint_folder(dir.path() / "runs" / "d", "latest")->filename() == "iter_000004");
}

TEST_CASE("the device choice is explained when CUDA is missing") {
  if (torch::cuda::is_available()) return;
  test::ScratchDir dir("trainer_nocuda");
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 4, o.val = 2, o.test = 2;
  test::make_synthetic_project(dir.path(), "syn", o);
  pack(dir.path(), "syn", 32);
  TrainConfig c = tiny_config("syn", 32, 2);
  c.run = "c";
  c.device = "cuda";
  try {
    train(dir.path(), c);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("--device cuda") != std::string::npos);
    CHECK(std::string(e.what()).find("CUDA") != std::string::npos);
  }
}

TEST_CASE("smoke: the real WCE bleeding frames train and evaluate") {
  test::ScratchDir dir("trainer_wce");
  if (!test::make_wce_project(dir.path(), "wce", {{"train", 16}, {"val", 6}, {"test", 6}})) return;
  pack(dir.path(), "wce", 64);
  TrainConfig c = tiny_config("wce", 64, 20);
  c.run = "wce";
  c.val_interval = 10;
  REQUIRE(train(dir.path(), c).status == TrainOutcome::Status::Finished);
  EvalOptions eo;
  eo.run = "wce";
  eo.device = "cpu";
  EvalResult r = evaluate_run(dir.path(), eo);
  CHECK(r.data.count() == 6);
  CHECK(r.seg.label_area[3] > 0);  // bleeding pixels are in the test labels
  const fs::path run_dir = dir.path() / "runs" / "wce";
  write_eval_files(run_dir, r, false);
  CHECK(fs::exists(write_eval_report(run_dir, r, Project::open(dir.path()).meta().schema)));
}

TEST_CASE("amp modes round-trip, a bad one lists the allowed modes") {
  for (const auto& name : known_amp_modes()) CHECK(to_string(parse_amp_mode(name)) == name);
  CHECK(parse_amp_mode("fp16") == AmpMode::Fp16);
  CHECK(parse_amp_mode("bf16") == AmpMode::Bf16);
  CHECK_THROWS_WITH_AS(parse_amp_mode("fp8", "--amp"),
                       "--amp: unknown 'fp8' (allowed: auto, off, fp16, bf16)", Error);
  CHECK_THROWS_WITH_AS(nlohmann::json::parse(R"({"amp":"fp8"})").get<TrainConfig>(),
                       doctest::Contains("allowed: auto, off, fp16, bf16"), Error);
}

TEST_CASE("a run config.json written before the enums still loads and writes the same strings") {
  const auto old = nlohmann::json::parse(R"({"run":"r","split":"s","train_subset":"train",
      "val_subset":"val","size":240,"model":{"arch":"seg_fcn","backbone":"tiny","num_cd":3,
      "num_tissue":8,"dilated":true,"fusion_pool":"avg","cls_hidden":0,"seg_channels":0,
      "seg_dropout":0.1},"iters":100,"batch":8,"lr":0.01,"momentum":0.9,"weight_decay":0.0005,
      "poly_power":0.9,"min_lr":0.0001,"alpha":0.1,"learned_task_weights":true,"augment":true,
      "val_interval":10,"log_interval":10,"checkpoint_interval":10,"best_metric":"auto",
      "device":"cuda","amp":"bf16","threads":0,"seed":0,"init":"","explode_loss":10000.0})");
  const TrainConfig c = old.get<TrainConfig>();
  CHECK(c.model.arch == model::Arch::SegFcn);
  CHECK(c.weighting == model::TaskWeighting::Learned);
  CHECK(c.amp == AmpMode::Bf16);
  CHECK(c.model.head_init == model::HeadInit::Libtorch);  // what a run of that time was built with
  auto written = old;
  written["model"]["head_init"] = "libtorch";  // the one key added since
  CHECK(nlohmann::json(c) == written);
  CHECK(nlohmann::json::object().get<TrainConfig>().weighting == model::TaskWeighting::Fixed);
}

TEST_CASE("checkpoint weights with a NaN or a relabelled dtype are refused, the tensor named") {
  test::ScratchDir dir("trainer_weights_checked");
  model::ModelConfig mc;
  mc.backbone = "tiny";
  auto net = model::build_model(mc);
  const fs::path path = dir.path() / "w.safetensors";
  const std::string name = "backbone.conv1.weight";
  save_model_weights(path, *net, 0);
  auto target = model::build_model(mc);
  load_model_weights(path, *target, /*strict=*/true);  // a good file loads

  auto tensors = model::load_tensors(path);
  tensors[name] = tensors[name].clone();
  tensors[name].view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  model::save_tensors(path, tensors);
  CHECK_THROWS_WITH_AS(
      load_model_weights(path, *target, true),
      doctest::Contains(("tensor '" + name + "' holds 1 non-finite value").c_str()), Error);
  tensors[name] = torch::zeros_like(tensors[name], torch::kInt32);
  model::save_tensors(path, tensors);
  CHECK_THROWS_WITH_AS(load_model_weights(path, *target, true),
                       doctest::Contains("has dtype I32 in the file but the model needs F32"),
                       Error);
}
