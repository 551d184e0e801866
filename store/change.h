// A change to the project and its audit entry, landing together or not at
// all. Made under the project lock (store/lock.h): the caller re-reads what it
// modifies after taking the lock, checks every input, then stages the new
// file contents here and commits.
//
// Commit is a small redo journal: every new file is written and fsync'd to a
// temporary beside its target, then project.journal names them all with the
// audit line, then the temporaries are renamed into place, removals done, the
// audit line appended and the journal removed. A crash before the journal is
// complete leaves the project as it was; a crash after it is finished by the
// next command that takes the lock (finish_interrupted_change). Anything that
// fails before the journal is written (an unwritable log/, a full disk)
// throws with nothing changed.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/lock.h"
#include "store/project.h"

namespace excap {

class Change {
 public:
  // `user` is whose audit log gets the entry (checked as an id, and its log
  // opened for appending now, so an unwritable log refuses before any write).
  Change(const ProjectLock& lock, const Project& project, std::string user, std::string action);
  ~Change();
  Change(const Change&) = delete;
  Change& operator=(const Change&) = delete;

  // Stages a file's new content; `path` must lie inside the project.
  void write(const fs::path& path, std::string bytes);
  void write(const fs::path& path, const std::vector<std::uint8_t>& bytes);
  void write_json(const fs::path& path, const nlohmann::json& j);
  // Stages the removal of a file (done after the writes; a missing file is fine).
  void remove(const fs::path& path);

  // The project's own files, in the format of Project::save_*.
  void save_videos(const std::vector<Video>& v);
  void save_clips(const std::vector<Clip>& c);
  void save_frames(const std::vector<Frame>& f);
  void save_assignments(const std::map<std::string, std::vector<std::string>>& a);
  void save_local(const nlohmann::json& j);
  void save_label(const LabelRecord& r);
  void save_final(const FinalLabel& f);

  // Lands the staged files and the audit entry {"time","user","action",
  // "change",...details}. Call once; a Change destroyed uncommitted changes nothing.
  void commit(const nlohmann::json& details = nlohmann::json::object());

 private:
  fs::path inside(const fs::path& path) const;  // checked, relative to the root
  const Project& project_;
  std::string user_, action_;
  fs::path log_;
  int log_fd_ = -1;
  std::vector<std::pair<fs::path, std::string>> writes_;  // relative path, bytes
  std::vector<fs::path> removes_;
  bool committed_ = false;
};

// Finishes a change that a crash interrupted after its journal was written
// (called by ProjectLock::acquire once the lock is held). Returns true when
// there was one.
bool finish_interrupted_change(const fs::path& root);

// The journal's path in project folder `root`.
fs::path journal_path(const fs::path& root);

}  // namespace excap
