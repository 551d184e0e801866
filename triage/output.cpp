// The files `excap triage` writes: frames.csv, summary.json, timeline.png,
// contact_sheet.png.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "media/imageio.h"
#include "report/plots.h"
#include "stage1/stage1.h"
#include "store/project.h"
#include "triage/batch.h"
#include "triage/triage.h"

namespace excap::trainer {

namespace {

std::string column_name(const std::string& prefix, const std::string& name) {
  std::string s = prefix;
  for (char c : name)
    s += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  return s;
}

std::string fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

cv::Scalar bgr(std::uint8_t r, std::uint8_t g, std::uint8_t b) { return cv::Scalar(b, g, r); }

std::string frames_csv(const TriageResult& r) {
  std::ostringstream s;
  s << "frame,time_s,cd_pred";
  for (const auto& c : r.schema.cd) s << ',' << column_name("p_", c.name);
  for (const auto& t : r.schema.tissue) s << ',' << column_name("share_", t.name);
  s << ",score,kept,reason,near_kept_frame\n";
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    const FrameScore& f = r.frames[i];
    s << f.index << ',' << fixed(f.time_s, 3) << ',' << f.cd_pred;
    for (float p : r.cd_probs[i]) s << ',' << fixed(p, 4);
    for (float v : r.shares[i]) s << ',' << fixed(v, 4);
    s << ',' << fixed(f.score, 4) << ',' << (f.verdict == Verdict::Kept ? 1 : 0) << ','
      << verdict_name(f.verdict) << ',';
    if (f.near_kept >= 0) s << f.near_kept;
    s << '\n';
  }
  return s.str();
}

nlohmann::json summary_json(const TriageResult& r) {
  std::map<std::string, long long> verdicts;
  for (int v = 0; v <= static_cast<int>(Verdict::QuotaFull); ++v)
    verdicts[verdict_name(Verdict(v))] = 0;
  std::vector<long long> cd_hist(r.schema.cd.size(), 0);
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& f : r.frames) {
    ++verdicts[verdict_name(f.verdict)];
    if (f.cd_pred >= 0 && f.cd_pred < static_cast<int>(cd_hist.size())) ++cd_hist[f.cd_pred];
    if (f.verdict == Verdict::Kept)
      kept.push_back({{"frame", f.index}, {"time_s", f.time_s}, {"score", f.score}});
  }
  nlohmann::json cd_counts;
  for (std::size_t c = 0; c < cd_hist.size(); ++c) cd_counts[r.schema.cd[c].name] = cd_hist[c];
  nlohmann::json fov = {{"kind", r.fov.kind == FieldOfView::Circle ? "circle" : "polygon"}};
  if (r.fov.kind == FieldOfView::Circle) {
    fov["cx"] = r.fov.cx, fov["cy"] = r.fov.cy, fov["r"] = r.fov.r;
  } else {
    nlohmann::json pts = nlohmann::json::array();
    for (const auto& p : r.fov.polygon) pts.push_back({p.x, p.y});
    fov["polygon"] = pts;
  }
  return {
      {"format", "excap-triage-summary"},
      {"version", 1},
      {"created", now_iso8601()},
      {"video",
       {{"path", r.video.string()},
        {"fps", r.info.fps},
        {"frames", r.info.frames},
        {"width", r.info.width},
        {"height", r.info.height},
        {"codec", r.info.codec},
        {"duration_s", r.info.duration_s},
        {"field_of_view", fov}}},
      {"run", r.run_name},
      {"weights", r.weights},
      {"model", r.model},
      {"input_size", r.input_size},
      {"schema", r.schema.name},
      {"interrupted", r.interrupted},
      {"truncated", r.truncated},
      {"warnings", r.warnings},
      {"frames", {{"planned", r.planned}, {"processed", r.processed}, {"predicted_cd", cd_counts}}},
      {"p_clear", p_clear_stats(r.frames)},
      {"selection",
       {{"rule", r.rule.describe()},
        {"keep", r.rule.keep},
        {"min_gap_s", r.rule.min_gap_s},
        {"min_visible", r.rule.min_visible},
        {"lesion_weight", r.rule.lesion_weight},
        {"quota", r.quota},
        {"kept", r.kept},
        {"verdicts", verdicts},
        {"kept_frames", kept}}},
      {"performance",
       {{"device", r.device},
        {"precision", r.precision},
        {"threads", r.threads},
        {"batch", r.batch},
        {"channels_last", r.channels_last},
        {"bn_folding", r.fold.summary()},
        {"setup_s", r.setup_s},
        {"wall_s", r.wall_s},
        {"frames_per_s", r.frames_per_s()},
        {"decode_busy_s", r.decode_s},
        {"inference_s", r.infer_s}}},
      {"outputs", {"frames.csv", "summary.json", "timeline.png", "contact_sheet.png"}},
  };
}

// Mean of `value` per pixel column over [0, duration].
std::vector<double> binned(const TriageResult& r, int width, double duration,
                           double (*value)(const TriageResult&, std::size_t)) {
  std::vector<double> sum(width, 0), n(width, 0);
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    const int x =
        std::clamp(static_cast<int>(r.frames[i].time_s / duration * (width - 1)), 0, width - 1);
    sum[x] += value(r, i);
    n[x] += 1;
  }
  for (int x = 0; x < width; ++x) sum[x] = n[x] > 0 ? sum[x] / n[x] : std::nan("");
  return sum;
}

void draw_series(cv::Mat& img, cv::Rect box, const std::vector<double>& y, double y_max,
                 cv::Scalar colour) {
  cv::Point prev(-1, -1);
  for (int x = 0; x < static_cast<int>(y.size()); ++x) {
    if (std::isnan(y[x])) continue;  // no frame in this column: keep the line going
    const int py = box.y + box.height - 1 -
                   static_cast<int>(std::lround(std::min(1.0, y[x] / y_max) * (box.height - 1)));
    const cv::Point p(box.x + x, py);
    if (prev.x >= 0) cv::line(img, prev, p, colour, 1, cv::LINE_AA);
    prev = p;
  }
}

void panel_frame(cv::Mat& img, cv::Rect box, const std::string& title, double y_max, int decimals) {
  cv::rectangle(img, box, cv::Scalar(180, 180, 180), 1);
  for (double q : {0.25, 0.5, 0.75}) {
    const int y = box.y + static_cast<int>((1 - q) * (box.height - 1));
    cv::line(img, {box.x, y}, {box.x + box.width - 1, y}, cv::Scalar(235, 235, 235), 1);
  }
  cv::putText(img, title, {box.x, box.y - 6}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(40, 40, 40),
              1, cv::LINE_AA);
  cv::putText(img, fixed(y_max, decimals), {box.x - 44, box.y + 10}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
              cv::Scalar(80, 80, 80), 1, cv::LINE_AA);
  cv::putText(img, "0", {box.x - 16, box.y + box.height}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
              cv::Scalar(80, 80, 80), 1, cv::LINE_AA);
}

}  // namespace

cv::Mat draw_timeline(const TriageResult& r) {
  const int W = 1200, left = 60, right = 20, plot_w = W - left - right;
  const int ph = 130, top1 = 40, top2 = top1 + ph + 40, strip = top2 + ph + 14, H = strip + 60;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  double duration = r.info.duration_s > 0 ? r.info.duration_s : 0;
  for (const auto& f : r.frames) duration = std::max(duration, f.time_s);
  if (duration <= 0) duration = 1;
  const cv::Rect box1(left, top1, plot_w, ph), box2(left, top2, plot_w, ph);
  double lesion_max = 0.05;
  for (const auto& f : r.frames) lesion_max = std::max(lesion_max, f.lesion);
  lesion_max = std::ceil(lesion_max * 20) / 20;  // a round 5% step
  // Kept frames: a faint band through both panels and a tick on the strip.
  const cv::Scalar kept_colour = bgr(255, 140, 0);
  for (const auto& f : r.frames) {
    if (f.verdict != Verdict::Kept) continue;
    const int x = left + static_cast<int>(f.time_s / duration * (plot_w - 1));
    cv::line(img, {x, top1}, {x, top1 + ph - 1}, bgr(255, 225, 190), 1);
    cv::line(img, {x, top2}, {x, top2 + ph - 1}, bgr(255, 225, 190), 1);
    cv::line(img, {x, strip}, {x, strip + 14}, kept_colour, 2);
  }
  panel_frame(img, box1, "p(clear) per frame (mean per pixel column)", 1.0, 1);
  panel_frame(img, box2, "lesion share of the field of view", lesion_max, 2);
  draw_series(img, box1,
              binned(r, plot_w, duration,
                     [](const TriageResult& t, std::size_t i) { return t.frames[i].p_clear; }),
              1.0, bgr(30, 150, 60));
  draw_series(img, box2,
              binned(r, plot_w, duration,
                     [](const TriageResult& t, std::size_t i) { return t.frames[i].lesion; }),
              lesion_max, bgr(200, 30, 30));
  cv::putText(img, "kept (" + std::to_string(r.kept) + ")", {left, strip + 30},
              cv::FONT_HERSHEY_SIMPLEX, 0.45, kept_colour, 1, cv::LINE_AA);
  for (int k = 0; k <= 10; ++k) {
    const int x = left + k * (plot_w - 1) / 10;
    const std::string t = format_time(duration * k / 10).substr(0, 8);
    cv::putText(img, t, {x - 28, strip + 48}, cv::FONT_HERSHEY_SIMPLEX, 0.38,
                cv::Scalar(80, 80, 80), 1, cv::LINE_AA);
  }
  const std::string title = r.video.filename().string() + ": " + std::to_string(r.processed) +
                            " frames, " + std::to_string(r.kept) + " kept" +
                            (r.interrupted ? " (interrupted)" : "");
  cv::putText(img, title, {left, 18}, cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
  return img;
}

cv::Mat draw_contact_sheet(const TriageResult& r) {
  std::vector<plots::Rgb> colours;
  for (const auto& t : r.schema.tissue) colours.push_back(t.color);
  std::vector<cv::Mat> tiles;
  std::vector<std::string> captions;
  for (const SheetFrame& f : r.sheet) {
    cv::Mat image;
    cv::cvtColor(f.rgb, image, cv::COLOR_RGB2BGR);
    cv::Mat overlay;
    cv::addWeighted(image, 0.55, plots::colorize_mask(f.mask, colours), 0.45, 0, overlay);
    cv::Mat tile;
    cv::hconcat(image, overlay, tile);
    tiles.push_back(tile);
    captions.push_back("#" + std::to_string(f.index) + " " + format_time(f.time_s).substr(0, 8) +
                       " p=" + fixed(f.p_clear, 2) + " les=" + fixed(100 * f.lesion, 0) + "%");
  }
  cv::Mat sheet;
  if (tiles.empty()) {
    sheet = cv::Mat(120, 640, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(sheet, "no frame was kept", {20, 60}, cv::FONT_HERSHEY_SIMPLEX, 0.7,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  } else {
    sheet = plots::montage(tiles, captions, 4, 360);
  }
  // Legend: the schema's tissue colours.
  const int row = 22;
  cv::Mat legend(row * 2 + 8, sheet.cols, CV_8UC3, cv::Scalar(255, 255, 255));
  int x = 8, y = 6;
  for (const auto& t : r.schema.tissue) {
    const int w = 24 + static_cast<int>(t.name.size()) * 8;
    if (x + w > legend.cols) x = 8, y += row;
    if (y + row > legend.rows) break;
    cv::rectangle(legend, cv::Rect(x, y + 3, 14, 14), bgr(t.color[0], t.color[1], t.color[2]),
                  cv::FILLED);
    cv::putText(legend, t.name, {x + 18, y + 15}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    x += w + 10;
  }
  cv::Mat out;
  cv::vconcat(sheet, legend, out);
  return out;
}

void write_triage_outputs(const TriageResult& r, const fs::path& out_dir) {
  ensure_dir(out_dir);
  atomic_write(out_dir / "frames.csv", frames_csv(r));
  write_png_atomic(out_dir / "timeline.png", draw_timeline(r));
  write_png_atomic(out_dir / "contact_sheet.png", draw_contact_sheet(r));
  write_json_atomic(out_dir / "summary.json",
                    summary_json(r));  // last: its presence means complete
}

}  // namespace excap::trainer
