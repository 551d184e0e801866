#include "trainer/evaluate.h"

#include <cctype>
#include <chrono>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "store/project.h"
#include "trainer/checkpoint.h"
#include "trainer/speed.h"
#include "trainer/train_config.h"

namespace excap::trainer {

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  const bool available = torch::cuda::is_available();
  if (name == "auto") return available ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!available)
      throw Error("--device " + name,
                  torch::cuda::device_count() == 0 && !at::hasCUDA()
                      ? "this LibTorch build has no CUDA support (CPU-only); use --device cpu or "
                        "build against a CUDA LibTorch"
                      : "no CUDA GPU is visible (check the driver and CUDA_VISIBLE_DEVICES); use "
                        "--device cpu");
    torch::Device d(name);
    if (d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count()))
      throw Error("--device " + name, "only " + std::to_string(torch::cuda::device_count()) +
                                          " CUDA device(s) are visible");
    return d;
  }
  throw Error("--device " + name, "must be auto, cpu, cuda or cuda:N");
}

int configure_threads(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  if (n < 1) n = 1;
  at::set_num_threads(n);  // LibTorch's default was 1 on a 2-core machine (DESIGN.md)
  return n;
}

void place_model(model::MultiTaskNetImpl& net, const torch::Device& device) {
  net.to(device);
  if (!device.is_cuda()) return;
  torch::NoGradGuard no_grad;
  for (auto& p : net.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
}

at::Tensor labels_at_size(const at::Tensor& logits, int height, int width) {
  if (logits.dim() != 4 || logits.size(0) != 1)
    throw Error("resizing seg logits", "expects one frame's logits [1, C, h, w]");
  if (height < 1 || width < 1)
    throw Error("resizing seg logits", "target size " + std::to_string(height) + "x" +
                                           std::to_string(width) + " is empty");
  namespace F = torch::nn::functional;
  const at::Tensor up =
      F::interpolate(logits.to(torch::kFloat), F::InterpolateFuncOptions()
                                                   .size(std::vector<std::int64_t>{height, width})
                                                   .mode(torch::kBilinear)
                                                   .align_corners(false));
  return up.argmax(1).squeeze(0).to(torch::kCPU, torch::kUInt8).contiguous();
}

namespace {
// Scores one frame at its label's size and keeps the prediction at that size.
void score_at_label_size(const at::Tensor& logits, const FrameMask& label, EvalResult& out) {
  const std::size_t n = std::size_t(std::max(label.height, 0)) * std::max(label.width, 0);
  if (n == 0 || label.pixels.size() != n)
    throw Error("evaluation", "a label mask's pixels do not match its size");
  const at::Tensor pred = labels_at_size(logits, label.height, label.width);
  FrameMask p;
  p.height = label.height;
  p.width = label.width;
  p.pixels.assign(pred.data_ptr<std::uint8_t>(), pred.data_ptr<std::uint8_t>() + n);
  out.original_areas.process(p.pixels.data(), label.pixels.data(), n);
  out.pred_original.push_back(std::move(p));
}

// Empties `out` for `n` predictions of `data`, scored as `at_label_size` says.
void start_prediction(const SubsetTensors& data, bool at_label_size, EvalResult& out) {
  const int n = data.count();
  const std::size_t px = std::size_t(data.info.size) * data.info.size;
  out.pred_cd.assign(out.has_cls ? n : 0, 0);
  out.pred_masks.assign(out.has_seg ? std::size_t(n) * px : 0, 0);
  out.scored_at = at_label_size ? ScoredAt::Original : ScoredAt::Packed;
  out.pred_original.clear();
  out.original_areas =
      metrics::SegAreas(static_cast<int>(data.info.tissue_names.size()), data.info.ignore_index);
}
}  // namespace

void predict(model::MultiTaskNetImpl& net, const SubsetTensors& data, const torch::Device& device,
             int batch, bool channels_last, EvalResult& out, const LabelReader& label_at_size,
             const std::function<void(int, int)>& progress) {
  if (batch < 1)  // the loop below would never advance
    throw Error("evaluation batch", "must be >= 1, got " + std::to_string(batch));
  net.eval();
  torch::NoGradGuard no_grad;
  const int n = data.count();
  const std::int64_t px = std::int64_t(data.info.size) * data.info.size;
  out.has_cls = net.has_cls();
  out.has_seg = net.has_seg();
  start_prediction(data, static_cast<bool>(label_at_size), out);
  for (int start = 0; start < n; start += batch) {
    std::vector<std::int64_t> rows;
    for (int i = start; i < std::min(n, start + batch); ++i) rows.push_back(i);
    Batch b = make_batch(data, rows, device, nullptr, channels_last);
    model::ModelOutput o = net.forward(b.images);
    if (out.has_cls) {
      auto cd = o.cls_logits.argmax(1).to(torch::kCPU, torch::kUInt8).contiguous();
      std::memcpy(out.pred_cd.data() + start, cd.data_ptr<std::uint8_t>(), rows.size());
    }
    if (out.has_seg) {
      auto m = o.seg_logits.argmax(1).to(torch::kCPU, torch::kUInt8).contiguous();
      std::memcpy(out.pred_masks.data() + std::size_t(start) * px, m.data_ptr<std::uint8_t>(),
                  rows.size() * px);
      if (label_at_size)  // one frame's resized logits at a time
        for (std::size_t k = 0; k < rows.size(); ++k)
          score_at_label_size(o.seg_logits.narrow(0, std::int64_t(k), 1),
                              label_at_size(std::size_t(rows[k])), out);
    }
    if (progress) progress(start + static_cast<int>(rows.size()), n);
  }
}

std::map<std::string, double> headline_scores(const EvalResult& r) {
  std::map<std::string, double> s;
  if (r.has_cls) {
    s["accuracy"] = r.cls.accuracy;
    s["precision"] = r.cls.precision;
    s["recall"] = r.cls.recall;
    s["f1"] = r.cls.f1;
  }
  if (r.has_seg) {
    s["aAcc"] = r.seg.aAcc;
    s["mIoU"] = r.seg.mIoU;
    s["mAcc"] = r.seg.mAcc;
  }
  return s;
}

namespace {
bool own_checkpoint(const EvalOptions& opt) {
  return opt.checkpoint == "best" || opt.checkpoint == "latest";
}

// Letters, digits, '_' and '-' kept; anything else becomes '_' (a safe id).
std::string folder_safe(const std::string& text) {
  std::string s;
  for (char c : text.substr(0, 100))
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return s;
}
}  // namespace

std::string eval_folder_name(const EvalOptions& opt) {
  // The subset names the packed file read and the folder written: a safe name only.
  require_safe_id(opt.subset, "subset");
  if (!opt.out.empty()) {
    require_safe_id(opt.out, "--out");
    if (!own_checkpoint(opt) && opt.out == opt.subset)
      throw Error("--out " + opt.out, "is the folder of the run's own '" + opt.subset +
                                          "' results; a weights file's results go elsewhere");
    return opt.out;
  }
  if (own_checkpoint(opt)) return opt.subset;
  const fs::path file(opt.checkpoint);
  std::string stem = file.stem().string();
  if (file.filename() == "weights.safetensors" && !file.parent_path().filename().empty())
    stem = file.parent_path().filename().string();
  return opt.subset + "-" + folder_safe(stem);
}

EvalResult evaluate_run(const fs::path& root, const EvalOptions& opt) {
  const fs::path run_dir = safe_child(root / "runs", opt.run, "", "run");
  const std::string folder = eval_folder_name(opt);
  if (!fs::exists(run_dir / "config.json"))
    throw Error("run '" + opt.run + "'", "no runs/" + opt.run + "/config.json (train it first)");
  TrainConfig cfg = read_json_file(run_dir / "config.json").get<TrainConfig>();
  configure_threads(opt.threads);
  const torch::Device device = resolve_device(opt.device);

  EvalResult r;
  r.run = opt.run;
  r.subset = opt.subset;
  r.folder = folder;
  SubsetTensors data = load_subset(packed_path(root, cfg.split, cfg.size, opt.subset));
  model::MultiTaskNet net = model::build_model(cfg.model);
  const bool at_label_size = !opt.at_packed_size && net->has_seg();
  if (at_label_size && !reads_final_masks())
    throw Error("eval of run '" + opt.run + "'",
                "this build reads no PNG (built without OpenCV), so it cannot score at the final "
                "masks' size; use --at-packed-size");
  if (own_checkpoint(opt)) {
    auto folder = checkpoint_folder(run_dir, opt.checkpoint);
    if (!folder && opt.checkpoint == "best") folder = checkpoint_folder(run_dir, "latest");
    if (!folder) throw Error("run '" + opt.run + "'", "has no checkpoint yet");
    r.iteration = load_checkpoint(*folder, *net, nullptr, nullptr, device).iter;
    r.checkpoint = opt.checkpoint;
  } else {
    load_model_weights(opt.checkpoint, *net, /*strict=*/true);
    r.checkpoint = opt.checkpoint;
  }
  place_model(*net, device);
  // The run's layout policy; fp32 (argmax decisions stay those of the fp32 network).
  const SpeedPolicy speed = choose_speed(device, AmpMode::Off, cfg.cpu_fast, host_cpu_features());
  apply_memory_format(*net, speed);
  const Project project = Project::open(root);
  LabelReader labels;
  if (at_label_size)
    labels = [&](std::size_t row) { return read_final_mask(project, data.info.ids.at(row)); };
  const auto t0 = std::chrono::steady_clock::now();
  predict(*net, data, device, opt.batch, speed.channels_last, r, labels, opt.progress);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.data = data.info;
  score(r);
  return r;
}

}  // namespace excap::trainer
