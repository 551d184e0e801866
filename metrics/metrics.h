// The scores of ExCap, computed exactly as DESIGN.md's "Metrics" section says:
// confusion matrix, Cohen's kappa, classification summary (confusion.h) and
// mmsegmentation's per-class areas (seg_areas.h). No LibTorch, no OpenCV:
// callers feed raw label buffers (cv::Mat rows, tensor data, test arrays).
#pragma once
#include "metrics/confusion.h"
#include "metrics/seg_areas.h"
