#include "curation/agreement.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.h"
#include "media/imageio.h"
#include "store/project.h"
#include "report/plots.h"

namespace excap {

using nlohmann::json;

std::vector<long long> confusion_matrix(const std::vector<int>& a, const std::vector<int>& b,
                                        int k) {
  if (a.size() != b.size())
    throw Error("kappa", "the two raters have " + std::to_string(a.size()) + " and " +
                             std::to_string(b.size()) + " ratings");
  std::vector<long long> m(static_cast<std::size_t>(k) * k, 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] < 0 || a[i] >= k || b[i] < 0 || b[i] >= k)
      throw Error("kappa", "rating out of range 0.." + std::to_string(k - 1) + " at item " +
                               std::to_string(i));
    ++m[a[i] * k + b[i]];
  }
  return m;
}

double cohen_kappa(const std::vector<long long>& c, int k, KappaWeights weights) {
  if (static_cast<int>(c.size()) != k * k) throw Error("kappa", "confusion matrix is not k x k");
  std::vector<double> rows(k, 0), cols(k, 0);
  double n = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) rows[i] += c[i * k + j], cols[j] += c[i * k + j], n += c[i * k + j];
  if (n == 0) return std::nan("");
  double num = 0, den = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < k; ++j) {
      double w = i == j ? 0.0 : 1.0;
      if (weights == KappaWeights::Linear) w = std::abs(i - j);
      if (weights == KappaWeights::Quadratic) w = double(i - j) * (i - j);
      num += w * c[i * k + j];
      den += w * rows[i] * cols[j] / n;
    }
  if (den == 0) return std::nan("");  // chance agreement is perfect: kappa undefined
  return 1.0 - num / den;
}

double cohen_kappa(const std::vector<int>& a, const std::vector<int>& b, int k,
                   KappaWeights weights) {
  return cohen_kappa(confusion_matrix(a, b, k), k, weights);
}

void ClassAreas::add(const ClassAreas& o) {
  if (intersection.size() < o.intersection.size()) {
    intersection.resize(o.intersection.size(), 0);
    area_a.resize(o.intersection.size(), 0);
    area_b.resize(o.intersection.size(), 0);
  }
  for (std::size_t c = 0; c < o.intersection.size(); ++c) {
    intersection[c] += o.intersection[c];
    area_a[c] += o.area_a[c];
    area_b[c] += o.area_b[c];
  }
  compared += o.compared;
  equal += o.equal;
  unlabeled += o.unlabeled;
}

std::vector<double> ClassAreas::iou() const {
  std::vector<double> r(intersection.size());
  for (std::size_t c = 0; c < r.size(); ++c) {
    const double u = double(area_a[c]) + area_b[c] - intersection[c];
    r[c] = u > 0 ? intersection[c] / u : std::nan("");
  }
  return r;
}

std::vector<double> ClassAreas::dice() const {
  std::vector<double> r(intersection.size());
  for (std::size_t c = 0; c < r.size(); ++c) {
    const double s = double(area_a[c]) + area_b[c];
    r[c] = s > 0 ? 2.0 * intersection[c] / s : std::nan("");
  }
  return r;
}

double ClassAreas::mean_iou() const {
  double s = 0;
  int n = 0;
  for (double v : iou())
    if (!std::isnan(v)) s += v, ++n;
  return n ? s / n : std::nan("");
}

ClassAreas compare_masks(const cv::Mat& a, const cv::Mat& b, int num_classes, int ignore_index) {
  if (a.size() != b.size())
    throw Error("compare masks", "sizes differ: " + std::to_string(a.cols) + "x" +
                                     std::to_string(a.rows) + " vs " + std::to_string(b.cols) +
                                     "x" + std::to_string(b.rows));
  if (a.type() != CV_8UC1 || b.type() != CV_8UC1)
    throw Error("compare masks", "masks must be 8-bit single channel");
  ClassAreas r(num_classes);
  for (int y = 0; y < a.rows; ++y) {
    const std::uint8_t* pa = a.ptr<std::uint8_t>(y);
    const std::uint8_t* pb = b.ptr<std::uint8_t>(y);
    for (int x = 0; x < a.cols; ++x) {
      const int va = pa[x], vb = pb[x];
      if (va == ignore_index || vb == ignore_index || va >= num_classes || vb >= num_classes) {
        ++r.unlabeled;
        continue;
      }
      ++r.compared;
      ++r.area_a[va];
      ++r.area_b[vb];
      if (va == vb) ++r.intersection[va], ++r.equal;
    }
  }
  return r;
}

// ---- consistency ----

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
  std::vector<long long> hist(256, 0);
  for (int y = 0; y < mask.rows; ++y) {
    const std::uint8_t* p = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) ++hist[p[x]];
  }
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

}  // namespace

AgreementReport compute_agreement(const Project& project, const AgreementOptions& opt) {
  const LabelSchema& schema = project.meta().schema;
  AgreementReport rep;
  rep.auto_accept_iou = opt.auto_accept_iou;
  for (const auto& t : schema.tissue) rep.tissue_names.push_back(t.name);
  for (const auto& c : schema.cd) rep.cd_names.push_back(c.name);
  const int nt = schema.num_tissue(), nc = schema.num_cd();
  std::map<std::pair<std::string, std::string>, PairAgreement> pairs;
  const auto assignments = project.load_assignments();
  rep.frames_assigned = static_cast<int>(assignments.size());

  for (const auto& [frame, users] : assignments) {
    struct Lab {
      std::string user;
      std::optional<int> cd;
      cv::Mat mask;
    };
    std::vector<Lab> labs;
    for (const auto& u : users) {
      auto rec = project.load_label(u, frame);
      if (!rec) continue;
      Lab l{u, rec->cd, load_mask_if_any(project, u, frame)};
      if (l.cd && !schema.valid_cd(*l.cd)) {
        rep.flags.push_back({frame, u, "bad-cd",
                             "CD value " + std::to_string(*l.cd) + " is not in the schema",
                             double(*l.cd)});
        l.cd.reset();
      }
      for (auto& f : check_consistency(frame, u, l.cd, l.mask, schema, opt.rules))
        rep.flags.push_back(std::move(f));
      labs.push_back(std::move(l));
    }
    if (labs.size() < 2) {
      ++rep.frames_waiting_for_labels;
      continue;
    }
    // Every pair enters the pair statistics; the frame review uses the first pair.
    for (std::size_t i = 0; i < labs.size(); ++i)
      for (std::size_t j = i + 1; j < labs.size(); ++j) {
        const bool swap = labs[j].user < labs[i].user;  // pairs keyed in name order
        const Lab& A = swap ? labs[j] : labs[i];
        const Lab& B = swap ? labs[i] : labs[j];
        PairAgreement& pa = pairs[{A.user, B.user}];
        if (pa.a.empty()) {
          pa.a = A.user, pa.b = B.user;
          pa.cd_confusion.assign(static_cast<std::size_t>(nc) * nc, 0);
          pa.areas = ClassAreas(nt);
        }
        if (A.cd && B.cd) ++pa.cd_confusion[*A.cd * nc + *B.cd], ++pa.cd_frames;
        if (!A.mask.empty() && !B.mask.empty() && A.mask.size() == B.mask.size()) {
          pa.areas.add(compare_masks(A.mask, B.mask, nt, schema.ignore_index));
          ++pa.mask_frames;
        }
      }
    FrameReview fr;
    fr.frame = frame;
    fr.a = labs[0].user, fr.b = labs[1].user;
    fr.cd_a = labs[0].cd, fr.cd_b = labs[1].cd;
    fr.masks_present = !labs[0].mask.empty() && !labs[1].mask.empty();
    if (fr.masks_present) {
      if (labs[0].mask.size() != labs[1].mask.size()) {
        rep.flags.push_back({frame, fr.a + "," + fr.b, "mask-size-mismatch",
                             "the two masks have different sizes", 0});
        fr.masks_present = false;
      } else {
        fr.areas = compare_masks(labs[0].mask, labs[1].mask, nt, schema.ignore_index);
        fr.mean_iou = fr.areas.mean_iou();
        fr.pixel_agreement = fr.areas.pixel_agreement();
      }
    }
    fr.complete = fr.cd_a && fr.cd_b && fr.masks_present && fr.areas.unlabeled == 0;
    if (auto fin = project.load_final(frame)) fr.decided = true, fr.decided_by = fin->expert;
    fr.auto_acceptable = frame_auto_acceptable(fr, opt.auto_accept_iou);
    // CD disagreement outranks any mask disagreement; within, lower mIoU first.
    const bool cd_differs = fr.cd_a && fr.cd_b && *fr.cd_a != *fr.cd_b;
    fr.disagreement = (cd_differs ? 1.0 : 0.0) +
                      (fr.masks_present && !std::isnan(fr.mean_iou) ? 1.0 - fr.mean_iou : 1.0);
    if (cd_differs && fr.cd_a && fr.cd_b)
      fr.disagreement += 0.01 * std::abs(*fr.cd_a - *fr.cd_b);  // clear vs invisible first
    rep.frames.push_back(std::move(fr));
  }
  for (auto& [key, pa] : pairs) {
    pa.kappa = cohen_kappa(pa.cd_confusion, nc);
    pa.kappa_quadratic = cohen_kappa(pa.cd_confusion, nc, KappaWeights::Quadratic);
    long long eq = 0;
    for (int i = 0; i < nc; ++i) eq += pa.cd_confusion[i * nc + i];
    pa.cd_agreement = pa.cd_frames ? double(eq) / pa.cd_frames : std::nan("");
    rep.pairs.push_back(std::move(pa));
  }
  std::vector<const FrameReview*> queue;
  for (const auto& f : rep.frames)
    if (!f.decided && !f.auto_acceptable && f.complete) queue.push_back(&f);
  std::stable_sort(queue.begin(), queue.end(), [](const FrameReview* x, const FrameReview* y) {
    return x->disagreement > y->disagreement;
  });
  for (const auto* f : queue) rep.expert_queue.push_back(f->frame);
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

static std::string f3(double v) {
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
    o << "pair " << p.a << " / " << p.b << ": CD kappa " << f3(p.kappa) << " (quadratic "
      << f3(p.kappa_quadratic) << ", agreement " << f3(p.cd_agreement) << ", " << p.cd_frames
      << " frames); mask mIoU " << f3(p.areas.mean_iou()) << " over " << p.mask_frames
      << " frames\n";
    const auto iou = p.areas.iou(), dice = p.areas.dice();
    for (std::size_t c = 0; c < r.tissue_names.size() && c < iou.size(); ++c) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-22s IoU %-6s Dice %s\n", r.tissue_names[c].c_str(),
                    f3(iou[c]).c_str(), f3(dice[c]).c_str());
      o << line;
    }
  }
  int auto_ok = 0, decided = 0;
  for (const auto& f : r.frames) auto_ok += f.auto_acceptable && !f.decided, decided += f.decided;
  o << "decided " << decided << ", auto-acceptable at IoU >= " << f3(r.auto_accept_iou) << ": "
    << auto_ok << ", need an expert: " << r.expert_queue.size() << "\n";
  o << "consistency flags: " << r.flags.size() << "\n";
  return o.str();
}

void write_agreement_report(const Project& project, const AgreementReport& r,
                            const fs::path& out_dir, int worst_frames) {
  ensure_dir(out_dir);
  write_json_atomic(out_dir / "agreement.json", agreement_to_json(r));
  const LabelSchema& schema = project.meta().schema;
  std::ostringstream md;
  md << "# Annotator agreement\n\nProject `" << project.meta().name << "`, " << now_iso8601()
     << ". Frames assigned: " << r.frames_assigned << "; compared (two labels): " << r.frames.size()
     << "; waiting for labels: " << r.frames_waiting_for_labels << ".\n\n";
  int idx = 0;
  for (const auto& p : r.pairs) {
    const std::string tag = "pair" + std::to_string(++idx);
    md << "## " << p.a << " / " << p.b << "\n\n";
    md << "Clearness degree over " << p.cd_frames << " frames: Cohen's kappa **" << f3(p.kappa)
       << "** (quadratic-weighted " << f3(p.kappa_quadratic) << "), observed agreement "
       << f3(p.cd_agreement) << ".\n\n";
    plots::ConfusionStyle cs;
    cs.row_title = p.a;
    cs.col_title = p.b;
    write_png_atomic(
        out_dir / (tag + "_cd_confusion.png"),
        plots::confusion_matrix_image("CD: " + p.a + " vs " + p.b, r.cd_names, p.cd_confusion, cs));
    md << "![CD confusion](" << tag << "_cd_confusion.png)\n\n";
    md << "Tissue masks over " << p.mask_frames << " frames (areas summed over frames): mIoU "
       << f3(p.areas.mean_iou()) << ", pixel agreement " << f3(p.areas.pixel_agreement())
       << ".\n\n| class | IoU | Dice | pixels " << p.a << " | pixels " << p.b
       << " |\n|---|---|---|---|---|\n";
    const auto iou = p.areas.iou(), dice = p.areas.dice();
    for (std::size_t c = 0; c < iou.size() && c < r.tissue_names.size(); ++c)
      md << "| " << r.tissue_names[c] << " | " << f3(iou[c]) << " | " << f3(dice[c]) << " | "
         << p.areas.area_a[c] << " | " << p.areas.area_b[c] << " |\n";
    plots::BarSeries si{"IoU", iou}, sd{"Dice", dice};
    plots::ChartStyle st;
    st.y_min = 0, st.y_max = 1;
    st.y_label = "agreement";
    write_png_atomic(out_dir / (tag + "_class_agreement.png"),
                     plots::bar_chart("Per-class mask agreement: " + p.a + " vs " + p.b,
                                      r.tissue_names, {si, sd}, st));
    md << "\n![per-class agreement](" << tag << "_class_agreement.png)\n\n";
  }
  // Worst frames: where the two masks differ, drawn over the frame.
  std::vector<const FrameReview*> worst;
  for (const auto& f : r.frames)  // frames where the masks or the CDs differ at all
    if (f.masks_present && f.disagreement > 1e-12) worst.push_back(&f);
  std::stable_sort(worst.begin(), worst.end(), [](const FrameReview* x, const FrameReview* y) {
    return x->disagreement > y->disagreement;
  });
  if (static_cast<int>(worst.size()) > worst_frames) worst.resize(worst_frames);
  if (!worst.empty()) {
    std::vector<cv::Mat> tiles;
    std::vector<std::string> caps;
    for (const auto* f : worst) {
      cv::Mat a = read_mask(project.label_mask_path(f->a, f->frame));
      cv::Mat b = read_mask(project.label_mask_path(f->b, f->frame));
      cv::Mat diff = (a != b);
      cv::Mat image;
      std::error_code ec;
      if (fs::exists(project.frame_path(f->frame), ec)) {
        try {
          image = read_frame(project.frame_path(f->frame));
        } catch (const Error&) {
          image.release();  // an unreadable frame still gets its tile, on grey
        }
      }
      tiles.push_back(plots::highlight_overlay(image, diff));
      caps.push_back(f->frame + "  mIoU " + f3(f->mean_iou) +
                     (f->cd_a && f->cd_b && *f->cd_a != *f->cd_b ? "  CD!" : ""));
    }
    write_png_atomic(out_dir / "worst_frames_heatmap.png", plots::montage(tiles, caps, 4));
    md << "## Worst frames\n\nRed: pixels where the two masks differ. `CD!`: the clearness "
          "degrees differ too.\n\n![worst frames](worst_frames_heatmap.png)\n\n";
  }
  md << "## Frames that need an expert (" << r.expert_queue.size()
     << ")\n\nRanked: CD "
        "disagreement first, then lowest mask mIoU. Auto-accept threshold: mean IoU >= "
     << f3(r.auto_accept_iou) << " with the same CD.\n\n";
  std::map<std::string, const FrameReview*> by_id;
  for (const auto& f : r.frames) by_id[f.frame] = &f;
  if (!r.expert_queue.empty())
    md << "| rank | frame | CD 1 | CD 2 | mIoU | pixel agreement |\n|---|---|---|---|---|---|\n";
  int rank = 0;
  auto cdname = [&](std::optional<int> v) {
    return v && schema.valid_cd(*v) ? schema.cd[*v].name : std::string("-");
  };
  for (const auto& id : r.expert_queue) {
    const FrameReview* f = by_id[id];
    md << "| " << ++rank << " | " << id << " | " << cdname(f->cd_a) << " | " << cdname(f->cd_b)
       << " | " << f3(f->mean_iou) << " | " << f3(f->pixel_agreement) << " |\n";
  }
  md << "\n## Consistency between CD and mask (" << r.flags.size() << " flags)\n\n";
  if (!r.flags.empty()) md << "| frame | who | rule | detail |\n|---|---|---|---|\n";
  for (const auto& f : r.flags)
    md << "| " << f.frame << " | " << f.user << " | " << f.rule << " | " << f.message << " |\n";
  atomic_write(out_dir / "agreement.md", md.str());
}

}  // namespace excap
