#include "curation/agreement.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "media/imageio.h"
#include "store/project.h"

namespace excap {

using nlohmann::json;

double cohen_kappa(const std::vector<long long>& confusion, int k, KappaWeights weights) {
  return metrics::cohen_kappa(metrics::ConfusionMatrix::from_counts(confusion, k), weights);
}

double cohen_kappa(const std::vector<int>& a, const std::vector<int>& b, int k,
                   KappaWeights weights) {
  metrics::ConfusionMatrix m(k);
  m.process(a, b);
  return metrics::cohen_kappa(m, weights);
}

ClassAreas compare_masks(const cv::Mat& a, const cv::Mat& b, int num_classes, int ignore_index) {
  if (a.size() != b.size())
    throw Error("compare masks", "sizes differ: " + std::to_string(a.cols) + "x" +
                                     std::to_string(a.rows) + " vs " + std::to_string(b.cols) +
                                     "x" + std::to_string(b.rows));
  if (a.type() != CV_8UC1 || b.type() != CV_8UC1)
    throw Error("compare masks", "masks must be 8-bit single channel");
  // Neither annotator is the reference: a pixel either left unlabeled is not compared.
  ClassAreas r(num_classes, ignore_index, metrics::IgnoreIn::Either);
  for (int y = 0; y < a.rows; ++y)  // row by row: a cv::Mat view need not be continuous
    r.process(b.ptr<std::uint8_t>(y), a.ptr<std::uint8_t>(y), static_cast<std::size_t>(a.cols));
  return r;
}

// ---- consistency ----

namespace {
// Pixel count of each 8-bit value of a mask.
std::vector<long long> value_histogram(const cv::Mat& mask) {
  std::vector<long long> hist(256, 0);
  for (int y = 0; y < mask.rows; ++y) {
    const std::uint8_t* p = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) ++hist[p[x]];
  }
  return hist;
}
}  // namespace

std::vector<ConsistencyFlag> check_consistency(const std::string& frame, const std::string& user,
                                               std::optional<int> cd, const cv::Mat& mask,
                                               const LabelSchema& schema,
                                               const ConsistencyRules& rules) {
  std::vector<ConsistencyFlag> out;
  auto flag = [&](const std::string& rule, const std::string& msg, double v) {
    out.push_back({frame, user, rule, msg, v});
  };
  if (!cd) flag("no-cd", "no clearness degree chosen", 0);
  if (mask.empty()) {
    flag("missing-mask", "no mask", 0);
    return out;
  }
  const std::vector<long long> hist = value_histogram(mask);
  long long bad = 0;
  for (int v = schema.num_tissue(); v < 256; ++v)
    if (v != schema.ignore_index) bad += hist[v];
  if (bad) flag("bad-values", std::to_string(bad) + " pixels hold values outside the schema", bad);
  if (schema.ignore_index >= 0 && schema.ignore_index < 256 && hist[schema.ignore_index])
    flag("incomplete-mask", std::to_string(hist[schema.ignore_index]) + " pixels not yet labeled",
         hist[schema.ignore_index]);
  const int bg = schema.tissue_id("background");
  long long fov = 0;
  for (int v = 0; v < schema.num_tissue(); ++v)
    if (v != bg) fov += hist[v];
  auto share = [&](std::initializer_list<const char*> names) -> double {
    long long s = 0;
    for (const char* n : names) {
      const int id = schema.tissue_id(n);
      if (id < 0) return std::nan("");
      s += hist[id];
    }
    return fov ? double(s) / fov : 0.0;
  };
  if (!cd) return out;
  const double visible = share({"clear tissue", "lesion"});
  const double covered = share({"invisible by bubble", "invisible by excreta"});
  const double blurred = share({"blurred tissue"});
  char buf[160];
  if (*cd == schema.cd_id("invisible") && visible > rules.invisible_max_visible_share) {
    std::snprintf(buf, sizeof buf,
                  "CD 'invisible' but %.0f%% of the field of view is clear tissue or lesion",
                  100 * visible);
    flag("invisible-but-clear", buf, visible);
  }
  if (*cd == schema.cd_id("clear") && covered > rules.clear_max_invisible_share) {
    std::snprintf(buf, sizeof buf,
                  "CD 'clear' but %.0f%% of the field of view is covered by bubbles or excreta",
                  100 * covered);
    flag("clear-but-covered", buf, covered);
  }
  if (*cd == schema.cd_id("clear") && blurred > rules.clear_max_blurred_share) {
    std::snprintf(buf, sizeof buf, "CD 'clear' but %.0f%% of the field of view is blurred tissue",
                  100 * blurred);
    flag("clear-but-blurred", buf, blurred);
  }
  if (*cd == schema.cd_id("blur") && blurred < rules.blur_min_blurred_share &&
      visible > rules.blur_visible_share) {
    std::snprintf(buf, sizeof buf,
                  "CD 'blur' but no blurred tissue and %.0f%% clear tissue or lesion",
                  100 * visible);
    flag("blur-but-sharp", buf, visible);
  }
  if (fov == 0 && *cd == schema.cd_id("clear") && mask.total() > 0 && bg >= 0 && hist[bg] > 0)
    flag("clear-but-empty", "CD 'clear' but the mask has no field of view (all background)", 0);
  return out;
}

// ---- project report ----

bool frame_auto_acceptable(const FrameReview& r, double iou_threshold) {
  return r.complete && r.cd_a && r.cd_b && *r.cd_a == *r.cd_b && !std::isnan(r.mean_iou) &&
         r.mean_iou >= iou_threshold;
}

namespace {

cv::Mat load_mask_if_any(const Project& p, const std::string& user, const std::string& frame) {
  const fs::path path = p.label_mask_path(user, frame);
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  return read_mask(path);
}

// One annotator's label of a frame, as compared.
struct Lab {
  std::string user;
  std::optional<int> cd;
  cv::Mat mask;
  bool from_suggestion = false;
};

// What one pair of annotators accumulates over the frames both labeled.
struct PairTally {
  metrics::ConfusionMatrix cd;
  ClassAreas areas;
  int mask_frames = 0;
};
using PairKey = std::pair<std::string, std::string>;

// The labels of `frame` by its assigned users; an invalid CD is flagged and
// dropped, every label is checked for CD/mask consistency.
std::vector<Lab> load_labels(const Project& project, const std::string& frame,
                             const std::vector<std::string>& users, const AgreementOptions& opt,
                             std::vector<ConsistencyFlag>& flags) {
  const LabelSchema& schema = project.meta().schema;
  std::vector<Lab> labs;
  for (const auto& u : users) {
    auto rec = project.load_label(u, frame);
    if (!rec) continue;
    Lab l{u, rec->cd, load_mask_if_any(project, u, frame), rec->from_suggestion.has_value()};
    if (l.cd && !schema.valid_cd(*l.cd)) {
      flags.push_back({frame, u, "bad-cd",
                       "CD value " + std::to_string(*l.cd) + " is not in the schema",
                       double(*l.cd)});
      l.cd.reset();
    }
    for (auto& f : check_consistency(frame, u, l.cd, l.mask, schema, opt.rules))
      flags.push_back(std::move(f));
    labs.push_back(std::move(l));
  }
  return labs;
}

// Every pair of the frame's labels enters its pair's statistics.
void tally_pairs(const std::vector<Lab>& labs, const LabelSchema& schema,
                 std::map<PairKey, PairTally>& pairs) {
  for (std::size_t i = 0; i < labs.size(); ++i)
    for (std::size_t j = i + 1; j < labs.size(); ++j) {
      const bool swap = labs[j].user < labs[i].user;  // pairs keyed in name order
      const Lab& A = swap ? labs[j] : labs[i];
      const Lab& B = swap ? labs[i] : labs[j];
      auto it = pairs.find({A.user, B.user});
      if (it == pairs.end())
        it = pairs
                 .emplace(PairKey{A.user, B.user},
                          PairTally{metrics::ConfusionMatrix(schema.num_cd()),
                                    ClassAreas(schema.num_tissue(), schema.ignore_index,
                                               metrics::IgnoreIn::Either),
                                    0})
                 .first;
      PairTally& t = it->second;
      if (A.cd && B.cd) t.cd.add(*A.cd, *B.cd);
      if (!A.mask.empty() && !B.mask.empty() && A.mask.size() == B.mask.size()) {
        t.areas.add(compare_masks(A.mask, B.mask, schema.num_tissue(), schema.ignore_index));
        ++t.mask_frames;
      }
    }
}

// Pre-labeled when any label of the frame started from a suggestion.
bool frame_prelabeled(const std::vector<Lab>& labs) {
  for (const auto& l : labs)
    if (l.from_suggestion) return true;
  return false;
}

OriginAgreement finish_origin(const std::map<PairKey, PairTally>& pairs, int frames,
                              const LabelSchema& schema) {
  OriginAgreement o;
  o.frames = frames;
  std::vector<long long> counts(std::size_t(schema.num_cd()) * schema.num_cd(), 0);
  o.areas = ClassAreas(schema.num_tissue(), schema.ignore_index, metrics::IgnoreIn::Either);
  for (const auto& [key, t] : pairs) {  // pooled over pairs, all in name order
    for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += t.cd.counts()[i];
    o.areas.add(t.areas);
    o.mask_frames += t.mask_frames;
  }
  const auto cd = metrics::ConfusionMatrix::from_counts(counts, schema.num_cd());
  o.cd_frames = static_cast<int>(cd.total());
  o.kappa = metrics::cohen_kappa(cd);
  o.cd_agreement = cd.agreement();
  return o;
}

PairAgreement finish_pair(const PairKey& key, const PairTally& t) {
  PairAgreement pa;
  pa.a = key.first, pa.b = key.second;
  pa.cd_confusion = t.cd.counts();
  pa.cd_frames = static_cast<int>(t.cd.total());
  pa.kappa = metrics::cohen_kappa(t.cd);
  pa.kappa_quadratic = metrics::cohen_kappa(t.cd, KappaWeights::Quadratic);
  pa.cd_agreement = t.cd.agreement();
  pa.areas = t.areas;
  pa.mask_frames = t.mask_frames;
  return pa;
}

// CD disagreement outranks any mask disagreement; within, lower mIoU first.
double disagreement_score(const FrameReview& fr) {
  const bool cd_differs = fr.cd_a && fr.cd_b && *fr.cd_a != *fr.cd_b;
  double d = (cd_differs ? 1.0 : 0.0) +
             (fr.masks_present && !std::isnan(fr.mean_iou) ? 1.0 - fr.mean_iou : 1.0);
  if (cd_differs) d += 0.01 * std::abs(*fr.cd_a - *fr.cd_b);  // clear vs invisible first
  return d;
}

// The frame review compares the first two labels.
FrameReview review_frame(const Project& project, const std::string& frame,
                         const std::vector<Lab>& labs, const AgreementOptions& opt,
                         std::vector<ConsistencyFlag>& flags) {
  const LabelSchema& schema = project.meta().schema;
  FrameReview fr;
  fr.frame = frame;
  fr.a = labs[0].user, fr.b = labs[1].user;
  fr.cd_a = labs[0].cd, fr.cd_b = labs[1].cd;
  fr.masks_present = !labs[0].mask.empty() && !labs[1].mask.empty();
  if (fr.masks_present) {
    if (labs[0].mask.size() != labs[1].mask.size()) {
      flags.push_back({frame, fr.a + "," + fr.b, "mask-size-mismatch",
                       "the two masks have different sizes", 0});
      fr.masks_present = false;
    } else {
      fr.areas =
          compare_masks(labs[0].mask, labs[1].mask, schema.num_tissue(), schema.ignore_index);
      fr.mean_iou = fr.areas.mean_iou();
      fr.pixel_agreement = fr.areas.pixel_agreement();
    }
  }
  fr.complete = fr.cd_a && fr.cd_b && fr.masks_present && fr.areas.unlabeled == 0;
  if (auto fin = project.load_final(frame)) fr.decided = true, fr.decided_by = fin->expert;
  fr.auto_acceptable = frame_auto_acceptable(fr, opt.auto_accept_iou);
  fr.disagreement = disagreement_score(fr);
  return fr;
}

// Undecided, complete frames that cannot be auto-accepted, worst first.
std::vector<std::string> rank_expert_queue(const std::vector<FrameReview>& frames) {
  std::vector<const FrameReview*> queue;
  for (const auto& f : frames)
    if (!f.decided && !f.auto_acceptable && f.complete) queue.push_back(&f);
  std::stable_sort(queue.begin(), queue.end(), [](const FrameReview* x, const FrameReview* y) {
    return x->disagreement > y->disagreement;
  });
  std::vector<std::string> ids;
  for (const auto* f : queue) ids.push_back(f->frame);
  return ids;
}

}  // namespace

AgreementReport compute_agreement(const Project& project, const AgreementOptions& opt) {
  const LabelSchema& schema = project.meta().schema;
  AgreementReport rep;
  rep.auto_accept_iou = opt.auto_accept_iou;
  for (const auto& t : schema.tissue) rep.tissue_names.push_back(t.name);
  for (const auto& c : schema.cd) rep.cd_names.push_back(c.name);
  std::map<PairKey, PairTally> pairs, by_origin[2];  // by_origin: [from scratch, pre-labeled]
  int origin_frames[2] = {0, 0};
  const auto assignments = project.load_assignments();
  rep.frames_assigned = static_cast<int>(assignments.size());
  for (const auto& [frame, users] : assignments) {
    const std::vector<Lab> labs = load_labels(project, frame, users, opt, rep.flags);
    if (labs.size() < 2) {
      ++rep.frames_waiting_for_labels;
      continue;
    }
    tally_pairs(labs, schema, pairs);
    const int origin = frame_prelabeled(labs) ? 1 : 0;
    tally_pairs(labs, schema, by_origin[origin]);
    ++origin_frames[origin];
    rep.frames.push_back(review_frame(project, frame, labs, opt, rep.flags));
  }
  for (const auto& [key, tally] : pairs) rep.pairs.push_back(finish_pair(key, tally));
  rep.from_scratch = finish_origin(by_origin[0], origin_frames[0], schema);
  rep.prelabeled = finish_origin(by_origin[1], origin_frames[1], schema);
  rep.expert_queue = rank_expert_queue(rep.frames);
  return rep;
}

static json num(double v) { return std::isnan(v) ? json(nullptr) : json(v); }
static json nums(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}

json agreement_to_json(const AgreementReport& r) {
  json j{{"format", "excap-agreement"},
         {"version", kFormatVersion},
         {"created", now_iso8601()},
         {"auto_accept_iou", r.auto_accept_iou},
         {"tissue_classes", r.tissue_names},
         {"cd_classes", r.cd_names},
         {"frames_assigned", r.frames_assigned},
         {"frames_waiting_for_labels", r.frames_waiting_for_labels},
         {"frames_compared", r.frames.size()},
         {"expert_queue", r.expert_queue}};
  json pairs = json::array();
  for (const auto& p : r.pairs) {
    pairs.push_back({{"a", p.a},
                     {"b", p.b},
                     {"cd_frames", p.cd_frames},
                     {"cd_confusion", p.cd_confusion},
                     {"cd_agreement", num(p.cd_agreement)},
                     {"kappa", num(p.kappa)},
                     {"kappa_quadratic", num(p.kappa_quadratic)},
                     {"mask_frames", p.mask_frames},
                     {"iou", nums(p.areas.iou())},
                     {"dice", nums(p.areas.dice())},
                     {"mean_iou", num(p.areas.mean_iou())},
                     {"pixel_agreement", num(p.areas.pixel_agreement())}});
  }
  j["pairs"] = pairs;
  json by_origin = json::object();
  const std::pair<const char*, const OriginAgreement*> groups[] = {
      {"prelabeled", &r.prelabeled}, {"from_scratch", &r.from_scratch}};
  for (const auto& [name, o] : groups)
    by_origin[name] = {{"frames", o->frames},
                       {"cd_frames", o->cd_frames},
                       {"kappa", num(o->kappa)},
                       {"cd_agreement", num(o->cd_agreement)},
                       {"mask_frames", o->mask_frames},
                       {"mean_iou", num(o->areas.mean_iou())},
                       {"pixel_agreement", num(o->areas.pixel_agreement())}};
  j["by_origin"] = by_origin;
  json frames = json::array();
  for (const auto& f : r.frames) {
    frames.push_back({{"frame", f.frame},
                      {"a", f.a},
                      {"b", f.b},
                      {"cd_a", f.cd_a ? json(*f.cd_a) : json(nullptr)},
                      {"cd_b", f.cd_b ? json(*f.cd_b) : json(nullptr)},
                      {"complete", f.complete},
                      {"iou", nums(f.areas.iou())},
                      {"dice", nums(f.areas.dice())},
                      {"mean_iou", num(f.mean_iou)},
                      {"pixel_agreement", num(f.pixel_agreement)},
                      {"decided", f.decided},
                      {"decided_by", f.decided_by},
                      {"auto_acceptable", f.auto_acceptable},
                      {"disagreement", f.disagreement}});
  }
  j["frames"] = frames;
  json flags = json::array();
  for (const auto& f : r.flags)
    flags.push_back({{"frame", f.frame},
                     {"user", f.user},
                     {"rule", f.rule},
                     {"message", f.message},
                     {"value", f.value}});
  j["consistency_flags"] = flags;
  return j;
}

std::string format_score(double v) {
  if (std::isnan(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

std::string agreement_summary(const AgreementReport& r) {
  std::ostringstream o;
  o << "frames assigned " << r.frames_assigned << ", compared " << r.frames.size()
    << ", waiting for labels " << r.frames_waiting_for_labels << "\n";
  for (const auto& p : r.pairs) {
    o << "pair " << p.a << " / " << p.b << ": CD kappa " << format_score(p.kappa) << " (quadratic "
      << format_score(p.kappa_quadratic) << ", agreement " << format_score(p.cd_agreement) << ", "
      << p.cd_frames << " frames); mask mIoU " << format_score(p.areas.mean_iou()) << " over "
      << p.mask_frames << " frames\n";
    const auto iou = p.areas.iou(), dice = p.areas.dice();
    for (std::size_t c = 0; c < r.tissue_names.size() && c < iou.size(); ++c) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-22s IoU %-6s Dice %s\n", r.tissue_names[c].c_str(),
                    format_score(iou[c]).c_str(), format_score(dice[c]).c_str());
      o << line;
    }
  }
  int auto_ok = 0, decided = 0;
  for (const auto& f : r.frames) auto_ok += f.auto_acceptable && !f.decided, decided += f.decided;
  o << "decided " << decided << ", auto-acceptable at IoU >= " << format_score(r.auto_accept_iou)
    << ": " << auto_ok << ", need an expert: " << r.expert_queue.size() << "\n";
  const std::pair<const char*, const OriginAgreement*> groups[] = {
      {"pre-labeled", &r.prelabeled}, {"from scratch", &r.from_scratch}};
  for (const auto& [name, g] : groups)
    o << name << ": " << g->frames << " frames, CD kappa " << format_score(g->kappa)
      << ", agreement " << format_score(g->cd_agreement) << ", mask mIoU "
      << format_score(g->areas.mean_iou()) << "\n";
  o << "consistency flags: " << r.flags.size() << "\n";
  return o.str();
}

}  // namespace excap
