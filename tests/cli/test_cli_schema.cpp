// `excap init --schema FILE.json`: bad schema files are refused with the file and the
// reason, and a two-class project runs the whole pipeline under its own class names.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "common/fsutil.h"
#include "test_support.h"
#ifdef EXCAP_TEST_HAVE_PROJECTS
#include "support/project_builder.h"
#endif

using namespace excap::test;
using nlohmann::json;

namespace {
std::string excap_cmd() { return built_binary("excap"); }

excap::fs::path sample_schema(const std::string& name) {
  return excap::fs::path(EXCAP_SOURCE_DIR) / "samples" / "schemas" / (name + ".json");
}

json bleeding_schema() { return json::parse(excap::read_file(sample_schema("bleeding"))); }

// `excap init` with `schema` written to a file: exit 1, one line naming the file and `reason`,
// no project folder.
void check_refused(const ScratchDir& tmp, const std::string& text, const std::string& reason) {
  static int n = 0;
  const std::string tag = std::to_string(n++);
  const excap::fs::path file = tmp / ("schema" + tag + ".json");
  const excap::fs::path dir = tmp / ("proj" + tag);
  excap::atomic_write(file, text);
  std::string out;
  CHECK_MESSAGE(
      run_command({excap_cmd(), "init", dir.string(), "--schema", file.string()}, &out) == 1, out);
  CHECK_MESSAGE(out.find(file.string()) != std::string::npos, out);
  CHECK_MESSAGE(out.find(reason) != std::string::npos, (reason + " not in: " + out));
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  CHECK_FALSE(excap::fs::exists(dir));
}
}  // namespace

TEST_CASE("init --schema FILE writes that schema into project.json, cecd still works") {
  ScratchDir tmp("cli-schema-init");
  std::string out;
  const std::string dir = (tmp / "bleed").string();
  REQUIRE_MESSAGE(
      run_command({excap_cmd(), "init", dir, "--schema", sample_schema("bleeding").string()},
                  &out) == 0,
      out);
  CHECK(out.find("schema bleeding: 2 CD, 2 tissue classes") != std::string::npos);
  const json project = json::parse(excap::read_file(tmp / "bleed" / "project.json"));
  CHECK(project["schema"] == bleeding_schema());
  CHECK(run_command({excap_cmd(), "info", dir}, &out) == 0);
  CHECK(out.find("(schema bleeding)") != std::string::npos);

  // The built-in name and its sample file give the same project schema.
  REQUIRE(run_command({excap_cmd(), "init", (tmp / "c1").string(), "--schema", "cecd"}, &out) == 0);
  REQUIRE(run_command({excap_cmd(), "init", (tmp / "c2").string(), "--schema",
                       sample_schema("cecd").string()},
                      &out) == 0);
  CHECK(json::parse(excap::read_file(tmp / "c1" / "project.json"))["schema"] ==
        json::parse(excap::read_file(tmp / "c2" / "project.json"))["schema"]);

  // A file without "name" takes its stem.
  json unnamed = bleeding_schema();
  unnamed.erase("name");
  excap::atomic_write(tmp / "gi-bleed.json", unnamed.dump());
  REQUIRE(run_command({excap_cmd(), "init", (tmp / "u").string(), "--schema",
                       (tmp / "gi-bleed.json").string()},
                      &out) == 0);
  CHECK(json::parse(excap::read_file(tmp / "u" / "project.json"))["schema"]["name"] == "gi-bleed");
}

TEST_CASE("init --schema refuses a bad schema file, naming the file and the reason") {
  ScratchDir tmp("cli-schema-bad");
  const json good = bleeding_schema();
  auto edited = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    return j.dump();
  };
  check_refused(tmp, "{\"cd\": [", "malformed JSON");
  check_refused(tmp, "[1, 2]", "not a label schema");
  check_refused(tmp, edited([](json& j) { j.erase("tissue"); }), "tissue");
  check_refused(tmp, edited([](json& j) { j["cd"][1]["id"] = 0; }), "id 0 appears twice");
  check_refused(tmp, edited([](json& j) { j["tissue"][1]["id"] = 2; }), "expected 1");
  check_refused(tmp, edited([](json& j) { j["tissue"][1]["name"] = "background"; }),
                "tissue class name 'background' appears twice");
  check_refused(tmp, edited([](json& j) { j["cd"][1]["name"] = "normal"; }),
                "clearness degree name 'normal' appears twice");
  check_refused(tmp, edited([](json& j) {
                  j["tissue"][1]["color"] = {255, 256, 0};
                }),
                "each 0-255");
  check_refused(tmp, edited([](json& j) { j["tissue"][0]["color"] = {-1, 0, 0}; }), "each 0-255");
  check_refused(tmp, edited([](json& j) { j["tissue"][1]["hotkey"] = "q"; }),
                "hotkey 'q' is used twice (clearness degree 'normal' and tissue class 'bleeding')");
  check_refused(tmp, edited([](json& j) { j["tissue"].erase(1); }),
                "at least 2 tissue classes, has 1");
  check_refused(tmp, edited([](json& j) { j["cd"].erase(1); }),
                "at least 2 clearness degrees, has 1");
  check_refused(tmp, edited([](json& j) { j["ignore_index"] = 1; }),
                "ignore_index 1 collides with a tissue class id");
  check_refused(tmp, edited([](json& j) { j["ignore_index"] = 254; }), "it must be 255");

  // A schema file that is not there, and a name that is neither built in nor a file.
  std::string out;
  const std::string missing = (tmp / "missing.json").string();
  CHECK(run_command({excap_cmd(), "init", (tmp / "m").string(), "--schema", missing}, &out) == 1);
  CHECK(out.find(missing) != std::string::npos);
  CHECK_FALSE(excap::fs::exists(tmp / "m"));
  CHECK(run_command({excap_cmd(), "init", (tmp / "n").string(), "--schema", "kvasir"}, &out) == 1);
  CHECK(out.find("unknown label schema (known: cecd)") != std::string::npos);
  CHECK_FALSE(excap::fs::exists(tmp / "n"));
}

#if defined(EXCAP_TEST_HAVE_PROJECTS) && defined(EXCAP_TEST_HAVE_MODEL_PROGRAM)
namespace {
// A bleeding frame's mask: background with a bleeding disc; a normal frame's: all background.
cv::Mat bleeding_mask(int size, bool bleeding, int variant) {
  cv::Mat m(size, size, CV_8UC1, cv::Scalar(0));
  if (bleeding)
    cv::circle(m, {size / 2 + variant % 3, size / 2}, size / 4, cv::Scalar(1), cv::FILLED);
  return m;
}

// Two annotators agree on every frame; the expert has already settled the first four.
void label_two_class_project(const excap::fs::path& dir, int frames, int size) {
  const excap::Project p = excap::Project::open(dir);
  FrameOptions fo;
  fo.size = size;
  fo.patients = 8;
  fo.clips = 8;
  add_frames(p, frames, fo);
  assign_all(p, {"a", "b"});
  int i = 0;
  for (const auto& f : p.load_frames()) {
    const bool bleeding = i % 3 == 0;
    const cv::Mat m = bleeding_mask(size, bleeding, i);
    add_label(p, "a", f.id, bleeding ? 1 : 0, m);
    add_label(p, "b", f.id, bleeding ? 1 : 0, m);
    if (i < 4) add_final(p, f.id, bleeding ? 1 : 0, m, "repainted", "x");
    ++i;
  }
}

std::string run_ok(const std::vector<std::string>& args) {
  std::vector<std::string> argv{excap_cmd()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  REQUIRE_MESSAGE(run_command(argv, &out) == 0, (args.front() + ": " + out));
  return out;
}
}  // namespace

TEST_CASE("a two-class project runs agreement to eval under its own class names") {
  ScratchDir tmp("cli-schema-e2e");
  const std::string d = (tmp / "p").string();
  run_ok({"init", d, "--schema", sample_schema("bleeding").string(), "--user", "a", "--user", "b",
          "--user", "x:expert"});
  label_two_class_project(tmp / "p", 40, 32);

  const std::string agreement = run_ok({"agreement", d});
  CHECK(agreement.find("bleeding") != std::string::npos);
  const json aj =
      json::parse(excap::read_file(tmp / "p" / "reports" / "agreement" / "agreement.json"));
  CHECK(aj["tissue_classes"] == json{"background", "bleeding"});
  CHECK(aj["cd_classes"] == json{"normal", "bleeding"});

  const std::string adjudicated = run_ok({"adjudicate", d, "--auto-accept", "0.5"});
  CHECK(adjudicated.find("auto-accepted 36 ") != std::string::npos);
  CHECK(adjudicated.find("already decided (untouched) 4") != std::string::npos);

  const std::string split = run_ok({"split", d, "--name", "s", "--ratios", "0.5,0.25,0.25"});
  CHECK(split.find("normal") != std::string::npos);
  run_ok({"pack", d, "--split", "s", "--size", "32"});
  run_ok({"train",      d,      "--split",  "s",   "--size",    "32", "--model", "mtcsn",
          "--backbone", "tiny", "--device", "cpu", "--threads", "2",  "--iters", "3",
          "--batch",    "4",    "--run",    "r"});
  const json config = json::parse(excap::read_file(tmp / "p" / "runs" / "r" / "config.json"));
  CHECK(config.dump().find("\"num_tissue\":2") != std::string::npos);
  CHECK(config.dump().find("\"num_cd\":2") != std::string::npos);

  CHECK(run_ok({"eval", d, "--run", "r", "--device", "cpu"}).find("mIoU") != std::string::npos);
  const excap::fs::path eval_dir = tmp / "p" / "runs" / "r" / "eval" / "test";
  const json metrics = json::parse(excap::read_file(eval_dir / "metrics.json"));
  auto classes = [](const json& per_class) {
    json names = json::array();
    for (const auto& c : per_class) names.push_back(c["class"]);
    return names;
  };
  CHECK(classes(metrics["segmentation"]["per_class"]) == json{"background", "bleeding"});
  CHECK(classes(metrics["classification"]["per_class"]) == json{"normal", "bleeding"});
  const std::string report = excap::read_file(eval_dir / "report.md");
  CHECK(report.find("background") != std::string::npos);
  CHECK(report.find("normal") != std::string::npos);
  CHECK_MESSAGE(report.find("clear tissue") == std::string::npos, report);
}
#endif
