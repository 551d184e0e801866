#include "annotator/ui/results_workspace.h"

#include <algorithm>
#include <cstdio>

#include "annotator/ui/results_panels.h"

namespace excap::studio {

namespace {
constexpr double kCheckSeconds = 2.0;  // how often the files' stamps are compared
}

std::string worst_texture_key(int run, int eval, const std::string& frame, const char* kind) {
  return "worst/" + std::to_string(run) + "/" + std::to_string(eval) + "/" + frame + "/" + kind;
}

std::string sheet_texture_key(int triage) { return "sheet/" + std::to_string(triage); }

ResultsWorkspace::ResultsWorkspace(const fs::path& project, StudioSettings& /*settings*/,
                                   std::string user)
    : loader_(project),
      list_panel_(std::make_unique<ResultsListPanel>(*this)),
      view_panel_(std::make_unique<ResultsViewPanel>(*this)),
      runs_panel_(std::make_unique<ResultsRunsPanel>(*this, project, std::move(user))) {
  loader_.start();
}

ResultsWorkspace::~ResultsWorkspace() = default;

void ResultsWorkspace::add_commands(CommandList& commands) {
  commands.add({"results.refresh",
                "Results",
                "Reload results",
                parse_shortcut("F5"),
                "Read the runs and triage folders again",
                [this] { refresh(); },
                [this] { return !loading(); },
                {}});
}

void ResultsWorkspace::refresh() {
  since_check_ = 0;
  loader_.start();
}

// The finished load, if any, then every few seconds the files' stamps (stats
// only): a changed stamp starts a new load. Nothing is parsed on this thread.
void ResultsWorkspace::poll(double dt) {
  try {
    if (auto s = loader_.take()) install(std::move(*s));
  } catch (const std::exception& e) {
    load_error_ = e.what();
  }
  since_check_ += dt;
  if (since_check_ < kCheckSeconds || loading()) return;
  since_check_ = 0;
  if (snapshot_ && annotator::results_fingerprint(loader_.root()) != snapshot_->fingerprint)
    loader_.start();
}

// Keeps the selection by name across reloads and uploads the pictures once.
void ResultsWorkspace::install(ResultsSnapshot snapshot) {
  const std::string run_name =
      snapshot_ && run_ >= 0 ? snapshot_->runs[static_cast<std::size_t>(run_)].name : "";
  load_error_.clear();
  snapshot_ = std::move(snapshot);
  drawn_since_install_ = 0;
  textures_.clear();
  traced_.clear();
  const auto& runs = snapshot_->runs;
  run_ = runs.empty() ? -1 : 0;
  for (int i = 0; i < static_cast<int>(runs.size()); ++i)
    if (runs[static_cast<std::size_t>(i)].name == run_name) run_ = i;
  if (run_ >= 0 && eval_ >= static_cast<int>(runs[static_cast<std::size_t>(run_)].evals.size()))
    eval_ = 0;
  if (triage_ >= static_cast<int>(snapshot_->triage.size())) triage_ = -1;
  for (int i = 0; i < static_cast<int>(runs.size()); ++i)
    if (runs[static_cast<std::size_t>(i)].name == pending_name_) select_run(i);
  for (int i = 0; i < static_cast<int>(snapshot_->triage.size()); ++i)
    if (snapshot_->triage[static_cast<std::size_t>(i)].name == pending_name_) select_triage(i);
  pending_name_.clear();
  auto upload = [this](const std::string& key, const cv::Mat& rgba) {
    if (rgba.empty()) return;
    auto tex = std::make_unique<GlTexture>();
    tex->upload(rgba, true);
    textures_[key] = std::move(tex);
  };
  for (int r = 0; r < static_cast<int>(runs.size()); ++r) {
    const auto& evals = runs[static_cast<std::size_t>(r)].evals;
    for (int e = 0; e < static_cast<int>(evals.size()); ++e)
      for (const auto& w : evals[static_cast<std::size_t>(e)].worst) {
        upload(worst_texture_key(r, e, w.frame, "image"), w.image);
        upload(worst_texture_key(r, e, w.frame, "truth"), w.truth);
        upload(worst_texture_key(r, e, w.frame, "pred"), w.pred);
      }
  }
  for (int t = 0; t < static_cast<int>(snapshot_->triage.size()); ++t)
    upload(sheet_texture_key(t), snapshot_->triage[static_cast<std::size_t>(t)].sheet_rgba);
}

GlTexture* ResultsWorkspace::texture(const std::string& key) {
  auto it = textures_.find(key);
  return it == textures_.end() ? nullptr : it->second.get();
}

void ResultsWorkspace::select_run(int i) {
  if (i != run_) eval_ = 0;
  run_ = i;
  show_run_ = true;
}

void ResultsWorkspace::select_triage(int i) {
  triage_ = i;
  show_triage_ = true;
}

std::optional<ResultsJump> ResultsWorkspace::take_jump() {
  std::optional<ResultsJump> j = std::move(jump_);
  jump_.reset();
  return j;
}

void ResultsWorkspace::trace_target(const std::string& what, ImVec2 min, ImVec2 max) {
  if (!trace_) return;
  char rect[96];
  std::snprintf(rect, sizeof rect, " %.0f %.0f %.0f %.0f", min.x, min.y, max.x - min.x,
                max.y - min.y);
  const std::string line = "target " + what + rect;
  if (traced_.insert(line).second) trace_(line);
}

void ResultsWorkspace::draw(ImVec2 pos, ImVec2 size) {
  poll(ImGui::GetIO().DeltaTime);
  runs_panel_->update();
  const float left = std::min(ImGui::GetFontSize() * 16.f, size.x * 0.22f);
  // The Runs panel below the view: a form and the running job side by side, or one line.
  const float runs_h =
      std::min(size.y * 0.4f, ImGui::GetFontSize() * (runs_panel_->collapsed() ? 2.6f : 15.f));
  list_panel_->draw(pos, ImVec2(left, size.y));
  view_panel_->draw(ImVec2(pos.x + left, pos.y), ImVec2(size.x - left, size.y - runs_h));
  runs_panel_->draw(ImVec2(pos.x + left, pos.y + size.y - runs_h), ImVec2(size.x - left, runs_h));
  ++drawn_since_install_;
}

std::string ResultsWorkspace::status_line() const {
  if (!load_error_.empty()) return load_error_;
  if (!snapshot_) return "Reading runs and triage results...";
  std::string s = std::to_string(snapshot_->runs.size()) + " runs, " +
                  std::to_string(snapshot_->compare.size()) + " evaluated on " +
                  snapshot_->compare_subset + ", " + std::to_string(snapshot_->triage.size()) +
                  " triaged videos";
  const auto& run = runs_panel_->job().state();
  if (run.status == annotator::JobStatus::Running)
    s += "  |  " + std::string(annotator::to_string(run.form.kind)) + " " + run.form.run + " " +
         (run.total > 0 ? std::to_string(run.done) + "/" + std::to_string(run.total) : "starting");
  return loading() ? s + " (reloading)" : s;
}

}  // namespace excap::studio
