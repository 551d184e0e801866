#include "triage/select.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <sstream>

namespace excap::trainer {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Kept:
      return "kept";
    case Verdict::NotClear:
      return "not_clear";
    case Verdict::LittleTissue:
      return "little_tissue";
    case Verdict::TooClose:
      return "too_close";
    case Verdict::QuotaFull:
      return "quota_full";
  }
  return "?";
}

std::string SelectionRule::describe() const {
  std::ostringstream s;
  s << "Eligible: predicted clearness 'clear' and clear tissue + lesion >= " << min_visible
    << " of the field of view. Score = p(clear) * (clear tissue share + " << 1 + lesion_weight
    << " * lesion share). Taken greedily by score (ties: earlier frame), skipping any frame within "
    << min_gap_s << " s of a kept one, up to the quota floor(" << keep
    << " * processed + 0.5) (at least 1). The quota is an upper bound.";
  return s.str();
}

long long selection_quota(double keep, long long processed) {
  if (!(keep > 0) || processed <= 0) return 0;
  const long long q =
      static_cast<long long>(std::floor(keep * static_cast<double>(processed) + 0.5));
  return std::clamp(q, 1LL, processed);
}

bool triage_eligible(const FrameScore& f, const SelectionRule& rule) {
  return f.cd_pred == 0 && f.clear_tissue + f.lesion >= rule.min_visible;
}

double triage_score(const FrameScore& f, const SelectionRule& rule) {
  return f.p_clear * (f.clear_tissue + (1.0 + rule.lesion_weight) * f.lesion);
}

long long select_frames(std::vector<FrameScore>& frames, const SelectionRule& rule) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    FrameScore& f = frames[i];
    f.score = triage_score(f, rule);
    f.near_kept = -1;
    if (f.cd_pred != 0) {
      f.verdict = Verdict::NotClear;
    } else if (f.clear_tissue + f.lesion < rule.min_visible) {
      f.verdict = Verdict::LittleTissue;
    } else {
      f.verdict = Verdict::QuotaFull;  // until chosen or rejected below
      order.push_back(i);
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (frames[a].score != frames[b].score) return frames[a].score > frames[b].score;
    return frames[a].index < frames[b].index;
  });
  const long long quota = selection_quota(rule.keep, static_cast<long long>(frames.size()));
  std::map<double, long long> kept_times;  // time -> frame index, for the spacing check
  long long kept = 0;
  for (std::size_t i : order) {
    if (kept >= quota) break;  // the rest stay QuotaFull
    FrameScore& f = frames[i];
    auto after = kept_times.lower_bound(f.time_s);
    long long near = -1;
    if (after != kept_times.end() && after->first - f.time_s < rule.min_gap_s) near = after->second;
    if (near < 0 && after != kept_times.begin()) {
      auto before = std::prev(after);
      if (f.time_s - before->first < rule.min_gap_s) near = before->second;
    }
    if (near >= 0) {
      f.verdict = Verdict::TooClose;
      f.near_kept = near;
      continue;
    }
    f.verdict = Verdict::Kept;
    kept_times.emplace(f.time_s, f.index);
    ++kept;
  }
  return kept;
}

}  // namespace excap::trainer
