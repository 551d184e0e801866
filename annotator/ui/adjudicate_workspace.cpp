#include "annotator/ui/adjudicate_workspace.h"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "annotator/ui/adjudicate_panels.h"
#include "annotator/ui/labeling_commands.h"
#include "store/project.h"

namespace excap::studio {

using namespace excap::annotator;

AdjudicateWorkspace::AdjudicateWorkspace(const fs::path& project, const std::string& user,
                                         StudioSettings& settings)
    : settings_(settings),
      queue_panel_(std::make_unique<AdjudicationQueuePanel>(*this)),
      compare_panel_(std::make_unique<ComparePanel>(*this)),
      decision_panel_(std::make_unique<DecisionPanel>(*this)) {
  schema_ = Project::open(project).meta().schema;
  palette_ = OverlayPalette::from_schema(schema_);
  tools_.radius = settings_.brush_radius;
  try {
    session_ = std::make_unique<AdjudicationSession>(AdjudicationSession::open(project, user));
  } catch (const std::exception& e) {
    refusal_ = e.what();
    return;
  }
  queue_ = session_->undecided();
  decided_ = static_cast<int>(session_->project().final_frames().size());
  if (!queue_.empty()) open_index(0);
}

AdjudicateWorkspace::~AdjudicateWorkspace() = default;

// One group per menu, added in menu order: the menus appear in the order of
// their first command.
void AdjudicateWorkspace::add_commands(CommandList& c) {
  commands_ = &c;
  add_decisions(c);
  add_view(c);
  add_undo_commands(
      c, "Undo the last edit of the final label", [this] { undo(); }, [this] { redo(); },
      [this]() -> const UndoHistory* { return doc_ ? &doc_->final_label().history() : nullptr; });
  add_navigation(c);
  add_repaint(c);
}

void AdjudicateWorkspace::add_decisions(CommandList& c) {
  auto has_doc = [this] { return doc_ != nullptr; };
  c.add({"adj.take1",
         "Decide",
         "Take annotator 1",
         parse_shortcut("Ctrl+1"),
         "Final = annotator 1's mask and CD",
         [this] { take(0); },
         has_doc,
         {}});
  c.add({"adj.take2",
         "Decide",
         "Take annotator 2",
         parse_shortcut("Ctrl+2"),
         "Final = annotator 2's mask and CD",
         [this] { take(1); },
         has_doc,
         {}});
  c.add({"adj.pick", "Decide", "Pick regions", parse_shortcut("R"),
         "Click a disagreement region on the final view: left = annotator 1, right = annotator 2",
         [this] {
           pick_mode_ = true;
           editor_.cancel();
         },
         has_doc, [this] { return pick_mode_; }});
  c.add({"adj.accept",
         "Decide",
         "Accept and next",
         parse_shortcut("Ctrl+Enter"),
         "Write the final label and open the next undecided frame",
         [this] { accept(); },
         [this] { return doc_ && doc_->final_label().completeness().done(); },
         {}});
}

void AdjudicateWorkspace::add_view(CommandList& c) {
  c.add({"adj.diff", "View", "Diff view", parse_shortcut("D"),
         "Show where the annotators disagree on the final view",
         [this] { show_diff_ = !show_diff_; }, [this] { return doc_ != nullptr; },
         [this] { return show_diff_; }});
  add_fit_command(c, [this] {
    pair_view_.fit();
    final_view_.fit();
  });
}

void AdjudicateWorkspace::add_navigation(CommandList& c) {
  c.add({"adj.next",
         "Navigate",
         "Next undecided",
         parse_shortcut("Right"),
         "Next frame in the queue",
         [this] { request_open(current_ + 1); },
         [this] { return current_ + 1 < static_cast<int>(queue_.size()); },
         {}});
  c.add({"adj.prev",
         "Navigate",
         "Previous undecided",
         parse_shortcut("Left"),
         "Previous frame in the queue",
         [this] { request_open(current_ - 1); },
         [this] { return current_ > 0; },
         {}});
}

// The labeling tools, classes and CD, acting on the final label.
void AdjudicateWorkspace::add_repaint(CommandList& c) {
  auto has_doc = [this] { return doc_ != nullptr; };
  add_tool_commands(
      c, "Repaint",
      [this](Tool tool) {
        editor_.cancel();
        pick_mode_ = false;
        tools_.tool = tool;
      },
      has_doc, [this](Tool tool) { return !pick_mode_ && tools_.tool == tool; });
  add_class_commands(
      c, schema_, "Repaint", [this](int id) { tools_.cls = id; },
      [this](int id) { return tools_.cls == id; });
  add_cd_commands(
      c, schema_, "Final clearness degree", [this](int id) { set_cd(id); }, has_doc,
      [this](int id) { return doc_ && doc_->final_label().cd() == id; });
}

void AdjudicateWorkspace::draw(ImVec2 pos, ImVec2 size) {
  const float fs = ImGui::GetFontSize();
  const float left = std::min(fs * 14.f, size.x * 0.2f);
  const float right = std::min(fs * 18.f, size.x * 0.25f);
  queue_panel_->draw(pos, ImVec2(left, size.y));
  compare_panel_->draw(ImVec2(pos.x + left, pos.y), ImVec2(size.x - left - right, size.y));
  decision_panel_->draw(ImVec2(pos.x + size.x - right, pos.y), ImVec2(right, size.y));
}

bool AdjudicateWorkspace::open_frame_id(const std::string& frame) {
  for (std::size_t i = 0; i < queue_.size(); ++i)
    if (queue_[i] == frame) {
      open_index(static_cast<int>(i));
      return true;
    }
  return false;
}

bool AdjudicateWorkspace::open_for_review(const std::string& frame) {
  if (!session_) return false;
  if (open_frame_id(frame)) return true;
  try {
    session_->open_frame(frame);  // throws the reason when it cannot be adjudicated
  } catch (const std::exception& e) {
    message_ = e.what();
    return false;
  }
  queue_.insert(queue_.begin(), frame);
  reviewing_.push_back(frame);
  open_index(0);
  message_ = "Reviewing decided frame " + frame + ": accepting revises its final label";
  return true;
}

void AdjudicateWorkspace::request_open(int index) {
  if (index >= 0 && index < static_cast<int>(queue_.size())) pending_ = index;
}

void AdjudicateWorkspace::apply_queued() {
  if (!pending_) return;
  const int i = *pending_;
  pending_.reset();
  if (i != current_ || !doc_) open_index(i);
}

void AdjudicateWorkspace::open_index(int index) {
  if (doc_ && doc_->final_label().dirty()) after_edit();
  editor_.attach(nullptr);
  doc_.reset();
  current_ = index;
  if (index < 0 || index >= static_cast<int>(queue_.size())) return;
  try {
    doc_ = session_->open_frame(queue_[static_cast<std::size_t>(index)]);
    editor_.attach(&doc_->final_label());
    timer_.reset();
    render_pair();
    render_diff();
    message_.clear();
  } catch (const std::exception& e) {
    message_ = e.what();
  }
}

void AdjudicateWorkspace::render_pair() {
  cv::Mat rgba;
  for (int which = 0; which < 2; ++which) {
    const cv::Mat& m = doc_->mask(which);
    cv::Mat img, out;
    cv::cvtColor(doc_->final_label().image(), img, cv::COLOR_BGR2RGBA);
    render_overlay(m, palette_, settings_.outline ? OverlayMode::Outline : OverlayMode::Fill,
                   cv::Rect(0, 0, m.cols, m.rows), rgba);
    // Pre-blend so the pair needs one texture each.
    const float a = settings_.outline ? 0.9f : settings_.overlay_opacity;
    out = img.clone();
    for (int y = 0; y < m.rows; ++y) {
      const auto* o = rgba.ptr<cv::Vec4b>(y);
      auto* d = out.ptr<cv::Vec4b>(y);
      for (int x = 0; x < m.cols; ++x)
        if (o[x][3])
          for (int k = 0; k < 3; ++k) d[x][k] = static_cast<uchar>(d[x][k] * (1 - a) + o[x][k] * a);
    }
    (which == 0 ? a_tex_ : b_tex_).upload(out, true);
  }
}

void AdjudicateWorkspace::render_diff() {
  const cv::Mat& a = doc_->mask(0);
  const cv::Mat& b = doc_->mask(1);
  cv::Mat rgba(a.size(), CV_8UC4, cv::Scalar(0, 0, 0, 0));
  for (int y = 0; y < a.rows; ++y) {
    const uchar* pa = a.ptr<uchar>(y);
    const uchar* pb = b.ptr<uchar>(y);
    auto* o = rgba.ptr<cv::Vec4b>(y);
    for (int x = 0; x < a.cols; ++x) {
      if (diff_class_ < 0) {
        if (pa[x] != pb[x]) o[x] = cv::Vec4b(255, 0, 255, 255);
      } else {
        const bool ia = pa[x] == diff_class_, ib = pb[x] == diff_class_;
        if (ia && ib)
          o[x] = cv::Vec4b(60, 220, 90, 255);  // both
        else if (ia)
          o[x] = cv::Vec4b(255, 150, 30, 255);  // annotator 1 only
        else if (ib)
          o[x] = cv::Vec4b(30, 200, 255, 255);  // annotator 2 only
      }
    }
  }
  diff_tex_.upload(rgba, false);
}

void AdjudicateWorkspace::set_diff_class(int cls) {
  diff_class_ = cls;
  if (doc_) render_diff();
}

void AdjudicateWorkspace::after_edit() {
  if (!doc_) return;
  try {
    session_->save_draft(*doc_, timer_.seconds());
    save_error_.clear();
    trace_.line("saved draft " + doc_->frame_id());
  } catch (const std::exception& e) {
    save_error_ = std::string("NOT SAVED: ") + e.what();
  }
}

void AdjudicateWorkspace::take(int which) {
  if (doc_ && doc_->take(which)) after_edit();
}

void AdjudicateWorkspace::take_region(int region, int which) {
  if (doc_ && doc_->take_region(region, which)) after_edit();
}

void AdjudicateWorkspace::set_cd(int cd) {
  if (doc_ && doc_->final_label().set_cd(cd)) after_edit();
}

void AdjudicateWorkspace::undo() {
  if (doc_ && doc_->final_label().undo()) after_edit();
}

void AdjudicateWorkspace::redo() {
  if (doc_ && doc_->final_label().redo()) after_edit();
}

void AdjudicateWorkspace::accept() {
  if (!doc_) return;
  try {
    const std::string done = doc_->frame_id();
    const auto review = std::find(reviewing_.begin(), reviewing_.end(), done);
    const std::string source = session_->accept(*doc_, review != reviewing_.end());
    message_ = "Accepted " + done + " (" + source + ")";
    trace_.line("saved final " + done + " " + source);
    if (review != reviewing_.end())
      reviewing_.erase(review);
    else
      ++decided_;
    editor_.attach(nullptr);
    doc_.reset();
    queue_.erase(std::remove(queue_.begin(), queue_.end(), done), queue_.end());
    if (!queue_.empty())
      request_open(std::min(current_, static_cast<int>(queue_.size()) - 1));
    else
      current_ = -1;
  } catch (const std::exception& e) {
    message_ = e.what();
  }
}

std::string AdjudicateWorkspace::status_line() const {
  if (!allowed()) return refusal_;
  if (!save_error_.empty()) return save_error_;
  std::string s =
      std::to_string(queue_.size()) + " waiting, " + std::to_string(decided_) + " decided";
  if (doc_)
    s += " | " + doc_->frame_id() + " | " + std::to_string(doc_->disagreement().regions.size()) +
         " disagreement regions | " + doc_->final_label().completeness().message();
  if (!message_.empty()) s += " | " + message_;
  return s;
}

void AdjudicateWorkspace::shutdown() {
  if (doc_ && doc_->final_label().dirty()) after_edit();
}

}  // namespace excap::studio
