#include "annotator/core/session.h"

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
  // Frames in frames.json order, then this user's shuffle of their own subset.
  std::vector<std::string> mine;
  const auto assignments = p.load_assignments();
  for (const auto& f : p.load_frames()) {
    auto it = assignments.find(f.id);
    if (it == assignments.end()) continue;
    for (const auto& who : it->second)
      if (who == user) mine.push_back(f.id);
  }
  s.assigned_.insert(mine.begin(), mine.end());
  if (const auto queue = load_queue(p)) {
    s.queue_run_ = queue->run;
    for (const auto& e : queue->frames) {
      if (!s.assigned_.count(e.frame) || s.queue_score_.count(e.frame)) continue;
      s.order_.push_back(e.frame);
      s.queue_score_[e.frame] = e.score.value_or(-1);
    }
    for (const auto& f : mine)  // assigned after the queue was written: last
      if (!s.queue_score_.count(f)) s.order_.push_back(f), s.queue_score_[f] = -1;
    return s;
  }
  for (std::size_t i : shuffled_order(mine.size(), user_order_seed(user, p.meta().created)))
    s.order_.push_back(mine[i]);
  // Opening writes nothing: stale temp files are removed before the first save.
  return s;
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

FrameEntry Session::entry(const std::string& frame) const {
  auto it = cache_.find(frame);
  if (it != cache_.end()) return it->second;
  FrameEntry e;
  e.frame = frame;
  auto score = queue_score_.find(frame);
  if (score != queue_score_.end() && score->second >= 0) e.queue_score = score->second;
  if (is_assigned(frame)) {
    if (auto rec = project_.load_label(user_, frame)) {
      e.time_spent_s = rec->time_spent_s;
      e.status = FrameStatus::InProgress;
      const fs::path mpath = project_.label_mask_path(user_, frame);
      std::error_code ec;
      if (rec->cd && fs::exists(mpath, ec)) {
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
      }
    }
  }
  cache_[frame] = e;
  return e;
}

std::vector<FrameEntry> Session::list() const {
  std::vector<FrameEntry> out;
  out.reserve(order_.size());
  for (const auto& f : order_) out.push_back(entry(f));
  return out;
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
  const bool was_done = entry(s.frame).status == FrameStatus::Done;
  FrameEntry e;
  e.frame = s.frame;
  e.time_spent_s = s.time_spent_s;
  e.status = s.done ? FrameStatus::Done : FrameStatus::InProgress;
  auto score = queue_score_.find(s.frame);
  if (score != queue_score_.end() && score->second >= 0) e.queue_score = score->second;
  cache_[s.frame] = e;
  return !was_done && s.done;
}

bool Session::save(LabelDocument& doc, double time_spent_s) {
  const LabelSnapshot s = snapshot(doc, time_spent_s);
  write(s);
  doc.mark_saved();
  return record_saved(s);
}

}  // namespace excap::annotator
