#include "annotator/core/session.h"

#include <algorithm>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "annotator/core/fov.h"
#include "annotator/core/tools.h"
#include "common/error.h"
#include "curation/assign.h"
#include "media/imageio.h"
#include "store/change.h"

namespace excap::annotator {

const char* status_name(FrameStatus s) {
  switch (s) {
    case FrameStatus::New:
      return "new";
    case FrameStatus::InProgress:
      return "in progress";
    case FrameStatus::Done:
      return "done";
  }
  return "new";
}

namespace {
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

std::vector<std::size_t> shuffled_order(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = i;
  std::uint64_t state = seed;
  for (std::size_t i = n; i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(splitmix64(state) % i);
    std::swap(idx[i - 1], idx[j]);
  }
  return idx;
}

std::uint64_t user_order_seed(const std::string& user, const std::string& project_created) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : user + '\n' + project_created) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

Session::Session(Project p, std::string user, Role role)
    : project_(std::move(p)), user_(std::move(user)), role_(role) {}

Session Session::open(const fs::path& dir, const std::string& user) {
  Project p = Project::open(dir);
  const User* u = p.meta().find_user(user);
  if (!u) throw Error((dir / "project.json").string(), "no user '" + user + "' in this project");
  Session s(p, user, u->role);
  s.set_order(s.read_order());
  // Opening writes nothing: stale temp files are removed before the first save.
  return s;
}

// Frames in frames.json order, then this user's shuffle of their own subset.
std::vector<std::string> Session::read_order() const {
  std::vector<std::string> mine, order;
  const auto assignments = project_.load_assignments();
  for (const auto& f : project_.load_frames()) {
    auto it = assignments.find(f.id);
    if (it == assignments.end()) continue;
    for (const auto& who : it->second)
      if (who == user_) mine.push_back(f.id);
  }
  queue_score_.clear();
  queue_run_.clear();
  if (const auto queue = load_queue(project_)) {  // uncertainty first (excap assign --order)
    queue_run_ = queue->run;
    const std::unordered_set<std::string> assigned(mine.begin(), mine.end());
    for (const auto& e : queue->frames) {
      if (!assigned.count(e.frame) || queue_score_.count(e.frame)) continue;
      order.push_back(e.frame);
      queue_score_[e.frame] = e.score.value_or(-1);
    }
    for (const auto& f : mine)  // assigned after the queue was written: last
      if (!queue_score_.count(f)) order.push_back(f), queue_score_[f] = -1;
    return order;
  }
  for (std::size_t i : shuffled_order(mine.size(), user_order_seed(user_, project_.meta().created)))
    order.push_back(mine[i]);
  return order;
}

// Takes `order` as the list; entries already read for frames still in it are kept.
void Session::set_order(std::vector<std::string> order) {
  std::vector<FrameEntry> entries(order.size());
  std::vector<bool> known(order.size(), false);
  std::unordered_map<std::string, std::size_t> index;
  progress_ = FrameProgress{};
  unknown_ = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    index.emplace(order[i], i);
    entries[i].frame = order[i];
    const auto old = index_.find(order[i]);
    if (old != index_.end() && known_[old->second]) {
      entries[i] = entries_[old->second];
      known[i] = true;
      count(entries[i], +1);
    } else {
      ++unknown_;
    }
  }
  progress_.total = static_cast<int>(order.size());
  order_ = std::move(order);
  index_ = std::move(index);
  entries_ = std::move(entries);
  known_ = std::move(known);
  ++revision_;
}

bool Session::reload_assignments() {
  std::vector<std::string> order = read_order();
  if (order == order_) return false;
  set_order(std::move(order));
  return true;
}

void Session::remove_interrupted_writes() const {
  if (temp_files_checked_) return;
  temp_files_checked_ = true;
  // Crash restore: a write interrupted before its rename leaves a temp file.
  std::error_code ec;
  const fs::path mine_dir = project_.label_mask_path(user_, "x").parent_path();
  if (fs::is_directory(mine_dir, ec)) remove_stale_temp_files(mine_dir);
}

void Session::require_assigned(const std::string& frame) const {
  if (!is_assigned(frame)) throw Error("frame " + frame, "not assigned to user '" + user_ + "'");
}

int Session::background_class() const { return project_.meta().schema.tissue_id("background"); }

int Session::index_of(const std::string& frame) const {
  const auto it = index_.find(frame);
  return it == index_.end() ? -1 : static_cast<int>(it->second);
}

// Adds (sign +1) or removes (-1) one entry's share of the totals.
void Session::count(const FrameEntry& e, int sign) const {
  progress_.done += sign * (e.status == FrameStatus::Done);
  progress_.in_progress += sign * (e.status == FrameStatus::InProgress);
  progress_.time_spent_s += sign * e.time_spent_s;
}

const FrameEntry& Session::known(std::size_t i) const {
  if (!known_[i]) {
    entries_[i] = read_entry(order_[i]);
    known_[i] = true;
    --unknown_;
    count(entries_[i], +1);
  }
  return entries_[i];
}

FrameEntry Session::entry(const std::string& frame) const {
  const int i = index_of(frame);
  if (i >= 0) return known(static_cast<std::size_t>(i));
  FrameEntry e;  // not assigned: nothing of this user's to show
  e.frame = frame;
  return e;
}

const std::vector<FrameEntry>& Session::entries() const {
  if (unknown_ >= kParallelReadFrom) read_unknown_in_parallel();
  for (std::size_t i = 0; unknown_ > 0 && i < entries_.size(); ++i) known(i);
  return entries_;
}

// The first listing of a big project reads thousands of small files: on a
// few threads, as the time goes to waiting on the disk. read_entry touches
// only files and const state; the results are merged on this thread.
void Session::read_unknown_in_parallel() const {
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (!known_[i]) todo.push_back(i);
  const std::size_t workers = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 2, 8);
  std::vector<FrameEntry> read(todo.size());
  std::vector<std::future<void>> jobs;
  for (std::size_t w = 0; w < workers; ++w)
    jobs.push_back(std::async(std::launch::async, [&, w] {
      for (std::size_t k = w; k < todo.size(); k += workers) read[k] = read_entry(order_[todo[k]]);
    }));
  for (auto& j : jobs) j.get();
  for (std::size_t k = 0; k < todo.size(); ++k) {
    entries_[todo[k]] = std::move(read[k]);
    known_[todo[k]] = true;
    count(entries_[todo[k]], +1);
  }
  unknown_ -= todo.size();
}

const FrameProgress& Session::progress() const {
  entries();
  return progress_;
}

// This user's label of an assigned frame as the list shows it.
FrameEntry Session::read_entry(const std::string& frame) const {
  FrameEntry e;
  e.frame = frame;
  const auto score = queue_score_.find(frame);
  if (score != queue_score_.end() && score->second >= 0) e.queue_score = score->second;
  const auto rec = project_.load_label(user_, frame);
  if (!rec) return e;
  e.time_spent_s = rec->time_spent_s;
  e.status = FrameStatus::InProgress;
  const fs::path mpath = project_.label_mask_path(user_, frame);
  std::error_code ec;
  if (!rec->cd || !fs::exists(mpath, ec)) return e;
  try {
    // Outside the field of view is always filled on open, so any
    // unlabeled pixel left in a saved mask lies inside it.
    // A class the schema lacks (an imported mask) keeps the frame from "done".
    const cv::Mat m = read_mask(mpath);
    const LabelSchema& schema = project_.meta().schema;
    if (cv::countNonZero(m == kUnlabeled) == 0 && schema.valid_cd(*rec->cd) &&
        check_mask_values(m, schema.num_tissue(), kUnlabeled).bad_pixels == 0)
      e.status = FrameStatus::Done;
  } catch (const Error&) {
    // Unreadable mask: stays "in progress"; opening the frame reports it.
  }
  return e;
}

std::unique_ptr<LabelDocument> Session::open_frame(const std::string& frame) const {
  require_assigned(frame);
  cv::Mat image = read_frame(project_.frame_path(frame));
  cv::Mat mask;
  std::optional<int> cd;
  std::optional<SuggestionOrigin> origin;
  if (auto rec = project_.load_label(user_, frame)) cd = rec->cd, origin = rec->from_suggestion;
  const fs::path mpath = project_.label_mask_path(user_, frame);
  std::error_code ec;
  if (fs::exists(mpath, ec)) mask = read_mask(mpath);
  auto doc = std::make_unique<LabelDocument>(project_.meta().schema, frame, image, mask, cd,
                                             frame_fov_mask(image), background_class());
  if (origin) doc->set_origin(*origin);
  return doc;
}

LabelSnapshot Session::snapshot(const LabelDocument& doc, double time_spent_s) const {
  require_assigned(doc.frame_id());
  remove_interrupted_writes();  // on the UI thread, before this session's first write
  LabelSnapshot s;
  s.frame = doc.frame_id();
  s.mask = doc.mask().clone();
  s.cd = doc.cd();
  s.time_spent_s = time_spent_s;
  s.done = doc.completeness().done();
  s.became_done = s.done && entry(s.frame).status != FrameStatus::Done;
  s.origin = doc.origin();
  return s;
}

void Session::write(const LabelSnapshot& s) const {
  require_assigned(s.frame);
  // Record, mask and audit entry land together; the lock is held for the write only.
  const ProjectLock lock = ProjectLock::acquire(project_.root(), "label");
  LabelRecord rec;
  if (auto old = project_.load_label(user_, s.frame)) rec = *old;
  rec.frame = s.frame;
  rec.user = user_;
  rec.cd = s.cd;
  rec.time_spent_s = s.time_spent_s;
  if (s.origin && !rec.from_suggestion) rec.from_suggestion = s.origin;
  const std::string now = now_iso8601();
  if (rec.created.empty()) rec.created = now;
  rec.updated = now;
  Change change(lock, project_, user_, s.became_done ? "label-done" : "label");
  change.write(project_.label_mask_path(user_, s.frame), encode_png(s.mask));
  change.save_label(rec);
  nlohmann::json details{{"frame", s.frame}, {"time_spent_s", s.time_spent_s}};
  if (s.cd) details["cd"] = *s.cd;
  if (rec.from_suggestion) details["from_suggestion"] = rec.from_suggestion->run;
  change.commit(details);
}

bool Session::record_saved(const LabelSnapshot& s) {
  const int i = index_of(s.frame);
  if (i < 0) return false;  // withdrawn by a reload while its write was pending
  const FrameEntry& old = known(static_cast<std::size_t>(i));
  const bool was_done = old.status == FrameStatus::Done;
  count(old, -1);
  FrameEntry& e = entries_[static_cast<std::size_t>(i)];
  e.time_spent_s = s.time_spent_s;
  e.status = s.done ? FrameStatus::Done : FrameStatus::InProgress;
  count(e, +1);
  ++revision_;
  return !was_done && s.done;
}

const std::vector<int>& FrameFilter::rows(const Session& s, const std::string& text,
                                          std::optional<FrameStatus> status) {
  if (session_ == &s && revision_ == s.revision() && text_ == text && status_ == status)
    return rows_;
  session_ = &s;
  revision_ = s.revision();
  text_ = text;
  status_ = status;
  rows_.clear();
  const auto& entries = s.entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const FrameEntry& e = entries[i];
    if (!text.empty() && e.frame.find(text) == std::string::npos) continue;
    if (status && e.status != *status) continue;
    rows_.push_back(static_cast<int>(i));
  }
  ++computations_;
  return rows_;
}

int FrameFilter::row_of(int index) const {
  const auto it = std::lower_bound(rows_.begin(), rows_.end(), index);
  return it != rows_.end() && *it == index ? static_cast<int>(it - rows_.begin()) : -1;
}

bool Session::save(LabelDocument& doc, double time_spent_s) {
  const LabelSnapshot s = snapshot(doc, time_spent_s);
  write(s);
  doc.mark_saved();
  return record_saved(s);
}

}  // namespace excap::annotator
