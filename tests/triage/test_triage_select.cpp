// The selection rule of triage/select.h on hand-made frame lists.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "triage/select.h"

using namespace excap::trainer;

namespace {

FrameScore frame(long long index, double fps, int cd, double p_clear, double tissue,
                 double lesion) {
  FrameScore f;
  f.index = index;
  f.time_s = index / fps;
  f.cd_pred = cd;
  f.p_clear = p_clear;
  f.clear_tissue = tissue;
  f.lesion = lesion;
  return f;
}

}  // namespace

TEST_CASE("triage quota is floor(keep * processed + 0.5), at least 1, never above the count") {
  CHECK(selection_quota(0.1, 1000) == 100);
  CHECK(selection_quota(0.1, 14) == 1);
  CHECK(selection_quota(0.1, 15) == 2);
  CHECK(selection_quota(0.1, 3) == 1);
  CHECK(selection_quota(0.0, 100) == 0);
  CHECK(selection_quota(1.0, 7) == 7);
  CHECK(selection_quota(0.1, 0) == 0);
}

TEST_CASE("triage keeps clear, informative frames by score and gives every other frame a reason") {
  std::vector<FrameScore> frames = {
      frame(0, 1, 1, 0.2, 0.9, 0.0),   // blurred: not clear
      frame(10, 1, 0, 0.9, 0.1, 0.0),  // clear but little tissue
      frame(20, 1, 0, 0.9, 0.5, 0.0),  // eligible
      frame(30, 1, 0, 0.8, 0.3, 0.3),  // eligible, lesion counts double
      frame(40, 1, 2, 0.1, 0.0, 0.0),  // invisible
  };
  SelectionRule rule;
  rule.keep = 0.4;  // quota 2
  rule.min_gap_s = 1;
  CHECK(select_frames(frames, rule) == 2);
  CHECK(frames[0].verdict == Verdict::NotClear);
  CHECK(frames[1].verdict == Verdict::LittleTissue);
  CHECK(frames[2].verdict == Verdict::Kept);
  CHECK(frames[3].verdict == Verdict::Kept);
  CHECK(frames[4].verdict == Verdict::NotClear);
  CHECK(frames[3].score == doctest::Approx(0.8 * (0.3 + 2 * 0.3)));
  CHECK(frames[3].score > frames[2].score);
  CHECK(std::string(verdict_name(Verdict::TooClose)) == "too_close");
}

TEST_CASE("triage spacing: one still stretch cannot fill the quota") {
  // 10 fps; a still stretch of 50 identical high-scoring frames (0..49), then
  // 50 lower-scoring but still eligible frames (50..99).
  std::vector<FrameScore> frames;
  for (int i = 0; i < 100; ++i) frames.push_back(frame(i, 10, 0, i < 50 ? 0.99 : 0.7, 0.8, 0.0));
  SelectionRule rule;
  rule.keep = 0.1;
  rule.min_gap_s = 1.0;
  const long long kept = select_frames(frames, rule);
  CHECK(kept == 10);
  std::vector<double> times;
  int from_still = 0;
  for (const auto& f : frames) {
    if (f.verdict == Verdict::Kept) {
      times.push_back(f.time_s);
      from_still += f.index < 50;
    }
    if (f.verdict == Verdict::TooClose) {
      REQUIRE(f.near_kept >= 0);
      CHECK(std::abs(frames[f.near_kept].time_s - f.time_s) < 1.0);
      CHECK(frames[f.near_kept].verdict == Verdict::Kept);
    }
  }
  std::sort(times.begin(), times.end());
  for (std::size_t i = 1; i < times.size(); ++i) CHECK(times[i] - times[i - 1] >= 1.0 - 1e-9);
  CHECK(from_still == 5);  // 5 s of still video: at most one kept frame per second
  CHECK(kept - from_still == 5);
}

TEST_CASE("triage quota is an upper bound: few eligible frames keep few") {
  std::vector<FrameScore> frames;
  for (int i = 0; i < 100; ++i) frames.push_back(frame(i, 1, i % 25 == 0 ? 0 : 1, 0.9, 0.9, 0.0));
  SelectionRule rule;
  rule.keep = 0.1;
  rule.min_gap_s = 0;
  CHECK(select_frames(frames, rule) == 4);
  rule.keep = 0.02;
  CHECK(select_frames(frames, rule) == 2);
  long long quota_full = 0;
  for (const auto& f : frames) quota_full += f.verdict == Verdict::QuotaFull;
  CHECK(quota_full == 2);
}

TEST_CASE("triage ties are broken by the earlier frame, so the result is deterministic") {
  std::vector<FrameScore> frames;
  for (int i = 0; i < 10; ++i) frames.push_back(frame(i, 1, 0, 0.9, 0.5, 0.0));
  SelectionRule rule;
  rule.keep = 0.3;
  rule.min_gap_s = 0;
  select_frames(frames, rule);
  CHECK(frames[0].verdict == Verdict::Kept);
  CHECK(frames[1].verdict == Verdict::Kept);
  CHECK(frames[2].verdict == Verdict::Kept);
  CHECK(frames[3].verdict == Verdict::QuotaFull);
  CHECK(rule.describe().find("floor(0.3") != std::string::npos);
}
