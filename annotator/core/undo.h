// Undo history as pixel diffs: an edit keeps the bounding box it touched and
// the old and new pixels inside it (ImHex's OperationWrite), never a snapshot
// of the whole mask. The history is capped by bytes, not by a count.
#pragma once
#include <cstddef>
#include <deque>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

namespace excap::annotator {

// One undoable edit: a mask rectangle before/after and/or a CD change.
struct Edit {
  std::string name;       // "brush", "flood fill", "clearness degree", ...
  cv::Rect rect;          // empty when only the CD changed
  cv::Mat before, after;  // CV_8U, rect.size()
  bool cd_changed = false;
  std::optional<int> cd_before, cd_after;
  std::size_t bytes() const { return before.total() + after.total() + sizeof(Edit) + name.size(); }
};

class UndoHistory {
 public:
  explicit UndoHistory(std::size_t max_bytes = 64u << 20) : max_bytes_(max_bytes) {}

  // Records an edit; clears the redo branch; drops the oldest edits while
  // the history is over budget (always keeping the newest one).
  void push(Edit e);
  bool can_undo() const { return !undo_.empty(); }
  bool can_redo() const { return !redo_.empty(); }
  // Moves the newest edit to the redo stack and returns it (caller reverts it).
  std::optional<Edit> take_undo();
  std::optional<Edit> take_redo();
  void clear();

  std::size_t bytes() const { return bytes_; }
  std::size_t max_bytes() const { return max_bytes_; }
  std::size_t undo_depth() const { return undo_.size(); }
  std::size_t redo_depth() const { return redo_.size(); }
  const std::string& next_undo_name() const;
  const std::string& next_redo_name() const;

 private:
  void trim();
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::deque<Edit> undo_, redo_;
};

// The edit that turns `before` into `after` (same-size masks), restricted to
// the bounding box of the pixels that actually differ inside `hint`.
// Returns an edit with an empty rect when nothing changed.
Edit diff_edit(const std::string& name, const cv::Mat& before, const cv::Mat& after, cv::Rect hint);

}  // namespace excap::annotator
