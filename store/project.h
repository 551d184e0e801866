// The project store: a folder in format version 1 (see DESIGN.md "Project on
// disk"). Every file is written atomically; each JSON file carries a
// "format" and "version" that readers check before anything else.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/fsutil.h"
#include "store/schema.h"

namespace excap {

constexpr int kFormatVersion = 1;

// Bounds on numbers read from project files: far beyond any capsule video,
// yet small enough that no loop or allocation they size can run away.
constexpr long long kMaxVideoFrames = 100000000;
constexpr double kMaxVideoFps = 1000;
constexpr int kMaxFrameSide = 16384;
constexpr double kMaxSeconds = 1e9;  // durations and time positions

enum class Role { Annotator, Expert, Engineer, Admin };
std::string role_name(Role r);
Role role_from_name(const std::string& s, const std::string& where);  // throws Error
// Who may choose clips, and so see the raw video with its burned-in name, date
// and time (the Clips workspace): experts, engineers and admins, not annotators.
inline bool may_choose_clips(Role r) { return r != Role::Annotator; }

struct User {
  std::string id;
  Role role = Role::Annotator;
};

// Field of view: auto-detected per video, or a manual override.
struct FovOverride {
  std::string mode = "auto";  // "auto" | "circle" | "polygon"
  double cx = 0, cy = 0, r = 0;
  std::vector<std::pair<double, double>> polygon;
};

struct ExtractionSettings {
  double fps = 2.0;     // frames per second of video time (0: use every_n)
  int every_n = 0;      // every N-th source frame (0: use fps)
  double dedupe = 0.0;  // 0 = off; else max dHash Hamming distance to count as duplicate
  FovOverride fov;
};

struct ProjectMeta {
  std::string name;
  std::string created;
  LabelSchema schema;
  ExtractionSettings extraction;
  std::vector<User> users;
  // Model suggestions (pre-labels) offered to annotators. Off by default: an
  // annotator who starts from the model's suggestion no longer labels
  // independently of the other, which weakens what double-blind labeling
  // measures (store/prelabel.h, docs/prelabels.md).
  bool prelabels = false;
  const User* find_user(const std::string& id) const;
};

// The field of view detected for one video at import, in the plain numbers of
// media's FieldOfView (store does not depend on media; stage1 converts). A
// frame that is lit edge to edge is the polygon of its four corners.
struct StoredFov {
  std::string kind = "circle";  // "circle" | "polygon"
  double cx = 0, cy = 0, r = 0;
  std::vector<std::pair<double, double>> points;
};

// Why a stored field of view cannot be used for a width x height frame (not
// finite, radius <= 0, outside the frame, polygon under 3 points, unknown
// kind); empty when it is sound. One check for validate and for extraction.
std::string stored_fov_problem(const StoredFov& fov, int width, int height);

struct Video {
  std::string id;
  std::string patient;  // pseudonym, never the real name
  std::string sha256;
  double fps = 0;
  long long frames = 0;
  int width = 0, height = 0;
  std::string codec;
  double duration_s = 0;
  std::string imported;
  std::optional<StoredFov> fov;  // absent in projects imported before it was kept
};

struct Clip {
  std::string id;
  std::string video;
  long long start = 0;  // first source frame, inclusive
  long long end = 0;    // one past the last source frame
  std::string by;
  std::string note;
};

struct Frame {
  std::string id;
  std::string clip;
  std::string video;
  std::string patient;
  long long source_index = 0;
  double time_s = 0;
  std::string file;   // relative to the project root, e.g. frames/<id>.png
  std::string phash;  // 64-bit perceptual hash as 16 hex digits
};

// The model suggestion a label started from (docs/prelabels.md).
struct SuggestionOrigin {
  std::string run;
  std::string checkpoint;  // weights' SHA-256 (hex) of the suggestion's checkpoint
  std::string time;        // when the suggestion was made
};

// One annotator's label of one frame (labels/<user>/<frame>.json; the mask
// sits beside it as <frame>.png).
struct LabelRecord {
  std::string frame;
  std::string user;
  std::optional<int> cd;  // unset until the annotator chooses one
  double time_spent_s = 0;
  std::string created;
  std::string updated;
  std::optional<SuggestionOrigin> from_suggestion{};  // unset: labeled from scratch
};

// The adjudicated label (final/<frame>.json with final/<frame>.png).
struct FinalLabel {
  std::string frame;
  int cd = 0;
  std::string source;  // agreed | A | B | merged | repainted
  std::string expert;  // user id, or "auto" for auto-accepted frames
  std::string time;
  std::vector<std::string> annotators;
  double agreement_iou = -1;  // mask agreement when auto-accepted, else -1
};

class Project {
 public:
  // Creates DIR (must be absent or empty) with the given schema and users.
  static Project create(const fs::path& dir, const LabelSchema& schema,
                        const std::vector<User>& users = {});
  // Opens and checks project.json; other files load lazily via the getters.
  static Project open(const fs::path& dir);
  // A project whose meta was parsed already (validate uses it to go on past
  // problems it has reported).
  static Project with_meta(const fs::path& dir, ProjectMeta meta);

  const fs::path& root() const { return root_; }
  const ProjectMeta& meta() const { return meta_; }
  ProjectMeta& mutable_meta() { return meta_; }
  void save_meta() const;

  std::vector<Video> load_videos() const;
  void save_videos(const std::vector<Video>& v) const;
  std::vector<Clip> load_clips() const;
  void save_clips(const std::vector<Clip>& c) const;
  std::vector<Frame> load_frames() const;
  void save_frames(const std::vector<Frame>& f) const;
  std::map<std::string, std::vector<std::string>> load_assignments() const;
  void save_assignments(const std::map<std::string, std::vector<std::string>>& a) const;

  // Local, never-exported settings: source paths, the pseudonym secret.
  nlohmann::json load_local() const;
  void save_local(const nlohmann::json& j) const;

  // Per-user labels. Paths are built through safe_child: ids cannot escape.
  fs::path label_json_path(const std::string& user, const std::string& frame) const;
  fs::path label_mask_path(const std::string& user, const std::string& frame) const;
  std::optional<LabelRecord> load_label(const std::string& user, const std::string& frame) const;
  void save_label(const LabelRecord& r) const;
  std::vector<std::string> labeled_frames(const std::string& user) const;  // ids with a .json

  fs::path final_json_path(const std::string& frame) const;
  fs::path final_mask_path(const std::string& frame) const;
  std::optional<FinalLabel> load_final(const std::string& frame) const;
  void save_final(const FinalLabel& f) const;
  std::vector<std::string> final_frames() const;

  fs::path frame_path(const std::string& frame) const;
  fs::path split_path(const std::string& name) const;
  fs::path run_dir(const std::string& name) const;
  std::vector<std::string> split_names() const;
  std::vector<std::string> run_names() const;

  // Appends {"time","user","action",...details} to log/<user>.jsonl.
  void audit(const std::string& user, const std::string& action,
             const nlohmann::json& details) const;

 private:
  explicit Project(fs::path root) : root_(std::move(root)) {}
  fs::path root_;
  ProjectMeta meta_;
};

// Reads a JSON file and checks its "format" and "version"; throws Error
// naming the file for malformed JSON, another format, or a newer version.
nlohmann::json read_versioned_json(const fs::path& path, const std::string& format);
nlohmann::json read_json_file(const fs::path& path);  // any JSON; Error names the file
void write_json_atomic(const fs::path& path, const nlohmann::json& j);

// The JSON documents the project's files hold (format, version and content),
// as Project::save_* and Change::save_* write them.
nlohmann::json document_of(const std::vector<Video>& videos);
nlohmann::json document_of(const std::vector<Clip>& clips);
nlohmann::json document_of(const std::vector<Frame>& frames);
nlohmann::json document_of(const std::map<std::string, std::vector<std::string>>& assignments);
nlohmann::json document_of(const LabelRecord& label);
nlohmann::json document_of(const FinalLabel& final_label);
nlohmann::json document_of(const ProjectMeta& meta);  // project.json

// Parses project.json's content (throws Error naming `path`).
ProjectMeta parse_project_meta(const nlohmann::json& j, const fs::path& path);

void to_json(nlohmann::json& j, const Video& v);
void from_json(const nlohmann::json& j, Video& v);
void to_json(nlohmann::json& j, const Clip& c);
void from_json(const nlohmann::json& j, Clip& c);
void to_json(nlohmann::json& j, const Frame& f);
void from_json(const nlohmann::json& j, Frame& f);
void to_json(nlohmann::json& j, const LabelRecord& r);
void from_json(const nlohmann::json& j, LabelRecord& r);
void to_json(nlohmann::json& j, const FinalLabel& f);
void from_json(const nlohmann::json& j, FinalLabel& f);

}  // namespace excap
