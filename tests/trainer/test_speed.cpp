// The CPU speed policy: what it chooses from the CPU's flags and the request,
// that the run's config records it, and that forced bf16 and channels-last train.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/tensor_io.h"
#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"
#include "trainer/checkpoint.h"
#include "trainer/pack.h"
#include "trainer/speed.h"
#include "trainer/train.h"

using namespace excap;
using namespace excap::trainer;

namespace {
const char* kAvx2Only = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\n";
const char* kAvx512Bf16 = "flags\t\t: fpu avx avx2 avx512f avx512bw avx512_bf16\n";
const char* kAmx = "flags\t\t: fpu avx2 avx512f amx_tile amx_bf16 amx_int8\n";

// A packed synthetic project of 32x32 frames, small enough for slow emulated bf16.
fs::path tiny_project(const test::ScratchDir& dir) {
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 32;
  o.val = 8;
  o.test = 8;
  test::make_synthetic_project(dir.path(), "syn", o);
  PackOptions po;
  po.split = "syn";
  po.size = 32;
  pack_split(Project::open(dir.path()), po);
  return dir.path();
}

TrainConfig tiny_config(const std::string& run, int iters) {
  TrainConfig c;
  c.run = run;
  c.split = "syn";
  c.size = 32;
  c.iters = iters;
  c.batch = 8;
  c.lr = 0.05;
  c.model.arch = model::Arch::Mtcsn;
  c.model.backbone = "tiny";
  c.device = "cpu";
  c.threads = 2;
  c.seed = 5;
  c.log_interval = 5;
  return c;
}

// The "loss" of every metrics.jsonl loss line, in order.
std::vector<double> logged_losses(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<double> out;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss") && j.contains("lr")) out.push_back(j["loss"].get<double>());
  }
  return out;
}
}  // namespace

TEST_CASE("cpu flags: bf16 counts only with AVX512-BF16 or AMX-BF16") {
  const auto avx2 = parse_cpu_flags(kAvx2Only);
  CHECK(avx2.avx2);
  CHECK_FALSE(avx2.avx512f);
  CHECK_FALSE(avx2.bf16_fast());
  CHECK(parse_cpu_flags(kAvx512Bf16).avx512_bf16);
  CHECK(parse_cpu_flags(kAvx512Bf16).bf16_fast());
  CHECK(parse_cpu_flags(kAmx).amx_bf16);
  CHECK(parse_cpu_flags(kAmx).bf16_fast());
  CHECK_FALSE(parse_cpu_flags("no flags here\n").bf16_fast());
}

TEST_CASE(
    "speed policy: --amp auto picks bf16 only where the CPU has it, bf16 forces it, off keeps "
    "fp32") {
  const torch::Device cpu(torch::kCPU);
  const SpeedPolicy avx2 = choose_speed(cpu, AmpMode::Auto, "auto", parse_cpu_flags(kAvx2Only));
  CHECK_FALSE(avx2.channels_last);  // NCHW unless asked: NHWC was not faster on CPU
  CHECK(
      choose_speed(cpu, AmpMode::Auto, "channels-last", parse_cpu_flags(kAvx2Only)).channels_last);
  CHECK_FALSE(avx2.bf16_autocast);
  CHECK(avx2.bf16_why.find("AVX2 only") != std::string::npos);
  const SpeedPolicy bf = choose_speed(cpu, AmpMode::Auto, "auto", parse_cpu_flags(kAvx512Bf16));
  CHECK(bf.bf16_autocast);
  CHECK(bf.bf16_why.find("AVX512-BF16") != std::string::npos);
  CHECK(choose_speed(cpu, AmpMode::Auto, "auto", parse_cpu_flags(kAmx)).bf16_autocast);
  const SpeedPolicy forced = choose_speed(cpu, AmpMode::Bf16, "auto", parse_cpu_flags(kAvx2Only));
  CHECK(forced.bf16_autocast);
  CHECK(forced.bf16_why.find("forced") != std::string::npos);
  const SpeedPolicy fp32 = choose_speed(cpu, AmpMode::Off, "auto", parse_cpu_flags(kAvx512Bf16));
  CHECK_FALSE(fp32.bf16_autocast);  // --amp off: fp32 even where the CPU has bf16
  CHECK(fp32.bf16_why.find("--amp off") != std::string::npos);
  const SpeedPolicy nhwc32 =
      choose_speed(cpu, AmpMode::Off, "channels-last", parse_cpu_flags(kAvx512Bf16));
  CHECK(nhwc32.channels_last);
  CHECK_FALSE(nhwc32.bf16_autocast);
  const SpeedPolicy off = choose_speed(cpu, AmpMode::Auto, "off", parse_cpu_flags(kAvx512Bf16));
  CHECK_FALSE(off.channels_last);
  CHECK_FALSE(off.bf16_autocast);
  CHECK_THROWS_AS(choose_speed(cpu, AmpMode::Fp16, "auto", {}), Error);
  CHECK_THROWS_AS(choose_speed(cpu, AmpMode::Off, "fast", {}), Error);
}

TEST_CASE("a run's config.json records the speed policy it chose and why") {
  test::ScratchDir dir("speed_config");
  const fs::path root = tiny_project(dir);
  TrainConfig c = tiny_config("auto", 2);
  c.val_subset.clear();
  REQUIRE(train(root, c).status == TrainOutcome::Status::Finished);
  const auto j = read_json_file(root / "runs" / "auto" / "config.json");
  REQUIRE(j.contains("speed"));
  CHECK(j["speed"]["cpu_fast"] == "auto");
  CHECK(j["speed"]["channels_last"]["on"] == false);
  CHECK(j["speed"]["bf16_autocast"]["on"] == host_cpu_features().bf16_fast());
  CHECK_FALSE(j["speed"]["bf16_autocast"]["why"].get<std::string>().empty());

  c.run = "off";
  c.cpu_fast = "off";
  REQUIRE(train(root, c).status == TrainOutcome::Status::Finished);
  const auto k = read_json_file(root / "runs" / "off" / "config.json");
  CHECK(k["cpu_fast"] == "off");
  CHECK(k["speed"]["channels_last"]["on"] == false);
  CHECK(k["speed"]["bf16_autocast"]["on"] == false);
}

TEST_CASE("channels-last training follows the default memory format's weights") {
  test::ScratchDir dir("speed_layout");
  const fs::path root = tiny_project(dir);
  TrainConfig c = tiny_config("nhwc", 4);
  c.cpu_fast = "channels-last";
  c.amp = AmpMode::Off;  // fp32 on both sides, also where auto would pick bf16
  c.val_subset.clear();
  REQUIRE(train(root, c).status == TrainOutcome::Status::Finished);
  c.run = "nchw";
  c.cpu_fast = "off";
  REQUIRE(train(root, c).status == TrainOutcome::Status::Finished);
  const auto a = model::load_tensors(*checkpoint_folder(root / "runs" / "nhwc", "latest") /
                                     "weights.safetensors");
  const auto b = model::load_tensors(*checkpoint_folder(root / "runs" / "nchw", "latest") /
                                     "weights.safetensors");
  REQUIRE(a.size() == b.size());
  for (const auto& [name, t] : a) CHECK_MESSAGE(torch::allclose(t, b.at(name), 1e-3, 1e-4), name);
}

TEST_CASE("forced bf16 on CPU trains: fp32 weights, loss falls, metrics in range") {
  test::ScratchDir dir("speed_bf16");
  const fs::path root = tiny_project(dir);
  TrainConfig c = tiny_config("bf16", 40);
  c.amp = AmpMode::Bf16;
  c.val_interval = 40;
  const TrainOutcome out = train(root, c);
  REQUIRE_MESSAGE(out.status == TrainOutcome::Status::Finished, out.message);
  const auto cfg = read_json_file(root / "runs" / "bf16" / "config.json");
  CHECK(cfg["speed"]["bf16_autocast"]["on"] == true);
  const std::vector<double> losses = logged_losses(root / "runs" / "bf16");
  REQUIRE(losses.size() >= 4);
  CHECK(losses.back() < 0.9 * losses.front());
  for (const auto& [name, t] : model::load_tensors(
           *checkpoint_folder(root / "runs" / "bf16", "latest") / "weights.safetensors"))
    CHECK_FALSE_MESSAGE((t.scalar_type() == torch::kBFloat16), name);  // fp32 master weights
  std::ifstream in(root / "runs" / "bf16" / "metrics.jsonl");
  int val_lines = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("val")) continue;
    ++val_lines;
    for (const auto& [k, v] : j["val"].items())
      if (v.is_number()) CHECK_MESSAGE((v.get<double>() >= 0 && v.get<double>() <= 1), k);
  }
  CHECK(val_lines >= 1);
}
