// The panels of the Results workspace (results_list_panel.cpp,
// results_view_panel.cpp, results_triage_panel.cpp, results_runs_panel.cpp)
// and the draw-list charts they share (results_plot.cpp).
#pragma once
#include <string>
#include <vector>

#include "annotator/core/results_model.h"
#include "annotator/core/run_jobs.h"
#include "annotator/ui/panel.h"

namespace excap::studio {

class ResultsWorkspace;

class ResultsListPanel : public Panel {
 public:
  explicit ResultsListPanel(ResultsWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Runs##results"; }
  void draw_content() override;

 private:
  ResultsWorkspace& ws_;
};

class ResultsViewPanel : public Panel {
 public:
  explicit ResultsViewPanel(ResultsWorkspace& ws) : ws_(ws) {}

 protected:
  const char* title() const override { return "Results##results"; }
  void draw_content() override;
  ImGuiWindowFlags extra_flags() const override { return ImGuiWindowFlags_NoTitleBar; }

 private:
  void draw_run(const annotator::RunSummary& run);
  void draw_curves(const annotator::RunSummary& run, float height);
  void draw_eval(const annotator::EvalSummary& eval);
  void draw_worst(const annotator::EvalSummary& eval);
  void draw_compare();
  void draw_triage();
  void draw_triage_strips(const annotator::TriageSeries& t);
  void draw_contact_sheet(const annotator::TriageSeries& t);
  ResultsWorkspace& ws_;
};

// Starts train, eval, pre-label and triage runs as a child `excap` and shows
// the one going: a progress bar with ETA, its last output lines, Cancel and
// Resume (annotator/core/run_jobs.h). Drawn below the results view.
class ResultsRunsPanel : public Panel {
 public:
  ResultsRunsPanel(ResultsWorkspace& ws, const fs::path& project, std::string user);
  // Reads the child's output and exit (never blocks); a run that ended reloads the results.
  void update();
  // The studio closes: a run still going is asked to stop (train saves) and waited for.
  ~ResultsRunsPanel() override;
  bool collapsed() const { return collapsed_; }
  const annotator::RunJob& job() const { return job_; }

 protected:
  const char* title() const override { return "Start a run##results-runs"; }
  void draw_content() override;
  ImGuiWindowFlags extra_flags() const override { return ImGuiWindowFlags_NoTitleBar; }

 private:
  void draw_form();
  void draw_kind_fields();
  void draw_job();
  void start();
  bool button(const char* label, const char* target, bool enabled, ImVec2 size = {0, 0});
  ResultsWorkspace& ws_;
  annotator::RunJob job_;
  annotator::RunForm form_;
  std::string extra_;  // "More options", split at white space
  std::string error_;  // why the last Start or Resume did not start
  bool collapsed_ = false;
  bool follow_log_ = true;
};

// ---- draw-list charts (results_plot.cpp) ----

struct PlotSeries {
  std::string name;
  const std::vector<annotator::CurvePoint>* points;
  ImU32 colour;
};

// Lines over iterations with axes, ticks, a legend and a readout of the
// values at the hovered iteration. `unit_range`: y fixed to [0, 1].
void draw_line_plot(const char* id, const char* title, const std::vector<PlotSeries>& series,
                    ImVec2 size, bool unit_range);
// Rows: true class, columns: predicted; cells coloured by the row's share, with counts.
void draw_confusion(const std::vector<std::vector<long long>>& confusion,
                    const std::vector<std::string>& names, float cell);
// One horizontal bar per class in its colour, the value in percent.
void draw_class_bars(const std::vector<std::pair<std::string, double>>& values,
                     const std::vector<ImU32>& colours, float width);
ImU32 series_colour(int i);
std::string percent_text(double fraction);  // "62.5%", "-" for NaN

}  // namespace excap::studio
