#include "annotator/core/label_document.h"

#include <opencv2/imgproc.hpp>

#include "annotator/core/tools.h"
#include "common/error.h"
#include "media/imageio.h"

namespace excap::annotator {

std::string Completeness::message() const {
  if (done()) return "done";
  std::string s;
  if (!has_cd) s = "no clearness degree chosen";
  if (out_of_schema > 0) {
    if (!s.empty()) s += "; ";
    s += std::to_string(out_of_schema) + " pixel" + (out_of_schema == 1 ? "" : "s") +
         " hold class " + std::to_string(first_bad_class) + ", outside the schema (classes 0.." +
         std::to_string(num_classes - 1) + "): repaint them";
  }
  if (unlabeled_in_fov > 0) {
    if (!s.empty()) s += "; ";
    s += std::to_string(unlabeled_in_fov) + " unlabeled pixel" +
         (unlabeled_in_fov == 1 ? "" : "s") +
         " inside the field of view (first at x=" + std::to_string(first_unlabeled.x) +
         ", y=" + std::to_string(first_unlabeled.y) + ")";
  }
  return s;
}

LabelDocument::LabelDocument(const LabelSchema& schema, std::string frame_id, cv::Mat image,
                             cv::Mat mask, std::optional<int> cd, cv::Mat fov, int background,
                             std::size_t undo_bytes)
    : schema_(schema),
      frame_id_(std::move(frame_id)),
      image_(std::move(image)),
      mask_(std::move(mask)),
      fov_(std::move(fov)),
      cd_(cd),
      background_(background),
      history_(undo_bytes) {
  if (image_.empty()) throw Error("frame " + frame_id_, "empty image");
  if (mask_.empty()) mask_ = cv::Mat(image_.size(), CV_8UC1, cv::Scalar(kUnlabeled));
  if (mask_.size() != image_.size() || mask_.type() != CV_8UC1)
    throw Error("frame " + frame_id_, "mask size " + std::to_string(mask_.cols) + "x" +
                                          std::to_string(mask_.rows) + " differs from the frame");
  if (fov_.empty()) fov_ = cv::Mat(image_.size(), CV_8UC1, cv::Scalar(255));
  if (cd_ && !schema_.valid_cd(*cd_)) cd_.reset();
  // Background outside the field of view is part of the starting state, not
  // an edit: it is saved with the first real edit, so viewing a frame writes nothing.
  if (background_ >= 0 && background_ < 255)
    fill_outside_fov(mask_, fov_, static_cast<std::uint8_t>(background_));
  changed_rect_ = cv::Rect(0, 0, mask_.cols, mask_.rows);
}

void LabelDocument::touched(cv::Rect r) {
  r &= cv::Rect(0, 0, mask_.cols, mask_.rows);
  if (r.empty()) return;
  changed_rect_ |= r;
}

void LabelDocument::begin_stroke(const std::string& tool_name) {
  if (in_stroke_) end_stroke();
  in_stroke_ = true;
  stroke_name_ = tool_name;
  mask_.copyTo(stroke_before_);
  stroke_rect_ = cv::Rect();
}

void LabelDocument::stroke_apply(const std::function<cv::Rect(cv::Mat&)>& tool) {
  if (!in_stroke_) begin_stroke("edit");
  const cv::Rect r = tool(mask_);
  stroke_rect_ |= r;
  touched(r);
}

bool LabelDocument::end_stroke() {
  if (!in_stroke_) return false;
  in_stroke_ = false;
  Edit e = diff_edit(stroke_name_, stroke_before_, mask_, stroke_rect_);
  stroke_before_.release();
  if (e.rect.empty()) return false;
  history_.push(std::move(e));
  dirty_ = true;
  ++revision_;
  return true;
}

void LabelDocument::cancel_stroke() {
  if (!in_stroke_) return;
  in_stroke_ = false;
  if (!stroke_rect_.empty()) stroke_before_(stroke_rect_).copyTo(mask_(stroke_rect_));
  touched(stroke_rect_);
  stroke_before_.release();
}

bool LabelDocument::apply(const std::string& tool_name,
                          const std::function<cv::Rect(cv::Mat&)>& tool) {
  begin_stroke(tool_name);
  stroke_apply(tool);
  return end_stroke();
}

bool LabelDocument::set_cd(std::optional<int> cd) {
  if (cd && !schema_.valid_cd(*cd)) return false;
  if (cd == cd_) return false;
  if (in_stroke_) end_stroke();
  Edit e;
  e.name = "clearness degree";
  e.cd_changed = true;
  e.cd_before = cd_;
  e.cd_after = cd;
  cd_ = cd;
  history_.push(std::move(e));
  dirty_ = true;
  ++revision_;
  return true;
}

void LabelDocument::apply_edit(const Edit& e, bool forward) {
  if (!e.rect.empty()) {
    (forward ? e.after : e.before).copyTo(mask_(e.rect));
    touched(e.rect);
  }
  if (e.cd_changed) cd_ = forward ? e.cd_after : e.cd_before;
  dirty_ = true;
  ++revision_;
}

bool LabelDocument::undo() {
  if (in_stroke_) end_stroke();
  auto e = history_.take_undo();
  if (!e) return false;
  apply_edit(*e, false);
  return true;
}

bool LabelDocument::redo() {
  if (in_stroke_) end_stroke();
  auto e = history_.take_redo();
  if (!e) return false;
  apply_edit(*e, true);
  return true;
}

cv::Rect LabelDocument::take_changed_rect() {
  const cv::Rect r = changed_rect_;
  changed_rect_ = cv::Rect();
  return r;
}

Completeness LabelDocument::completeness() const {
  Completeness c;
  c.has_cd = cd_.has_value();
  c.num_classes = schema_.num_tissue();
  const MaskCheck bad = check_mask_values(mask_, c.num_classes, kUnlabeled);
  c.out_of_schema = bad.bad_pixels;
  c.first_bad_class = bad.first_bad_value;
  cv::Mat missing = (mask_ == kUnlabeled) & (fov_ != 0);
  c.unlabeled_in_fov = cv::countNonZero(missing);
  if (c.unlabeled_in_fov > 0) {
    std::vector<cv::Point> pts;
    // The first in reading order, so the message is stable.
    for (int y = 0; y < missing.rows && c.first_unlabeled.x < 0; ++y) {
      const std::uint8_t* row = missing.ptr<std::uint8_t>(y);
      for (int x = 0; x < missing.cols; ++x)
        if (row[x]) {
          c.first_unlabeled = {x, y};
          break;
        }
    }
  }
  return c;
}

void WorkTimer::tick(double dt_s, bool had_input) {
  if (had_input)
    since_input_s_ = 0;
  else
    since_input_s_ += dt_s;
  if (since_input_s_ <= idle_after_s_) seconds_ += dt_s;
}

}  // namespace excap::annotator
