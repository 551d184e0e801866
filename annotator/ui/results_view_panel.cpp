// The selected run (training curves above, its evaluation below) and the
// comparison table across evaluated runs, as tabs beside the triage tab.
#include <imgui.h>

#include <cmath>

#include "annotator/ui/results_panels.h"
#include "annotator/ui/results_workspace.h"

namespace excap::studio {

using annotator::EvalSummary;
using annotator::RunSummary;

void ResultsViewPanel::draw_content() {
  const ResultsSnapshot* s = ws_.snapshot();
  if (!s) {
    ImGui::TextDisabled("Reading runs and triage results...");
    return;
  }
  if (!ImGui::BeginTabBar("##results-tabs")) return;
  const ImGuiTabItemFlags run_flag = ws_.show_run_tab() ? ImGuiTabItemFlags_SetSelected : 0;
  const ImGuiTabItemFlags triage_flag = ws_.show_triage_tab() ? ImGuiTabItemFlags_SetSelected : 0;
  ws_.clear_tab_request();
  if (ImGui::BeginTabItem("Run", nullptr, run_flag)) {
    if (ws_.selected_run() >= 0)
      draw_run(s->runs[static_cast<std::size_t>(ws_.selected_run())]);
    else
      ImGui::TextDisabled("No run in runs/ yet.");
    ImGui::EndTabItem();
  }
  if (ImGui::BeginTabItem("Compare")) {
    draw_compare();
    ImGui::EndTabItem();
  }
  if (ImGui::BeginTabItem("Triage", nullptr, triage_flag)) {
    draw_triage();
    ImGui::EndTabItem();
  }
  ImGui::EndTabBar();
}

void ResultsViewPanel::draw_run(const RunSummary& run) {
  ImGui::Text("%s", run.name.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("%s %s, %lld iterations%s%s", run.arch.c_str(), run.backbone.c_str(),
                      run.iters, run.log.events.empty() ? "" : ", last event: ",
                      run.log.events.empty() ? "" : run.log.events.back().c_str());
  const float avail = ImGui::GetContentRegionAvail().y;
  draw_curves(run, std::max(em(11.f), avail * 0.36f));
  ImGui::Separator();
  if (run.evals.empty()) {
    ImGui::TextDisabled("Not evaluated yet: excap eval DIR --run %s", run.name.c_str());
    return;
  }
  for (int i = 0; i < static_cast<int>(run.evals.size()); ++i) {
    if (i > 0) ImGui::SameLine();
    if (ImGui::RadioButton(("eval/" + run.evals[static_cast<std::size_t>(i)].subset).c_str(),
                           ws_.selected_eval() == i))
      ws_.select_eval(i);
  }
  const int e = std::min(ws_.selected_eval(), static_cast<int>(run.evals.size()) - 1);
  draw_eval(run.evals[static_cast<std::size_t>(e)]);
}

// Losses and learning rate on the left, validation metrics on the right.
void ResultsViewPanel::draw_curves(const RunSummary& run, float height) {
  std::vector<PlotSeries> losses, val;
  int i = 0;
  for (const auto& c : run.log.losses) losses.push_back({c.name, &c.points, series_colour(i++)});
  i = 0;
  for (const auto& c : run.log.validation) val.push_back({c.name, &c.points, series_colour(i++)});
  const float w = ImGui::GetContentRegionAvail().x;
  const float gap = em(0.8f);
  draw_line_plot("##losses", "Loss", losses, ImVec2(w * 0.36f - gap, height), false);
  ImGui::SameLine(0, gap);
  draw_line_plot("##lr", "Learning rate", {{"lr", &run.log.lr.points, series_colour(5)}},
                 ImVec2(w * 0.24f - gap, height), false);
  ImGui::SameLine(0, gap);
  draw_line_plot("##val", "Validation", val, ImVec2(w * 0.40f - gap, height), true);
}

// The scores, the confusion matrix and IoU per class, then the worst frames.
void ResultsViewPanel::draw_eval(const EvalSummary& e) {
  const ResultsSnapshot* s = ws_.snapshot();
  ImGui::TextDisabled("checkpoint %s (iteration %lld), %lld frames%s", e.checkpoint.c_str(),
                      e.iteration, e.count,
                      e.scored_at.empty() ? "" : (", scored at " + e.scored_at).c_str());
  const float left_w = std::min(em(24.f), ImGui::GetContentRegionAvail().x * 0.45f);
  ImGui::BeginChild("##eval-left", ImVec2(left_w, 0), false);
  if (e.has_cls) {
    ImGui::Text("CD accuracy %s  precision %s  recall %s  F1 %s", percent_text(e.accuracy).c_str(),
                percent_text(e.precision).c_str(), percent_text(e.recall).c_str(),
                percent_text(e.f1).c_str());
    std::vector<std::string> names;
    for (const auto& c : s->schema.cd) names.push_back(c.name);
    draw_confusion(e.confusion, names, em(3.2f));
  }
  if (e.has_seg) {
    ImGui::Text("aAcc %s  mIoU %s  mAcc %s", percent_text(e.aAcc).c_str(),
                percent_text(e.mIoU).c_str(), percent_text(e.mAcc).c_str());
    std::vector<ImU32> colours;
    for (const auto& t : s->schema.tissue)
      colours.push_back(IM_COL32(t.color[0], t.color[1], t.color[2], 255));
    draw_class_bars(e.iou, colours, left_w - em(0.5f));
  }
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("##eval-worst", ImVec2(0, 0), false);
  draw_worst(e);
  ImGui::EndChild();
}

// Worst frames as image | truth | prediction; a click opens the frame.
void ResultsViewPanel::draw_worst(const EvalSummary& e) {
  ImGui::TextDisabled("WORST FRAMES (lowest mIoU; click to open)");
  if (e.worst.empty()) ImGui::TextDisabled("no pred/ masks to compare");
  const float thumb = std::min(em(5.5f), (ImGui::GetContentRegionAvail().x - em(2.f)) / 6.f);
  const int r = ws_.selected_run(), ev = ws_.selected_eval();
  for (std::size_t i = 0; i < e.worst.size(); ++i) {
    const auto& w = e.worst[i];
    if (i % 2 == 1) ImGui::SameLine(0, em(1.f));
    ImGui::BeginGroup();
    ImGui::Text("%s  mIoU %s", w.frame.c_str(), percent_text(w.miou).c_str());
    const ImVec2 top = ImGui::GetCursorScreenPos();
    for (const char* kind : {"image", "truth", "pred"}) {
      GlTexture* t = ws_.texture(worst_texture_key(r, ev, w.frame, kind));
      if (kind[0] != 'i') ImGui::SameLine(0, 2);
      if (t)
        ImGui::Image(t->id(),
                     ImVec2(thumb, thumb * t->size().height / std::max(1, t->size().width)));
      else
        ImGui::Dummy(ImVec2(thumb, thumb));
    }
    const ImVec2 bottom(top.x + thumb * 3 + 4, ImGui::GetItemRectMax().y);
    ImGui::SetCursorScreenPos(top);
    ImGui::PushID(static_cast<int>(i));
    if (ImGui::InvisibleButton("##open", ImVec2(bottom.x - top.x, bottom.y - top.y)))
      ws_.request_jump({w.frame, "", -1});
    ImGui::PopID();
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("%s: image | truth | prediction\npixel accuracy %s\nclick: open the frame",
                        w.frame.c_str(), percent_text(w.pixel_accuracy).c_str());
    ws_.trace_target("worst " + w.frame, top, bottom);
    ImGui::EndGroup();
  }
}

void ResultsViewPanel::draw_compare() {
  const ResultsSnapshot* s = ws_.snapshot();
  ImGui::TextDisabled("Evaluated on '%s' (values in %%; macro precision/recall of the CD classes)",
                      s->compare_subset.c_str());
  const ImGuiTableFlags flags =
      ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders | ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("##compare", 9, flags)) return;
  for (const char* h : {"Run", "Method", "Backbone", "Iteration", "Accuracy", "Precision", "Recall",
                        "mAcc", "mIoU"})
    ImGui::TableSetupColumn(h);
  ImGui::TableHeadersRow();
  for (const auto& row : s->compare) {
    ImGui::TableNextRow();
    for (const std::string& t : {row.run, row.method, row.backbone, row.iterations}) {
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(t.c_str());
    }
    for (double v : {row.accuracy, row.precision, row.recall, row.mAcc, row.mIoU}) {
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(percent_text(v / 100.0).c_str());
    }
  }
  ImGui::EndTable();
  if (s->compare.empty())
    ImGui::TextDisabled("No run evaluated on '%s' yet.", s->compare_subset.c_str());
}

}  // namespace excap::studio
