// A user's session on a project: who they are, what their role allows, the
// frames assigned to them (in their own shuffled order) and their own labels.
//
// Double-blind rule: nothing here takes another user's id. The session lists
// only this user's assignments and reads and writes only labels/<user>/, so
// annotator A cannot list or load annotator B's labels through this API, and
// nothing it returns (status, counts, order) depends on what B did.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "annotator/core/autosave.h"
#include "annotator/core/label_document.h"
#include "store/project.h"

namespace excap::annotator {

enum class FrameStatus { New, InProgress, Done };
const char* status_name(FrameStatus s);  // "new", "in progress", "done"

struct FrameEntry {
  std::string frame;
  FrameStatus status = FrameStatus::New;
  double time_spent_s = 0;
  // Why the frame is where it is in an uncertainty-first queue (queue.json): the model's score.
  std::optional<double> queue_score{};
};

// Deterministic per-user order: Fisher-Yates driven by splitmix64 seeded
// from the user id and the project's creation time (std::shuffle's output
// differs between standard libraries; this does not).
std::vector<std::size_t> shuffled_order(std::size_t n, std::uint64_t seed);
std::uint64_t user_order_seed(const std::string& user, const std::string& project_created);

class Session {
 public:
  // Throws Error when the user is not in project.json.
  static Session open(const fs::path& dir, const std::string& user);

  const Project& project() const { return project_; }
  const std::string& user() const { return user_; }
  Role role() const { return role_; }
  bool may_adjudicate() const { return role_ == Role::Expert; }

  // This user's assigned frames: in queue.json's order when the project has
  // one (uncertainty first; the model's, never another annotator's), else
  // in their own shuffled order.
  const std::vector<std::string>& frames() const { return order_; }
  bool is_assigned(const std::string& frame) const { return assigned_.count(frame) > 0; }
  // Status from this user's own label only (cached; refreshed by save()).
  FrameEntry entry(const std::string& frame) const;
  std::vector<FrameEntry> list() const;

  // Opens the frame with this user's mask and CD (or a new, empty label).
  // Throws Error for a frame not assigned to this user.
  std::unique_ptr<LabelDocument> open_frame(const std::string& frame) const;
  // Autosave: the mask PNG, then the label JSON, each written atomically.
  // Returns true when the frame became "done" by this save.
  bool save(LabelDocument& doc, double time_spent_s);
  // The same in three steps, for saving on a writer thread: take a snapshot
  // (UI thread), write it (any thread: file I/O only, no session state),
  // record the result (UI thread: status cache). Returns true from
  // record_saved when the frame became done.
  LabelSnapshot snapshot(const LabelDocument& doc, double time_spent_s) const;
  void write(const LabelSnapshot& s) const;
  bool record_saved(const LabelSnapshot& s);

  // The run whose suggestions this session shows: queue.json's, else "".
  const std::string& queue_run() const { return queue_run_; }

  // The background class (named "background" in the schema), -1 if none.
  int background_class() const;

 private:
  Session(Project p, std::string user, Role role);
  void require_assigned(const std::string& frame) const;
  void remove_interrupted_writes() const;  // once, before the first save

  Project project_;
  std::string user_;
  Role role_;
  std::vector<std::string> order_;
  std::set<std::string> assigned_;
  std::map<std::string, double> queue_score_;
  std::string queue_run_;
  mutable std::map<std::string, FrameEntry> cache_;
  mutable bool temp_files_checked_ = false;
};

}  // namespace excap::annotator
