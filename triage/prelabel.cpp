#include "triage/prelabel.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "media/imageio.h"
#include "store/change.h"
#include "store/prelabel.h"
#include "store/project.h"
#include "trainer/data.h"
#include "trainer/evaluate.h"
#include "trainer/pack.h"
#include "triage/triage.h"

namespace excap::trainer {

namespace {

// The training iteration of a checkpoint folder's weights (state.json), -1 when unknown.
int checkpoint_iteration(const fs::path& weights) {
  try {
    return read_versioned_json(weights.parent_path() / "state.json", "excap-trainer-state")
        .at("iter")
        .get<int>();
  } catch (const std::exception&) {
    return -1;  // a bare weights file: no state beside it
  }
}

// The frames to suggest for, in frames.json order.
std::vector<std::string> planned_frames(const Project& p, const std::string& which) {
  if (which != "unlabeled" && which != "all")
    throw Error("--frames", "is '" + which + "'; expected unlabeled or all");
  const auto finals = p.final_frames();
  const std::set<std::string> decided(finals.begin(), finals.end());
  std::vector<std::string> out;
  for (const auto& f : p.load_frames())
    if (which == "all" || !decided.count(f.id)) out.push_back(f.id);
  return out;
}

// One frame's suggestion files, ready to be staged.
struct FrameOutput {
  Suggestion s;
  std::vector<std::uint8_t> mask_png, conf_png;
};

// The field of view as extraction left it: outside it, frames are blanked to black.
cv::Mat fov_of(const cv::Mat& bgr) {
  std::vector<cv::Mat> ch;
  cv::split(bgr, ch);
  cv::Mat lit = (ch[0] | ch[1] | ch[2]) > 0;
  if (cv::countNonZero(lit) == 0) lit.setTo(255);  // all black: take the whole frame
  return lit;
}

// Tissue outputs of one frame at its own size: mask, confidence, mean normalised entropy.
void seg_at_size(const at::Tensor& logits, const cv::Mat& bgr, FrameOutput& o) {
  namespace F = torch::nn::functional;
  const int h = bgr.rows, w = bgr.cols;
  const at::Tensor up = F::interpolate(logits.unsqueeze(0).to(torch::kCPU, torch::kFloat),
                                       F::InterpolateFuncOptions()
                                           .size(std::vector<std::int64_t>{h, w})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
  const at::Tensor logp = torch::log_softmax(up, 1);
  const at::Tensor prob = logp.exp();
  const auto [conf, label] = prob.max(1);
  const double norm = std::log(static_cast<double>(logits.size(0)));
  const at::Tensor entropy = -(prob * logp).sum(1).squeeze(0) / norm;
  const cv::Mat fov = fov_of(bgr);
  const at::Tensor inside = torch::from_blob(fov.data, {h, w}, torch::kUInt8).clone().gt(0);
  o.s.fov_pixels = inside.sum().item<std::int64_t>();
  o.s.pixel_entropy = std::clamp(entropy.masked_select(inside).mean().item<double>(), 0.0, 1.0);
  const at::Tensor mask = label.squeeze(0).to(torch::kUInt8).contiguous();
  const at::Tensor conf8 =
      (conf.squeeze(0) * 255).round().clamp(0, 255).to(torch::kUInt8).contiguous();
  o.mask_png = encode_png(cv::Mat(h, w, CV_8UC1, mask.data_ptr<std::uint8_t>()).clone());
  o.conf_png = encode_png(cv::Mat(h, w, CV_8UC1, conf8.data_ptr<std::uint8_t>()).clone());
}

void cd_outputs(const at::Tensor& logits, FrameOutput& o) {
  const at::Tensor p = torch::softmax(logits.to(torch::kCPU, torch::kDouble), 0);
  o.s.cd_probs.assign(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  o.s.cd = static_cast<int>(p.argmax().item<std::int64_t>());
  double h = 0;
  for (double q : o.s.cd_probs)
    if (q > 0) h -= q * std::log(q);
  o.s.cd_entropy = std::clamp(h / std::log(static_cast<double>(p.numel())), 0.0, 1.0);
}

struct Loaded {
  TriageModel model;
  torch::Device device{torch::kCPU};
  Suggestion base;  // provenance shared by every frame
};

// Runs one batch of frames through the model; returns their outputs.
std::vector<FrameOutput> infer_batch(const Project& p, Loaded& m,
                                     const std::vector<std::string>& ids) {
  const int size = m.model.config.size;
  std::vector<cv::Mat> images;
  at::Tensor batch =
      torch::empty({static_cast<std::int64_t>(ids.size()), size, size, 3}, torch::kUInt8);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    images.push_back(read_frame(p.frame_path(ids[i])));
    pack_image(images.back(), size, batch[static_cast<std::int64_t>(i)].data_ptr<std::uint8_t>());
  }
  torch::NoGradGuard no_grad;
  const model::ModelOutput out = m.model.net->forward(normalize_images(batch.to(m.device)));
  std::vector<FrameOutput> outs(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    FrameOutput& o = outs[i];
    o.s = m.base;
    o.s.frame = ids[i];
    o.s.width = images[i].cols;
    o.s.height = images[i].rows;
    o.s.time = now_iso8601();
    cd_outputs(out.cls_logits[static_cast<std::int64_t>(i)], o);
    seg_at_size(out.seg_logits[static_cast<std::int64_t>(i)], images[i], o);
  }
  return outs;
}

// Stages a batch's files as one change under the project lock.
void write_batch(const Project& p, const std::vector<FrameOutput>& outs, const std::string& user) {
  const ProjectLock lock = ProjectLock::acquire(p.root(), "prelabel");
  Change change(lock, p, user, "prelabel");
  nlohmann::json frames = nlohmann::json::array();
  for (const auto& o : outs) {
    change.write(suggestion_mask_path(p, o.s.run, o.s.frame), o.mask_png);
    change.write(suggestion_confidence_path(p, o.s.run, o.s.frame), o.conf_png);
    change.write_json(suggestion_json_path(p, o.s.run, o.s.frame), suggestion_json(o.s));
    frames.push_back(o.s.frame);
  }
  const Suggestion& s = outs.front().s;
  change.commit({{"run", s.run}, {"weights_sha256", s.weights_sha256}, {"frames", frames}});
}

Loaded load(const Project& p, const PrelabelOptions& opt) {
  if (opt.checkpoint != "best" && opt.checkpoint != "latest")
    throw Error("--checkpoint", "is '" + opt.checkpoint + "'; expected best or latest");
  Loaded m{load_triage_model(p.run_dir(opt.run), opt.checkpoint), resolve_device(opt.device), {}};
  configure_threads(opt.threads);
  place_model(*m.model.net, m.device);
  m.model.net->eval();
  m.base.run = opt.run;
  m.base.checkpoint = opt.checkpoint;
  m.base.weights_sha256 = sha256_file(m.model.weights);
  m.base.checkpoint_iter = checkpoint_iteration(m.model.weights);
  m.base.user = opt.user;
  return m;
}

// Whether `frame` already holds a suggestion from these weights (a broken one is redone).
bool already_done(const Project& p, const Suggestion& base, const std::string& frame) {
  try {
    const auto s = load_suggestion(p, base.run, frame);
    return s && s->weights_sha256 == base.weights_sha256;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

PrelabelResult run_prelabel(const fs::path& project_root, const PrelabelOptions& opt,
                            const std::function<void(const PrelabelProgress&)>& progress) {
  const Project p = Project::open(project_root);
  if (!p.meta().prelabels)
    throw Error("prelabel", std::string("pre-labels are off in this project (project.json). ") +
                                kPrelabelsWarning +
                                " An expert or admin turns them on with `excap prelabels DIR "
                                "--enable --user U`.");
  require_safe_id(opt.run, "run");
  if (!p.meta().find_user(opt.user))
    throw Error("prelabel", "no user '" + opt.user + "' in this project");
  if (opt.batch < 1) throw Error("--batch", "must be at least 1");
  Loaded m = load(p, opt);
  PrelabelResult r;
  r.weights_sha256 = m.base.weights_sha256;
  r.checkpoint_iter = m.base.checkpoint_iter;
  const std::vector<std::string> frames = planned_frames(p, opt.frames);
  r.planned = static_cast<int>(frames.size());
  std::vector<std::string> pending;
  auto flush = [&] {
    if (pending.empty()) return;
    write_batch(p, infer_batch(p, m, pending), opt.user);
    r.written += static_cast<int>(pending.size());
    pending.clear();
    if (progress) progress({r.written + r.skipped, r.planned, r.written, r.skipped});
  };
  for (const auto& f : frames) {
    if (already_done(p, m.base, f)) {
      ++r.skipped;
      continue;
    }
    pending.push_back(f);
    if (static_cast<int>(pending.size()) == opt.batch) flush();
  }
  flush();
  return r;
}

}  // namespace excap::trainer
