#include "triage/triage.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/safetensors.h"
#include "model/weights.h"
#include "stage1/stage1.h"
#include "store/project.h"
#include "trainer/checkpoint.h"
#include "trainer/data.h"
#include "trainer/evaluate.h"
#include "trainer/pack.h"
#include "trainer/packed.h"

namespace excap::trainer {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string join_names(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

std::vector<std::string> cd_names(const LabelSchema& s) {
  std::vector<std::string> v;
  for (const auto& c : s.cd) v.push_back(c.name);
  return v;
}
std::vector<std::string> tissue_names(const LabelSchema& s) {
  std::vector<std::string> v;
  for (const auto& t : s.tissue) v.push_back(t.name);
  return v;
}

// A schema holding only names (colours from CECD where the names agree).
LabelSchema names_only(const std::vector<std::string>& cd, const std::vector<std::string>& tissue) {
  LabelSchema s;
  s.name = "from run";
  for (std::size_t i = 0; i < cd.size(); ++i) s.cd.push_back({static_cast<int>(i), cd[i], ""});
  for (std::size_t i = 0; i < tissue.size(); ++i)
    s.tissue.push_back({static_cast<int>(i), tissue[i], {}, ""});
  return s;
}

// The class names the run was trained on, and where they were found.
std::pair<LabelSchema, std::string> run_schema(const fs::path& run_dir,
                                               const nlohmann::json& config,
                                               const TrainConfig& cfg) {
  if (config.contains("schema") && config["schema"].is_object())
    return {config["schema"].get<LabelSchema>(), "config.json"};
  if (config.contains("cd_names") && config.contains("tissue_names"))
    return {names_only(config["cd_names"].get<std::vector<std::string>>(),
                       config["tissue_names"].get<std::vector<std::string>>()),
            "config.json"};
  const fs::path root = run_dir.parent_path().parent_path();  // <project>/runs/<name>
  const fs::path packed = packed_path(root, cfg.split, cfg.size, cfg.train_subset);
  std::error_code ec;
  if (!cfg.split.empty() && fs::exists(packed, ec)) {
    const auto header = safetensors::read_header(packed);
    auto cd = header.metadata.find("cd_names"), tissue = header.metadata.find("tissue_names");
    if (cd != header.metadata.end() && tissue != header.metadata.end())
      return {names_only(nlohmann::json::parse(cd->second).get<std::vector<std::string>>(),
                         nlohmann::json::parse(tissue->second).get<std::vector<std::string>>()),
              packed.string()};
  }
  if (fs::exists(root / "project.json", ec)) {
    const nlohmann::json pj = read_json_file(root / "project.json");
    if (pj.contains("schema"))
      return {pj["schema"].get<LabelSchema>(), (root / "project.json").string()};
  }
  return {LabelSchema{}, ""};
}

}  // namespace

LabelSchema triage_schema() { return cecd_schema(); }

void check_run_schema(const LabelSchema& run, const std::string& run_name,
                      const std::string& source) {
  const LabelSchema want = triage_schema();
  auto describe = [](const LabelSchema& s) {
    return "CD [" + join_names(cd_names(s)) + "], tissue [" + join_names(tissue_names(s)) + "]";
  };
  auto fail = [&](const std::string& what) {
    throw Error("run '" + run_name + "'", "was trained with a different label schema (" + what +
                                              "; from " + source + "): " + describe(run) +
                                              "; triage needs the " + want.name +
                                              " schema: " + describe(want));
  };
  if (run.num_cd() != want.num_cd())
    fail(std::to_string(run.num_cd()) + " clearness degrees, not " + std::to_string(want.num_cd()));
  if (run.num_tissue() != want.num_tissue())
    fail(std::to_string(run.num_tissue()) + " tissue classes, not " +
         std::to_string(want.num_tissue()));
  for (int i = 0; i < want.num_cd(); ++i)
    if (lower(run.cd[i].name) != lower(want.cd[i].name))
      fail("clearness degree " + std::to_string(i) + " is '" + run.cd[i].name + "', not '" +
           want.cd[i].name + "'");
  for (int i = 0; i < want.num_tissue(); ++i)
    if (lower(run.tissue[i].name) != lower(want.tissue[i].name))
      fail("tissue class " + std::to_string(i) + " is '" + run.tissue[i].name + "', not '" +
           want.tissue[i].name + "'");
}

TriageModel load_triage_model(const fs::path& run_dir, const std::string& checkpoint) {
  const std::string name = run_dir.filename().string();
  const std::string where = "run '" + run_dir.string() + "'";
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec))
    throw Error(where, "no such run folder (give --run PROJECT/runs/NAME)");
  if (!fs::exists(run_dir / "config.json", ec))
    throw Error(where, "has no config.json: not a training run (train it with `excap train`)");
  const nlohmann::json config = read_json_file(run_dir / "config.json");
  TriageModel m;
  m.run_dir = run_dir;
  try {
    m.config = config.get<TrainConfig>();
  } catch (const std::exception& e) {
    throw Error((run_dir / "config.json").string(),
                std::string("not a run configuration: ") + e.what());
  }
  if (!model::arch_has_cls(m.config.model.arch) || !model::arch_has_seg(m.config.model.arch))
    throw Error(where,
                "model '" + model::to_string(m.config.model.arch) +
                    "' is not multi-task: triage needs both the clearness and the tissue output");

  auto [schema, source] = run_schema(run_dir, config, m.config);
  if (source.empty()) {  // names unknown: the class counts must still be CECD's
    schema = names_only(cd_names(triage_schema()), tissue_names(triage_schema()));
    schema.cd.resize(static_cast<std::size_t>(std::max(0, m.config.model.num_cd)), {0, "?", ""});
    schema.tissue.resize(static_cast<std::size_t>(std::max(0, m.config.model.num_tissue)));
    source = "the model's class counts in config.json";
  }
  check_run_schema(schema, name, source);
  if (m.config.model.num_cd != schema.num_cd() || m.config.model.num_tissue != schema.num_tissue())
    throw Error(where, "config.json's model has " + std::to_string(m.config.model.num_cd) +
                           " CD / " + std::to_string(m.config.model.num_tissue) +
                           " tissue outputs, but the run's schema has " +
                           std::to_string(schema.num_cd()) + " / " +
                           std::to_string(schema.num_tissue()));
  m.schema = triage_schema();  // the names agree; take CECD's colours
  m.schema_source = source;

  if (checkpoint == "best" || checkpoint == "latest") {
    std::optional<fs::path> folder = checkpoint_folder(run_dir, checkpoint);
    if (!folder && checkpoint == "best") folder = checkpoint_folder(run_dir, "latest");
    if (!folder)
      throw Error(where, "has no checkpoint (no checkpoints/" + checkpoint +
                             ".json): the run was never saved; train it first");
    m.weights = *folder / "weights.safetensors";
  } else {
    m.weights = checkpoint;
  }
  if (!fs::exists(m.weights, ec))
    throw Error(m.weights.string(), "checkpoint weights file is missing");
  const model::ModelConfig saved = model::read_weights_config(m.weights);
  if (saved.num_cd != m.config.model.num_cd || saved.num_tissue != m.config.model.num_tissue)
    throw Error(m.weights.string(), "its model has " + std::to_string(saved.num_cd) + " CD / " +
                                        std::to_string(saved.num_tissue) +
                                        " tissue outputs; the run's config.json says " +
                                        std::to_string(m.config.model.num_cd) + " / " +
                                        std::to_string(m.config.model.num_tissue));
  m.net = model::build_model(m.config.model);
  load_model_weights(m.weights, *m.net, /*strict=*/true);
  m.net->eval();
  return m;
}

// ---------------------------------------------------------------------------

namespace {

struct HostBatch {
  torch::Tensor images;  // uint8 [n, S, S, 3] RGB (pinned on CUDA)
  std::vector<long long> index;
  std::vector<double> time;
};

// Bounded queue between the decoder and the model.
class BatchQueue {
 public:
  explicit BatchQueue(std::size_t capacity) : capacity_(capacity) {}
  bool push(HostBatch b) {  // false when the consumer is gone
    std::unique_lock<std::mutex> lock(m_);
    not_full_.wait(lock, [&] { return q_.size() < capacity_ || abandoned_; });
    if (abandoned_) return false;
    q_.push_back(std::move(b));
    not_empty_.notify_one();
    return true;
  }
  bool pop(HostBatch& b) {  // false at the end
    std::unique_lock<std::mutex> lock(m_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    b = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(m_);
    closed_ = true;
    not_empty_.notify_all();
  }
  void abandon() {
    std::lock_guard<std::mutex> lock(m_);
    abandoned_ = true;
    not_full_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable not_full_, not_empty_;
  std::deque<HostBatch> q_;
  std::size_t capacity_;
  bool closed_ = false, abandoned_ = false;
};

struct DecoderState {
  bool interrupted = false, truncated = false;
  long long stopped_at = -1;
  double busy_s = 0;
  std::exception_ptr error;
};

// Blank, then convert and resize as `excap pack` does (trainer/pack.h pack_image).
// The outside mask is drawn once per video: blank_outside_fov (media/frameops.h)
// with its per-frame mask drawing hoisted out of the loop.
void prepare_frame(cv::Mat& bgr, const FieldOfView& fov, cv::Mat& outside, int size,
                   std::uint8_t* dst) {
  if (outside.size() != bgr.size()) cv::bitwise_not(fov.mask(bgr.size()), outside);
  bgr.setTo(cv::Scalar::all(0), outside);
  pack_image(bgr, size, dst);
}

void decode_loop(const TriageOptions& opt, const std::vector<long long>& indices, double video_fps,
                 const FieldOfView& fov, int size, int batch, bool pinned, BatchQueue& queue,
                 DecoderState& st) {
  try {
    VideoReader reader(opt.video);
    auto options = torch::TensorOptions().dtype(torch::kUInt8);
    if (pinned) options = options.pinned_memory(true);
    HostBatch cur;
    auto fresh = [&] { cur = HostBatch{torch::empty({batch, size, size, 3}, options), {}, {}}; };
    fresh();
    auto flush = [&] {
      if (cur.index.empty()) return true;
      const auto n = static_cast<std::int64_t>(cur.index.size());
      if (n < batch) cur.images = cur.images.narrow(0, 0, n);
      const bool ok = queue.push(std::move(cur));
      fresh();
      return ok;
    };
    cv::Mat bgr, outside;
    const std::int64_t frame_bytes = std::int64_t(size) * size * 3;
    for (long long idx : indices) {
      if (opt.cancel && opt.cancel->load()) {
        st.interrupted = true;
        break;
      }
      const auto t0 = Clock::now();
      if (!reader.read_at(idx, bgr)) {
        st.truncated = true;
        st.stopped_at = reader.position();
        break;
      }
      const auto slot = static_cast<std::int64_t>(cur.index.size());
      prepare_frame(bgr, fov, outside, size,
                    cur.images.data_ptr<std::uint8_t>() + slot * frame_bytes);
      cur.index.push_back(idx);
      cur.time.push_back(video_fps > 0 ? static_cast<double>(idx) / video_fps : 0.0);
      st.busy_s += seconds_since(t0);
      if (static_cast<int>(cur.index.size()) == batch && !flush()) break;
    }
    flush();
  } catch (...) {
    st.error = std::current_exception();
  }
  queue.close();
}

FieldOfView find_fov(const fs::path& video, long long frames, cv::Size size,
                     std::vector<std::string>& warnings) {
  try {
    return detect_fov(
        sample_frames(video, 16, frames));  // as stage I (stage1/stage1.cpp video_fov)
  } catch (const Error& e) {
    warnings.push_back("field of view not detected (" + e.reason() + "): the whole frame is used");
    FieldOfView fov;
    fov.kind = FieldOfView::Polygon;
    fov.polygon = {{0, 0},
                   {static_cast<float>(size.width), 0},
                   {static_cast<float>(size.width), static_cast<float>(size.height)},
                   {0, static_cast<float>(size.height)}};
    return fov;
  }
}

// A pool of the best-scoring eligible frames, for the contact sheet.
class SheetPool {
 public:
  explicit SheetPool(std::size_t cap) : cap_(cap) {}
  bool wants(double score) const {
    return cap_ > 0 && (pool_.size() < cap_ || score > pool_.begin()->first);
  }
  void add(SheetFrame f) {
    if (!wants(f.score)) return;
    if (pool_.size() >= cap_) pool_.erase(pool_.begin());
    pool_.emplace(f.score, std::move(f));
  }
  std::vector<SheetFrame> take() {
    std::vector<SheetFrame> v;
    for (auto it = pool_.rbegin(); it != pool_.rend(); ++it) v.push_back(std::move(it->second));
    return v;  // best first
  }

 private:
  std::size_t cap_;
  std::multimap<double, SheetFrame> pool_;
};

}  // namespace

TriageResult run_triage(const TriageOptions& opt) {
  std::error_code ec;  // the video first: a wrong file is reported before the model loads
  if (!fs::exists(opt.video, ec)) throw Error(opt.video.string(), "no such video file");
  probe_video(opt.video, /*count_frames=*/false);
  TriageModel model = load_triage_model(opt.run_dir, opt.checkpoint);
  return run_triage(opt, model);
}

namespace {

void check_selection_options(const TriageOptions& opt) {
  if (!(opt.rule.keep >= 0 && opt.rule.keep <= 1)) throw Error("--keep", "must lie in [0, 1]");
  if (!(opt.rule.min_gap_s >= 0)) throw Error("--min-gap", "must be >= 0 seconds");
  if (opt.every_n < 0 || opt.fps < 0) throw Error("--every/--fps", "must be positive");
}

// Probe first: a corrupt file is refused before the model is touched.
void probe_input(const TriageOptions& opt, TriageResult& r) {
  std::error_code ec;
  if (!fs::exists(opt.video, ec)) throw Error(opt.video.string(), "no such video file");
  r.info = probe_video(opt.video, /*count_frames=*/false);
  if (r.info.frames <= 0) r.info = probe_video(opt.video, /*count_frames=*/true);
  r.fov = find_fov(opt.video, r.info.frames, cv::Size(r.info.width, r.info.height), r.warnings);
}

// Device, threads, batch, precision and memory format; returns whether to run in fp16.
bool configure_execution(const TriageOptions& opt, const torch::Device& device, TriageResult& r) {
  r.device = device.str();
  r.threads = configure_threads(opt.threads);
  const bool cuda = device.is_cuda();
  r.batch = opt.batch > 0 ? opt.batch : (cuda ? 128 : 16);
  const bool half = opt.precision == "fp16" || (opt.precision == "auto" && cuda);
  if (opt.precision != "auto" && opt.precision != "fp16" && opt.precision != "fp32")
    throw Error("--precision", "expected auto, fp32 or fp16, got '" + opt.precision + "'");
  if (half && !cuda) throw Error("--precision fp16", "half precision is only used on CUDA");
  r.precision = half ? "fp16" : "fp32";
  if (opt.channels_last != "auto" && opt.channels_last != "on" && opt.channels_last != "off")
    throw Error("--channels-last", "expected auto, on or off");
  // CPU: NCHW measured faster for these models with LibTorch 1.13's oneDNN (see `bench triage`).
  r.channels_last = opt.channels_last == "on" || (opt.channels_last == "auto" && cuda);
  if (cuda) at::globalContext().setBenchmarkCuDNN(true);  // fixed input size
  return half;
}

// Frame selection: stage I's rule over the whole video as one clip.
std::vector<long long> planned_indices(const TriageOptions& opt, const TriageResult& r) {
  Clip whole;
  whole.id = "triage";
  whole.video = r.video.filename().string();
  whole.start = 0;
  whole.end = r.info.frames;
  std::vector<long long> indices;
  if (opt.every_n > 0 || opt.fps > 0)
    indices = clip_frame_indices(whole, r.info.fps, opt.fps, opt.every_n);
  else
    indices = clip_frame_indices(whole, r.info.fps, 0, 1);
  if (opt.max_frames > 0 && static_cast<long long>(indices.size()) > opt.max_frames)
    indices.resize(static_cast<std::size_t>(opt.max_frames));
  return indices;
}

// The field of view at the model's input size, for the tissue shares.
struct InputFov {
  torch::Tensor inside;  // bool [S, S] on the device
  double pixels = 1;     // at least 1, so shares never divide by zero
};

InputFov input_fov(TriageResult& r, int size, const torch::Device& device) {
  cv::Mat fov_small;
  cv::resize(r.fov.mask(cv::Size(r.info.width, r.info.height)), fov_small, cv::Size(size, size), 0,
             0, cv::INTER_NEAREST);
  InputFov f;
  f.inside = torch::from_blob(fov_small.data, {size, size}, torch::kUInt8).gt(0).to(device);
  f.pixels = std::max<double>(1.0, f.inside.sum().item<double>());
  if (f.pixels <= 1.0)
    r.warnings.push_back("the field of view is (nearly) empty at the input size");
  return f;
}

// What the scoring of one batch needs besides the batch itself.
struct BatchScorer {
  const TriageOptions& opt;
  const InputFov& fov;
  int size, num_cd, num_tissue;
  SheetPool& pool;
};

// Per-frame class counts inside the field of view, in one bincount.
torch::Tensor fov_class_counts(const torch::Tensor& pred, const BatchScorer& sc, std::int64_t n) {
  const torch::Tensor offset = (torch::arange(n, pred.options()) * sc.num_tissue).view({n, 1, 1});
  const torch::Tensor sel =
      (pred + offset).masked_select(sc.fov.inside.unsqueeze(0).expand({n, sc.size, sc.size}));
  return torch::bincount(sel, {}, n * sc.num_tissue)
      .view({n, sc.num_tissue})
      .to(torch::kDouble)
      .cpu();
}

void offer_to_sheet(const BatchScorer& sc, const FrameScore& f, const HostBatch& hb, std::int64_t i,
                    const torch::Tensor& pred, torch::Tensor& pred_cpu) {
  if (!(triage_eligible(f, sc.opt.rule) && sc.pool.wants(f.score))) return;
  if (!pred_cpu.defined()) pred_cpu = pred.to(torch::kUInt8).cpu().contiguous();  // once per batch
  SheetFrame sf;
  sf.index = f.index, sf.time_s = f.time_s, sf.score = f.score, sf.p_clear = f.p_clear,
  sf.lesion = f.lesion;
  sf.rgb = cv::Mat(sc.size, sc.size, CV_8UC3, hb.images[i].data_ptr<std::uint8_t>()).clone();
  sf.mask = cv::Mat(sc.size, sc.size, CV_8UC1, pred_cpu[i].data_ptr<std::uint8_t>()).clone();
  sc.pool.add(std::move(sf));
}

// Runs the model on one batch and appends a score per frame to `r`.
void score_batch(const BatchScorer& sc, FastInference& fast, const torch::Device& device,
                 const HostBatch& hb, TriageResult& r) {
  const auto n = static_cast<std::int64_t>(hb.index.size());
  torch::Tensor x = normalize_images(hb.images.to(device, /*non_blocking=*/device.is_cuda()));
  model::ModelOutput out = fast.forward(x);
  const torch::Tensor probs = torch::softmax(out.cls_logits, 1).cpu();
  const torch::Tensor pred = out.seg_logits.argmax(1);  // [n, S, S]
  const torch::Tensor counts = fov_class_counts(pred, sc, n);
  torch::Tensor pred_cpu;  // fetched only when a frame goes to the sheet pool
  auto pa = probs.accessor<float, 2>();
  auto ca = counts.accessor<double, 2>();
  for (std::int64_t i = 0; i < n; ++i) {
    FrameScore f;
    f.index = hb.index[i];
    f.time_s = hb.time[i];
    std::vector<float> p(sc.num_cd), s(sc.num_tissue);
    for (int c = 0; c < sc.num_cd; ++c) p[c] = pa[i][c];
    for (int c = 0; c < sc.num_tissue; ++c) s[c] = static_cast<float>(ca[i][c] / sc.fov.pixels);
    f.cd_pred = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
    f.p_clear = p[cecd::kClear];
    f.clear_tissue = s[cecd::kClearTissue];
    f.lesion = s[cecd::kLesion];
    f.score = triage_score(f, sc.opt.rule);
    offer_to_sheet(sc, f, hb, i, pred, pred_cpu);
    r.frames.push_back(f);
    r.cd_probs.push_back(std::move(p));
    r.shares.push_back(std::move(s));
  }
}

// About twice a second, and once more when the last planned frame is done.
void report_progress(const TriageOptions& opt, const TriageResult& r, Clock::time_point t_run,
                     Clock::time_point& last_report) {
  if (!opt.progress || !(seconds_since(last_report) >= 0.5 || r.processed == r.planned)) return;
  last_report = Clock::now();
  TriageProgress pr;
  pr.done = r.processed;
  pr.total = r.planned;
  pr.elapsed_s = seconds_since(t_run);
  pr.frames_per_s = pr.elapsed_s > 0 ? r.processed / pr.elapsed_s : 0;
  pr.eta_s = pr.frames_per_s > 0 ? (r.planned - r.processed) / pr.frames_per_s : 0;
  opt.progress(pr);
}

// Scores batches as the decoder thread delivers them; joins it on every path.
void run_pipeline(const TriageOptions& opt, const std::vector<long long>& indices,
                  const BatchScorer& sc, FastInference& fast, const torch::Device& device,
                  TriageResult& r, DecoderState& dec) {
  BatchQueue queue(static_cast<std::size_t>(std::max(1, opt.queue_batches)));
  const auto t_run = Clock::now();
  std::thread decoder(decode_loop, std::cref(opt), std::cref(indices), r.info.fps, std::cref(r.fov),
                      sc.size, r.batch, device.is_cuda(), std::ref(queue), std::ref(dec));
  auto last_report = Clock::now();
  try {
    c10::InferenceMode inference;
    HostBatch hb;
    while (queue.pop(hb)) {
      const auto t0 = Clock::now();
      score_batch(sc, fast, device, hb, r);
      r.infer_s += seconds_since(t0);
      r.processed = static_cast<long long>(r.frames.size());
      report_progress(opt, r, t_run, last_report);
    }
  } catch (...) {
    queue.abandon();
    decoder.join();
    throw;
  }
  decoder.join();
  r.wall_s = seconds_since(t_run);
  r.decode_s = dec.busy_s;
}

void note_decoder_end(const DecoderState& dec, TriageResult& r) {
  if (dec.error) std::rethrow_exception(dec.error);
  r.interrupted = dec.interrupted;
  r.truncated = dec.truncated;
  if (r.truncated)
    r.warnings.push_back("the video ended or broke at frame " + std::to_string(dec.stopped_at) +
                         " of " + std::to_string(r.info.frames) +
                         " expected; frames after it were not triaged");
  if (r.interrupted)
    r.warnings.push_back("interrupted: only the first " + std::to_string(r.processed) + " of " +
                         std::to_string(r.planned) + " frames were triaged");
}

// The selection, then the contact sheet: the best-scoring kept frames, chronological.
void select_and_fill_sheet(const TriageOptions& opt, SheetPool& pool, TriageResult& r) {
  r.quota = selection_quota(opt.rule.keep, r.processed);
  r.kept = select_frames(r.frames, opt.rule);
  std::map<long long, const FrameScore*> by_index;
  for (const auto& f : r.frames) by_index[f.index] = &f;
  for (auto& sf : pool.take()) {
    if (static_cast<int>(r.sheet.size()) >= opt.contact_sheet_max) break;
    auto it = by_index.find(sf.index);
    if (it != by_index.end() && it->second->verdict == Verdict::Kept)
      r.sheet.push_back(std::move(sf));
  }
  std::sort(r.sheet.begin(), r.sheet.end(),
            [](const SheetFrame& a, const SheetFrame& b) { return a.index < b.index; });
}

}  // namespace

TriageResult run_triage(const TriageOptions& opt, TriageModel& tm) {
  const auto t_start = Clock::now();
  TriageResult r;
  r.video = opt.video;
  r.rule = opt.rule;
  check_selection_options(opt);
  probe_input(opt, r);
  r.run_name = tm.run_dir.filename().string();
  r.weights = tm.weights.string();
  r.model = tm.config.model;
  r.schema = tm.schema;
  const int size = tm.config.size;
  r.input_size = size;

  const torch::Device device = resolve_device(opt.device);
  FastPathOptions fp;
  fp.half = configure_execution(opt, device, r);
  fp.fold_bn = opt.fold_bn;
  fp.channels_last = r.channels_last;
  tm.net->to(device);
  FastInference fast(tm.net, fp);
  r.fold = fast.report();

  const std::vector<long long> indices = planned_indices(opt, r);
  r.planned = static_cast<long long>(indices.size());
  const InputFov fov = input_fov(r, size, device);
  SheetPool pool(static_cast<std::size_t>(std::max(0, opt.contact_sheet_max)) * 4);
  const BatchScorer scorer{opt, fov, size, tm.config.model.num_cd, tm.config.model.num_tissue,
                           pool};
  DecoderState dec;
  r.setup_s = seconds_since(t_start);
  run_pipeline(opt, indices, scorer, fast, device, r, dec);
  note_decoder_end(dec, r);
  select_and_fill_sheet(opt, pool, r);
  return r;
}

}  // namespace excap::trainer
