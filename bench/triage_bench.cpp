#include "bench/triage_bench.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "bench/peer.h"
#include "bench/train_bench.h"
#include "common/error.h"
#include "media/imageio.h"
#include "model/flops.h"

namespace excap::trainer {

namespace {

std::string fixed(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

BenchVariant time_variant(const std::string& name, const TriageOptions& o, TriageModel& base_model,
                          bool reload, TriageResult* keep = nullptr) {
  // FastInference folds (and for fp16 converts) the model it is given: reload for a clean copy.
  TriageModel m = reload ? load_triage_model(o.run_dir, o.checkpoint) : base_model;
  TriageResult r = run_triage(o, m);
  if (keep) *keep = r;
  BenchVariant v;
  v.name = name;
  v.frames = r.processed;
  v.wall_s = r.wall_s;
  v.infer_s = r.infer_s;
  v.decode_s = r.decode_s;
  return v;
}

// Model facts and the configuration triage settles on, from a short untimed run
// that also warms the allocator and oneDNN's primitive caches.
void warm_up(const TriageOptions& o, const TriageModel& model, BenchTriageResult& res) {
  res.size = model.config.size;
  res.model = model::to_string(model.config.model.arch) + "/" + model.config.model.backbone +
              (model.config.model.dilated ? " (dilated)" : "");
  res.gflop_per_frame = model::gflops(model::model_cost(*model.net, res.size, res.size).macs());
  TriageOptions w = o;
  w.max_frames = std::max(1, o.batch > 0 ? o.batch : 16);
  TriageModel wm = load_triage_model(o.run_dir, o.checkpoint);
  const TriageResult r = run_triage(w, wm);
  res.device = r.device;
  res.precision = r.precision;
  res.threads = r.threads;
  res.batch = r.batch;
  res.fold = r.fold.summary();
}

// The fast path (its predictions kept in *ref), then the variants it is compared with.
void time_variants(const BenchTriageOptions& bo, const TriageOptions& o, TriageModel& model,
                   bool cuda, BenchTriageResult& res, TriageResult* ref) {
  res.runs.push_back(time_variant("triage fast path", o, model, /*reload=*/false, ref));
  if (!bo.variants) return;
  TriageOptions u = o;
  u.fold_bn = false;
  res.runs.push_back(time_variant("BN not folded", u, model, true));
  TriageOptions c = o;
  const bool cl_default = o.channels_last == "on" || (o.channels_last == "auto" && cuda);
  c.channels_last = cl_default ? "off" : "on";
  res.runs.push_back(
      time_variant(cl_default ? "NCHW (channels-last off)" : "channels-last on", c, model, true));
}

// Reads the peer's timings and its largest CD-probability difference from ours.
void take_peer_result(const nlohmann::json& j, const TriageResult& ref, const TriageModel& model,
                      BenchTriageResult& res) {
  res.has_python = true;
  res.py_frames = j["frames"];
  res.py_fps = j["frames_per_s"];
  res.py_wall_s = j["wall_s"];
  res.py_infer_s = j["infer_s"];
  res.py_decode_s = j["decode_s"];
  res.py_infer_fps = res.py_infer_s > 0 ? res.py_frames / res.py_infer_s : 0;
  double diff = 0;
  const auto& probs = j["probs"];
  const std::size_t n = std::min<std::size_t>(probs.size(), ref.cd_probs.size());
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < ref.cd_probs[i].size() && c < probs[i].size(); ++c)
      diff = std::max(diff, std::abs(probs[i][c].get<double>() - ref.cd_probs[i][c]));
  res.py_max_prob_diff = n > 0 ? diff : -1;
  res.python_note = "torch " + j.value("torch", std::string("?")) + ", OpenCV " +
                    j.value("cv2", std::string("?")) + ", " +
                    std::to_string(j.value("threads", 0)) +
                    " threads; weights loaded strictly from " + model.weights.filename().string() +
                    "; CD probabilities compared on " + std::to_string(n) + " frames";
}

// The peer blanks with the same field of view and checks its CD probabilities
// against ours on the same frames.
void run_triage_peer(const BenchTriageOptions& bo, const TriageOptions& o, const TriageModel& model,
                     const TriageResult& ref, BenchTriageResult& res) {
  const fs::path tmp =
      fs::temp_directory_path() / ("excap-bench-triage-" + std::to_string(::getpid()));
  ensure_dir(tmp);
  write_png_atomic(tmp / "fov.png", ref.fov.mask(cv::Size(ref.info.width, ref.info.height)));
  std::vector<std::string> argv = {bo.python,      bo.python_script.string(),
                                   "--weights",    model.weights.string(),
                                   "--video",      o.video.string(),
                                   "--fov",        (tmp / "fov.png").string(),
                                   "--size",       std::to_string(res.size),
                                   "--batch",      std::to_string(res.batch),
                                   "--threads",    std::to_string(res.threads),
                                   "--max-frames", std::to_string(res.runs.front().frames)};
  if (o.every_n > 0) {
    argv.insert(argv.end(), {"--every", std::to_string(o.every_n)});
  } else if (o.fps > 0) {
    std::ostringstream fps;
    fps << o.fps;  // as the stream printed it before: shortest form, no trailing zeros
    argv.insert(argv.end(), {"--fps", fps.str()});
  }
  const PeerRun peer = run_peer(argv, "frames_per_s", 800);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (peer.ok)
    take_peer_result(peer.result, ref, model, res);
  else
    res.python_note = peer.failure;
}

}  // namespace

BenchTriageResult bench_triage(const BenchTriageOptions& bo) {
  BenchTriageResult res;
  TriageOptions o = bo.triage;
  o.max_frames = bo.frames;
  o.progress = nullptr;
  o.contact_sheet_max = 0;

  TriageModel model = load_triage_model(o.run_dir, o.checkpoint);
  warm_up(o, model, res);
  const bool cuda = res.device.rfind("cuda", 0) == 0;
  TriageResult ref;  // the fast path's own predictions, compared with the Python peer's
  time_variants(bo, o, model, cuda, res, &ref);
  const BenchVariant& main = res.runs.front();
  res.achieved_gflops = main.infer_s > 0 ? res.gflop_per_frame * main.frames / main.infer_s : 0;
  res.e2e_gflops = res.gflop_per_frame * main.fps();
  if (bo.conv_peak) res.conv_peak_gflops = measure_conv_peak(o.device);

  if (!bo.python.empty()) {
    if (cuda)
      res.python_note = "the Python peer runs on CPU only; skipped for a CUDA benchmark";
    else
      run_triage_peer(bo, o, model, ref, res);
  }
  return res;
}

std::string format_bench_triage(const BenchTriageResult& r) {
  std::ostringstream s;
  s << "bench triage: " << r.model << ", " << r.size << "x" << r.size << ", "
    << fixed(r.gflop_per_frame, 3) << " GFLOP/frame, device " << r.device << " (" << r.precision
    << "), " << r.threads << " inference threads + 1 decoder, batch " << r.batch << "\n";
  s << "  BN folding: " << r.fold << "\n";
  for (const auto& v : r.runs)
    s << "  " << v.name << ": " << v.frames << " frames, " << fixed(v.fps(), 2)
      << " frames/s end to end, " << fixed(v.infer_fps(), 2)
      << " frames/s in the model, decoder busy " << fixed(v.decode_s, 2) << " s of "
      << fixed(v.wall_s, 2) << " s\n";
  s << "  achieved " << fixed(r.achieved_gflops, 1) << " GFLOP/s in the model, "
    << fixed(r.e2e_gflops, 1) << " GFLOP/s end to end";
  if (r.conv_peak_gflops > 0)
    s << "; measured 3x3 conv peak " << fixed(r.conv_peak_gflops, 1) << " GFLOP/s -> model at "
      << fixed(100 * r.achieved_gflops / r.conv_peak_gflops, 0) << "% of peak";
  s << "\n";
  if (r.has_python) {
    s << "  Python peer (PyTorch eager + OpenCV, sequential): " << r.py_frames << " frames, "
      << fixed(r.py_fps, 2) << " frames/s end to end, " << fixed(r.py_infer_fps, 2)
      << " frames/s in the model\n";
    s << "  ratio C++/Python: " << fixed(r.py_fps > 0 ? r.runs.front().fps() / r.py_fps : 0, 2)
      << "x end to end, "
      << fixed(r.py_infer_fps > 0 ? r.runs.front().infer_fps() / r.py_infer_fps : 0, 2)
      << "x in the model; max |p(CD) C++ - Python| = " << fixed(r.py_max_prob_diff, 6) << "\n";
  }
  if (!r.python_note.empty()) s << "  Python peer: " << r.python_note << "\n";
  return s.str();
}

nlohmann::json bench_triage_json(const BenchTriageResult& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& v : r.runs)
    runs.push_back({{"name", v.name},
                    {"frames", v.frames},
                    {"wall_s", v.wall_s},
                    {"infer_s", v.infer_s},
                    {"decode_busy_s", v.decode_s},
                    {"frames_per_s", v.fps()},
                    {"model_frames_per_s", v.infer_fps()}});
  nlohmann::json j = {{"model", r.model},
                      {"size", r.size},
                      {"device", r.device},
                      {"precision", r.precision},
                      {"threads", r.threads},
                      {"batch", r.batch},
                      {"bn_folding", r.fold},
                      {"gflop_per_frame", r.gflop_per_frame},
                      {"runs", runs},
                      {"achieved_gflops", r.achieved_gflops},
                      {"e2e_gflops", r.e2e_gflops},
                      {"conv_peak_gflops", r.conv_peak_gflops},
                      {"python_note", r.python_note}};
  if (r.has_python)
    j["python"] = {{"frames", r.py_frames},
                   {"frames_per_s", r.py_fps},
                   {"model_frames_per_s", r.py_infer_fps},
                   {"wall_s", r.py_wall_s},
                   {"infer_s", r.py_infer_s},
                   {"decode_s", r.py_decode_s},
                   {"max_prob_diff", r.py_max_prob_diff}};
  return j;
}

}  // namespace excap::trainer
