// CLI smoke tests: help, version, every command's help, and bad input giving
// one clear line and a non-zero exit without touching saved files.
#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "common/fsutil.h"
#include "test_support.h"

using namespace excap::test;

namespace {
std::string excap_cmd() { return built_binary("excap"); }

// `excap <group> [<sub>] --help` from a leaf path such as "clips add".
std::vector<std::string> with_help(const std::string& path) {
  std::vector<std::string> argv{excap_cmd()};
  std::istringstream words(path);
  for (std::string w; words >> w;) argv.push_back(w);
  argv.push_back("--help");
  return argv;
}

// Leaf command paths listed by `excap --help` and the groups' own help.
std::vector<std::string> leaf_commands() {
  std::vector<std::string> leaves;
  std::string out;
  run_command({excap_cmd(), "--help"}, &out);
  const auto section = out.find("Subcommands:");
  REQUIRE(section != std::string::npos);
  std::regex line(R"(^\s{2}([a-z][a-z0-9-]*)\s)");
  std::istringstream in(out.substr(section));
  std::string l;
  while (std::getline(in, l)) {
    std::smatch m;
    if (!std::regex_search(l, m, line)) continue;
    const std::string name = m[1];
    std::string sub;
    run_command({excap_cmd(), name, "--help"}, &sub);
    const auto ss = sub.find("Subcommands:");
    if (ss == std::string::npos) {
      leaves.push_back(name);
      continue;
    }
    std::istringstream in2(sub.substr(ss));
    std::string l2;
    while (std::getline(in2, l2)) {
      std::smatch m2;
      if (std::regex_search(l2, m2, line)) leaves.push_back(name + " " + std::string(m2[1]));
    }
  }
  return leaves;
}
}  // namespace

TEST_CASE("excap --help and --version") {
  std::string out;
  CHECK(run_command({excap_cmd(), "--help"}, &out) == 0);
  CHECK(out.find("init") != std::string::npos);
  CHECK(out.find("validate") != std::string::npos);
  CHECK(run_command({excap_cmd(), "--version"}, &out) == 0);
  CHECK(out.find("excap 0.") == 0);
}

TEST_CASE("every command has its own --help") {
  const auto leaves = leaf_commands();
  CHECK(leaves.size() >= 3);
  for (const auto& c : leaves) {
    std::string out;
    CHECK_MESSAGE(run_command(with_help(c), &out) == 0, c);
    CHECK_MESSAGE(out.find("Usage:") != std::string::npos, c);
  }
}

TEST_CASE("bad arguments give a non-zero exit and a message") {
  std::string out;
  CHECK(run_command({excap_cmd()}, &out) != 0);
  CHECK(run_command({excap_cmd(), "no-such-command"}, &out) != 0);
  CHECK(!out.empty());
  CHECK(run_command({excap_cmd(), "init"}, &out) != 0);
  CHECK(out.find("DIR") != std::string::npos);
  CHECK(run_command({excap_cmd(), "info", "--bogus-flag", "x"}, &out) != 0);
}

TEST_CASE("init, info and validate on a fresh project") {
  ScratchDir tmp("cli-init");
  const std::string dir = (tmp / "proj").string();
  std::string out;
  REQUIRE(
      run_command({excap_cmd(), "init", dir, "--user", "a", "--user", "b", "--user", "x:expert"},
                  &out) == 0);
  CHECK(out.find("created project") != std::string::npos);
  CHECK(run_command({excap_cmd(), "info", dir}, &out) == 0);
  CHECK(out.find("frames    0") != std::string::npos);
  CHECK(out.find("expert") != std::string::npos);
  CHECK(run_command({excap_cmd(), "info", "--json", dir}, &out) == 0);
  CHECK(out.find("\"adjudicated\": 0") != std::string::npos);
  CHECK(run_command({excap_cmd(), "validate", dir}, &out) == 0);
  CHECK(out.find("is valid") != std::string::npos);
}

TEST_CASE("errors name the file and the reason, and nothing is written") {
  ScratchDir tmp("cli-errors");
  const std::string dir = (tmp / "proj").string();
  std::string out;
  REQUIRE(run_command({excap_cmd(), "init", dir}, &out) == 0);
  const std::string before = excap::read_file(tmp / "proj" / "project.json");

  // init over an existing project: refused, project.json untouched
  CHECK(run_command({excap_cmd(), "init", dir}, &out) == 1);
  CHECK(out.find("not empty") != std::string::npos);
  CHECK(excap::read_file(tmp / "proj" / "project.json") == before);

  // an unknown schema and an escaping user id
  CHECK(run_command({excap_cmd(), "init", (tmp / "q").string(), "--schema", "nope"}, &out) == 1);
  CHECK(out.find("unknown label schema") != std::string::npos);
  CHECK(run_command({excap_cmd(), "init", (tmp / "r").string(), "--user", "../evil"}, &out) == 1);
  CHECK(out.find("not allowed") != std::string::npos);
  CHECK_FALSE(excap::fs::exists(tmp / "r" / "project.json"));

  // a corrupt project.json: one line naming the file
  excap::atomic_write(tmp / "proj" / "videos.json", "{\"format\":\"excap-videos\",\"version\":1,");
  CHECK(run_command({excap_cmd(), "info", dir}, &out) == 1);
  CHECK(out.find("videos.json") != std::string::npos);
  CHECK(out.find("malformed JSON") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(run_command({excap_cmd(), "validate", dir}, &out) == 1);
  CHECK(out.find("videos.json") != std::string::npos);

  // not a project at all
  CHECK(run_command({excap_cmd(), "info", tmp.path().string()}, &out) == 1);
  CHECK(out.find("project.json") != std::string::npos);
}

TEST_CASE("agreement --worst refuses a negative count with one line") {
  ScratchDir tmp("cli-worst");
  const std::string dir = (tmp / "proj").string();
  std::string out;
  REQUIRE(run_command({excap_cmd(), "init", dir}, &out) == 0);
  CHECK(run_command({excap_cmd(), "agreement", dir, "--worst", "-1"}, &out) == 1);
  CHECK(out == "excap: error: --worst: must be a number of frames >= 0, got -1\n");
  CHECK_FALSE(excap::fs::exists(tmp / "proj" / "reports" / "agreement"));
}

#ifdef EXCAP_TEST_HAVE_MODEL_PROGRAM
TEST_CASE("train and eval refuse numbers out of range before reading anything") {
  ScratchDir tmp("cli-train-range");
  const std::string dir = (tmp / "proj").string();
  std::string out;
  REQUIRE(run_command({excap_cmd(), "init", dir}, &out) == 0);
  const std::vector<std::vector<std::string>> bad = {
      {"--batch", "0"},  {"--batch", "-1"},  {"--batch", "4097"}, {"--iters", "0"},
      {"--lr", "0"},     {"--lr", "-0.1"},   {"--lr", "inf"},     {"--lr", "nan"},
      {"--alpha", "-1"}, {"--alpha", "inf"}, {"--alpha", "nan"},  {"--size", "15"},
      {"--size", "2049"}};
  for (const auto& b : bad) {
    CHECK(run_command({excap_cmd(), "train", dir, "--split", "s", b[0], b[1]}, &out) == 1);
    CHECK_MESSAGE(out.rfind("excap: error: " + b[0] + ": must be ", 0) == 0, out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  }
  const excap::fs::path runs = tmp / "proj" / "runs";
  CHECK((!excap::fs::exists(runs) || excap::fs::is_empty(runs)));
  for (const char* batch : {"0", "-1"}) {
    CHECK(run_command({excap_cmd(), "eval", dir, "--run", "r", "--batch", batch}, &out) == 1);
    CHECK(out == std::string("excap: error: --batch: must be >= 1, got ") + batch + "\n");
  }
}

namespace {
// The line of `help` that lists `name` as a command, or "" when absent.
std::string command_line(const std::string& help, const std::string& name) {
  std::istringstream in(help);
  std::string l;
  while (std::getline(in, l))
    if (l.rfind("  " + name + " ", 0) == 0) return l;
  return "";
}
}  // namespace

TEST_CASE("excap --help lists the model commands as excap-model describes them") {
  std::string light, full;
  REQUIRE(run_command({excap_cmd(), "--help"}, &light) == 0);
  REQUIRE(run_command({built_binary("excap-model"), "--help"}, &full) == 0);
  for (const char* name :
       {"train", "eval", "triage", "pack", "compare", "weights", "model", "demo"}) {
    CHECK_MESSAGE(!command_line(light, name).empty(), name);
    CHECK_MESSAGE(command_line(light, name) == command_line(full, name), name);
  }
  std::string bench;
  REQUIRE(run_command({excap_cmd(), "bench", "--help"}, &bench) == 0);
  for (const char* name : {"extract", "train", "triage"})
    CHECK_MESSAGE(!command_line(bench, name).empty(), name);
}

TEST_CASE("excap hands a model command to excap-model, which shows its own help") {
  std::string out;
  CHECK(run_command({excap_cmd(), "train", "--help"}, &out) == 0);
  CHECK(out.find("--iters") != std::string::npos);
  CHECK(out.find("--backbone") != std::string::npos);
  CHECK(run_command({excap_cmd(), "bench", "train", "--help"}, &out) == 0);
  CHECK(out.find("--conv-peak") != std::string::npos);
  // a model command's own errors come back unchanged
  CHECK(run_command({excap_cmd(), "eval"}, &out) != 0);
  CHECK(out.find("DIR") != std::string::npos);
}

TEST_CASE("excap without excap-model next to it: one clear line, exit 2") {
  ScratchDir tmp("cli-alone");
  const excap::fs::path alone = tmp / "excap";
  excap::fs::copy_file(excap_cmd(), alone);
  std::string out;
  CHECK(run_command({alone.string(), "train", "--help"}, &out) == 2);
  CHECK(out.find("excap-model not found next to " + alone.string()) != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK(run_command({alone.string(), "bench", "triage", "x"}, &out) == 2);
  CHECK(out.find("excap-model not found") != std::string::npos);
  // what needs no model still works there
  CHECK(run_command({alone.string(), "--version"}, &out) == 0);
  CHECK(out.find("excap 0.") == 0);
  CHECK(run_command({alone.string(), "init", (tmp / "proj").string()}, &out) == 0);
}
#endif
