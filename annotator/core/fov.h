// The field of view of one extracted frame, for the automatic background
// fill and the "done" rule. Frames are stored with the outside blanked, so
// the lit disc of the frame itself is enough.
#pragma once
#include <opencv2/core.hpp>

namespace excap::annotator {

// 8-bit mask, 255 inside the field of view. Uses dataset's detect_fov (circle
// fit); when that finds no plausible disc, falls back to the largest lit
// region with its holes filled, and to the whole frame when nothing is lit.
cv::Mat frame_fov_mask(const cv::Mat& bgr);

}  // namespace excap::annotator
