#include "curation/adjudication.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "curation/agreement.h"
#include "media/imageio.h"
#include "store/change.h"

namespace excap {

using nlohmann::json;

std::string annotator_display_name(int index) { return "Annotator " + std::to_string(index + 1); }

namespace {
constexpr FinalSource kAllSources[] = {FinalSource::Agreed, FinalSource::A, FinalSource::B,
                                       FinalSource::Merged, FinalSource::Repainted};
}  // namespace

std::string to_string(FinalSource source) {
  switch (source) {
    case FinalSource::Agreed:
      return "agreed";
    case FinalSource::A:
      return "A";
    case FinalSource::B:
      return "B";
    case FinalSource::Merged:
      return "merged";
    case FinalSource::Repainted:
      return "repainted";
  }
  throw Error("final label", "unknown source " + std::to_string(static_cast<int>(source)));
}

std::optional<FinalSource> parse_final_source(const std::string& text) {
  for (FinalSource s : kAllSources)
    if (to_string(s) == text) return s;
  return std::nullopt;
}

std::string allowed_final_sources() {
  std::string out;
  for (FinalSource s : kAllSources) out += (out.empty() ? "" : ", ") + to_string(s);
  return out;
}

FinalSource final_source(const Project& project, const FinalLabel& label) {
  if (auto s = parse_final_source(label.source)) return *s;
  throw Error(project.final_json_path(label.frame).string(),
              "source '" + label.source + "' is not one of " + allowed_final_sources());
}

std::optional<FinalLabel> load_final_label(const Project& project, const std::string& frame) {
  auto label = project.load_final(frame);
  if (label) final_source(project, *label);
  return label;
}

namespace {

struct LoadedLabel {
  std::string user;
  std::optional<int> cd;
  cv::Mat mask;
  std::string blocked;  // why the mask is out of schema; empty when it is sound
  fs::path mask_path;
};

// "<n> pixels hold class id <k>, ..." for a mask with a class the schema lacks; else "".
std::string out_of_schema(const cv::Mat& mask, const LabelSchema& s) {
  const MaskCheck mc = check_mask_values(mask, s.num_tissue(), s.ignore_index);
  if (mc.bad_pixels == 0) return "";
  return std::to_string(mc.bad_pixels) + " pixel(s) hold class id " +
         std::to_string(mc.first_bad_value) + (mc.bad_pixels > 1 ? " (the first found)" : "") +
         ", outside the schema (0-" + std::to_string(s.num_tissue() - 1) + ", " +
         std::to_string(s.ignore_index) + " = unlabeled)";
}

std::vector<LoadedLabel> load_labels(const Project& p, const std::string& frame,
                                     const std::vector<std::string>& users) {
  std::vector<LoadedLabel> out;
  for (const auto& u : users) {
    auto rec = p.load_label(u, frame);
    if (!rec) continue;
    LoadedLabel l{u, rec->cd, {}, {}, p.label_mask_path(u, frame)};
    std::error_code ec;
    if (fs::exists(l.mask_path, ec)) l.mask = read_mask(l.mask_path);
    l.blocked = out_of_schema(l.mask, p.meta().schema);
    out.push_back(std::move(l));
  }
  return out;
}

std::vector<std::string> blocked_reasons(const std::vector<LoadedLabel>& labs) {
  std::vector<std::string> out;
  for (const auto& l : labs)
    if (!l.blocked.empty()) out.push_back(l.mask_path.string() + ": " + l.blocked);
  return out;
}

// Why a frame does or does not qualify for auto-accept.
enum class Verdict { Accept, Blocked, Waiting, Incomplete, CdDiffers, BelowThreshold };

Verdict judge(const std::vector<LoadedLabel>& labs, std::size_t assigned, const LabelSchema& s,
              double threshold, double* min_iou) {
  if (!blocked_reasons(labs).empty()) return Verdict::Blocked;
  if (labs.size() < 2 || labs.size() < assigned) return Verdict::Waiting;
  for (const auto& l : labs) {
    if (!l.cd || !s.valid_cd(*l.cd) || l.mask.empty() || l.mask.size() != labs[0].mask.size())
      return Verdict::Incomplete;
    if (cv::countNonZero(l.mask == s.ignore_index) > 0) return Verdict::Incomplete;
  }
  for (const auto& l : labs)
    if (*l.cd != *labs[0].cd) return Verdict::CdDiffers;
  double lowest = 1.0;
  for (std::size_t i = 0; i < labs.size(); ++i)
    for (std::size_t j = i + 1; j < labs.size(); ++j) {
      const double m =
          compare_masks(labs[i].mask, labs[j].mask, s.num_tissue(), s.ignore_index).mean_iou();
      lowest = std::min(lowest, std::isnan(m) ? 0.0 : m);
    }
  *min_iou = lowest;
  return lowest >= threshold ? Verdict::Accept : Verdict::BelowThreshold;
}

bool label_ready(const LoadedLabel& l) { return l.cd.has_value() && !l.mask.empty(); }

}  // namespace

std::vector<UndecidedFrame> undecided_frames(const Project& project, double auto_accept_iou) {
  std::vector<UndecidedFrame> out;
  const LabelSchema& s = project.meta().schema;
  for (const auto& [frame, users] : project.load_assignments()) {
    std::error_code ec;
    if (fs::exists(project.final_json_path(frame), ec)) continue;
    UndecidedFrame u;
    u.frame = frame;
    u.annotators = users;
    auto labs = load_labels(project, frame, users);
    u.labeled = static_cast<int>(labs.size());
    u.blocked = blocked_reasons(labs);
    u.ready = u.blocked.empty() && std::count_if(labs.begin(), labs.end(), label_ready) >= 2;
    double iou = 0;
    u.auto_acceptable = judge(labs, users.size(), s, auto_accept_iou, &iou) == Verdict::Accept;
    out.push_back(std::move(u));
  }
  return out;
}

std::optional<std::string> next_undecided_frame(const Project& project, const std::string& after) {
  auto all = undecided_frames(project);
  std::vector<std::string> ready;
  for (const auto& u : all)
    if (u.ready) ready.push_back(u.frame);
  if (ready.empty()) return std::nullopt;
  auto it = std::upper_bound(ready.begin(), ready.end(), after);
  return it == ready.end() ? ready.front() : *it;
}

AdjudicationCase load_adjudication_case(const Project& project, const std::string& frame) {
  auto assignments = project.load_assignments();
  auto it = assignments.find(frame);
  if (it == assignments.end()) throw Error("frame '" + frame + "'", "is not assigned to anyone");
  auto labs = load_labels(project, frame, it->second);
  for (const auto& l : labs)  // a class the schema lacks would reach the final label unseen
    if (!l.blocked.empty())
      throw Error(l.mask_path.string(),
                  l.blocked + "; frame '" + frame + "' cannot be adjudicated until it is fixed");
  labs.erase(
      std::remove_if(labs.begin(), labs.end(), [](const auto& l) { return !label_ready(l); }),
      labs.end());
  if (labs.size() < 2)
    throw Error("frame '" + frame + "'",
                "needs two labels with CD and mask, has " + std::to_string(labs.size()));
  if (labs[0].mask.size() != labs[1].mask.size())
    throw Error("frame '" + frame + "'", "the two masks have different sizes");
  AdjudicationCase c;
  c.frame = frame;
  for (int i = 0; i < 2; ++i) {
    c.annotators[i] = labs[i].user;
    c.cd[i] = labs[i].cd;
    c.mask[i] = labs[i].mask;
  }
  std::error_code ec;
  if (fs::exists(project.frame_path(frame), ec)) c.image = read_frame(project.frame_path(frame));
  return c;
}

cv::Mat pixel_diff(const cv::Mat& a, const cv::Mat& b, int ignore) {
  if (a.size() != b.size()) throw Error("pixel diff", "masks differ in size");
  cv::Mat d(a.size(), CV_8UC1);
  for (int y = 0; y < a.rows; ++y) {
    const std::uint8_t *pa = a.ptr<std::uint8_t>(y), *pb = b.ptr<std::uint8_t>(y);
    std::uint8_t* o = d.ptr<std::uint8_t>(y);
    for (int x = 0; x < a.cols; ++x) {
      const bool la = pa[x] != ignore, lb = pb[x] != ignore;
      PixelDiff v = la && lb ? (pa[x] == pb[x] ? PixelDiff::Agree : PixelDiff::Differ)
                    : la     ? PixelDiff::AOnly
                    : lb     ? PixelDiff::BOnly
                             : PixelDiff::Unlabeled;
      o[x] = static_cast<std::uint8_t>(v);
    }
  }
  return d;
}

cv::Mat class_diff(const cv::Mat& a, const cv::Mat& b, int c) {
  if (a.size() != b.size()) throw Error("class diff", "masks differ in size");
  cv::Mat d = (a == c) / 255 + (b == c) / 255 * 2;  // 1 A only, 2 B only, 3 both
  return d;
}

DiffCounts count_diff(const cv::Mat& m) {
  DiffCounts c;
  for (int y = 0; y < m.rows; ++y) {
    const std::uint8_t* p = m.ptr<std::uint8_t>(y);
    for (int x = 0; x < m.cols; ++x) switch (static_cast<PixelDiff>(p[x])) {
        case PixelDiff::Agree:
          ++c.agree;
          break;
        case PixelDiff::Differ:
          ++c.differ;
          break;
        case PixelDiff::AOnly:
          ++c.a_only;
          break;
        case PixelDiff::BOnly:
          ++c.b_only;
          break;
        default:
          ++c.unlabeled;
          break;
      }
  }
  return c;
}

DisagreementMap disagreement_regions(const cv::Mat& a, const cv::Mat& b, int connectivity) {
  if (a.size() != b.size()) throw Error("disagreement regions", "masks differ in size");
  DisagreementMap m;
  cv::Mat differ = a != b, stats, centroids;
  const int n =
      cv::connectedComponentsWithStats(differ, m.labels, stats, centroids, connectivity, CV_32S);
  std::vector<std::array<int, 256>> ha(n), hb(n);
  for (auto& h : ha) h.fill(0);
  for (auto& h : hb) h.fill(0);
  for (int y = 0; y < a.rows; ++y) {
    const int* l = m.labels.ptr<int>(y);
    const std::uint8_t *pa = a.ptr<std::uint8_t>(y), *pb = b.ptr<std::uint8_t>(y);
    for (int x = 0; x < a.cols; ++x)
      if (l[x]) ++ha[l[x]][pa[x]], ++hb[l[x]][pb[x]];
  }
  for (int i = 1; i < n; ++i) {
    DisagreementRegion r;
    r.id = i;
    r.area = stats.at<int>(i, cv::CC_STAT_AREA);
    r.box = cv::Rect(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                     stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
    r.class_a = static_cast<int>(std::max_element(ha[i].begin(), ha[i].end()) - ha[i].begin());
    r.class_b = static_cast<int>(std::max_element(hb[i].begin(), hb[i].end()) - hb[i].begin());
    m.regions.push_back(r);
  }
  return m;
}

AdjudicationDraft::AdjudicationDraft(AdjudicationCase c) : case_(std::move(c)) {
  if (case_.mask[0].empty() || case_.mask[0].size() != case_.mask[1].size())
    throw Error("frame '" + case_.frame + "'", "adjudication needs two masks of one size");
  regions_ = disagreement_regions(case_.mask[0], case_.mask[1]);
  take(Side::A);
}

void AdjudicationDraft::take(Side side) {
  const int s = static_cast<int>(side);
  mask_ = case_.mask[s].clone();
  cd_ = case_.cd[s];
}

void AdjudicationDraft::pick_region(int id, Side side) {
  if (id < 1 || id > static_cast<int>(regions_.regions.size()))
    throw Error("frame '" + case_.frame + "'", "no disagreement region " + std::to_string(id));
  const cv::Mat& src = case_.mask[static_cast<int>(side)];
  const cv::Rect box = regions_.regions[id - 1].box;
  for (int y = box.y; y < box.y + box.height; ++y) {
    const int* l = regions_.labels.ptr<int>(y);
    const std::uint8_t* s = src.ptr<std::uint8_t>(y);
    std::uint8_t* o = mask_.ptr<std::uint8_t>(y);
    for (int x = box.x; x < box.x + box.width; ++x)
      if (l[x] == id) o[x] = s[x];
  }
}

int AdjudicationDraft::region_at(int x, int y) const {
  if (x < 0 || y < 0 || x >= regions_.labels.cols || y >= regions_.labels.rows) return 0;
  return regions_.labels.at<int>(y, x);
}

void AdjudicationDraft::repaint(const cv::Mat& edited) {
  if (edited.size() != mask_.size() || edited.type() != CV_8UC1)
    throw Error("frame '" + case_.frame + "'", "repainted mask must be 8-bit and the frame's size");
  mask_ = edited.clone();
}

FinalSource AdjudicationDraft::source() const {
  const cv::Mat &a = case_.mask[0], &b = case_.mask[1];
  const bool eq_a = cv::countNonZero(mask_ != a) == 0;
  const bool eq_b = cv::countNonZero(mask_ != b) == 0;
  if (eq_a && eq_b) return FinalSource::Agreed;
  if (eq_a) return FinalSource::A;
  if (eq_b) return FinalSource::B;
  cv::Mat from_either = (mask_ == a) | (mask_ == b);
  return cv::countNonZero(from_either) == static_cast<int>(mask_.total()) ? FinalSource::Merged
                                                                          : FinalSource::Repainted;
}

FinalLabel save_expert_decision(const Project& project, const AdjudicationDraft& draft,
                                const std::string& expert, const SaveOptions& options) {
  const AdjudicationCase& c = draft.adjudication_case();
  const std::string where = "frame '" + c.frame + "'";
  const User* u = project.meta().find_user(expert);
  if (!u) throw Error(where, "'" + expert + "' is not a user of this project");
  if (u->role != Role::Expert)
    throw Error(where, "'" + expert + "' has role " + role_name(u->role) +
                           "; only an expert may adjudicate");
  const LabelSchema& s = project.meta().schema;
  if (!draft.cd() || !s.valid_cd(*draft.cd()))
    throw Error(where, "choose a clearness degree before accepting");
  const MaskCheck mc = check_mask_values(draft.mask(), s.num_tissue(), s.ignore_index);
  if (mc.bad_pixels)
    throw Error(where, std::to_string(mc.bad_pixels) + " mask pixels hold value " +
                           std::to_string(mc.first_bad_value) + ", outside the schema");
  const ProjectLock lock = ProjectLock::acquire(project.root(), "adjudicate");
  if (auto old = load_final_label(project, c.frame)) {
    if (old->expert != "auto" && !options.replace_expert_decision)
      throw Error(where, "already decided by expert '" + old->expert + "' at " + old->time +
                             "; revising it must be asked for explicitly");
  }
  FinalLabel f;
  f.frame = c.frame;
  f.cd = *draft.cd();
  f.source = to_string(draft.source());
  f.expert = expert;
  f.time = now_iso8601();
  f.annotators = {c.annotators[0], c.annotators[1]};
  Change change(lock, project, expert, "adjudicate");
  change.write(project.final_mask_path(c.frame), encode_png(draft.mask()));
  change.save_final(f);
  change.commit(json{{"frame", f.frame}, {"cd", f.cd}, {"source", f.source}});
  return f;
}

cv::Mat consensus_mask(const std::vector<cv::Mat>& masks, int ignore) {
  if (masks.empty()) throw Error("consensus", "no masks");
  for (const auto& m : masks)
    if (m.size() != masks[0].size() || m.type() != CV_8UC1)
      throw Error("consensus", "masks must be 8-bit and of one size");
  const int rows = masks[0].rows, cols = masks[0].cols;
  // Unanimous pixels: the class all labeled votes agree on, else ignore.
  cv::Mat unanimous(masks[0].size(), CV_8UC1, cv::Scalar(ignore));
  std::array<long long, 256> global{};
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      int v = -1;
      bool same = true;
      for (const auto& m : masks) {
        const int c = m.at<std::uint8_t>(y, x);
        if (v < 0)
          v = c;
        else if (c != v)
          same = false;
      }
      if (same && v != ignore) unanimous.at<std::uint8_t>(y, x) = v, ++global[v];
    }
  cv::Mat out = unanimous.clone();
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      if (unanimous.at<std::uint8_t>(y, x) != ignore) continue;
      std::array<int, 256> votes{};
      int best = 0;
      for (const auto& m : masks) {
        const int c = m.at<std::uint8_t>(y, x);
        if (c != ignore) best = std::max(best, ++votes[c]);
      }
      if (best == 0) continue;  // nobody labeled it: stays unlabeled
      std::vector<int> tied;
      for (int c = 0; c < 256; ++c)
        if (votes[c] == best) tied.push_back(c);
      if (tied.size() > 1) {
        std::array<int, 256> local{};
        for (int dy = -2; dy <= 2; ++dy)
          for (int dx = -2; dx <= 2; ++dx) {
            const int yy = y + dy, xx = x + dx;
            if (yy < 0 || xx < 0 || yy >= rows || xx >= cols) continue;
            const int u = unanimous.at<std::uint8_t>(yy, xx);
            if (u != ignore) ++local[u];
          }
        // Ordered by (local votes, frame votes, lower id): the first wins.
        std::stable_sort(tied.begin(), tied.end(), [&](int p, int q) {
          if (local[p] != local[q]) return local[p] > local[q];
          if (global[p] != global[q]) return global[p] > global[q];
          return p < q;
        });
      }
      out.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(tied.front());
    }
  return out;
}

namespace {

struct AcceptedFrame {
  FinalLabel label;
  std::vector<std::uint8_t> mask_png;
};

// Writes the accepted frames in one change under the lock; a frame an expert
// decided while the masks were compared keeps the expert's decision.
void land_accepted(const Project& project, const AutoAcceptOptions& opt,
                   const std::vector<AcceptedFrame>& accepted, AutoAcceptResult& r) {
  const ProjectLock lock = ProjectLock::acquire(project.root(), "auto-accept");
  Change change(lock, project, opt.by, "auto-accept");
  std::vector<std::string> landed;
  for (const auto& a : accepted) {
    if (load_final_label(project, a.label.frame)) {
      --r.accepted;
      ++r.already_decided;
      continue;
    }
    change.write(project.final_mask_path(a.label.frame), a.mask_png);
    change.save_final(a.label);
    landed.push_back(a.label.frame);
  }
  r.accepted_frames = landed;
  if (!landed.empty()) change.commit(json{{"threshold", opt.iou_threshold}, {"accepted", landed}});
}

}  // namespace

AutoAcceptResult auto_accept(const Project& project, const AutoAcceptOptions& opt) {
  require_safe_id(opt.by, "user");
  if (!(opt.iou_threshold >= 0.0 && opt.iou_threshold <= 1.0))
    throw Error("--auto-accept", "IoU threshold must be between 0 and 1");
  AutoAcceptResult r;
  const LabelSchema& s = project.meta().schema;
  std::vector<AcceptedFrame> accepted;
  for (const auto& [frame, users] : project.load_assignments()) {
    if (load_final_label(project, frame)) {  // decided, by the expert or earlier: never touched
      ++r.already_decided;
      continue;
    }
    auto labs = load_labels(project, frame, users);
    double min_iou = 0;
    switch (judge(labs, users.size(), s, opt.iou_threshold, &min_iou)) {
      case Verdict::Blocked:
        ++r.blocked;
        for (const auto& why : blocked_reasons(labs))
          r.blocked_reasons.push_back("frame '" + frame + "' refused: " + why);
        continue;
      case Verdict::Waiting:
        ++r.waiting_for_labels;
        continue;
      case Verdict::Incomplete:
        ++r.incomplete;
        continue;
      case Verdict::CdDiffers:
        ++r.cd_differs;
        continue;
      case Verdict::BelowThreshold:
        ++r.below_threshold;
        continue;
      case Verdict::Accept:
        break;
    }
    ++r.accepted;
    r.accepted_frames.push_back(frame);
    if (opt.dry_run) continue;
    std::vector<cv::Mat> masks;
    FinalLabel f;
    for (const auto& l : labs) masks.push_back(l.mask), f.annotators.push_back(l.user);
    f.frame = frame;
    f.cd = *labs[0].cd;
    f.source = to_string(FinalSource::Agreed);
    f.expert = "auto";
    f.time = now_iso8601();
    f.agreement_iou = min_iou;
    accepted.push_back({f, encode_png(consensus_mask(masks, s.ignore_index))});
  }
  if (!opt.dry_run && !accepted.empty()) land_accepted(project, opt, accepted, r);
  return r;
}

TruthSource truth_from_folder(const fs::path& dir) {
  std::map<std::string, int> cds;
  const fs::path tj = dir / "truth.json";
  json j = read_json_file(tj);
  auto cd_of = [&](const json& v) -> int {
    if (v.is_number_integer()) return v.get<int>();
    if (v.is_object() && v.contains("cd")) return v.at("cd").get<int>();
    throw Error(tj.string(), "a frame entry has no integer 'cd'");
  };
  const json& frames = j.contains("frames") ? j["frames"] : j;
  if (frames.is_array()) {
    for (const auto& e : frames)
      cds[e.contains("frame") ? e["frame"].get<std::string>() : e.at("id").get<std::string>()] =
          cd_of(e);
  } else if (frames.is_object()) {
    for (auto it = frames.begin(); it != frames.end(); ++it)
      if (it.value().is_number_integer() || (it.value().is_object() && it.value().contains("cd")))
        cds[it.key()] = cd_of(it.value());
  }
  return [dir, cds](const std::string& frame) -> std::optional<TruthLabel> {
    auto it = cds.find(frame);
    std::error_code ec;
    const fs::path mp = dir / (frame + ".png");
    if (it == cds.end() || !fs::exists(mp, ec)) return std::nullopt;
    return TruthLabel{it->second, read_mask(mp)};
  };
}

SimulatedExpertResult simulated_expert(const Project& project, const std::string& expert,
                                       const TruthSource& truth) {
  SimulatedExpertResult r;
  for (const auto& u : undecided_frames(project)) {
    if (!u.ready) {
      ++r.not_ready;
      continue;
    }
    auto t = truth(u.frame);
    if (!t) {
      ++r.no_truth;
      continue;
    }
    AdjudicationDraft d(load_adjudication_case(project, u.frame));
    if (t->mask.size() != d.mask().size())
      throw Error("frame '" + u.frame + "'", "ground-truth mask size differs from the labels");
    const cv::Mat &a = d.adjudication_case().mask[0], &b = d.adjudication_case().mask[1];
    std::vector<long long> score_a(d.regions().regions.size() + 1, 0), score_b(score_a);
    for (int y = 0; y < a.rows; ++y) {
      const int* l = d.regions().labels.ptr<int>(y);
      for (int x = 0; x < a.cols; ++x)
        if (l[x]) {
          const int tv = t->mask.at<std::uint8_t>(y, x);
          score_a[l[x]] += a.at<std::uint8_t>(y, x) == tv;
          score_b[l[x]] += b.at<std::uint8_t>(y, x) == tv;
        }
    }
    for (const auto& reg : d.regions().regions)
      d.pick_region(reg.id, score_b[reg.id] > score_a[reg.id] ? Side::B : Side::A);
    d.set_cd(t->cd);
    FinalLabel f = save_expert_decision(project, d, expert);
    ++r.decided;
    ++r.by_source[f.source];
  }
  return r;
}

std::vector<long long> mask_class_histogram(const cv::Mat& mask, int n) {
  std::vector<long long> h(n, 0);
  for (int y = 0; y < mask.rows; ++y) {
    const std::uint8_t* p = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x)
      if (p[x] < n) ++h[p[x]];
  }
  return h;
}

std::function<std::vector<long long>(const std::string&)> final_mask_histogram(
    const Project& project) {
  const int nt = project.meta().schema.num_tissue();
  return [&project, nt](const std::string& frame) {
    return mask_class_histogram(read_mask(project.final_mask_path(frame)), nt);
  };
}

}  // namespace excap
