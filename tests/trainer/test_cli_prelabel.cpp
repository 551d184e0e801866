// `excap prelabels` and `excap prelabel` from the command line, on a tiny
// trained run: refused while the setting is off, suggestions with provenance
// at each frame's size, a rerun skips, and `excap assign --order uncertainty`
// follows the stored scores.
#include <doctest/doctest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "curation/assign.h"
#include "media/imageio.h"
#include "store/prelabel.h"
#include "store/project.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;

namespace {

std::string excap_cmd() { return test::built_binary("excap"); }

// A packed 32x32 synthetic project, users added, a 4-iteration tiny run "a",
// and 3 unlabeled 40x40 frames (no final label) beside the labeled ones.
std::string trained_project(const test::ScratchDir& dir) {
  test::SyntheticSetOptions o;
  o.size = 32;
  o.train = 8, o.val = 2, o.test = 2;
  test::make_synthetic_project(dir.path(), "syn", o);
  Project p = Project::open(dir.path());
  p.mutable_meta().users = test::curation_users();
  p.save_meta();
  test::FrameOptions fo;
  fo.size = 40;
  fo.look = test::FrameLook::Capsule;
  test::add_frames(p, 3, fo);
  const std::string d = dir.path().string();
  std::string out;
  REQUIRE_MESSAGE(
      test::run_command({excap_cmd(), "pack", d, "--split", "syn", "--size", "32"}, &out) == 0,
      out);
  REQUIRE_MESSAGE(
      test::run_command(
          {excap_cmd(), "train",          d,      "--split",  "syn", "--size",    "32", "--model",
           "mtcsn",     "--backbone",     "tiny", "--device", "cpu", "--threads", "2",  "--iters",
           "4",         "--val-interval", "4",    "--run",    "a"},
          &out) == 0,
      out);
  return d;
}

}  // namespace

TEST_CASE("cli: prelabel refused while off, then suggestions, resume and uncertainty order") {
  test::ScratchDir dir("prelabel_cli");
  const std::string d = trained_project(dir);
  const std::vector<std::string> prelabel = {excap_cmd(), "prelabel",  d,        "--run", "a",
                                             "--device",  "cpu",       "--user", "eng",   "--batch",
                                             "2",         "--threads", "2"};
  std::string out;
  CHECK(test::run_command(prelabel, &out) != 0);
  CHECK_MESSAGE(out.find("pre-labels are off") != std::string::npos, out);
  CHECK_FALSE(fs::exists(dir.path() / "suggestions"));
  // Only an expert or admin turns the setting on; the message says what it costs.
  CHECK(test::run_command({excap_cmd(), "prelabels", d, "--enable", "--user", "a"}, &out) != 0);
  REQUIRE_MESSAGE(
      test::run_command({excap_cmd(), "prelabels", d, "--enable", "--user", "expert"}, &out) == 0,
      out);
  CHECK(out.find("independence") != std::string::npos);

  REQUIRE_MESSAGE(test::run_command(prelabel, &out) == 0, out);
  CHECK_MESSAGE(out.find("prelabel: 2/3 frames") != std::string::npos, out);  // progress lines
  CHECK(out.find("written 3, skipped (same weights) 0") != std::string::npos);
  const Project p = Project::open(dir.path());
  const auto latest = read_json_file(dir.path() / "runs/a/checkpoints/latest.json");
  for (const std::string f : {"f012", "f013", "f014"}) {
    const auto s = load_suggestion(p, "a", f);
    REQUIRE_MESSAGE(s, f);
    CHECK(s->run == "a");
    CHECK(s->checkpoint == "best");
    CHECK(s->user == "eng");
    CHECK(s->weights_sha256.size() == 64);
    CHECK(s->checkpoint_iter == latest["iter"].get<int>());
    CHECK(s->width == 40);
    CHECK(s->cd_probs.size() == 3);
    CHECK(s->cd_entropy >= 0);
    CHECK(s->pixel_entropy <= 1);
    CHECK(s->fov_pixels > 0);
    CHECK(image_size(suggestion_mask_path(p, "a", f)) == cv::Size(40, 40));
    CHECK(image_size(suggestion_confidence_path(p, "a", f)) == cv::Size(40, 40));
    CHECK(cv::countNonZero(read_mask(suggestion_mask_path(p, "a", f)) > 7) == 0);
  }
  CHECK_FALSE(load_suggestion(p, "a", "syn0000"));  // labeled frames: not with --frames unlabeled
  CHECK(p.labeled_frames("eng").empty());           // never labels

  const auto before = test::tree_snapshot(dir.path() / "suggestions");
  REQUIRE(test::run_command(prelabel, &out) == 0);
  CHECK_MESSAGE(out.find("written 0, skipped (same weights) 3") != std::string::npos, out);
  CHECK(test::tree_snapshot(dir.path() / "suggestions") == before);

  REQUIRE_MESSAGE(test::run_command({excap_cmd(), "assign", d, "--annotators", "a,b", "--order",
                                     "uncertainty", "--run", "a", "--by", "expert"},
                                    &out) == 0,
                  out);
  CHECK(out.find("3 frames scored, 12 without a suggestion") != std::string::npos);
  const auto q = load_queue(p);
  REQUIRE(q);
  std::vector<std::pair<double, std::string>> scored;
  for (const std::string f : {"f012", "f013", "f014"})
    scored.emplace_back(uncertainty_score(*load_suggestion(p, "a", f)), f);
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first > y.first; });
  for (std::size_t i = 0; i < scored.size(); ++i) {
    CHECK(q->frames[i].frame == scored[i].second);
    CHECK(q->frames[i].score.value() == doctest::Approx(scored[i].first));
  }
  CHECK(q->frames[3].frame == "syn0000");  // the rest in frames.json order
  CHECK_FALSE(q->frames[3].score.has_value());
}
