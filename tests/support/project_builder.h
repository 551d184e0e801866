// One way to build the small projects the suites test against: users, schema,
// synthetic capsule-like frames with frames.json, annotator labels, final
// labels, splits and test videos, step by step on one open project.
#pragma once
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "media/imageio.h"
#include "store/project.h"
#include "store/schema.h"
#include "test_support.h"
#include "test_video.h"

namespace excap::test {

// Annotators a, b, c, an expert and an engineer.
std::vector<User> curation_users();

// A plausible CECD mask: background outside a circle, clear tissue inside,
// a lesion disc and a hole disc whose places depend on `variant`.
cv::Mat planted_mask(int size, int variant = 0);

// A lit disc on black with a dark spot; its colour varies with `seed`.
cv::Mat capsule_frame(int size, int seed);

// A synthetic labelled frame whose CD and tissue follow simple visual rules
// (learnable by a tiny model in seconds): black outside a circular field of
// view (background 0), pink textured tissue inside (clear tissue 1), sometimes
// a dark-red lesion (3). CD 1 blur: blurred, greyer, tissue 2; CD 2
// invisible: greenish-brown excreta (6) over most of the view.
void synthetic_frame(std::mt19937& rng, int size, int cd, cv::Mat& bgr, cv::Mat& mask);

enum class FrameLook {
  Noise,    // uniform noise from cv::RNG(seed), one draw per frame
  Capsule,  // capsule_frame(size, index of the frame in frames.json)
};

// How generated frames are named and grouped. Sequence: f000, f001..., patient
// P<i % patients>, video V<i % patients>, clip C<i % clips>. SingleVideo:
// v1_00000..., all in clip c1 of video v1 of patient p-test.
enum class FrameNaming { Sequence, SingleVideo };

struct FrameOptions {
  int size = 32;
  FrameLook look = FrameLook::Noise;
  unsigned seed = 12345;
  FrameNaming naming = FrameNaming::Sequence;
  int patients = 2, clips = 4;
};

// Steps on an open project; the builder chains them, tests that grow a
// project between calls of the code under test use them directly.
void add_frames(const Project& p, int n, const FrameOptions& options = {});
void assign_all(const Project& p, const std::vector<std::string>& users);
void add_label(const Project& p, const std::string& user, const std::string& frame,
               std::optional<int> cd, const cv::Mat& mask);
void add_final(const Project& p, const std::string& frame, int cd, const cv::Mat& mask,
               const std::string& source = "agreed", const std::string& expert = "test");
// Writes splits/<name>.json in the format the trainer reads.
void write_split(const fs::path& project_dir, const std::string& name,
                 const std::map<std::string, std::vector<std::string>>& subsets);

class ProjectBuilder {
 public:
  explicit ProjectBuilder(fs::path dir);

  ProjectBuilder& users(std::vector<User> users);
  ProjectBuilder& schema(LabelSchema schema);
  ProjectBuilder& frames(int n, const FrameOptions& options = {});
  // One given image as a frame of clip c1 of video v1 (patient p-test).
  ProjectBuilder& frame(const std::string& id, const cv::Mat& bgr);
  ProjectBuilder& assign(const std::vector<std::string>& users);
  ProjectBuilder& labels(const std::string& user, const std::string& frame, std::optional<int> cd,
                         const cv::Mat& mask);
  ProjectBuilder& final(const std::string& frame, int cd, const cv::Mat& mask);
  ProjectBuilder& split(const std::string& name,
                        const std::map<std::string, std::vector<std::string>>& subsets);
  // Writes a test video at `file` (outside the project; stage I imports it).
  ProjectBuilder& video(const fs::path& file, const TestVideoSpec& spec);
  Project build();

 private:
  const Project& open();
  void flush_frames();

  fs::path dir_;
  std::vector<User> users_;
  LabelSchema schema_ = cecd_schema();
  std::optional<Project> project_;
  std::vector<Frame> pending_;  // frame() images; frames.json is written once
};

// The studio's project: capsule frames of one video, the given annotators (an
// "expert" among them stays expert) plus the expert, every frame assigned.
Project make_studio_project(const fs::path& dir, int frames, int size = 96,
                            const std::vector<std::string>& annotators = {"a", "b"});

struct SyntheticSetOptions {
  int size = 48;
  int train = 96, val = 24, test = 48;
  unsigned seed = 1;
};

// A CECD project of synthetic_frame()s with final labels and splits/<split>.json;
// CD imbalanced like the paper's Table 1 (clear the majority).
void make_synthetic_project(const fs::path& dir, const std::string& split,
                            const SyntheticSetOptions& options = {});

// The real frames of ../shared/data/wce-bleeding (bleeding mask -> lesion 3,
// the rest of the field of view -> clear tissue 1, outside -> background 0;
// every frame CD clear, as the source has no clearness grades), `per_subset`
// frames per subset, half bleeding. Returns false when the data is absent.
bool make_wce_project(const fs::path& dir, const std::string& split,
                      const std::map<std::string, int>& per_subset);

// The curation suites' project: curation_users() in a scratch folder.
class CurationProject {
 public:
  explicit CurationProject(const std::string& name);

  Project& project() { return project_; }
  const fs::path& root() const { return project_.root(); }
  void add_frames(int n, int patients = 2, int clips = 4, int size = 32);
  void label(const std::string& user, const std::string& frame, std::optional<int> cd,
             const cv::Mat& mask) {
    add_label(project_, user, frame, cd, mask);
  }
  void assign_all(const std::vector<std::string>& users) { test::assign_all(project_, users); }

 private:
  ScratchDir dir_;
  Project project_;
};

// /usr/bin/python3 (or the one CMake found) when it imports sklearn; else "".
std::string sklearn_python();

}  // namespace excap::test
