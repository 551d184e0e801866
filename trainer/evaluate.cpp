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

void predict(model::MultiTaskNetImpl& net, const SubsetTensors& data, const torch::Device& device,
             int batch, bool channels_last, EvalResult& out) {
  if (batch < 1)  // the loop below would never advance
    throw Error("evaluation batch", "must be >= 1, got " + std::to_string(batch));
  net.eval();
  torch::NoGradGuard no_grad;
  const int n = data.count();
  const std::int64_t px = std::int64_t(data.info.size) * data.info.size;
  out.has_cls = net.has_cls();
  out.has_seg = net.has_seg();
  out.pred_cd.assign(out.has_cls ? n : 0, 0);
  out.pred_masks.assign(out.has_seg ? std::size_t(n) * px : 0, 0);
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
    }
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
  const auto t0 = std::chrono::steady_clock::now();
  predict(*net, data, device, opt.batch, device.is_cuda(), r);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.data = data.info;
  score(r);
  return r;
}

}  // namespace excap::trainer
