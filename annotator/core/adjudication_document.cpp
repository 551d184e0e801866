#include "annotator/core/adjudication_document.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "annotator/core/fov.h"
#include "annotator/core/tools.h"
#include "common/error.h"
#include "media/imageio.h"
#include "store/change.h"

namespace excap::annotator {

AdjudicationSession AdjudicationSession::open(const fs::path& dir, const std::string& expert) {
  Project p = Project::open(dir);
  const User* u = p.meta().find_user(expert);
  if (!u) throw Error((dir / "project.json").string(), "no user '" + expert + "' in this project");
  if (u->role != Role::Expert)
    throw Error("user " + expert, "adjudication is open only to the expert role (this user is " +
                                      role_name(u->role) + ")");
  return AdjudicationSession(std::move(p), expert);
}

std::vector<std::string> AdjudicationSession::undecided() const {
  std::vector<std::string> out;
  for (const auto& f : undecided_frames(project_)) {
    if (!f.ready) continue;
    // An expert never settles a frame they labeled themselves.
    if (std::find(f.annotators.begin(), f.annotators.end(), expert_) != f.annotators.end())
      continue;
    out.push_back(f.frame);
  }
  return out;
}

std::unique_ptr<AdjudicationDocument> AdjudicationSession::open_frame(
    const std::string& frame) const {
  AdjudicationCase c = load_adjudication_case(project_, frame);
  for (const auto& a : c.annotators)
    if (a == expert_)
      throw Error("frame " + frame, "you labeled this frame: another expert must settle it");
  if (c.image.empty()) c.image = read_frame(project_.frame_path(frame));  // throws with the reason
  if (c.mask[0].size() != c.image.size())
    throw Error("frame " + frame, "the masks' size differs from the frame");
  cv::Mat draft;
  std::optional<int> draft_cd;
  std::error_code ec;
  if (auto rec = project_.load_label(expert_, frame)) draft_cd = rec->cd;
  if (fs::exists(project_.label_mask_path(expert_, frame), ec)) {
    draft = read_mask(project_.label_mask_path(expert_, frame));
  } else if (auto decided = load_final_label(project_, frame)) {  // reviewing a decision
    draft = read_mask(project_.final_mask_path(frame));
    draft_cd = decided->cd;
  }
  const cv::Mat fov = frame_fov_mask(c.image);
  return std::make_unique<AdjudicationDocument>(project_.meta().schema, std::move(c), fov, draft,
                                                draft_cd,
                                                project_.meta().schema.tissue_id("background"));
}

void AdjudicationSession::save_draft(AdjudicationDocument& doc, double time_spent_s) const {
  LabelDocument& f = doc.final_label();
  const ProjectLock lock = ProjectLock::acquire(project_.root(), "adjudication draft");
  LabelRecord rec;
  if (auto old = project_.load_label(expert_, f.frame_id())) rec = *old;
  rec.frame = f.frame_id();
  rec.user = expert_;
  rec.cd = f.cd();
  rec.time_spent_s = time_spent_s;
  rec.updated = now_iso8601();
  if (rec.created.empty()) rec.created = rec.updated;
  Change change(lock, project_, expert_, "adjudication-draft");
  change.write(project_.label_mask_path(expert_, f.frame_id()), encode_png(f.mask()));
  change.save_label(rec);
  change.commit(nlohmann::json{{"frame", f.frame_id()}});
  f.mark_saved();
}

std::string AdjudicationSession::accept(AdjudicationDocument& doc, bool revise) const {
  LabelDocument& f = doc.final_label();
  const Completeness c = f.completeness();
  if (!c.done()) throw Error("frame " + f.frame_id(), "cannot accept: " + c.message());
  AdjudicationDraft draft(doc.adjudication_case());
  draft.repaint(f.mask());
  draft.set_cd(*f.cd());
  SaveOptions options;
  options.replace_expert_decision = revise;
  const FinalLabel fl = save_expert_decision(project_, draft, expert_, options);
  f.mark_saved();
  return fl.source;
}

namespace {
// The starting final mask: where both agree, their class; elsewhere unlabeled.
cv::Mat agreed_part(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat out(a.size(), CV_8UC1, cv::Scalar(kUnlabeled));
  a.copyTo(out, a == b);
  return out;
}
}  // namespace

AdjudicationDocument::AdjudicationDocument(const LabelSchema& schema, AdjudicationCase c,
                                           cv::Mat fov, cv::Mat draft, std::optional<int> draft_cd,
                                           int background)
    : case_(std::move(c)),
      diff_(disagreement_regions(case_.mask[0], case_.mask[1])),
      final_(schema, case_.frame, case_.image,
             draft.empty() ? agreed_part(case_.mask[0], case_.mask[1]) : draft,
             draft.empty() ? (case_.cd[0] == case_.cd[1] ? case_.cd[0] : std::nullopt) : draft_cd,
             std::move(fov), background) {}

long long AdjudicationDocument::disagree_pixels() const {
  long long n = 0;
  for (const auto& r : diff_.regions) n += r.area;
  return n;
}

bool AdjudicationDocument::take(int which) {
  const cv::Mat& src = mask(which);
  const bool m =
      final_.apply(which == 0 ? "take annotator 1" : "take annotator 2", [&](cv::Mat& dst) {
        src.copyTo(dst);
        return cv::Rect(0, 0, dst.cols, dst.rows);
      });
  const bool c = final_.set_cd(cd(which));
  return m || c;
}

bool AdjudicationDocument::take_region(int region, int which) {
  if (region < 1 || region > static_cast<int>(diff_.regions.size())) return false;
  const cv::Rect box = diff_.regions[static_cast<std::size_t>(region - 1)].box;
  const cv::Mat& src = mask(which);
  return final_.apply("region from annotator " + std::to_string(which + 1), [&](cv::Mat& dst) {
    const cv::Mat sel = diff_.labels(box) == region;
    src(box).copyTo(dst(box), sel);
    return box;
  });
}

int AdjudicationDocument::region_at(cv::Point p) const {
  if (!cv::Rect(0, 0, diff_.labels.cols, diff_.labels.rows).contains(p)) return 0;
  return diff_.labels.at<int>(p);
}

}  // namespace excap::annotator
