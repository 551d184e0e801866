#include "annotator/core/results_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "media/imageio.h"
#include "stage1/stage1.h"
#include "store/project.h"

namespace excap::annotator {

using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double number_or_nan(const json& j, const std::string& key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kNaN;
}

Curve& curve_named(std::vector<Curve>& curves, const std::string& name) {
  for (auto& c : curves)
    if (c.name == name) return c;
  curves.push_back({name, {}});
  return curves.back();
}

void add_log_line(const json& j, MetricsLog& log) {
  const long long iter = j.value("iter", 0LL);
  if (j.contains("event")) {
    std::string e = j.value("event", std::string()) + " at " + std::to_string(iter);
    if (j.contains("message")) e += ": " + j.value("message", std::string());
    log.events.push_back(e);
    return;
  }
  if (j.contains("val") && j["val"].is_object()) {
    for (const auto& [k, v] : j["val"].items())
      if (v.is_number()) curve_named(log.validation, "val." + k).points.push_back({iter, v});
    if (j.contains("score") && j["score"].is_number())
      curve_named(log.validation, "score").points.push_back({iter, j["score"].get<double>()});
    return;
  }
  for (const auto& [k, v] : j.items()) {
    if (!v.is_number()) continue;
    if (k == "lr") log.lr.points.push_back({iter, v});
    if (k.rfind("loss", 0) == 0 || k.rfind("log_var", 0) == 0)
      curve_named(log.losses, k).points.push_back({iter, v});
  }
}

}  // namespace

MetricsLog read_metrics_log(const fs::path& file) {
  MetricsLog log;
  std::ifstream in(file);
  if (!in) return log;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      log.problems.push_back(file.filename().string() + " line " + std::to_string(number) +
                             ": not a JSON object, skipped");
      continue;
    }
    add_log_line(j, log);
  }
  return log;
}

namespace {

cv::Mat to_thumb(const cv::Mat& bgr, int px) {
  const double s = static_cast<double>(px) / std::max(bgr.cols, bgr.rows);
  cv::Mat small, rgba;
  cv::resize(bgr, small, cv::Size(), std::min(1.0, s), std::min(1.0, s), cv::INTER_AREA);
  cv::cvtColor(small, rgba, cv::COLOR_BGR2RGBA);
  return rgba;
}

cv::Mat colorize(const cv::Mat& mask, const LabelSchema& schema) {
  cv::Mat bgr(mask.size(), CV_8UC3, cv::Scalar(40, 40, 40));
  for (int y = 0; y < mask.rows; ++y)
    for (int x = 0; x < mask.cols; ++x) {
      const int c = mask.at<std::uint8_t>(y, x);
      if (c >= static_cast<int>(schema.tissue.size())) continue;
      const auto& rgb = schema.tissue[static_cast<std::size_t>(c)].color;
      bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(rgb[2], rgb[1], rgb[0]);
    }
  return bgr;
}

// Per-frame mean IoU over the classes present in truth or prediction
// (ignore 255 in the truth), and the pixel accuracy.
std::pair<double, double> frame_scores(const cv::Mat& truth, const cv::Mat& pred, int classes) {
  std::vector<long long> inter(static_cast<std::size_t>(classes)), uni(inter.size());
  long long right = 0, valid = 0;
  for (int y = 0; y < truth.rows; ++y)
    for (int x = 0; x < truth.cols; ++x) {
      const int t = truth.at<std::uint8_t>(y, x), p = pred.at<std::uint8_t>(y, x);
      if (t == 255 || t >= classes) continue;
      ++valid;
      right += t == p;
      ++uni[static_cast<std::size_t>(t)];
      if (p < classes && p != t) ++uni[static_cast<std::size_t>(p)];
      if (p == t) ++inter[static_cast<std::size_t>(t)];
    }
  double sum = 0;
  int present = 0;
  for (std::size_t c = 0; c < uni.size(); ++c)
    if (uni[c] > 0) sum += static_cast<double>(inter[c]) / uni[c], ++present;
  return {present ? sum / present : kNaN, valid ? static_cast<double>(right) / valid : kNaN};
}

// Scores every pred/<frame>.png against final/<frame>.png; keeps the worst.
void find_worst_frames(const Project& p, EvalSummary& e, const ResultsOptions& o) {
  const fs::path pred_dir = e.dir / "pred";
  if (!fs::is_directory(pred_dir)) return;
  const LabelSchema& schema = p.meta().schema;
  std::vector<WorstFrame> all;
  for (const auto& entry : fs::directory_iterator(pred_dir)) {
    if (entry.path().extension() != ".png") continue;
    WorstFrame w;
    w.frame = entry.path().stem().string();
    try {
      const cv::Mat pred = read_mask(entry.path());
      cv::Mat truth = read_mask(p.final_mask_path(w.frame));
      if (truth.size() != pred.size())
        cv::resize(truth, truth, pred.size(), 0, 0, cv::INTER_NEAREST);
      std::tie(w.miou, w.pixel_accuracy) =
          frame_scores(truth, pred, static_cast<int>(schema.tissue.size()));
    } catch (const std::exception& ex) {
      e.problems.push_back(ex.what());
      continue;
    }
    all.push_back(std::move(w));
  }
  std::sort(all.begin(), all.end(), [](const WorstFrame& a, const WorstFrame& b) {
    const double x = std::isnan(a.miou) ? 2 : a.miou, y = std::isnan(b.miou) ? 2 : b.miou;
    return x != y ? x < y : a.frame < b.frame;
  });
  if (static_cast<int>(all.size()) > o.worst_count)
    all.resize(static_cast<std::size_t>(o.worst_count));
  for (auto& w : all) {
    const cv::Mat pred = read_mask(pred_dir / (w.frame + ".png"));
    const cv::Mat image = read_frame(p.frame_path(w.frame));
    w.image = to_thumb(image, o.thumb_px);
    w.truth = to_thumb(colorize(read_mask(p.final_mask_path(w.frame)), schema), o.thumb_px);
    w.pred = to_thumb(colorize(pred, schema), o.thumb_px);
  }
  e.worst = std::move(all);
}

void read_eval_metrics(const json& m, EvalSummary& e) {
  e.checkpoint = m.value("checkpoint", std::string());
  e.iteration = m.value("iteration", 0LL);
  e.count = m.value("count", 0LL);
  e.scored_at = m.value("scored_at", std::string());
  if (m.contains("classification")) {
    const json& c = m["classification"];
    e.has_cls = true;
    e.accuracy = number_or_nan(c, "accuracy");
    e.precision = number_or_nan(c, "precision");
    e.recall = number_or_nan(c, "recall");
    e.f1 = number_or_nan(c, "f1");
    for (const auto& row : c.value("confusion", json::array()))
      e.confusion.push_back(row.get<std::vector<long long>>());
  }
  if (m.contains("segmentation")) {
    const json& s = m["segmentation"];
    e.has_seg = true;
    e.aAcc = number_or_nan(s, "aAcc");
    e.mIoU = number_or_nan(s, "mIoU");
    e.mAcc = number_or_nan(s, "mAcc");
    for (const auto& c : s.value("per_class", json::array()))
      e.iou.emplace_back(c.value("class", std::string("?")), number_or_nan(c, "IoU"));
  }
}

EvalSummary read_eval(const Project& p, const fs::path& dir, const ResultsOptions& o) {
  EvalSummary e;
  e.dir = dir;
  e.subset = dir.filename().string();
  try {
    read_eval_metrics(read_json_file(dir / "metrics.json"), e);
    find_worst_frames(p, e, o);
  } catch (const std::exception& ex) {
    e.problems.push_back(ex.what());
  }
  return e;
}

std::vector<fs::path> sorted_dirs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory()) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

RunSummary read_run(const Project& p, const fs::path& dir, const ResultsOptions& o) {
  RunSummary r;
  r.dir = dir;
  r.name = dir.filename().string();
  try {
    const json c = read_json_file(dir / "config.json");
    const json model = c.value("model", json::object());
    r.arch = model.value("arch", std::string("?"));
    r.backbone = model.value("backbone", std::string("?"));
    r.iters = c.value("iters", 0LL);
  } catch (const std::exception& ex) {
    r.problems.push_back(ex.what());
  }
  r.log = read_metrics_log(dir / "metrics.jsonl");
  for (const auto& e : sorted_dirs(dir / "eval"))
    if (fs::exists(e / "metrics.json")) r.evals.push_back(read_eval(p, e, o));
  return r;
}

}  // namespace

// ---- triage ----

namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"')
      quoted = !quoted;
    else if (ch == ',' && !quoted)
      out.push_back(cell), cell.clear();
    else if (ch != '\r')
      cell += ch;
  }
  out.push_back(cell);
  return out;
}

double to_number(const std::string& s) {
  try {
    return std::stod(s);
  } catch (const std::exception&) {
    return kNaN;
  }
}

void read_frames_csv(const fs::path& file, TriageSeries& t) {
  std::ifstream in(file);
  if (!in) throw Error(file.string(), "cannot be read");
  std::string line;
  std::getline(in, line);
  const auto header = split_csv_line(line);
  int frame = -1, time = -1, p_clear = -1, kept = -1, score = -1;
  std::vector<int> share_cols;
  for (int i = 0; i < static_cast<int>(header.size()); ++i) {
    const std::string& h = header[static_cast<std::size_t>(i)];
    if (h == "frame") frame = i;
    if (h == "time_s") time = i;
    if (h == "p_clear") p_clear = i;
    if (h == "kept") kept = i;
    if (h == "score") score = i;
    if (h.rfind("share_", 0) == 0) share_cols.push_back(i), t.share_names.push_back(h.substr(6));
  }
  if (frame < 0 || time < 0 || p_clear < 0)
    throw Error(file.string(), "no frame, time_s or p_clear column");
  t.shares.assign(share_cols.size(), {});
  int number = 1;
  while (std::getline(in, line)) {
    ++number;
    const auto cells = split_csv_line(line);
    if (cells.size() != header.size()) {
      if (!line.empty())
        t.problems.push_back(file.filename().string() + " line " + std::to_string(number) +
                             ": wrong column count");
      continue;
    }
    auto at = [&](int i) { return to_number(cells[static_cast<std::size_t>(i)]); };
    t.frame.push_back(static_cast<long long>(at(frame)));
    t.time_s.push_back(at(time));
    t.p_clear.push_back(at(p_clear));
    for (std::size_t s = 0; s < share_cols.size(); ++s) t.shares[s].push_back(at(share_cols[s]));
    if (kept >= 0 && at(kept) == 1)
      t.kept.push_back({t.frame.back(), t.time_s.back(), score >= 0 ? at(score) : 0.0});
  }
}

// The contact sheet's frames as triage/triage.cpp picks them: the 48 best
// scores among the kept (ties: earlier first), in video order.
void sheet_frames(TriageSeries& t) {
  std::vector<KeptFrame> best = t.kept;
  std::stable_sort(best.begin(), best.end(),
                   [](const KeptFrame& a, const KeptFrame& b) { return a.score > b.score; });
  if (best.size() > 48) best.resize(48);
  for (const auto& k : best) t.sheet.push_back(k.frame);
  std::sort(t.sheet.begin(), t.sheet.end());
  t.sheet_columns = std::min(4, static_cast<int>(t.sheet.size()));
}

// The project's video whose source is this file (paths compared canonical).
std::string video_of(const Project& p, const fs::path& video) {
  std::error_code ec;
  const fs::path want = fs::weakly_canonical(video, ec);
  for (const auto& v : p.load_videos()) {
    try {
      if (fs::weakly_canonical(video_source(p, v.id), ec) == want) return v.id;
    } catch (const std::exception&) {
      continue;  // a video without a local source
    }
  }
  return "";
}

}  // namespace

int sheet_tile_at(const TriageSeries& t, cv::Size sheet_size, double u, double v) {
  const int n = static_cast<int>(t.sheet.size());
  if (n == 0 || t.sheet_columns <= 0 || u < 0 || u >= 1 || v < 0) return -1;
  const int legend = 52;  // two rows of 22 px and 8 px of margin below the grid
  const double grid = static_cast<double>(sheet_size.height - legend) / sheet_size.height;
  if (v >= grid) return -1;
  const int rows = (n + t.sheet_columns - 1) / t.sheet_columns;
  const int c = static_cast<int>(u * t.sheet_columns), r = static_cast<int>(v / grid * rows);
  const int i = r * t.sheet_columns + c;
  return i < n ? i : -1;
}

TriageSeries read_triage(const fs::path& folder, const fs::path& project_root) {
  TriageSeries t;
  t.dir = folder;
  t.name = folder.filename().string();
  try {
    const json s = read_json_file(folder / "summary.json");
    const json video = s.value("video", json::object());
    t.video = video.value("path", std::string());
    t.fps = video.value("fps", 0.0);
    read_frames_csv(folder / "frames.csv", t);
    sheet_frames(t);
    if (fs::exists(folder / "contact_sheet.png")) {
      t.contact_sheet = folder / "contact_sheet.png";
      const cv::Mat sheet = read_frame(t.contact_sheet);
      t.sheet_size = sheet.size();
      t.sheet_rgba = to_thumb(sheet, 1600);
    }
    t.video_id = video_of(Project::open(project_root), t.video);
  } catch (const std::exception& ex) {
    t.problems.push_back(ex.what());
  }
  return t;
}

namespace {

// True when the summary (single video or merged) was made with weights from
// this project's runs/ (`weights`: a path, or the distinct paths when merged).
bool names_project_run(const fs::path& folder, const fs::path& root) {
  try {
    const json s = read_json_file(folder / "summary.json");
    std::vector<std::string> weights;
    const json w = s.value("weights", json());
    if (w.is_string()) weights.push_back(w);
    if (w.is_array())
      for (const auto& x : w)
        if (x.is_string()) weights.push_back(x);
    std::error_code ec;
    const std::string mine = fs::weakly_canonical(root / "runs", ec).string() + "/";
    for (const auto& x : weights)
      if (fs::weakly_canonical(x, ec).string().rfind(mine, 0) == 0) return true;
  } catch (const std::exception&) {
    return false;
  }
  return false;
}

void add_triage_folder(const fs::path& out, std::vector<fs::path>& folders) {
  if (fs::is_directory(out / "videos")) {
    for (const auto& d : sorted_dirs(out / "videos"))
      if (fs::exists(d / "summary.json")) folders.push_back(d);
  } else if (fs::exists(out / "summary.json")) {
    folders.push_back(out);
  }
}

}  // namespace

std::vector<fs::path> triage_folders(const fs::path& root) {
  std::vector<fs::path> folders;
  add_triage_folder(root / "triage", folders);
  const fs::path beside = root.parent_path() / "triage";
  std::error_code ec;
  if (!fs::equivalent(beside, root / "triage", ec) && names_project_run(beside, root))
    add_triage_folder(beside, folders);
  return folders;
}

ResultsSnapshot load_results(const fs::path& root, const ResultsOptions& o) {
  ResultsSnapshot snap;
  snap.fingerprint = results_fingerprint(root);
  const Project p = Project::open(root);
  snap.schema = p.meta().schema;
  for (const auto& dir : sorted_dirs(root / "runs")) {
    snap.runs.push_back(read_run(p, dir, o));
    try {
      if (fs::exists(dir / "eval" / snap.compare_subset / "metrics.json"))
        for (auto& row :
             trainer::compare_runs(root, {dir.filename().string()}, snap.compare_subset))
          snap.compare.push_back(row);
    } catch (const std::exception& ex) {
      snap.problems.push_back(ex.what());
    }
  }
  for (const auto& f : triage_folders(root)) snap.triage.push_back(read_triage(f, root));
  return snap;
}

long long results_fingerprint(const fs::path& root) {
  long long h = 1469598103934665603LL;
  auto mix = [&h](long long v) { h = (h ^ v) * 1099511628211LL; };
  auto stamp = [&](const fs::path& f) {
    std::error_code ec;
    const auto t = fs::last_write_time(f, ec);
    mix(ec ? -1 : static_cast<long long>(t.time_since_epoch().count()));
    const auto size = fs::file_size(f, ec);
    mix(ec ? -1 : static_cast<long long>(size));
  };
  for (const auto& dir : sorted_dirs(root / "runs")) {
    stamp(dir / "config.json");
    stamp(dir / "metrics.jsonl");
    for (const auto& e : sorted_dirs(dir / "eval")) stamp(e / "metrics.json");
  }
  // Stats only, no parsing: this runs on the UI thread every few seconds.
  for (const fs::path& out : {root / "triage", root.parent_path() / "triage"}) {
    stamp(out / "summary.json");
    for (const auto& d : sorted_dirs(out / "videos")) stamp(d / "summary.json");
  }
  return h;
}

ResultsLoader::ResultsLoader(fs::path project_root, ResultsOptions options)
    : root_(std::move(project_root)), options_(options) {}

void ResultsLoader::start() {
  if (busy()) return;
  future_ = std::async(std::launch::async,
                       [root = root_, o = options_] { return load_results(root, o); });
}

bool ResultsLoader::busy() const { return future_.valid(); }

std::optional<ResultsSnapshot> ResultsLoader::take() {
  if (!future_.valid() || future_.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
    return std::nullopt;
  return future_.get();  // rethrows what the load threw (an unopenable project)
}

}  // namespace excap::annotator
