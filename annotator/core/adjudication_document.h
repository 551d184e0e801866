// The expert's side of stage III as the studio needs it, on top of
// curation/adjudication.h (the stage-III library): the queue of frames
// waiting for a decision, the two annotations shown as "Annotator 1/2", the
// connected regions where they disagree, and the final label being built as
// an undoable LabelDocument. Accepting goes through the library's
// AdjudicationDraft + save_expert_decision, so the studio and `excap
// adjudicate` record sources the same way.
//
// The expert's work in progress is autosaved as the expert's own label
// (labels/<expert>/<frame>.*): below their own folder, never touching the
// annotators' files, and restored after a crash.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "annotator/core/label_document.h"
#include "curation/adjudication.h"
#include "store/project.h"

namespace excap::annotator {

class AdjudicationDocument;

// Opens only for a user whose role is expert (throws Error otherwise).
class AdjudicationSession {
 public:
  static AdjudicationSession open(const fs::path& dir, const std::string& expert);
  const Project& project() const { return project_; }
  const std::string& expert() const { return expert_; }
  // Frames ready for a decision (two labels with CD and mask, no final
  // label), not labeled by this expert as an annotator, in frame id order.
  std::vector<std::string> undecided() const;
  // Throws Error when the frame is not ready or the expert is one of its annotators.
  // The final label starts from the expert's draft, else from the frame's
  // final label when it is decided, else from where the annotators agree.
  std::unique_ptr<AdjudicationDocument> open_frame(const std::string& frame) const;
  // Writes final/<frame>.png and .json; returns the recorded source. An
  // expert's earlier decision is replaced only when `revise` (a frame opened
  // for review), else refused with the reason.
  std::string accept(AdjudicationDocument& doc, bool revise = false) const;
  void save_draft(AdjudicationDocument& doc, double time_spent_s) const;

 private:
  AdjudicationSession(Project p, std::string expert)
      : project_(std::move(p)), expert_(std::move(expert)) {}
  Project project_;
  std::string expert_;
};

class AdjudicationDocument {
 public:
  // `draft` (optional) restores autosaved work; else the final label starts
  // from the pixels both annotators agree on, the rest unlabeled.
  AdjudicationDocument(const LabelSchema& schema, AdjudicationCase c, cv::Mat fov, cv::Mat draft,
                       std::optional<int> draft_cd, int background);

  const std::string& frame_id() const { return final_.frame_id(); }
  const AdjudicationCase& adjudication_case() const { return case_; }
  const cv::Mat& mask(int which) const {
    return case_.mask[static_cast<std::size_t>(which)];
  }  // 0: annotator 1
  std::optional<int> cd(int which) const { return case_.cd[static_cast<std::size_t>(which)]; }
  const DisagreementMap& disagreement() const { return diff_; }
  long long disagree_pixels() const;
  LabelDocument& final_label() { return final_; }
  const LabelDocument& final_label() const { return final_; }

  // Each is one undo step on the final label.
  bool take(int which);                     // the whole mask (and CD) of annotator 1 or 2
  bool take_region(int region, int which);  // one disagreement region from 1 or 2
  int region_at(cv::Point p) const;         // 0 when the annotators agree there

 private:
  AdjudicationCase case_;
  DisagreementMap diff_;
  LabelDocument final_;
};

}  // namespace excap::annotator
