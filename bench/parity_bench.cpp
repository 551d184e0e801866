#include "bench/parity_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/peer.h"
#include "common/error.h"
#include "common/ids.h"
#include "model/model.h"
#include "model/tensor_io.h"
#include "model/weights.h"
#include "store/project.h"
#include "trainer/checkpoint.h"
#include "trainer/data.h"
#include "trainer/evaluate.h"
#include "trainer/train.h"

namespace excap::trainer {

namespace {

// What one seed's runs share: its run folder, the initial weights and batch order.
struct SeedFiles {
  std::string run;
  fs::path dir, init, order, python_weights;
};

// The model as trained on this split: head sizes from the packed train subset.
model::ModelConfig model_for(const ParityOptions& o, const SubsetTensors& train_data) {
  model::ModelConfig m = o.model;
  m.num_cd = static_cast<int>(train_data.info.cd_names.size());
  m.num_tissue = static_cast<int>(train_data.info.tissue_names.size());
  model::validate(m);
  return m;
}

// A fresh runs/<prefix>-s<seed>/ holding ExCap's initial weights for `seed` (the
// trainer builds the same ones from the seed) and the rows of every batch.
SeedFiles prepare_seed(const ParityOptions& o, const model::ModelConfig& m, std::uint64_t seed,
                       int steps, int count) {
  SeedFiles f;
  f.run = o.run_prefix + "-s" + std::to_string(seed);
  f.dir = safe_child(o.project / "runs", f.run, "", "run");
  fs::remove_all(f.dir);  // a parity run is scratch: each bench replaces its own
  ensure_dir(f.dir / "parity");
  f.init = f.dir / "parity" / "init.safetensors";
  f.order = f.dir / "parity" / "order.safetensors";
  f.python_weights = f.dir / "parity" / "python.safetensors";
  torch::manual_seed(seed);  // as trainer::train builds its network
  model::MultiTaskNet net = model::build_model(m);
  model::save_weights(f.init, *net, m);
  torch::Tensor rows = torch::empty({steps, o.batch}, torch::kInt64);
  for (int it = 0; it < steps; ++it) {
    const auto r = batch_indices(seed, it, o.batch, count);
    for (int b = 0; b < o.batch; ++b) rows[it][b] = r[static_cast<std::size_t>(b)];
  }
  model::save_tensors(f.order, {{"rows", rows}});
  return f;
}

// ExCap's side: trainer::train on the same recipe; returns the final weights file.
fs::path train_cpp(const ParityOptions& o, const model::ModelConfig& m, const SeedFiles& f,
                   std::uint64_t seed, int steps, double& seconds) {
  TrainConfig c;
  c.run = f.run;
  c.split = o.split;
  c.train_subset = o.train_subset;
  c.val_subset.clear();  // no validation: both sides train blind and are scored at the end
  c.size = o.size;
  c.model = m;
  c.iters = steps;
  c.batch = o.batch;
  c.lr = o.lr;
  c.min_lr = std::min(c.min_lr, o.lr);
  c.momentum = o.momentum;
  c.weight_decay = o.weight_decay;
  c.augment = false;
  c.amp = AmpMode::Off;  // fp32, as the peer trains (no bf16 autocast even where the CPU has it)
  c.device = "cpu";
  c.threads = o.threads;
  c.seed = seed;
  c.init = f.init.string();
  c.log_interval = std::max(1, steps / 10);
  const TrainOutcome out = train(o.project, c);
  if (out.status != TrainOutcome::Status::Finished)
    throw Error("bench parity", "ExCap's run " + f.run + " did not finish: " + out.message);
  const auto folder = checkpoint_folder(f.dir, "latest");
  if (!folder) throw Error("bench parity", "run " + f.run + " left no checkpoint");
  nlohmann::json st = read_json_file(*folder / "state.json");
  seconds = st.value("elapsed_s", 0.0);
  return *folder / "weights.safetensors";
}

// The peer's side: same weights, order and recipe; returns its JSON line.
nlohmann::json train_python(const ParityOptions& o, const SeedFiles& f, int steps, bool score) {
  const TrainConfig d;  // the recipe's defaults, which the C++ side trains with
  const nlohmann::json recipe = {{"lr", o.lr},
                                 {"momentum", o.momentum},
                                 {"weight_decay", o.weight_decay},
                                 {"poly_power", d.poly_power},
                                 {"min_lr", std::min(d.min_lr, o.lr)},
                                 {"alpha", d.alpha},
                                 {"schedule_iters", steps}};
  std::vector<std::string> argv = {
      o.python,    o.python_script.string(),
      "--weights", f.init.string(),
      "--order",   f.order.string(),
      "--train",   packed_path(o.project, o.split, o.size, o.train_subset).string(),
      "--recipe",  recipe.dump(),
      "--out",     f.python_weights.string(),
      "--threads", std::to_string(configure_threads(o.threads))};
  if (score) {
    argv.push_back("--test");
    argv.push_back(packed_path(o.project, o.split, o.size, o.test_subset).string());
  }
  const PeerRun peer = run_peer(argv, "steps", 1500);
  if (!peer.ok) throw Error("bench parity", peer.failure);
  return peer.result;
}

// ExCap's evaluator on a weights file: CD accuracy and mIoU at the packed size.
ParityScores score_weights(const fs::path& weights, const model::ModelConfig& m,
                           const SubsetTensors& test) {
  model::MultiTaskNet net = model::build_model(m);
  load_model_weights(weights, *net, /*strict=*/true);
  EvalResult r;
  r.data = test.info;
  predict(*net, test, torch::kCPU, 8, false, r);
  score(r);
  const auto s = headline_scores(r);
  ParityScores out;
  out.miou = s.count("mIoU") ? s.at("mIoU") : NAN;
  out.accuracy = s.count("accuracy") ? s.at("accuracy") : NAN;
  return out;
}

void mean_sd(const std::vector<double>& v, double& mean, double& sd) {
  mean = sd = 0;
  if (v.empty()) return;
  for (double x : v) mean += x;
  mean /= double(v.size());
  for (double x : v) sd += (x - mean) * (x - mean);
  sd = v.size() > 1 ? std::sqrt(sd / double(v.size() - 1)) : 0.0;  // sample sd
}

void check_options(const ParityOptions& o) {
  if (o.seeds < 1 || o.iters < 1 || o.batch < 1)
    throw Error("bench parity", "--seeds, --iters and --batch must be >= 1");
  if (o.python.empty() || o.python_script.empty())
    throw Error("bench parity", "needs the Python peer (--python and its script)");
}

}  // namespace

ParityResult bench_parity(const ParityOptions& o) {
  check_options(o);
  const SubsetTensors train_data =
      load_subset(packed_path(o.project, o.split, o.size, o.train_subset));
  const SubsetTensors test = load_subset(packed_path(o.project, o.split, o.size, o.test_subset));
  const model::ModelConfig m = model_for(o, train_data);
  ParityResult r;
  for (int k = 0; k < o.seeds; ++k) {
    ParitySeed s;
    s.seed = o.first_seed + static_cast<std::uint64_t>(k);
    const SeedFiles f = prepare_seed(o, m, s.seed, o.iters, train_data.count());
    double cpp_s = 0;
    const fs::path cpp_weights = train_cpp(o, m, f, s.seed, o.iters, cpp_s);
    const nlohmann::json py = train_python(o, f, o.iters, /*score=*/true);
    s.cpp = score_weights(cpp_weights, m, test);
    s.cpp.train_s = cpp_s;
    s.python = score_weights(f.python_weights, m, test);
    s.python.train_s = py.value("seconds", 0.0);
    s.python_own_miou = py.value("mIoU", NAN);
    s.python_own_accuracy = py.value("accuracy", NAN);
    r.python_note = "torch " + py.value("torch", std::string("?")) + ", " +
                    std::to_string(py.value("threads", 0)) + " threads";
    r.seeds.push_back(s);
  }
  return r;
}

std::vector<TensorDiff> compare_weight_files(const fs::path& a, const fs::path& b) {
  const auto ta = model::load_tensors(a), tb = model::load_tensors(b);
  std::vector<TensorDiff> out;
  for (const auto& [name, x] : ta) {
    auto it = tb.find(name);
    if (it == tb.end()) throw Error(b.string(), "has no tensor '" + name + "'");
    // Compared flat: LibTorch keeps num_batches_tracked as [1] where PyTorch has [].
    if (x.numel() != it->second.numel())
      throw Error(b.string(), "tensor '" + name + "' has another size than in " + a.string());
    const double d =
        x.numel() == 0
            ? 0.0
            : (x.to(torch::kFloat64).flatten() - it->second.to(torch::kFloat64).flatten())
                  .abs()
                  .max()
                  .item<double>();
    out.push_back({name, d});
  }
  for (const auto& [name, x] : tb)
    if (!ta.count(name)) throw Error(a.string(), "has no tensor '" + name + "'");
  return out;
}

std::vector<TensorDiff> parity_step_check(const ParityOptions& o, int steps) {
  check_options(o);
  if (steps < 1) throw Error("bench parity", "--check-steps must be >= 1");
  const SubsetTensors train_data =
      load_subset(packed_path(o.project, o.split, o.size, o.train_subset));
  model::ModelConfig m = model_for(o, train_data);
  m.seg_dropout = 0;  // dropout masks are random draws the two sides cannot share
  const SeedFiles f = prepare_seed(o, m, o.first_seed, steps, train_data.count());
  double seconds = 0;
  const fs::path cpp_weights = train_cpp(o, m, f, o.first_seed, steps, seconds);
  train_python(o, f, steps, /*score=*/false);
  std::map<std::string, TensorDiff> by_name;
  for (const auto& d : compare_weight_files(cpp_weights, f.python_weights)) by_name[d.name] = d;
  // The model's own order (parameters, then buffers), so "first" means nearest the input.
  std::vector<TensorDiff> ordered;
  model::MultiTaskNet net = model::build_model(m);
  for (const auto& p : net->named_parameters()) ordered.push_back(by_name.at(p.key()));
  for (const auto& b : net->named_buffers()) ordered.push_back(by_name.at(b.key()));
  return ordered;
}

std::string format_step_check(const std::vector<TensorDiff>& diffs, int steps, double tolerance) {
  std::ostringstream s;
  double worst = 0;
  const TensorDiff* first = nullptr;
  for (const auto& d : diffs) {
    worst = std::max(worst, d.max_abs);
    if (!first && d.max_abs > tolerance) first = &d;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "after %d step(s): %zu tensors, largest |C++ - Python| %.3g\n",
                steps, diffs.size(), worst);
  s << buf;
  if (first)
    s << "first tensor over " << tolerance << ": " << first->name << " (" << first->max_abs
      << ")\n";
  else
    s << "every tensor within " << tolerance << "\n";
  std::vector<TensorDiff> top = diffs;
  std::sort(top.begin(), top.end(),
            [](const TensorDiff& a, const TensorDiff& b) { return a.max_abs > b.max_abs; });
  for (std::size_t i = 0; i < std::min<std::size_t>(8, top.size()); ++i) {
    std::snprintf(buf, sizeof buf, "  %-60s %.3g\n", top[i].name.c_str(), top[i].max_abs);
    s << buf;
  }
  return s.str();
}

std::string format_parity(const ParityOptions& o, const ParityResult& r) {
  std::ostringstream s;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%s/%s, %dx%d, batch %d, %d iterations, no augmentation; test subset '%s' "
                "scored by ExCap's evaluator at the packed size\n",
                model::to_string(o.model.arch).c_str(), o.model.backbone.c_str(), o.size, o.size,
                o.batch, o.iters, o.test_subset.c_str());
  s << buf
    << "seed   ExCap mIoU  acc     train s   PyTorch mIoU  acc     train s   (peer's own "
       "mIoU  acc)\n";
  std::vector<double> cm, ca, pm, pa;
  for (const auto& x : r.seeds) {
    std::snprintf(buf, sizeof buf,
                  "%-6llu %10.4f  %6.4f  %7.1f   %12.4f  %6.4f  %7.1f   (%.4f  %.4f)\n",
                  static_cast<unsigned long long>(x.seed), x.cpp.miou, x.cpp.accuracy,
                  x.cpp.train_s, x.python.miou, x.python.accuracy, x.python.train_s,
                  x.python_own_miou, x.python_own_accuracy);
    s << buf;
    cm.push_back(x.cpp.miou), ca.push_back(x.cpp.accuracy);
    pm.push_back(x.python.miou), pa.push_back(x.python.accuracy);
  }
  double a, b, c, d, e, f, g, h;
  mean_sd(cm, a, b), mean_sd(ca, c, d), mean_sd(pm, e, f), mean_sd(pa, g, h);
  std::snprintf(buf, sizeof buf,
                "ExCap    mIoU %.4f +- %.4f   accuracy %.4f +- %.4f\n"
                "PyTorch  mIoU %.4f +- %.4f   accuracy %.4f +- %.4f   (mean +- sample sd)\n",
                a, b, c, d, e, f, g, h);
  s << buf;
  if (!r.python_note.empty()) s << "Python peer: " << r.python_note << "\n";
  return s.str();
}

nlohmann::json parity_json(const ParityOptions& o, const ParityResult& r) {
  nlohmann::json seeds = nlohmann::json::array();
  for (const auto& x : r.seeds)
    seeds.push_back(
        {{"seed", x.seed},
         {"excap", {{"mIoU", x.cpp.miou}, {"accuracy", x.cpp.accuracy}}},
         {"pytorch", {{"mIoU", x.python.miou}, {"accuracy", x.python.accuracy}}},
         {"pytorch_own", {{"mIoU", x.python_own_miou}, {"accuracy", x.python_own_accuracy}}}});
  return {{"model", o.model},
          {"split", o.split},
          {"size", o.size},
          {"batch", o.batch},
          {"iters", o.iters},
          {"seeds", seeds},
          {"python_note", r.python_note}};
}

}  // namespace excap::trainer
