// Model suggestions ("pre-labels"): the project setting that allows them and
// the files that hold them (docs/prelabels.md). A suggestion is never a
// label: it lives under suggestions/<run>/, apart from labels/ and final/.
//
//   suggestions/<run>/<frame>.json       provenance, CD probabilities, uncertainty
//   suggestions/<run>/<frame>.mask.png   predicted tissue classes at the frame's size
//   suggestions/<run>/<frame>.conf.png   per-pixel confidence: max softmax x 255
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/fsutil.h"

namespace excap {

class Project;

// What `excap prelabels` prints and the docs repeat: why the setting is off by default.
extern const char* const kPrelabelsWarning;

// Turns the project's `prelabels` setting on or off for `user` (an expert or
// admin), under the project lock, with an audit entry. Returns whether it
// changed. Throws Error for another role or an unknown user.
bool set_prelabels(const fs::path& project_root, bool enable, const std::string& user);

struct Suggestion {
  std::string frame, run;
  std::string checkpoint;      // "best" | "latest" | a weights path, as asked
  std::string weights_sha256;  // what identifies the checkpoint (resume compares it)
  int checkpoint_iter = -1;    // training iteration of the weights, -1 when unknown
  std::string time, user;      // when and for whom it was made
  int width = 0, height = 0;   // the frame's (and both PNGs') size
  std::vector<double> cd_probs;
  int cd = 0;                // argmax of cd_probs
  double cd_entropy = 0;     // of cd_probs, divided by log(#CD): 0..1
  double pixel_entropy = 0;  // per-pixel tissue entropy / log(#tissue), mean over the field of view
  long long fov_pixels = 0;  // pixels the mean is taken over
};

// The mean of the two normalised entropies: the uncertainty-first order's score (0..1).
double uncertainty_score(const Suggestion& s);

nlohmann::json suggestion_json(const Suggestion& s);  // with "format": "excap-suggestion"
Suggestion parse_suggestion(const nlohmann::json& j, const std::string& where);

fs::path suggestions_dir(const Project& p, const std::string& run);
fs::path suggestion_json_path(const Project& p, const std::string& run, const std::string& frame);
fs::path suggestion_mask_path(const Project& p, const std::string& run, const std::string& frame);
fs::path suggestion_confidence_path(const Project& p, const std::string& run,
                                    const std::string& frame);

// The stored suggestion of `frame` by `run`, nullopt when there is none;
// throws Error naming the file when it is malformed.
std::optional<Suggestion> load_suggestion(const Project& p, const std::string& run,
                                          const std::string& frame);

}  // namespace excap
