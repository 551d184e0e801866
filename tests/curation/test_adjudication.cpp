#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "curation/adjudication.h"
#include "support/project_builder.h"

using namespace excap;

namespace {

std::string bytes_of(const fs::path& p) { return read_file(p); }

// f000 agree exactly; f001 small boundary disagreement (IoU high); f002 CD
// differs; f003 masks differ a lot; f004 B unfinished.
void plant(test::CurationProject& cp) {
  cp.add_frames(5);
  cp.assign_all({"a", "b"});
  const cv::Mat m = test::planted_mask(32);
  cp.label("a", "f000", 0, m);
  cp.label("b", "f000", 0, m);
  cv::Mat edge = m.clone();
  edge.at<std::uint8_t>(16, 30) = cecd::kBackground;  // one boundary pixel
  cp.label("a", "f001", 0, m);
  cp.label("b", "f001", 0, edge);
  cp.label("a", "f002", 0, m);
  cp.label("b", "f002", 1, m);
  cv::Mat other = m.clone();
  other.setTo(cecd::kBlurredTissue, m == cecd::kClearTissue);
  cp.label("a", "f003", 1, m);
  cp.label("b", "f003", 1, other);
  cp.label("a", "f004", 0, m);
}

}  // namespace

TEST_CASE("adjudication: display names never reveal annotators") {
  CHECK(annotator_display_name(0) == "Annotator 1");
  CHECK(annotator_display_name(1) == "Annotator 2");
}

TEST_CASE("auto-accept: the documented rule, source/expert/time recorded") {
  test::CurationProject cp("auto-accept");
  plant(cp);
  AutoAcceptOptions opt;
  opt.iou_threshold = 0.9;
  AutoAcceptResult r = auto_accept(cp.project(), opt);
  CHECK(r.accepted == 2);  // f000, f001
  CHECK(r.cd_differs == 1);
  CHECK(r.below_threshold == 1);
  CHECK(r.waiting_for_labels == 1);
  auto f0 = cp.project().load_final("f000");
  REQUIRE(f0);
  CHECK(f0->source == "agreed");
  CHECK(f0->expert == "auto");
  CHECK(!f0->time.empty());
  CHECK(f0->annotators == std::vector<std::string>{"a", "b"});
  CHECK(f0->agreement_iou == doctest::Approx(1.0));
  CHECK(cv::countNonZero(read_mask(cp.project().final_mask_path("f000")) !=
                         test::planted_mask(32)) == 0);
  // The lone disagreeing pixel sits on the tissue edge: its 5x5 neighbourhood
  // holds more agreed tissue than background, so it becomes tissue.
  cv::Mat m1 = read_mask(cp.project().final_mask_path("f001"));
  CHECK(m1.at<std::uint8_t>(16, 30) == cecd::kClearTissue);
  CHECK(!cp.project().load_final("f002"));
  // A stricter threshold now, and the dry run: nothing decided changes.
  AutoAcceptOptions strict;
  strict.iou_threshold = 1.0;
  strict.dry_run = true;
  AutoAcceptResult again = auto_accept(cp.project(), strict);
  CHECK(again.accepted == 0);
  CHECK(again.already_decided == 2);
}

TEST_CASE("auto-accept never touches an expert's decision") {
  test::CurationProject cp("auto-accept-expert");
  plant(cp);
  // The expert decides f000 (takes B) and f002 before any auto-accept.
  AdjudicationDraft d(load_adjudication_case(cp.project(), "f000"));
  d.take(Side::B);
  d.set_cd(cecd::kBlur);  // deliberately unlike the annotators
  save_expert_decision(cp.project(), d, "expert");
  AdjudicationDraft d2(load_adjudication_case(cp.project(), "f002"));
  d2.set_cd(cecd::kClear);
  save_expert_decision(cp.project(), d2, "expert");
  const std::string json0 = bytes_of(cp.project().final_json_path("f000"));
  const std::string png0 = bytes_of(cp.project().final_mask_path("f000"));
  for (double t : {0.0, 0.5, 0.9, 1.0}) {
    AutoAcceptOptions opt;
    opt.iou_threshold = t;
    AutoAcceptResult r = auto_accept(cp.project(), opt);
    CHECK(r.already_decided >= 2);
  }
  CHECK(bytes_of(cp.project().final_json_path("f000")) == json0);
  CHECK(bytes_of(cp.project().final_mask_path("f000")) == png0);
  CHECK(cp.project().load_final("f000")->cd == cecd::kBlur);
  CHECK(cp.project().load_final("f002")->expert == "expert");
}

TEST_CASE("expert decisions: role check, no silent overwrite, auto replaced") {
  test::CurationProject cp("expert-save");
  plant(cp);
  AdjudicationDraft d(load_adjudication_case(cp.project(), "f003"));
  CHECK_THROWS_WITH_AS(save_expert_decision(cp.project(), d, "a"),
                       doctest::Contains("only an expert"), Error);
  CHECK_THROWS_WITH_AS(save_expert_decision(cp.project(), d, "nobody"),
                       doctest::Contains("not a user"), Error);
  FinalLabel f = save_expert_decision(cp.project(), d, "expert");
  CHECK(f.source == "A");
  CHECK(f.expert == "expert");
  d.take(Side::B);
  CHECK_THROWS_WITH_AS(save_expert_decision(cp.project(), d, "expert"),
                       doctest::Contains("already decided"), Error);
  SaveOptions revise;
  revise.replace_expert_decision = true;
  CHECK(save_expert_decision(cp.project(), d, "expert", revise).source == "B");
  // An auto-accepted frame may be overruled by the expert.
  auto_accept(cp.project(), {0.9, "excap", false});
  REQUIRE(cp.project().load_final("f001")->expert == "auto");
  AdjudicationDraft d1(load_adjudication_case(cp.project(), "f001"));
  d1.take(Side::B);
  CHECK(save_expert_decision(cp.project(), d1, "expert").source == "B");
  CHECK(cp.project().load_final("f001")->expert == "expert");
  // Audit trail names the expert.
  CHECK(read_file(cp.root() / "log" / "expert.jsonl").find("adjudicate") != std::string::npos);
}

TEST_CASE("diff view, disagreement regions, pick region by region") {
  cv::Mat a(20, 20, CV_8UC1, cv::Scalar(1)), b = a.clone();
  a(cv::Rect(2, 2, 3, 3)).setTo(3);     // region 1: A lesion, B tissue
  b(cv::Rect(12, 12, 4, 2)).setTo(4);   // region 2: B hole, A tissue
  a(cv::Rect(0, 19, 2, 1)).setTo(255);  // A unlabeled at two pixels
  cv::Mat pd = pixel_diff(a, b);
  DiffCounts dc = count_diff(pd);
  CHECK(dc.differ == 9 + 8);
  CHECK(dc.b_only == 2);
  CHECK(dc.a_only == 0);
  CHECK(dc.agree == 400 - 17 - 2);
  cv::Mat cdiff = class_diff(a, b, 3);
  CHECK(cv::countNonZero(cdiff == static_cast<int>(ClassDiff::AOnly)) == 9);
  CHECK(cv::countNonZero(cdiff == static_cast<int>(ClassDiff::Both)) == 0);
  cv::Mat cdiff1 = class_diff(a, b, 1);
  CHECK(cv::countNonZero(cdiff1 == static_cast<int>(ClassDiff::BOnly)) == 9 + 2);
  CHECK(cv::countNonZero(cdiff1 == static_cast<int>(ClassDiff::AOnly)) == 8);

  DisagreementMap dm = disagreement_regions(a, b);
  REQUIRE(dm.regions.size() == 3);
  int lesion = 0, hole = 0;
  for (const auto& r : dm.regions) {
    if (r.class_a == 3) {
      lesion = r.id;
      CHECK(r.area == 9);
      CHECK(r.class_b == 1);
    }
    if (r.class_b == 4) {
      hole = r.id;
      CHECK(r.area == 8);
      CHECK(r.box == cv::Rect(12, 12, 4, 2));
    }
  }
  REQUIRE(lesion > 0);
  REQUIRE(hole > 0);

  AdjudicationCase c;
  c.frame = "f";
  c.annotators = {"a", "b"};
  c.cd = {0, 0};
  c.mask = {a, b};
  AdjudicationDraft d(c);
  CHECK(d.source() == FinalSource::A);
  CHECK(d.region_at(3, 3) == lesion);
  CHECK(d.region_at(10, 10) == 0);
  d.pick_region(hole, Side::B);  // A's lesion and B's hole
  CHECK(d.source() == FinalSource::Merged);
  CHECK(d.mask().at<std::uint8_t>(3, 3) == 3);
  CHECK(d.mask().at<std::uint8_t>(12, 12) == 4);
  d.take(Side::B);
  CHECK(d.source() == FinalSource::B);
  cv::Mat painted = d.mask().clone();
  painted.at<std::uint8_t>(10, 10) = 7;
  d.repaint(painted);
  CHECK(d.source() == FinalSource::Repainted);
  CHECK_THROWS_AS(d.pick_region(99, Side::A), Error);
}

TEST_CASE("consensus mask: symmetric, majority for three annotators") {
  cv::Mat a(9, 9, CV_8UC1, cv::Scalar(1)), b = a.clone();
  a(cv::Rect(0, 0, 5, 9)).setTo(2);  // A: blurred left 5 columns
  b(cv::Rect(0, 0, 4, 9)).setTo(2);  // B: blurred left 4 columns; column 4 disputed
  cv::Mat ab = consensus_mask({a, b}), ba = consensus_mask({b, a});
  CHECK(cv::countNonZero(ab != ba) == 0);
  cv::Mat c = b.clone();
  cv::Mat abc = consensus_mask({a, b, c});
  CHECK(cv::countNonZero(abc != b) == 0);  // 2 of 3 vote with B everywhere
  cv::Mat u(3, 3, CV_8UC1, cv::Scalar(255));
  CHECK(cv::countNonZero(consensus_mask({u, u}) != 255) == 0);
}

TEST_CASE("undecided frames queue and the simulated expert") {
  test::CurationProject cp("undecided");
  plant(cp);
  auto u = undecided_frames(cp.project());
  CHECK(u.size() == 5);
  int ready = 0, acceptable = 0;
  for (const auto& x : u) ready += x.ready, acceptable += x.auto_acceptable;
  CHECK(ready == 4);
  CHECK(acceptable == 2);
  CHECK(next_undecided_frame(cp.project()) == std::optional<std::string>("f000"));
  CHECK(next_undecided_frame(cp.project(), "f000") == std::optional<std::string>("f001"));
  CHECK(next_undecided_frame(cp.project(), "f003") == std::optional<std::string>("f000"));
  auto_accept(cp.project(), {0.9, "excap", false});
  CHECK(undecided_frames(cp.project()).size() == 3);

  // Ground truth: f002 as A's mask with CD blur; f003 with B's blurred tissue.
  const fs::path truth = cp.root().parent_path() / "truth";
  ensure_dir(truth);
  const cv::Mat m = test::planted_mask(32);
  cv::Mat other = m.clone();
  other.setTo(cecd::kBlurredTissue, m == cecd::kClearTissue);
  write_png_atomic(truth / "f002.png", m);
  write_png_atomic(truth / "f003.png", other);
  atomic_write(truth / "truth.json",
               R"({"frames": [{"id": "f002", "cd": 1}, {"id": "f003", "cd": 1}]})");
  SimulatedExpertResult r = simulated_expert(cp.project(), "expert", truth_from_folder(truth));
  CHECK(r.decided == 2);
  CHECK(r.not_ready == 1);  // f004 has one label
  auto f3 = cp.project().load_final("f003");
  REQUIRE(f3);
  CHECK(f3->source == "B");
  CHECK(f3->expert == "expert");
  CHECK(cp.project().load_final("f002")->cd == 1);
  CHECK(cv::countNonZero(read_mask(cp.project().final_mask_path("f003")) != other) == 0);
}

TEST_CASE("final source: on-disk spellings round-trip, nothing else parses") {
  const std::vector<std::pair<FinalSource, std::string>> disk = {
      {FinalSource::Agreed, "agreed"},
      {FinalSource::A, "A"},
      {FinalSource::B, "B"},
      {FinalSource::Merged, "merged"},
      {FinalSource::Repainted, "repainted"}};
  for (const auto& [source, text] : disk) {
    CHECK(to_string(source) == text);
    CHECK(parse_final_source(text) == std::optional<FinalSource>(source));
  }
  for (const char* other : {"", "a", "Agreed", "auto", "merged ", "approved"})
    CHECK_FALSE(parse_final_source(other).has_value());
  CHECK(allowed_final_sources() == "agreed, A, B, merged, repainted");
}

TEST_CASE("final source: a final label with another source is refused, naming the file") {
  test::CurationProject cp("bad-source");
  plant(cp);
  auto_accept(cp.project(), {0.9, "excap", false});
  const fs::path file = cp.project().final_json_path("f000");
  nlohmann::json j = nlohmann::json::parse(read_file(file));
  REQUIRE(j.at("source") == "agreed");  // the on-disk spelling is unchanged
  CHECK(load_final_label(cp.project(), "f000")->source == "agreed");
  j["source"] = "approved";
  atomic_write(file, j.dump());

  std::string message;
  try {
    load_final_label(cp.project(), "f000");
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find(file.string()) != std::string::npos);
  CHECK(message.find("'approved'") != std::string::npos);
  CHECK(message.find("agreed, A, B, merged, repainted") != std::string::npos);
  // Auto-accept reads the decided frames too, and stops at the bad record.
  CHECK_THROWS_AS(auto_accept(cp.project(), {0.9, "excap", false}), Error);
  CHECK_FALSE(load_final_label(cp.project(), "f004").has_value());  // no label is no error
}

TEST_CASE("a mask holding a class outside the schema blocks its frame, naming file, class, count") {
  test::CurationProject cp("adjudication-out-of-schema");
  cp.add_frames(3);
  cp.assign_all({"a", "b"});
  const cv::Mat m = test::planted_mask(32);
  cv::Mat nine = m.clone(), two_hundred = m.clone();
  nine(cv::Rect(0, 0, 3, 1)).setTo(9);  // 3 pixels
  two_hundred.at<std::uint8_t>(10, 10) = 200;
  cv::Mat unlabeled = m.clone();
  unlabeled.at<std::uint8_t>(0, 0) = cecd::kIgnore;  // the ignore index blocks nothing
  cp.label("a", "f000", 0, nine);
  cp.label("b", "f000", 0, m);
  cp.label("a", "f001", 0, m);
  cp.label("b", "f001", 0, two_hundred);
  cp.label("a", "f002", 0, m);
  cp.label("b", "f002", 0, unlabeled);
  const Project& p = cp.project();

  const auto frames = undecided_frames(p);
  REQUIRE(frames.size() == 3);
  REQUIRE(frames[0].blocked.size() == 1);
  CHECK(frames[0].blocked[0].find(p.label_mask_path("a", "f000").string()) == 0);
  CHECK(frames[0].blocked[0].find("3 pixel(s) hold class id 9") != std::string::npos);
  CHECK_FALSE(frames[0].ready);
  CHECK_FALSE(frames[0].auto_acceptable);
  REQUIRE(frames[1].blocked.size() == 1);
  CHECK(frames[1].blocked[0].find("labels/b/f001.png: 1 pixel(s) hold class id 200") !=
        std::string::npos);
  CHECK_FALSE(frames[1].ready);
  CHECK(frames[2].blocked.empty());
  CHECK(frames[2].ready);
  CHECK(next_undecided_frame(p) == std::optional<std::string>("f002"));

  CHECK_THROWS_WITH_AS(load_adjudication_case(p, "f000"),
                       doctest::Contains("f000.png: 3 pixel(s) hold class id 9"), Error);
  CHECK_THROWS_WITH_AS(load_adjudication_case(p, "f001"), doctest::Contains("class id 200"), Error);

  AutoAcceptOptions opt;
  opt.iou_threshold = 0.0;
  const AutoAcceptResult r = auto_accept(p, opt);
  CHECK(r.blocked == 2);
  REQUIRE(r.blocked_reasons.size() == 2);
  CHECK(r.blocked_reasons[0].find("frame 'f000' refused: ") == 0);
  CHECK(r.blocked_reasons[0].find("class id 9") != std::string::npos);
  CHECK(r.blocked_reasons[1].find("class id 200") != std::string::npos);
  CHECK_FALSE(p.load_final("f000"));
  CHECK_FALSE(p.load_final("f001"));
}
