#include "trainer/checkpoint.h"

#include <unistd.h>

#include <cstdio>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "model/tensor_io.h"
#include "model/weights.h"
#include "store/project.h"

namespace excap::trainer {

namespace {
std::string iter_name(int iter) {
  char b[32];
  std::snprintf(b, sizeof b, "iter_%06d", iter);
  return b;
}

fs::path pointer_path(const fs::path& run_dir, const std::string& tag) {
  return checkpoints_dir(run_dir) / (tag + ".json");
}

nlohmann::json state_json(const TrainerState& s) {
  return {{"format", "excap-trainer-state"},
          {"version", 1},
          {"iter", s.iter},
          {"best_score", s.best_score},
          {"best_iter", s.best_iter},
          {"loss_scale", s.loss_scale},
          {"good_steps", s.good_steps},
          {"elapsed_s", s.elapsed_s}};
}

void prune(const fs::path& run_dir) {
  std::set<std::string> keep;
  for (const char* tag : {"latest", "best"})
    if (auto f = checkpoint_folder(run_dir, tag)) keep.insert(f->filename().string());
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(checkpoints_dir(run_dir), ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("iter_", 0) == 0 && !keep.count(name))
      fs::remove_all(e.path(), ec);
  }
}
// Every tensor is checked (dtype, shape, finite values) before any is copied.
void load_uncertainty(const fs::path& path, model::TaskUncertaintyImpl& uncertainty) {
  const auto t = model::load_tensors(path);
  for (const auto& p : uncertainty.named_parameters()) {
    auto it = t.find(p.key());
    if (it == t.end()) throw Error(path.string(), "task uncertainty '" + p.key() + "' missing");
    model::check_tensor(path.string(), "tensor '" + p.key() + "'", it->second, p.value());
  }
  torch::NoGradGuard no_grad;
  for (auto& p : uncertainty.named_parameters()) p.value().copy_(t.at(p.key()));
}
}  // namespace

fs::path checkpoints_dir(const fs::path& run_dir) { return run_dir / "checkpoints"; }

void save_model_weights(const fs::path& path, model::MultiTaskNetImpl& net, int /*iteration*/) {
  model::save_weights(path, net, net.config());
}

void load_model_weights(const fs::path& path, model::MultiTaskNetImpl& net, bool strict) {
  const model::LoadReport report = model::load_weights(path, net, strict);
  if (report.loaded == 0) throw Error(path.string(), "no tensor matches the model's names");
}

std::optional<fs::path> checkpoint_folder(const fs::path& run_dir, const std::string& tag) {
  const fs::path p = pointer_path(run_dir, tag);
  if (!fs::exists(p)) return std::nullopt;
  const nlohmann::json j = read_versioned_json(p, "excap-checkpoint-pointer");
  const fs::path folder = checkpoints_dir(run_dir) / j.at("folder").get<std::string>();
  if (!fs::is_directory(folder))
    throw Error(p.string(), "points at a missing folder " + folder.string());
  return folder;
}

void save_checkpoint(const fs::path& run_dir, const std::string& tag, model::MultiTaskNetImpl& net,
                     model::TaskUncertaintyImpl* uncertainty, torch::optim::Optimizer& optimizer,
                     const TrainerState& state) {
  const fs::path dir = checkpoints_dir(run_dir);
  ensure_dir(dir);
  remove_stale_temp_files(dir);
  const std::string name = iter_name(state.iter);
  const fs::path folder = dir / name;
  if (!fs::is_directory(folder)) {
    const fs::path tmp = dir / (name + ".tmp-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::remove_all(tmp, ec);
    ensure_dir(tmp);
    save_model_weights(tmp / "weights.safetensors", net, state.iter);
    if (uncertainty) {
      std::map<std::string, at::Tensor> t;
      for (const auto& p : uncertainty->named_parameters()) t[p.key()] = p.value().detach();
      model::save_tensors(tmp / "task_uncertainty.safetensors", t);
    }
    std::ostringstream opt;
    torch::save(optimizer, opt);
    atomic_write(tmp / "optimizer.pt", opt.str());
    write_json_atomic(tmp / "state.json", state_json(state));
    fs::rename(tmp, folder, ec);
    if (ec) throw Error(folder.string(), "cannot move the checkpoint into place: " + ec.message());
  }
  write_json_atomic(pointer_path(run_dir, tag), {{"format", "excap-checkpoint-pointer"},
                                                 {"version", 1},
                                                 {"folder", name},
                                                 {"iter", state.iter},
                                                 {"score", state.best_score},
                                                 {"time", now_iso8601()}});
  prune(run_dir);
}

TrainerState load_checkpoint(const fs::path& folder, model::MultiTaskNetImpl& net,
                             model::TaskUncertaintyImpl* uncertainty,
                             torch::optim::Optimizer* optimizer, const torch::Device& device) {
  load_model_weights(folder / "weights.safetensors", net, /*strict=*/true);
  if (uncertainty) load_uncertainty(folder / "task_uncertainty.safetensors", *uncertainty);
  if (optimizer) {
    std::istringstream in(read_file(folder / "optimizer.pt"));
    torch::load(*optimizer, in, device);
  }
  const nlohmann::json j = read_versioned_json(folder / "state.json", "excap-trainer-state");
  TrainerState s;
  s.iter = j.at("iter").get<int>();
  s.best_score = j.at("best_score").is_number() ? j.at("best_score").get<double>()
                                                : -std::numeric_limits<double>::infinity();
  s.best_iter = j.value("best_iter", -1);
  s.loss_scale = j.value("loss_scale", 65536.0);
  s.good_steps = j.value("good_steps", 0);
  s.elapsed_s = j.value("elapsed_s", 0.0);
  return s;
}

}  // namespace excap::trainer
