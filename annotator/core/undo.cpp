#include "annotator/core/undo.h"

#include <opencv2/imgproc.hpp>

namespace excap::annotator {

void UndoHistory::push(Edit e) {
  for (const auto& r : redo_) bytes_ -= r.bytes();
  redo_.clear();
  bytes_ += e.bytes();
  undo_.push_back(std::move(e));
  trim();
}

void UndoHistory::trim() {
  while (bytes_ > max_bytes_ && undo_.size() > 1) {
    bytes_ -= undo_.front().bytes();
    undo_.pop_front();
  }
}

std::optional<Edit> UndoHistory::take_undo() {
  if (undo_.empty()) return std::nullopt;
  Edit e = std::move(undo_.back());
  undo_.pop_back();
  redo_.push_back(e);
  return e;
}

std::optional<Edit> UndoHistory::take_redo() {
  if (redo_.empty()) return std::nullopt;
  Edit e = std::move(redo_.back());
  redo_.pop_back();
  undo_.push_back(e);
  trim();
  return e;
}

void UndoHistory::clear() {
  undo_.clear();
  redo_.clear();
  bytes_ = 0;
}

const std::string& UndoHistory::next_undo_name() const {
  static const std::string none;
  return undo_.empty() ? none : undo_.back().name;
}

const std::string& UndoHistory::next_redo_name() const {
  static const std::string none;
  return redo_.empty() ? none : redo_.back().name;
}

Edit diff_edit(const std::string& name, const cv::Mat& before, const cv::Mat& after,
               cv::Rect hint) {
  Edit e;
  e.name = name;
  hint &= cv::Rect(0, 0, before.cols, before.rows);
  if (hint.empty()) return e;
  cv::Mat changed;
  cv::compare(before(hint), after(hint), changed, cv::CMP_NE);
  const cv::Rect box = cv::boundingRect(changed);
  if (box.empty()) return e;
  e.rect = box + hint.tl();
  e.before = before(e.rect).clone();
  e.after = after(e.rect).clone();
  return e;
}

}  // namespace excap::annotator
