// Pre-labels on the curation side: the project setting, the uncertainty-first
// queue read from stored suggestions, labels that record their origin, and
// agreement split by origin.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "curation/agreement.h"
#include "curation/assign.h"
#include "store/prelabel.h"
#include "support/project_builder.h"

using namespace excap;

namespace {

// A stored suggestion with the given normalised entropies (the files assign reads).
void write_suggestion(const Project& p, const std::string& run, const std::string& frame,
                      double cd_entropy, double pixel_entropy) {
  Suggestion s;
  s.frame = frame, s.run = run, s.checkpoint = "best", s.weights_sha256 = "abc";
  s.width = s.height = 32;
  s.cd_probs = {0.5, 0.3, 0.2};
  s.cd_entropy = cd_entropy, s.pixel_entropy = pixel_entropy;
  ensure_dir(suggestions_dir(p, run));
  write_json_atomic(suggestion_json_path(p, run, frame), suggestion_json(s));
}

int audit_lines(const fs::path& log) {
  std::ifstream in(log);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

}  // namespace

TEST_CASE("prelabels: off by default, only an expert or admin turns it on, audited") {
  test::CurationProject cp("prelabels-setting");
  CHECK_FALSE(Project::open(cp.root()).meta().prelabels);
  CHECK_FALSE(read_json_file(cp.root() / "project.json").contains("prelabels"));
  CHECK_THROWS_AS(set_prelabels(cp.root(), true, "a"), Error);  // an annotator
  CHECK_THROWS_AS(set_prelabels(cp.root(), true, "nobody"), Error);
  CHECK_FALSE(Project::open(cp.root()).meta().prelabels);
  CHECK(set_prelabels(cp.root(), true, "expert"));
  CHECK(Project::open(cp.root()).meta().prelabels);
  CHECK(read_json_file(cp.root() / "project.json")["prelabels"] == true);
  CHECK_FALSE(set_prelabels(cp.root(), true, "expert"));  // already on: nothing written
  CHECK(audit_lines(cp.root() / "log" / "expert.jsonl") == 1);
  CHECK(set_prelabels(cp.root(), false, "expert"));
  CHECK_FALSE(Project::open(cp.root()).meta().prelabels);
  CHECK(std::string(kPrelabelsWarning).find("independence") != std::string::npos);
}

TEST_CASE("assign --order uncertainty: queue by the stored scores, unscored frames last") {
  test::CurationProject cp("assign-uncertainty");
  cp.add_frames(6);  // f000..f005
  const Project& p = cp.project();
  write_suggestion(p, "r1", "f001", 0.2, 0.1);
  write_suggestion(p, "r1", "f003", 0.9, 0.5);
  write_suggestion(p, "r1", "f004", 0.4, 0.4);
  write_suggestion(p, "r2", "f000", 1.0, 1.0);  // another run: not read
  AssignOptions opt{{"a", "b"}, 2, 3};
  QueueOrder order{"uncertainty", "r1"};
  const AssignResult r = assign_project(p, opt, "expert", order);
  CHECK(r.scored == 3);
  CHECK(r.unscored == 3);
  const auto q = load_queue(p);
  REQUIRE(q);
  CHECK(q->order == "uncertainty");
  CHECK(q->run == "r1");
  // The expected order, from the suggestion files themselves.
  std::vector<std::pair<double, std::string>> scored;
  for (const std::string f : {"f001", "f003", "f004"})
    scored.emplace_back(uncertainty_score(*load_suggestion(p, "r1", f)), f);
  std::sort(scored.rbegin(), scored.rend());
  std::vector<std::string> want;
  for (const auto& [score, f] : scored) want.push_back(f);
  for (const std::string f : {"f000", "f002", "f005"}) want.push_back(f);  // frames.json order
  std::vector<std::string> got;
  for (const auto& e : q->frames) got.push_back(e.frame);
  CHECK(got == want);
  CHECK(q->frames[0].score.value() == doctest::Approx(0.7));
  CHECK_FALSE(q->frames[5].score.has_value());
  // A run without suggestions is refused, and the order needs a known name.
  order.run = "none";
  CHECK_THROWS_AS(assign_project(p, opt, "expert", order), Error);
  order.order = "random";
  CHECK_THROWS_AS(assign_project(p, opt, "expert", order), Error);
}

TEST_CASE("order_by_uncertainty: ties keep their previous place") {
  const std::vector<QueueEntry> prev = {
      {"x", std::nullopt, 0, 0}, {"y", 0.5, 0, 0}, {"z", 0.5, 0, 0}, {"w", 0.9, 0, 0}};
  std::vector<std::string> got;
  for (const auto& e : order_by_uncertainty(prev)) got.push_back(e.frame);
  CHECK(got == std::vector<std::string>{"w", "y", "z", "x"});
}

TEST_CASE("labels record their origin, and agreement is split by pre-labeled and from scratch") {
  test::CurationProject cp("agreement-origin");
  cp.add_frames(5);
  cp.assign_all({"a", "b"});
  const Project& p = cp.project();
  const cv::Mat m = test::planted_mask(32, 0);
  for (const std::string f : {"f000", "f001", "f002", "f003"}) {
    cp.label("a", f, 0, m);
    cp.label("b", f, f < "f002" ? 0 : 1, m);  // pre-labeled frames agree on CD, the others not
  }
  for (const std::string f : {"f000", "f001"}) {
    LabelRecord rec = *p.load_label("a", f);
    rec.from_suggestion = SuggestionOrigin{"r1", "abc", "2026-01-01T00:00:00Z"};
    p.save_label(rec);
  }
  const auto back = p.load_label("a", "f000");
  REQUIRE(back->from_suggestion);
  CHECK(back->from_suggestion->run == "r1");
  CHECK(back->from_suggestion->checkpoint == "abc");
  CHECK(read_json_file(p.label_json_path("a", "f000"))["from_suggestion"]["run"] == "r1");
  CHECK_FALSE(read_json_file(p.label_json_path("a", "f002")).contains("from_suggestion"));

  const AgreementReport r = compute_agreement(p);
  CHECK(r.prelabeled.frames == 2);
  CHECK(r.from_scratch.frames == 2);  // f004 waits for labels
  CHECK(r.prelabeled.cd_frames == 2);
  CHECK(r.prelabeled.cd_agreement == doctest::Approx(1.0));
  CHECK(r.from_scratch.cd_agreement == doctest::Approx(0.0));
  CHECK(r.prelabeled.mask_frames == 2);
  const auto j = agreement_to_json(r);
  CHECK(j["by_origin"]["prelabeled"]["frames"] == 2);
  CHECK(j["by_origin"]["from_scratch"]["frames"] == 2);
  CHECK(agreement_summary(r).find("pre-labeled: 2 frames") != std::string::npos);
}
