#include "annotator/core/suggestion_layer.h"

#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "media/imageio.h"
#include "store/project.h"

namespace excap::annotator {

namespace {

// The runs under suggestions/ that hold a suggestion of `frame`.
std::vector<std::string> runs_with(const Project& project, const std::string& frame) {
  std::vector<std::string> out;
  std::error_code ec;
  const fs::path dir = project.root() / "suggestions";
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string run = e.path().filename().string();
    if (e.is_directory() && is_safe_id(run) &&
        fs::exists(suggestion_json_path(project, run, frame), ec))
      out.push_back(run);
  }
  return out;
}

// Copies the suggestion where `select` is set and the field of view is.
bool take(LabelDocument& doc, const SuggestionLayer& s, const cv::Mat& select,
          const std::string& what) {
  if (s.mask.size() != doc.size())
    throw Error("suggestion of frame " + doc.frame_id(), "its size differs from the frame's");
  const cv::Mat where = select & doc.fov();
  const cv::Rect box = cv::boundingRect(where);
  if (box.empty()) return false;
  const bool changed = doc.apply(what, [&](cv::Mat& m) {
    s.mask.copyTo(m, where);
    return box;
  });
  if (changed) doc.set_origin(s.origin());
  return changed;
}

}  // namespace

std::optional<SuggestionLayer> load_suggestion_layer(const Project& project,
                                                     const std::string& frame,
                                                     const std::string& run) {
  if (!project.meta().prelabels) return std::nullopt;
  std::optional<Suggestion> best;
  for (const auto& r : runs_with(project, frame)) {
    auto s = load_suggestion(project, r, frame);
    if (!s) continue;
    if (r == run) {
      best = s;
      break;
    }
    if (!best || s->time > best->time) best = s;
  }
  if (!best) return std::nullopt;
  SuggestionLayer layer;
  layer.info = *best;
  layer.mask = read_mask(suggestion_mask_path(project, best->run, frame));
  layer.confidence = read_mask(suggestion_confidence_path(project, best->run, frame));
  if (layer.mask.size() != cv::Size(best->width, best->height) ||
      layer.confidence.size() != layer.mask.size())
    throw Error(suggestion_mask_path(project, best->run, frame).string(),
                "size differs from the suggestion's record");
  return layer;
}

bool accept_whole(LabelDocument& doc, const SuggestionLayer& s) {
  const bool mask =
      take(doc, s, cv::Mat(doc.size(), CV_8UC1, cv::Scalar(255)), "accept suggestion");
  const bool cd = doc.set_cd(s.info.cd);
  if (cd) doc.set_origin(s.origin());
  return mask || cd;
}

bool accept_class(LabelDocument& doc, const SuggestionLayer& s, int tissue_class) {
  return take(doc, s, s.mask == tissue_class, "accept suggested class");
}

bool accept_region(LabelDocument& doc, const SuggestionLayer& s, cv::Point at) {
  if (!cv::Rect(0, 0, s.mask.cols, s.mask.rows).contains(at)) return false;
  const cv::Mat same = s.mask == s.mask.at<std::uint8_t>(at);
  cv::Mat labels;
  cv::connectedComponents(same, labels, 8, CV_32S);
  return take(doc, s, labels == labels.at<int>(at), "accept suggested region");
}

}  // namespace excap::annotator
