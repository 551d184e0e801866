#include "report/agreement_report.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "media/imageio.h"
#include "report/plots.h"
#include "store/project.h"

namespace excap {

namespace {

// One pair's section: kappa, CD confusion plot, per-class mask table and bars.
void write_pair_section(std::ostringstream& md, const AgreementReport& r, const PairAgreement& p,
                        const std::string& tag, const fs::path& out_dir) {
  md << "## " << p.a << " / " << p.b << "\n\n";
  md << "Clearness degree over " << p.cd_frames << " frames: Cohen's kappa **"
     << format_score(p.kappa) << "** (quadratic-weighted " << format_score(p.kappa_quadratic)
     << "), observed agreement " << format_score(p.cd_agreement) << ".\n\n";
  plots::ConfusionStyle cs;
  cs.row_title = p.a;
  cs.col_title = p.b;
  write_png_atomic(
      out_dir / (tag + "_cd_confusion.png"),
      plots::confusion_matrix_image("CD: " + p.a + " vs " + p.b, r.cd_names, p.cd_confusion, cs));
  md << "![CD confusion](" << tag << "_cd_confusion.png)\n\n";
  md << "Tissue masks over " << p.mask_frames << " frames (areas summed over frames): mIoU "
     << format_score(p.areas.mean_iou()) << ", pixel agreement "
     << format_score(p.areas.pixel_agreement()) << ".\n\n| class | IoU | Dice | pixels " << p.a
     << " | pixels " << p.b << " |\n|---|---|---|---|---|\n";
  const auto iou = p.areas.iou(), dice = p.areas.dice();
  // compare_masks(a, b) keeps a's areas as the label areas, b's as the prediction areas.
  for (std::size_t c = 0; c < iou.size() && c < r.tissue_names.size(); ++c)
    md << "| " << r.tissue_names[c] << " | " << format_score(iou[c]) << " | "
       << format_score(dice[c]) << " | " << p.areas.label_area[c] << " | " << p.areas.pred_area[c]
       << " |\n";
  plots::BarSeries si{"IoU", iou}, sd{"Dice", dice};
  plots::ChartStyle st;
  st.y_min = 0, st.y_max = 1;
  st.y_label = "agreement";
  write_png_atomic(out_dir / (tag + "_class_agreement.png"),
                   plots::bar_chart("Per-class mask agreement: " + p.a + " vs " + p.b,
                                    r.tissue_names, {si, sd}, st));
  md << "\n![per-class agreement](" << tag << "_class_agreement.png)\n\n";
}

// Frames where the masks or the CDs differ at all, worst first, at most `limit`.
std::vector<const FrameReview*> worst_frames_of(const AgreementReport& r, int limit) {
  std::vector<const FrameReview*> worst;
  for (const auto& f : r.frames)
    if (f.masks_present && f.disagreement > 1e-12) worst.push_back(&f);
  std::stable_sort(worst.begin(), worst.end(), [](const FrameReview* x, const FrameReview* y) {
    return x->disagreement > y->disagreement;
  });
  if (static_cast<int>(worst.size()) > limit) worst.resize(limit);
  return worst;
}

// The frame with the pixels where the two masks differ drawn over it.
cv::Mat difference_tile(const Project& project, const FrameReview& f) {
  cv::Mat a = read_mask(project.label_mask_path(f.a, f.frame));
  cv::Mat b = read_mask(project.label_mask_path(f.b, f.frame));
  cv::Mat image;
  std::error_code ec;
  if (fs::exists(project.frame_path(f.frame), ec)) {
    try {
      image = read_frame(project.frame_path(f.frame));
    } catch (const Error&) {
      image.release();  // an unreadable frame still gets its tile, on grey
    }
  }
  return plots::highlight_overlay(image, a != b);
}

void write_worst_frames(std::ostringstream& md, const Project& project, const AgreementReport& r,
                        const fs::path& out_dir, int limit) {
  const auto worst = worst_frames_of(r, limit);
  if (worst.empty()) return;
  std::vector<cv::Mat> tiles;
  std::vector<std::string> caps;
  for (const auto* f : worst) {
    tiles.push_back(difference_tile(project, *f));
    caps.push_back(f->frame + "  mIoU " + format_score(f->mean_iou) +
                   (f->cd_a && f->cd_b && *f->cd_a != *f->cd_b ? "  CD!" : ""));
  }
  write_png_atomic(out_dir / "worst_frames_heatmap.png", plots::montage(tiles, caps, 4));
  md << "## Worst frames\n\nRed: pixels where the two masks differ. `CD!`: the clearness "
        "degrees differ too.\n\n![worst frames](worst_frames_heatmap.png)\n\n";
}

void write_expert_queue(std::ostringstream& md, const LabelSchema& schema,
                        const AgreementReport& r) {
  md << "## Frames that need an expert (" << r.expert_queue.size()
     << ")\n\nRanked: CD "
        "disagreement first, then lowest mask mIoU. Auto-accept threshold: mean IoU >= "
     << format_score(r.auto_accept_iou) << " with the same CD.\n\n";
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
       << " | " << format_score(f->mean_iou) << " | " << format_score(f->pixel_agreement) << " |\n";
  }
}

void write_flags(std::ostringstream& md, const AgreementReport& r) {
  md << "\n## Consistency between CD and mask (" << r.flags.size() << " flags)\n\n";
  if (!r.flags.empty()) md << "| frame | who | rule | detail |\n|---|---|---|---|\n";
  for (const auto& f : r.flags)
    md << "| " << f.frame << " | " << f.user << " | " << f.rule << " | " << f.message << " |\n";
}

// Pre-labeled frames agree partly because both annotators saw the same model
// suggestion, so they are shown apart from frames labeled from scratch.
void write_origin_section(std::ostringstream& md, const AgreementReport& r) {
  md << "## Pre-labeled and from-scratch frames\n\nA frame is pre-labeled when one of its labels "
        "started from a model suggestion; its agreement is inflated by the shared suggestion "
        "and does not measure independent labeling.\n\n"
        "| frames | count | CD kappa | CD agreement | mask mIoU | pixel agreement |\n"
        "|---|---|---|---|---|---|\n";
  const std::pair<const char*, const OriginAgreement*> groups[] = {
      {"pre-labeled", &r.prelabeled}, {"from scratch", &r.from_scratch}};
  for (const auto& [name, g] : groups)
    md << "| " << name << " | " << g->frames << " | " << format_score(g->kappa) << " | "
       << format_score(g->cd_agreement) << " | " << format_score(g->areas.mean_iou()) << " | "
       << format_score(g->areas.pixel_agreement()) << " |\n";
  md << "\n";
}

}  // namespace

void write_agreement_report(const Project& project, const AgreementReport& r,
                            const fs::path& out_dir, int worst_frames) {
  ensure_dir(out_dir);
  write_json_atomic(out_dir / "agreement.json", agreement_to_json(r));
  std::ostringstream md;
  md << "# Annotator agreement\n\nProject `" << project.meta().name << "`, " << now_iso8601()
     << ". Frames assigned: " << r.frames_assigned << "; compared (two labels): " << r.frames.size()
     << "; waiting for labels: " << r.frames_waiting_for_labels << ".\n\n";
  int idx = 0;
  for (const auto& p : r.pairs)
    write_pair_section(md, r, p, "pair" + std::to_string(++idx), out_dir);
  write_origin_section(md, r);
  write_worst_frames(md, project, r, out_dir, worst_frames);
  write_expert_queue(md, project.meta().schema, r);
  write_flags(md, r);
  atomic_write(out_dir / "agreement.md", md.str());
}

}  // namespace excap
