// `excap pack | train | eval | compare | bench train` from the command line.
#include <doctest/doctest.h>

#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;

namespace {
std::string excap_cmd() { return test::built_binary("excap"); }

// A synthetic 32x32 project with split "syn", packed by `excap pack`; returns its folder.
std::string packed_synthetic(const test::ScratchDir& dir, int train, int val, int test_count,
                             std::string& out) {
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = train, o.val = val, o.test = test_count;
  test::make_synthetic_project(dir.path(), "syn", o);
  const std::string d = dir.path().string();
  REQUIRE_MESSAGE(
      test::run_command({excap_cmd(), "pack", d, "--split", "syn", "--size", "32"}, &out) == 0,
      out);
  return d;
}
}  // namespace

TEST_CASE("cli: pack, train, eval and compare a tiny run, Ctrl-C saves and --resume finishes") {
  test::ScratchDir dir("trainer_cli");
  std::string out;
  const std::string d = packed_synthetic(dir, 16, 4, 6, out);
  CHECK(out.find("train: 16 frames") != std::string::npos);
  const std::vector<std::string> train = {
      excap_cmd(), "train",      d,      "--split",  "syn", "--size",    "32", "--model",
      "mtcsn",     "--backbone", "tiny", "--device", "cpu", "--threads", "2"};
  auto with = [](std::vector<std::string> argv, const std::vector<std::string>& more) {
    argv.insert(argv.end(), more.begin(), more.end());
    return argv;
  };
  REQUIRE_MESSAGE(
      test::run_command(with(train, {"--iters", "6", "--val-interval", "3", "--run", "a"}), &out) ==
          0,
      out);
  CHECK(out.find("val@6") != std::string::npos);
  CHECK(out.find("it/s") != std::string::npos);
  REQUIRE_MESSAGE(
      test::run_command({excap_cmd(), "eval", d, "--run", "a", "--device", "cpu"}, &out) == 0, out);
  CHECK(out.find("mIoU") != std::string::npos);
  CHECK(fs::exists(dir.path() / "runs/a/eval/test/report.md"));
  CHECK(fs::exists(dir.path() / "runs/a/config.json"));
  // Every metrics.jsonl line is JSON.
  std::ifstream jl(dir.path() / "runs/a/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(jl, line)) {
    CHECK(nlohmann::json::parse(line, nullptr, false).is_object());
    ++lines;
  }
  CHECK(lines >= 4);

  // Ctrl-C: a long run is interrupted after its first log line, saves, and resumes.
  // The one test that needs a shell: a background job, a wait loop and a signal.
  // Paths and the command arrive as positional parameters, never spliced into the script.
  const std::string script =
      "\"$@\" --iters 100000 --log-interval 1 --run b > \"$LOG\" 2>&1 & pid=$!; "
      "for i in $(seq 1 600); do grep -q '\"lr\"' \"$METRICS\" 2>/dev/null && break; sleep 0.1; "
      "done; "
      "kill -INT $pid; wait $pid; echo \"exit=$?\"";
  REQUIRE(test::run_command(with({"sh", "-c", script, "sh"}, train), &out,
                            {{"LOG", d + "/b.log"}, {"METRICS", d + "/runs/b/metrics.jsonl"}}) ==
          0);
  CHECK_MESSAGE(out.find("exit=130") != std::string::npos, out);
  CHECK(fs::exists(dir.path() / "runs/b/checkpoints/latest.json"));
  auto latest = read_json_file(dir.path() / "runs/b/checkpoints/latest.json");
  CHECK(latest["iter"].get<int>() >= 1);

  REQUIRE_MESSAGE(test::run_command({excap_cmd(), "train", d, "--run", "b", "--resume", "--iters",
                                     std::to_string(latest["iter"].get<int>() + 2), "--device",
                                     "cpu", "--threads", "2"},
                                    &out) == 0,
                  out);
  CHECK(read_json_file(dir.path() / "runs/b/checkpoints/latest.json")["iter"].get<int>() ==
        latest["iter"].get<int>() + 2);
  REQUIRE(test::run_command({excap_cmd(), "eval", d, "--run", "b", "--device", "cpu"}, &out) == 0);
  REQUIRE_MESSAGE(
      test::run_command({excap_cmd(), "compare", d, "--runs", "a,b", "--out", d + "/t5.md"},
                        &out) == 0,
      out);
  CHECK(out.find("| a | MTCSN | Tiny | 6 |") != std::string::npos);
  CHECK(fs::exists(dir.path() / "t5.md"));
  // Bad input: a clear message and a non-zero exit.
  CHECK(test::run_command({excap_cmd(), "eval", d, "--run", "nope"}, &out) != 0);
  CHECK(out.find("nope") != std::string::npos);
  CHECK(test::run_command({excap_cmd(), "train", d, "--split", "syn", "--size", "32", "--backbone",
                           "tiny", "--iters", "2", "--run", "c", "--device", "cuda"},
                          &out) != 0);
  CHECK(out.find("CUDA") != std::string::npos);
}

TEST_CASE("cli: bench train runs the C++ step next to the same network in PyTorch Python") {
  const std::string py = test::reference_python();
  std::string out;
  const std::vector<std::string> cmd = {excap_cmd(), "bench",
                                        "train",     "--model",
                                        "mtcsn",     "--backbone",
                                        "resnet18",  "--size",
                                        "64",        "--batch",
                                        "2",         "--iters",
                                        "2",         "--warmup",
                                        "1",         "--threads",
                                        "2",         "--device",
                                        "cpu",       "--no-conv-peak",
                                        "--python",  py.empty() ? std::string("none") : py};
  REQUIRE_MESSAGE(test::run_command(cmd, &out) == 0, out);
  std::cout << out;
  CHECK(out.find("C++") != std::string::npos);
  if (!py.empty()) {
    CHECK_MESSAGE(out.find("Python ") != std::string::npos, out);
    CHECK(out.find("loaded strictly") != std::string::npos);
  }
}

TEST_CASE("cli: eval with a weights file writes beside the run's results, never over them") {
  test::ScratchDir dir("trainer_cli_foreign");
  std::string out;
  const std::string d = packed_synthetic(dir, 8, 4, 4, out);
  REQUIRE_MESSAGE(test::run_command({excap_cmd(), "train", d, "--split", "syn", "--size", "32",
                                     "--backbone", "tiny", "--device", "cpu", "--threads", "2",
                                     "--iters", "2", "--val-interval", "2", "--run", "a"},
                                    &out) == 0,
                  out);
  REQUIRE_MESSAGE(
      test::run_command({excap_cmd(), "eval", d, "--run", "a", "--device", "cpu"}, &out) == 0, out);
  const fs::path own = dir.path() / "runs/a/eval/test/metrics.json";
  const std::string own_bytes = read_file(own);
  const auto own_time = fs::last_write_time(own);

  // Another model's weights (here: a copy, so the file is not one of the run's checkpoints).
  const fs::path foreign = dir.path() / "other.safetensors";
  fs::copy_file(dir.path() / "runs/a/checkpoints" /
                    read_json_file(dir.path() / "runs/a/checkpoints/latest.json")["folder"]
                        .get<std::string>() /
                    "weights.safetensors",
                foreign);
  const std::vector<std::string> eval = {
      excap_cmd(), "eval", d, "--run", "a", "--device", "cpu", "--checkpoint", foreign.string()};
  REQUIRE_MESSAGE(test::run_command(eval, &out) == 0, out);
  CHECK(read_file(own) == own_bytes);
  CHECK(fs::last_write_time(own) == own_time);
  const fs::path beside = dir.path() / "runs/a/eval/test-other/metrics.json";
  REQUIRE(fs::exists(beside));
  CHECK(read_json_file(beside)["checkpoint"] == foreign.string());
  CHECK(read_json_file(beside)["subset"] == "test");
  CHECK(out.find(beside.string()) != std::string::npos);

  // An explicit --out names the folder; the run's own subset folder is refused for a file.
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> argv = eval;
    argv.insert(argv.end(), more.begin(), more.end());
    return argv;
  };
  REQUIRE_MESSAGE(test::run_command(with({"--out", "other_model"}), &out) == 0, out);
  CHECK(fs::exists(dir.path() / "runs/a/eval/other_model/metrics.json"));
  CHECK(test::run_command(with({"--out", "test"}), &out) != 0);
  CHECK_MESSAGE(out.find("--out test") != std::string::npos, out);
  CHECK(test::run_command(with({"--out", "../x"}), &out) != 0);
  CHECK(read_file(own) == own_bytes);
  CHECK(fs::last_write_time(own) == own_time);
}

TEST_CASE("cli: train refuses a batch larger than its training subset, before building anything") {
  test::ScratchDir dir("trainer_cli_batch");
  std::string out;
  const std::string d = packed_synthetic(dir, 6, 2, 2, out);
  const std::vector<std::string> train = {
      excap_cmd(), "train",      d,      "--split",  "syn", "--size",  "32", "--model",
      "mtcsn",     "--backbone", "tiny", "--device", "cpu", "--iters", "1",  "--run",
      "big",       "--batch",    "7"};
  CHECK(test::run_command(train, &out) != 0);
  CHECK_MESSAGE(out.find("larger than the 6 frames") != std::string::npos, out);
  CHECK_FALSE(fs::exists(dir.path() / "runs/big/checkpoints"));
}
