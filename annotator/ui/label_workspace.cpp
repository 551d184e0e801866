#include "annotator/ui/label_workspace.h"

#include <algorithm>

#include "annotator/core/tools.h"
#include "annotator/ui/label_panels.h"
#include "annotator/ui/labeling_commands.h"

namespace excap::studio {

using namespace excap::annotator;

LabelWorkspace::LabelWorkspace(Session session, StudioSettings& settings)
    : session_(std::move(session)),
      settings_(settings),
      palette_(OverlayPalette::from_schema(session_.project().meta().schema)),
      frames_panel_(std::make_unique<FrameListPanel>(*this)),
      tools_panel_(std::make_unique<ToolsPanel>(*this)),
      canvas_panel_(std::make_unique<LabelCanvasPanel>(*this)),
      writer_(
          std::make_unique<AutosaveWriter>([this](const LabelSnapshot& s) { session_.write(s); })) {
  tools_.radius = settings_.brush_radius;
  tools_.superpixel_size = settings_.superpixel_size;
  tools_.grabcut_margin = settings_.grabcut_margin;
  // Start on the first frame that is not done yet.
  int first = entries().empty() ? -1 : 0;
  for (std::size_t i = 0; i < entries().size(); ++i)
    if (entries()[i].status != FrameStatus::Done) {
      first = static_cast<int>(i);
      break;
    }
  if (first >= 0) open_index(first);
}

LabelWorkspace::~LabelWorkspace() = default;

// One group per menu, added in menu order: the menus appear in the order of
// their first command.
void LabelWorkspace::add_commands(CommandList& c) {
  commands_ = &c;
  add_navigation(c);
  add_editing(c);
  add_tools(c);
  add_classes(c);
  add_view(c);
}

void LabelWorkspace::add_navigation(CommandList& c) {
  c.add({"label.prev",
         "Navigate",
         "Previous frame",
         parse_shortcut("Left"),
         "Open the previous frame in my list",
         [this] { next(-1); },
         [this] { return current_ > 0; },
         {}});
  c.add({"label.next",
         "Navigate",
         "Next frame",
         parse_shortcut("Right"),
         "Open the next frame in my list",
         [this] { next(+1); },
         [this] { return current_ + 1 < static_cast<int>(entries().size()); },
         {}});
  c.add({"label.next_todo",
         "Navigate",
         "Next unfinished frame",
         parse_shortcut("Enter"),
         "Jump to the next frame that is not done",
         [this] { next_unfinished(); },
         [this] { return !entries().empty(); },
         {}});
  c.add({"label.reload",
         "Navigate",
         "Reload my frames",
         {},
         "Read my assignments again (frames assigned or withdrawn since the studio opened)",
         [this] { reload_frames(); },
         {},
         {}});
}

// Edit menu, then "Save now" (File): it writes what the edits did.
void LabelWorkspace::add_editing(CommandList& c) {
  auto has_doc = [this] { return doc_ != nullptr; };
  add_undo_commands(
      c, "Undo the last edit of this frame", [this] { undo(); }, [this] { redo(); },
      [this]() -> const UndoHistory* { return doc_ ? &doc_->history() : nullptr; });
  c.add({"edit.fill_unlabeled",
         "Edit",
         "Fill unlabeled with class",
         parse_shortcut("Shift+F"),
         "Give every unlabeled pixel inside the field of view the current class",
         [this] { fill_unlabeled(); },
         has_doc,
         {}});
  c.add({"edit.remove_islands",
         "Edit",
         "Remove small islands",
         parse_shortcut("Shift+I"),
         "Merge regions smaller than the island size into their surroundings",
         [this] { remove_islands(); },
         has_doc,
         {}});
  c.add({"edit.cancel",
         "Edit",
         "Cancel polygon/stroke",
         parse_shortcut("Escape"),
         "Drop the shape in progress",
         [this] { editor_.cancel(); },
         has_doc,
         {}});
  c.add({"file.save",
         "File",
         "Save now",
         parse_shortcut("Ctrl+S"),
         "Labels save themselves after every stroke; this forces a write",
         [this] { save_now(); },
         has_doc,
         {}});
}

void LabelWorkspace::add_tools(CommandList& c) {
  add_tool_commands(
      c, "Tools",
      [this](Tool tool) {
        editor_.cancel();
        tools_.tool = tool;
      },
      {}, [this](Tool tool) { return tools_.tool == tool; });
  c.add({"tool.bigger",
         "Tools",
         "Bigger brush",
         parse_shortcut("]"),
         "Brush radius +1 (or Shift+wheel)",
         [this] { settings_.brush_radius = tools_.radius = std::min(tools_.radius + 1, 200); },
         {},
         {}});
  c.add({"tool.smaller",
         "Tools",
         "Smaller brush",
         parse_shortcut("["),
         "Brush radius -1 (or Shift+wheel)",
         [this] { settings_.brush_radius = tools_.radius = std::max(tools_.radius - 1, 0); },
         {},
         {}});
}

void LabelWorkspace::add_classes(CommandList& c) {
  const LabelSchema& schema = session_.project().meta().schema;
  add_class_commands(
      c, schema, "Paint", [this](int id) { set_class(id); },
      [this](int id) { return tools_.cls == id; });
  add_cd_commands(
      c, schema, "Clearness degree of this frame", [this](int id) { set_cd(id); },
      [this] { return doc_ != nullptr; }, [this](int id) { return doc_ && doc_->cd() == id; });
}

void LabelWorkspace::add_view(CommandList& c) {
  add_fit_command(c, [this] { view_.fit(); });
  c.add({"view.zoom_in",
         "View",
         "Zoom in",
         parse_shortcut("="),
         "Zoom in (or the wheel, to the cursor)",
         [this] { view_.zoom_by(1.25f); },
         {},
         {}});
  c.add({"view.zoom_out",
         "View",
         "Zoom out",
         parse_shortcut("-"),
         "Zoom out",
         [this] { view_.zoom_by(0.8f); },
         {},
         {}});
  c.add({"view.hide_mask",
         "View",
         "Show mask",
         parse_shortcut("H"),
         "Show or hide the mask overlay",
         [this] { settings_.show_mask = !settings_.show_mask; },
         {},
         [this] { return settings_.show_mask; }});
  c.add({"view.outline",
         "View",
         "Outline only",
         parse_shortcut("O"),
         "Draw only the borders between classes",
         [this] { settings_.outline = !settings_.outline; },
         {},
         [this] { return settings_.outline; }});
}

void LabelWorkspace::draw(ImVec2 pos, ImVec2 size) {
  const float fs = ImGui::GetFontSize();
  const float left = std::min(fs * 17.f, size.x * 0.24f);
  const float right = std::min(fs * 19.f, size.x * 0.26f);
  frames_panel_->draw(pos, ImVec2(left, size.y));
  canvas_panel_->draw(ImVec2(pos.x + left, pos.y), ImVec2(size.x - left - right, size.y));
  tools_panel_->draw(ImVec2(pos.x + size.x - right, pos.y), ImVec2(right, size.y));
}

void LabelWorkspace::request_open(int index) {
  if (index >= 0 && index < static_cast<int>(entries().size())) pending_open_ = index;
}

bool LabelWorkspace::open_frame_id(const std::string& frame) {
  const int i = session_.index_of(frame);
  if (i >= 0) open_index(i);
  return i >= 0;
}

void LabelWorkspace::next(int step) { request_open(current_ + step); }

void LabelWorkspace::next_unfinished() {
  for (std::size_t k = 1; k <= entries().size(); ++k) {
    const std::size_t i = (static_cast<std::size_t>(std::max(current_, 0)) + k) % entries().size();
    if (entries()[i].status != FrameStatus::Done) return request_open(static_cast<int>(i));
  }
}

void LabelWorkspace::reload_frames() {
  if (doc_) {
    editor_.cancel();
    if (doc_->dirty()) save_now();
  }
  flush_saves();  // pending saves land before the list changes under them
  pending_open_.reset();
  try {
    if (!session_.reload_assignments()) {
      message_ = "My frames: unchanged";
      return;
    }
  } catch (const std::exception& ex) {
    message_ = ex.what();
    return;
  }
  // The open frame keeps its place by id; a withdrawn one closes.
  current_ = doc_ ? session_.index_of(doc_->frame_id()) : -1;
  if (current_ < 0 && doc_) {
    editor_.attach(nullptr);
    doc_.reset();
  }
  message_ = "My frames: " + std::to_string(entries().size());
}

void LabelWorkspace::apply_queued() {
  if (!pending_open_) return;
  const int i = *pending_open_;
  pending_open_.reset();
  if (i != current_) open_index(i);
}

void LabelWorkspace::open_index(int index) {
  if (doc_) {
    editor_.cancel();
    // Only an edit writes: viewing (and time spent only viewing) writes nothing.
    if (doc_->dirty()) save_now();
  }
  flush_saves();  // the list shows the status of the frame just left
  editor_.attach(nullptr);
  doc_.reset();
  suggestion_.reset();
  suggestion_uploaded_ = false;
  current_ = index;
  const FrameEntry& e = entries()[static_cast<std::size_t>(index)];
  try {
    doc_ = session_.open_frame(e.frame);
    timer_.reset(e.time_spent_s);
    editor_.attach(doc_.get());
    message_.clear();
    suggestion_ =
        annotator::load_suggestion_layer(session_.project(), e.frame, session_.queue_run());
    if (suggestion_) suggestion_->visible = suggestion_first_;  // else the annotator's own view
  } catch (const std::exception& ex) {
    message_ = ex.what();
  }
}

ImTextureID LabelWorkspace::suggestion_texture() {
  if (!suggestion_) return ImTextureID{};
  if (!suggestion_uploaded_) {
    cv::Mat rgba(suggestion_->mask.size(), CV_8UC4, cv::Scalar::all(0));
    annotator::render_overlay(suggestion_->mask, palette_, annotator::OverlayMode::Fill,
                              cv::Rect(0, 0, rgba.cols, rgba.rows), rgba);
    suggestion_texture_.upload(rgba, false);
    suggestion_uploaded_ = true;
  }
  return suggestion_texture_.id();
}

void LabelWorkspace::show_suggestion_first(bool on) {
  suggestion_first_ = on;
  if (suggestion_) suggestion_->visible = on;
}

void LabelWorkspace::toggle_suggestion() {
  if (suggestion_) suggestion_->visible = !suggestion_->visible;
}

void LabelWorkspace::accept_suggestion(Take how, cv::Point at) {
  if (!doc_ || !suggestion_ || editor_.busy()) return;
  bool changed = false;
  if (how == Take::Whole) changed = annotator::accept_whole(*doc_, *suggestion_);
  if (how == Take::Class) changed = annotator::accept_class(*doc_, *suggestion_, tools_.cls);
  if (how == Take::Region) changed = annotator::accept_region(*doc_, *suggestion_, at);
  if (changed) after_edit();
}

void LabelWorkspace::save_now() {
  if (!doc_) return;
  try {
    writer_->submit(session_.snapshot(*doc_, timer_.seconds()));
    doc_->mark_saved();
  } catch (const std::exception& ex) {
    save_error_ = std::string("NOT SAVED: ") + ex.what();
  }
}

void LabelWorkspace::collect_saves() {
  for (auto& r : writer_->take_results()) {
    if (!r.error.empty()) {
      // The next stroke end (or Ctrl+S) writes the whole state again.
      save_error_ = "NOT SAVED: " + r.error;
      continue;
    }
    save_error_.clear();
    trace_.line("saved label " + r.snapshot.frame);
    if (session_.record_saved(r.snapshot)) message_ = "Frame done: " + r.snapshot.frame;
  }
}

void LabelWorkspace::flush_saves() {
  writer_->flush();
  collect_saves();
}

void LabelWorkspace::after_edit() { save_now(); }

void LabelWorkspace::set_class(int cls) {
  if (session_.project().meta().schema.valid_tissue(cls)) tools_.cls = cls;
  if (tools_.tool == Tool::Eraser) tools_.tool = Tool::Brush;
}

void LabelWorkspace::set_cd(int cd) {
  if (doc_ && doc_->set_cd(cd)) after_edit();
}

void LabelWorkspace::undo() {
  if (doc_ && doc_->undo()) after_edit();
}

void LabelWorkspace::redo() {
  if (doc_ && doc_->redo()) after_edit();
}

void LabelWorkspace::fill_unlabeled() {
  if (!doc_) return;
  const auto cls = static_cast<std::uint8_t>(tools_.cls);
  if (doc_->apply("fill unlabeled",
                  [&](cv::Mat& m) { return annotator::fill_unlabeled(m, cls, doc_->fov()); }))
    after_edit();
}

void LabelWorkspace::remove_islands() {
  if (!doc_) return;
  const int n = settings_.island_min_pixels;
  if (doc_->apply("remove islands", [&](cv::Mat& m) { return annotator::remove_islands(m, n); }))
    after_edit();
}

void LabelWorkspace::tick(double dt, bool had_input) {
  if (doc_) timer_.tick(dt, had_input);
  collect_saves();
}

std::string LabelWorkspace::status_line() const {
  if (!save_error_.empty()) return save_error_;
  if (!doc_) return message_.empty() ? "No frame open" : message_;
  std::string s = doc_->frame_id() + " | " + doc_->completeness().message();
  s += doc_->dirty() ? " | unsaved" : writer_->busy() ? " | saving" : " | saved";
  if (!message_.empty()) s += " | " + message_;
  return s;
}

void LabelWorkspace::shutdown() {
  if (doc_) {
    editor_.cancel();
    if (doc_->dirty()) save_now();
  }
  flush_saves();
}

}  // namespace excap::studio
