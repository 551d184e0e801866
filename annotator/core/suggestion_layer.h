// The model's suggestion for the open frame, as a layer of the Label
// workspace (docs/prelabels.md): shown or hidden, accepted whole, by class or
// by region (the connected area of one class under a click), or ignored.
// Accepting copies suggested classes into the user's own mask as one undo
// step and records the suggestion as the label's origin. Shown only where the
// project allows pre-labels.
#pragma once
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "annotator/core/label_document.h"
#include "store/prelabel.h"

namespace excap::annotator {

struct SuggestionLayer {
  Suggestion info;
  cv::Mat mask;        // tissue classes, the frame's size
  cv::Mat confidence;  // 0..255, the frame's size
  bool visible = true;
  SuggestionOrigin origin() const { return {info.run, info.weights_sha256, info.time}; }
};

// The suggestion of `frame`: from `run` when it has one, else from the run
// whose suggestion is newest. nullopt when the project's `prelabels` setting
// is off or no run suggested this frame. Throws Error for unreadable files.
std::optional<SuggestionLayer> load_suggestion_layer(const Project& project,
                                                     const std::string& frame,
                                                     const std::string& run = "");

// Each returns true when the label changed (one undo step; CD too for whole).
// Pixels outside the field of view are left as they are.
bool accept_whole(LabelDocument& doc, const SuggestionLayer& s);
bool accept_class(LabelDocument& doc, const SuggestionLayer& s, int tissue_class);
bool accept_region(LabelDocument& doc, const SuggestionLayer& s, cv::Point at);

}  // namespace excap::annotator
