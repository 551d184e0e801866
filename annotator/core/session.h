// A user's session on a project: who they are, what their role allows, the
// frames assigned to them (in their own shuffled order) and their own labels.
//
// Double-blind rule: nothing here takes another user's id. The session lists
// only this user's assignments and reads and writes only labels/<user>/, so
// annotator A cannot list or load annotator B's labels through this API, and
// nothing it returns (status, counts, order) depends on what B did.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
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

// What the frame list shows above its rows; kept current by every save, so
// drawing it costs nothing per frame.
struct FrameProgress {
  int total = 0, done = 0, in_progress = 0;
  double time_spent_s = 0;
};

// Deterministic per-user order: Fisher-Yates driven by splitmix64 seeded
// from the user id and the project's creation time (std::shuffle's output
// differs between standard libraries; this does not).
std::vector<std::size_t> shuffled_order(std::size_t n, std::uint64_t seed);
std::uint64_t user_order_seed(const std::string& user, const std::string& project_created);

class Session {
 public:
  // From this many unread entries, the first listing reads them on threads.
  static constexpr std::size_t kParallelReadFrom = 64;

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
  bool is_assigned(const std::string& frame) const { return index_.count(frame) > 0; }
  // Position in frames() and entries(); -1 when not assigned to this user.
  int index_of(const std::string& frame) const;
  // Status from this user's own label only. Each label is read from disk
  // once, then kept current by record_saved(): the list never re-reads it.
  FrameEntry entry(const std::string& frame) const;
  const std::vector<FrameEntry>& entries() const;  // frames()' entries, in order
  std::vector<FrameEntry> list() const { return entries(); }
  const FrameProgress& progress() const;  // totals over entries()
  // Grows by one on every change to entries(): views derived from them
  // (a filtered list) recompute only when it moved.
  std::uint64_t revision() const { return revision_; }
  // Re-reads assignments.json (frames assigned or withdrawn since open);
  // entries already read are kept. Returns true when frames() changed.
  bool reload_assignments();

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
  std::vector<std::string> read_order() const;
  void set_order(std::vector<std::string> order);
  const FrameEntry& known(std::size_t i) const;  // reads the label on first use
  FrameEntry read_entry(const std::string& frame) const;
  void read_unknown_in_parallel() const;
  void count(const FrameEntry& e, int sign) const;

  Project project_;
  std::string user_;
  Role role_;
  std::vector<std::string> order_;
  std::unordered_map<std::string, std::size_t> index_;
  // Entries in order_'s order; known_[i] once entries_[i] was read from disk.
  mutable std::vector<FrameEntry> entries_;
  mutable std::vector<bool> known_;
  mutable std::size_t unknown_ = 0;
  mutable FrameProgress progress_;  // over the known entries
  std::uint64_t revision_ = 0;
  // queue.json's scores (-1: no score) and run; read with the order.
  mutable std::unordered_map<std::string, double> queue_score_;
  mutable std::string queue_run_;
  mutable bool temp_files_checked_ = false;
};

// The rows of this user's list that pass a filter (id substring, status),
// recomputed only when the filter or the session's revision changed, so an
// idle list costs nothing per frame however many frames it holds.
class FrameFilter {
 public:
  // Indices into s.entries(), ascending.
  const std::vector<int>& rows(const Session& s, const std::string& text,
                               std::optional<FrameStatus> status);
  // Position of entries() index `index` in the last rows(); -1 when filtered out.
  int row_of(int index) const;
  int computations() const { return computations_; }  // how often rows were rebuilt

 private:
  const Session* session_ = nullptr;
  std::uint64_t revision_ = 0;
  std::string text_;
  std::optional<FrameStatus> status_;
  std::vector<int> rows_;
  int computations_ = 0;
};

}  // namespace excap::annotator
