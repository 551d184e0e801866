// Names on the command line (subset, run, split, user, clip, video) pass one
// rule before anything is read or written; a command acting for a user acts
// only for a user of project.json; user text is printed escaped.
#include <doctest/doctest.h>

#include <map>

#include <nlohmann/json.hpp>

#include "common/fsutil.h"
#include "common/ids.h"
#include "test_support.h"

using namespace excap::test;
namespace fs = std::filesystem;

namespace {
std::string excap_cmd() { return built_binary("excap"); }

// A project with users a, b (annotators) and x (expert) inside tmp/in/deep/.
std::string make_project(const ScratchDir& tmp) {
  const std::string dir = (tmp / "in" / "deep" / "proj").string();
  std::string out;
  REQUIRE(
      run_command({excap_cmd(), "init", dir, "--user", "a", "--user", "b", "--user", "x:expert"},
                  &out) == 0);
  return dir;
}

// Each option that takes a name, in a command line where NAME is its value.
std::vector<std::vector<std::string>> name_commands(const std::string& dir) {
  std::vector<std::vector<std::string>> c = {
      {"import", dir, "v.mp4", "--patient", "P", "--user", "NAME"},
      {"relink", dir, "v.mp4", "--user", "NAME"},
      {"clips", "add", dir, "--video", "v001", "--from", "0", "--to", "9", "--user", "NAME"},
      {"clips", "add", dir, "--video", "NAME", "--from", "0", "--to", "9"},
      {"clips", "list", dir, "--video", "NAME"},
      {"clips", "remove", dir, "NAME"},
      {"extract", dir, "--user", "NAME"},
      {"extract", dir, "--clip", "NAME"},
      {"assign", dir, "--annotators", "NAME"},
      {"assign", dir, "--annotators", "a,b", "--by", "NAME"},
      {"adjudicate", dir, "--list", "--by", "NAME"},
      {"adjudicate", dir, "--list", "--expert", "NAME"},
      {"split", dir, "--name", "NAME"},
      {"export", dir, dir + "-out", "--split", "NAME"},
      {"import-masks", dir, dir + "-src", "--user", "NAME"},
  };
#ifdef EXCAP_TEST_HAVE_MODEL_PROGRAM
  for (std::vector<std::string> m :
       std::vector<std::vector<std::string>>{{"eval", dir, "--run", "r", "--subset", "NAME"},
                                             {"eval", dir, "--run", "NAME"},
                                             {"eval", dir, "--run", "r", "--out", "NAME"},
                                             {"train", dir, "--split", "NAME"},
                                             {"train", dir, "--split", "s", "--run", "NAME"},
                                             {"pack", dir, "--split", "NAME"},
                                             {"compare", dir, "--runs", "NAME"},
                                             {"compare", dir, "--runs", "r", "--subset", "NAME"}})
    c.push_back(m);
#endif
  return c;
}

// The option just before NAME.
std::string option_of(const std::vector<std::string>& args) {
  for (std::size_t i = 1; i < args.size(); ++i)
    if (args[i] == "NAME") return args[i - 1].rfind("--", 0) == 0 ? args[i - 1] : "CLIP";
  return "";
}
}  // namespace

TEST_CASE("every name option refuses traversal, absolute paths, empty names and '/'") {
  ScratchDir tmp("cli-names");
  const std::string dir = make_project(tmp);
  const auto before = tree_snapshot(tmp.path());
  for (const auto& args : name_commands(dir)) {
    for (const std::string bad : {"../../x", "/tmp/x", "", "a/b", "..", "-"}) {
      std::vector<std::string> argv{excap_cmd()};
      for (const auto& a : args) argv.push_back(a == "NAME" ? bad : a);
      std::string out;
      const int rc = run_command(argv, &out);
      const std::string what = args[0] + " " + option_of(args) + " '" + bad + "'";
      CHECK_MESSAGE(rc != 0, what);
      if (bad != "-" && option_of(args) != "CLIP")
        CHECK_MESSAGE(out.find(option_of(args)) != std::string::npos, what << ": " << out);
      if (bad != "-")  // a lone '-' is taken for an option by the parser itself
        CHECK_MESSAGE(out.find(excap::safe_id_rule()) != std::string::npos, what << ": " << out);
    }
  }
  CHECK(tree_snapshot(tmp.path()) == before);
}

TEST_CASE("eval --subset '../../x' cannot read or write outside the project") {
  ScratchDir tmp("cli-eval-subset");
  const std::string dir = make_project(tmp);
  excap::atomic_write(tmp / "in" / "deep" / "proj" / "runs" / "R" / "config.json", "{}");
  const auto before = tree_snapshot(tmp.path());
  std::string out;
  CHECK(run_command({excap_cmd(), "eval", dir, "--run", "R", "--subset", "../../x"}, &out) != 0);
  CHECK(out.find("--subset") != std::string::npos);
  CHECK(out.find("'../../x' is not allowed: " + excap::safe_id_rule()) != std::string::npos);
  CHECK(tree_snapshot(tmp.path()) == before);
}

TEST_CASE("a command acting for a user refuses one not in project.json, writing nothing") {
  ScratchDir tmp("cli-users");
  const std::string dir = make_project(tmp);
  const auto before = tree_snapshot(tmp.path());
  const std::vector<std::vector<std::string>> cmds = {
      {"clips", "add", dir, "--video", "v001", "--from", "0", "--to", "9", "--user", "zed"},
      {"clips", "add", dir, "--video", "v001", "--from", "0", "--to", "9", "--by", "zed"},
      {"import", dir, (tmp / "v.mp4").string(), "--patient", "P", "--user", "zed"},
      {"extract", dir, "--user", "zed"},
      {"assign", dir, "--annotators", "a,b", "--by", "zed"},
      {"assign", dir, "--annotators", "a,zed", "--per-frame", "1"},
      {"adjudicate", dir, "--auto-accept", "0.9", "--by", "zed"},
      {"adjudicate", dir, "--simulated-expert", dir, "--expert", "zed"},
      {"import-masks", dir, (tmp / "src").string(), "--user", "zed"},
      {"clips", "remove", dir, "v001-c1", "--user", "zed"},
      {"relink", dir, (tmp / "v.mp4").string(), "--user", "zed"}};
  for (const auto& args : cmds) {
    std::vector<std::string> argv{excap_cmd()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    CHECK_MESSAGE(run_command(argv, &out) == 1, args[0]);
    CHECK_MESSAGE(out.find("zed: not a user of this project") != std::string::npos,
                  args[0] << ": " << out);
    CHECK_MESSAGE(out.find("lists: a, b, x") != std::string::npos, args[0] << ": " << out);
  }
  CHECK(tree_snapshot(tmp.path()) == before);
}

TEST_CASE("clips list, info and errors print user text escaped, never raw") {
  ScratchDir tmp("cli-escape");
  const fs::path proj = tmp / "proj";
  std::string out;
  REQUIRE(run_command({excap_cmd(), "init", proj.string(), "--user", "a"}, &out) == 0);
  const nlohmann::json clips = {{"format", "excap-clips"},
                                {"version", 1},
                                {"clips",
                                 {{{"id", "v001-c1"},
                                   {"video", "v001"},
                                   {"start", 0},
                                   {"end", 10},
                                   {"by", "a"},
                                   {"note", "polyp\r\n\x1b[2Jhidden"}}}}};
  excap::atomic_write(proj / "clips.json", clips.dump());
  REQUIRE(run_command({excap_cmd(), "clips", "list", proj.string()}, &out) == 0);
  CHECK(out.find("\"polyp\\r\\n\\x1b[2Jhidden\"") != std::string::npos);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find('\r') == std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  // --json escapes by JSON's own rules.
  REQUIRE(run_command({excap_cmd(), "clips", "list", proj.string(), "--json"}, &out) == 0);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find("\\u001b[2J") != std::string::npos);

  // A folder name and an error naming it.
  const fs::path odd = tmp / "p\x1b[2Jq";
  fs::rename(proj, odd);
  REQUIRE(run_command({excap_cmd(), "info", odd.string()}, &out) == 0);
  CHECK(out.find("p\\x1b[2Jq") != std::string::npos);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(run_command({excap_cmd(), "info", (tmp / "gone\r\x1b[1A").string()}, &out) == 1);
  CHECK(out.find("gone\\r\\x1b[1A") != std::string::npos);
  CHECK(out.find('\x1b') == std::string::npos);
}
