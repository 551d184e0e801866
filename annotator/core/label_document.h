// The editable document of one frame for one user: the frame image, the
// user's mask and clearness degree (CD), the field of view, the undo history
// and what changed since the last save and the last texture upload.
// No ImGui or GL: the UI calls these methods, tests call them directly.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "annotator/core/undo.h"
#include "store/project.h"
#include "store/schema.h"

namespace excap::annotator {

// What still keeps a frame from being "done".
struct Completeness {
  bool has_cd = false;
  long long unlabeled_in_fov = 0;
  cv::Point first_unlabeled{-1, -1};
  long long out_of_schema = 0;  // pixels of a class the schema does not have (e.g. imported)
  int first_bad_class = -1;
  int num_classes = 0;
  bool done() const { return has_cd && unlabeled_in_fov == 0 && out_of_schema == 0; }
  std::string message() const;  // "done", or what is missing in words
};

class LabelDocument {
 public:
  // `mask` may be empty (a new label: all unlabeled). `fov` is 8-bit, 255
  // inside the field of view; empty means the whole frame. Pixels outside the
  // field of view become `background` (-1: leave them) before any edit.
  LabelDocument(const LabelSchema& schema, std::string frame_id, cv::Mat image, cv::Mat mask,
                std::optional<int> cd, cv::Mat fov, int background,
                std::size_t undo_bytes = 64u << 20);

  const std::string& frame_id() const { return frame_id_; }
  const LabelSchema& schema() const { return schema_; }
  const cv::Mat& image() const { return image_; }
  const cv::Mat& mask() const { return mask_; }
  const cv::Mat& fov() const { return fov_; }
  cv::Size size() const { return mask_.size(); }
  std::optional<int> cd() const { return cd_; }
  int background() const { return background_; }

  // ---- edits ----
  // A stroke groups the changes of one drag into one undo step.
  void begin_stroke(const std::string& tool_name);
  bool in_stroke() const { return in_stroke_; }
  // Runs a tool on the mask inside the stroke; the tool returns its rect.
  void stroke_apply(const std::function<cv::Rect(cv::Mat&)>& tool);
  // Ends the stroke; true when it changed a pixel (then an undo step exists).
  bool end_stroke();
  void cancel_stroke();  // restores the mask as it was before the stroke
  // A one-shot tool (flood fill, fill unlabeled, ...) as one undo step.
  bool apply(const std::string& tool_name, const std::function<cv::Rect(cv::Mat&)>& tool);

  bool set_cd(std::optional<int> cd);  // false when unchanged or not in the schema
  bool undo();
  bool redo();
  const UndoHistory& history() const { return history_; }

  // The model suggestion this label started from (docs/prelabels.md): set
  // once, by accepting part of a suggestion or from the saved record; undo
  // keeps it, as the label still started from the suggestion.
  const std::optional<SuggestionOrigin>& origin() const { return origin_; }
  void set_origin(const SuggestionOrigin& o) {
    if (!origin_) origin_ = o;
  }

  // ---- state for saving and drawing ----
  bool dirty() const { return dirty_; }
  void mark_saved() { dirty_ = false; }
  long long revision() const { return revision_; }
  // Union of mask rectangles changed since the last call (for texture uploads).
  cv::Rect take_changed_rect();
  Completeness completeness() const;

 private:
  void touched(cv::Rect r);
  void apply_edit(const Edit& e, bool forward);

  LabelSchema schema_;
  std::string frame_id_;
  cv::Mat image_, mask_, fov_;
  std::optional<int> cd_;
  int background_ = -1;
  UndoHistory history_;
  bool in_stroke_ = false;
  std::string stroke_name_;
  cv::Mat stroke_before_;
  cv::Rect stroke_rect_;
  cv::Rect changed_rect_;
  bool dirty_ = false;
  long long revision_ = 0;
  std::optional<SuggestionOrigin> origin_;
};

// Time an annotator spends on a frame: counts only while they are active
// (an input within the last `idle_after_s` seconds), so a coffee break with
// the frame open does not count.
class WorkTimer {
 public:
  explicit WorkTimer(double idle_after_s = 60.0) : idle_after_s_(idle_after_s) {}
  void tick(double dt_s, bool had_input);
  double seconds() const { return seconds_; }
  void reset(double start_s = 0) {
    seconds_ = start_s;
    since_input_s_ = 0;
  }

 private:
  double idle_after_s_;
  double seconds_ = 0;
  double since_input_s_ = 0;
};

}  // namespace excap::annotator
