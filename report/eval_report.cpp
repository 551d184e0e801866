#include "report/eval_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "media/imageio.h"
#include "report/plots.h"

namespace excap::trainer {

namespace {
std::string pct(double v) {
  if (std::isnan(v)) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", 100.0 * v);
  return b;
}

struct Curves {
  std::map<std::string, plots::LineSeries> loss, val;
};

// metrics.jsonl lines: {"iter":..,"loss":..,"loss_cls":..} and {"iter":..,"val":{..}}.
Curves read_curves(const fs::path& jsonl) {
  Curves c;
  std::ifstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("iter")) continue;
    const double it = j["iter"].get<double>();
    if (j.contains("val") && j["val"].is_object()) {
      for (auto& [k, v] : j["val"].items())
        if (v.is_number()) {
          auto& s = c.val[k];
          s.name = k;
          s.x.push_back(it);
          s.y.push_back(v.get<double>());
        }
    } else {
      for (auto& [k, v] : j.items())
        if (k.rfind("loss", 0) == 0 && v.is_number()) {
          auto& s = c.loss[k];
          s.name = k;
          s.x.push_back(it);
          s.y.push_back(v.get<double>());
        }
    }
  }
  return c;
}

std::vector<plots::LineSeries> values_of(const std::map<std::string, plots::LineSeries>& m) {
  std::vector<plots::LineSeries> v;
  for (const auto& [k, s] : m) v.push_back(s);
  return v;
}

cv::Mat packed_image(const PackedSubset& d, std::size_t i) {  // RGB -> BGR Mat
  const int s = d.size;
  cv::Mat rgb(s, s, CV_8UC3,
              const_cast<std::uint8_t*>(d.images.data()) + i * std::size_t(s) * s * 3);
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

cv::Mat mask_view(const std::uint8_t* base, std::size_t i, int s) {
  return cv::Mat(s, s, CV_8UC1, const_cast<std::uint8_t*>(base) + i * std::size_t(s) * s).clone();
}

std::string name_of(const std::vector<std::string>& names, int i) {
  return i >= 0 && i < int(names.size()) ? names[i] : std::to_string(i);
}
// What every section writes to: the markdown and the folder beside it.
struct ReportSink {
  fs::path dir;  // eval_dir(run_dir, subset); holds plots/
  std::ostringstream md;
};

void write_heading(ReportSink& out, const EvalResult& r) {
  const PackedSubset& d = r.data;
  out.md
      << "# Evaluation of run `" << r.run << "` on `" << d.split << "/" << r.subset << "`\n\n"
      << "Weights: " << r.checkpoint << " checkpoint, iteration " << r.iteration
      << ". Frames: " << d.ids.size() << " at " << d.size << "x" << d.size
      << ". Forward time: " << r.seconds << " s.\n\n"
      << "Definitions: segmentation as mmsegmentation's IoUMetric (areas summed over the subset, "
         "pixels labelled "
      << d.ignore_index
      << " dropped, a class absent from both label and "
         "prediction is n/a and left out of the means); classification as scikit-learn "
         "`average='macro'` (0 where undefined).\n\n"
      << (r.scored_at == ScoredAt::Original
              ? "Segmentation scored at each frame's original size: the logits resized to its "
                "final mask (bilinear, align_corners=False), as mmsegmentation scores.\n\n"
              : "Segmentation scored at the packed size against the nearest-resized masks "
                "(`--at-packed-size`).\n\n");
}

void write_classification(ReportSink& out, const EvalResult& r) {
  const PackedSubset& d = r.data;
  auto& md = out.md;
  md << "## Clearness degree classification\n\n| Accuracy | Precision | Recall | F1 |\n"
     << "|---:|---:|---:|---:|\n| " << pct(r.cls.accuracy) << " | " << pct(r.cls.precision) << " | "
     << pct(r.cls.recall) << " | " << pct(r.cls.f1) << " |\n\n"
     << "| class | precision | recall | F1 | support |\n|---|---:|---:|---:|---:|\n";
  for (std::size_t c = 0; c < r.cls.support.size(); ++c)
    md << "| " << name_of(d.cd_names, int(c)) << " | " << pct(r.cls.class_precision[c]) << " | "
       << pct(r.cls.class_recall[c]) << " | " << pct(r.cls.class_f1[c]) << " | " << r.cls.support[c]
       << " |\n";
  std::vector<long long> flat;
  for (const auto& row : r.cls.confusion) flat.insert(flat.end(), row.begin(), row.end());
  write_png_atomic(
      out.dir / "plots" / "confusion.png",
      plots::confusion_matrix_image("Clearness degree (" + r.subset + ")", d.cd_names, flat));
  md << "\n![confusion matrix](plots/confusion.png)\n\n";
}

void write_per_class_iou_chart(ReportSink& out, const EvalResult& r) {
  std::vector<double> iou, acc;
  for (std::size_t c = 0; c < r.seg.iou.size(); ++c)
    iou.push_back(100 * r.seg.iou[c]), acc.push_back(100 * r.seg.acc[c]);
  plots::ChartStyle style;
  style.y_label = "%";
  style.y_min = 0;
  style.y_max = 100;
  style.value_decimals = 1;
  write_png_atomic(out.dir / "plots" / "per_class_iou.png",
                   plots::bar_chart("Per-class IoU and Acc (" + r.subset + ")", r.data.tissue_names,
                                    {{"IoU", iou}, {"Acc", acc}}, style));
  out.md << "\n![per-class IoU](plots/per_class_iou.png)\n\n";
}

// Predicted masks at the resolution scored, so anyone can recompute the metrics.
void write_predicted_masks(ReportSink& out, const EvalResult& r) {
  const PackedSubset& d = r.data;
  ensure_dir(out.dir / "pred");
  const bool original = r.scored_at == ScoredAt::Original;
  for (std::size_t i = 0; i < d.ids.size(); ++i) {
    const fs::path file = out.dir / "pred" / (d.ids[i] + ".png");
    if (!original) {
      write_png_atomic(file, mask_view(r.pred_masks.data(), i, d.size));
      continue;
    }
    const FrameMask& m = r.pred_original.at(i);
    write_png_atomic(
        file, cv::Mat(m.height, m.width, CV_8UC1, const_cast<std::uint8_t*>(m.pixels.data())));
  }
  out.md << "Predicted masks: `pred/<frame id>.png` (class index per pixel, "
         << (original ? std::string("at each frame's final mask size")
                      : std::to_string(d.size) + "x" + std::to_string(d.size) +
                            ", the packed resolution")
         << ").\n\n";
}

void write_segmentation(ReportSink& out, const EvalResult& r) {
  auto& md = out.md;
  md << "## Tissue segmentation\n\n| aAcc | mIoU | mAcc |\n|---:|---:|---:|\n| " << pct(r.seg.aAcc)
     << " | " << pct(r.seg.mIoU) << " | " << pct(r.seg.mAcc) << " |\n\n"
     << "| class | IoU | Acc | label pixels | predicted pixels |\n|---|---:|---:|---:|---:|\n";
  for (std::size_t c = 0; c < r.seg.iou.size(); ++c)
    md << "| " << name_of(r.data.tissue_names, int(c)) << " | " << pct(r.seg.iou[c]) << " | "
       << pct(r.seg.acc[c]) << " | " << r.seg.label_area[c] << " | " << r.seg.pred_area[c]
       << " |\n";
  write_per_class_iou_chart(out, r);
  write_predicted_masks(out, r);
}

void write_training_curves(ReportSink& out, const fs::path& run_dir) {
  const Curves curves = read_curves(run_dir / "metrics.jsonl");
  if (!curves.loss.empty()) {
    plots::ChartStyle st;
    st.x_label = "iteration";
    st.y_label = "loss";
    write_png_atomic(out.dir / "plots" / "loss.png",
                     plots::line_chart("Training losses", values_of(curves.loss), st));
    out.md << "## Training\n\n![losses](plots/loss.png)\n\n";
  }
  if (!curves.val.empty()) {
    plots::ChartStyle st;
    st.x_label = "iteration";
    st.y_label = "validation score";
    st.y_min = 0;
    st.y_max = 1;
    write_png_atomic(out.dir / "plots" / "validation.png",
                     plots::line_chart("Validation scores", values_of(curves.val), st));
    out.md << "![validation](plots/validation.png)\n\n";
  }
}

void write_colour_legend(std::ostringstream& md, const LabelSchema& schema) {
  md << "Colours: ";
  for (std::size_t c = 0; c < schema.tissue.size(); ++c) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "#%02x%02x%02x", schema.tissue[c].color[0],
                  schema.tissue[c].color[1], schema.tissue[c].color[2]);
    md << (c ? ", " : "") << schema.tissue[c].name << " " << hex;
  }
  md << "; grey = ignored (255).\n";
}

// Overlay panel: image | ground truth | prediction per frame (paper Figure 5).
void write_overlay_panel(ReportSink& out, const EvalResult& r, const LabelSchema& schema,
                         int shown) {
  const PackedSubset& d = r.data;
  std::vector<plots::Rgb> colors;
  for (const auto& t : schema.tissue) colors.push_back(t.color);
  std::vector<cv::Mat> tiles;
  std::vector<std::string> captions;
  for (int k = 0; k < shown; ++k) {
    // Spread the shown frames over the subset rather than the first few.
    const std::size_t i = std::size_t(k) * d.ids.size() / shown;
    tiles.push_back(packed_image(d, i));
    tiles.push_back(plots::colorize_mask(mask_view(d.masks.data(), i, d.size), colors));
    tiles.push_back(plots::colorize_mask(mask_view(r.pred_masks.data(), i, d.size), colors));
    captions.push_back(d.ids[i] + " (CD " + name_of(d.cd_names, d.cd.data()[i]) + ")");
    captions.push_back("ground truth");
    captions.push_back(r.has_cls ? "prediction (CD " + name_of(d.cd_names, r.pred_cd[i]) + ")"
                                 : "prediction");
  }
  write_png_atomic(out.dir / "overlays.png", plots::montage(tiles, captions, 3, 240));
  out.md << "## Image | ground truth | prediction\n\n![overlays](overlays.png)\n\n";
  write_colour_legend(out.md, schema);
}
}  // namespace

fs::path write_eval_report(const fs::path& run_dir, const EvalResult& r, const LabelSchema& schema,
                           const ReportOptions& options) {
  ReportSink out;
  out.dir = eval_dir(run_dir, r);
  ensure_dir(out.dir / "plots");
  write_heading(out, r);
  if (r.has_cls) write_classification(out, r);
  if (r.has_seg) write_segmentation(out, r);
  write_training_curves(out, run_dir);
  const int shown = std::min<int>(options.overlay_frames, static_cast<int>(r.data.ids.size()));
  if (shown > 0 && r.has_seg) write_overlay_panel(out, r, schema, shown);
  const fs::path report = out.dir / "report.md";
  atomic_write(report, out.md.str());
  return report;
}

}  // namespace excap::trainer
