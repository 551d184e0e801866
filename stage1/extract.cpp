// Stage I extraction: decode on this thread, blank + hash + dedupe in order,
// PNG encode and write on worker threads, commit frames.json in batches.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "media/imageio.h"
#include "media/video.h"
#include "stage1/stage1.h"
#include "store/change.h"

namespace excap {

namespace {

using Clock = std::chrono::steady_clock;

// Frames are renamed into place without an fsync each; one syncfs() per
// batch, before frames.json names them, makes them durable. Two fsyncs per
// frame (file and folder) cost ~25 ms a frame on a loaded disk here, more
// than encoding it.
void write_png_unsynced(const fs::path& path, const cv::Mat& image) {
  const std::vector<std::uint8_t> bytes = encode_png(image, 1);
  static std::atomic<unsigned> counter{0};
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(tmp.string(), std::string("cannot create: ") + std::strerror(errno));
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(path.string(), "cannot write: " + why);
    }
    off += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path.string(), "cannot write: " + why);
  }
}

// Flushes the file system holding `dir` (the batch's PNGs) to disk.
void sync_folder(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(dir.string(), std::string("cannot open: ") + std::strerror(errno));
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0)
    throw Error(dir.string(), std::string("cannot flush to disk: ") + std::strerror(err));
}

struct EncodeJob {
  Frame record;
  cv::Mat image;
};

// A bounded queue of frames to encode, drained by `workers` threads. Each
// PNG is written atomically before its record is handed back, so a record
// never names a half-written file.
class FrameWriterPool {
 public:
  FrameWriterPool(fs::path root, int workers, std::size_t capacity)
      : root_(std::move(root)), capacity_(capacity) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~FrameWriterPool() { finish(); }

  void push(EncodeJob job) {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] { return queue_.size() < capacity_; });
    queue_.push_back(std::move(job));
    ready_.notify_one();
  }

  // Records written since the last call, and failures as "id: reason".
  void take(std::vector<Frame>& done, std::vector<std::string>& errors) {
    std::lock_guard<std::mutex> lock(mu_);
    done.insert(done.end(), done_.begin(), done_.end());
    errors.insert(errors.end(), errors_.begin(), errors_.end());
    done_.clear();
    errors_.clear();
  }

  void finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 private:
  void work() {
    for (;;) {
      EncodeJob job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [&] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      space_.notify_one();
      std::string error;
      try {
        write_png_unsynced(root_ / job.record.file, job.image);
      } catch (const std::exception& e) {
        error = job.record.id + ": " + e.what();
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (error.empty())
        done_.push_back(std::move(job.record));
      else
        errors_.push_back(std::move(error));
    }
  }

  fs::path root_;
  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<EncodeJob> queue_;
  std::vector<Frame> done_;
  std::vector<std::string> errors_;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

bool is_avi(const fs::path& p) {
  std::string e = p.extension().string();
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e == ".avi";
}

bool lost_in_gap(const VideoReader& r, long long index) {
  for (const auto& [a, b] : r.gaps())
    if (index >= a && index < b) return true;
  return false;
}

struct ClipPlan {
  Clip clip;
  std::vector<long long> indices;
};

struct VideoPlan {
  Video video;
  std::vector<ClipPlan> clips;  // sorted by start
  long long count = 0;
};

// frames.json in memory plus what is new since the last save. Another
// process may extract at the same time (the same clip or another): each save
// re-reads frames.json under the project lock and merges the new records in.
// Frame ids are the video and source index, so two extractions of one frame
// write the same record and the same PNG.
class FrameTable {
 public:
  FrameTable(const Project& p, std::string user)
      : p_(p), user_(std::move(user)), frames_(p.load_frames()) {
    reindex();
  }
  const Frame* find(const std::string& id) const {
    auto it = index_.find(id);
    return it == index_.end() ? nullptr : &frames_[it->second];
  }
  void add(const std::vector<Frame>& fresh) {
    for (const auto& f : fresh) {
      auto it = index_.find(f.id);
      if (it != index_.end()) {
        frames_[it->second] = f;
      } else {
        index_[f.id] = frames_.size();
        frames_.push_back(f);
      }
      pending_.push_back(f);
    }
  }
  std::size_t pending() const { return pending_.size(); }
  std::size_t size() const { return frames_.size(); }
  void save() {
    if (pending_.empty()) return;
    sync_folder(p_.root() / "frames");  // the PNGs reach the disk before the records naming them
    const ProjectLock lock = ProjectLock::acquire(p_.root(), "extract");
    const std::vector<Frame> fresh = pending_;
    frames_ = p_.load_frames();
    reindex();
    add(fresh);
    std::set<std::string> clips;
    for (const auto& f : fresh) clips.insert(f.clip);
    std::vector<Frame> sorted = frames_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Frame& a, const Frame& b) {
      return a.video != b.video ? a.video < b.video : a.source_index < b.source_index;
    });
    Change change(lock, p_, user_, "extract_frames");
    change.save_frames(sorted);
    change.commit(nlohmann::json{{"clips", clips}, {"frames", fresh.size()}});
    pending_.clear();
  }

 private:
  void reindex() {
    index_.clear();
    for (std::size_t i = 0; i < frames_.size(); ++i) index_[frames_[i].id] = i;
  }
  const Project& p_;
  std::string user_;
  std::vector<Frame> frames_;
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<Frame> pending_;
};

// The frame rate (or every-N) and the dedupe threshold in force: options win over project.json.
struct ExtractRate {
  int every_n = 0;
  double fps = 0;
  double dedupe = 0;
};

// The unset values are the ones ExtractOptions documents (fps 0, every_n 0,
// dedupe -1); any other value out of range is refused, never replaced by
// project.json's setting.
void check_rate_options(const ExtractOptions& opt) {
  if (!(std::isfinite(opt.fps) && opt.fps >= 0))
    throw Error("extraction fps", "must be a finite number > 0 (or 0 for project.json's)");
  if (opt.every_n < 0) throw Error("extraction every-N", "must be >= 1 (or 0 for project.json's)");
  if (opt.dedupe != -1 && !(opt.dedupe >= 0 && opt.dedupe <= 64))
    throw Error("extraction dedupe", "must be 0..64 bits (or -1 for project.json's)");
}

ExtractRate resolve_rate(const Project& p, const ExtractOptions& opt) {
  check_rate_options(opt);
  const ExtractionSettings& s = p.meta().extraction;
  ExtractRate r;
  if (opt.every_n > 0) {
    r.every_n = opt.every_n;
  } else if (opt.fps > 0) {
    r.fps = opt.fps;
  } else {
    r.every_n = s.every_n;
    r.fps = s.fps;
  }
  r.dedupe = opt.dedupe >= 0 ? opt.dedupe : s.dedupe;
  if (r.every_n <= 0 && !(r.fps > 0))
    throw Error((p.root() / "project.json").string(),
                "extraction needs a frame rate (--fps) or every-N (--every)");
  return r;
}

// Which source frames of which clips, grouped per video; `total` gets their count.
std::vector<VideoPlan> plan_extraction(const Project& p, const ExtractOptions& opt,
                                       const ExtractRate& rate, long long& total) {
  const std::vector<Video> videos = p.load_videos();
  std::vector<Clip> clips = p.load_clips();
  if (!opt.clip_id.empty()) {
    auto it = std::find_if(clips.begin(), clips.end(),
                           [&](const Clip& c) { return c.id == opt.clip_id; });
    if (it == clips.end()) throw Error("clip '" + opt.clip_id + "'", "not in clips.json");
    clips = {*it};
  }
  std::vector<VideoPlan> plan;
  total = 0;
  for (const auto& v : videos) {
    VideoPlan vp{v, {}, 0};
    for (const auto& c : clips)
      if (c.video == v.id)
        vp.clips.push_back({c, clip_frame_indices(c, v.fps, rate.fps, rate.every_n)});
    if (vp.clips.empty()) continue;
    std::sort(vp.clips.begin(), vp.clips.end(),
              [](const ClipPlan& a, const ClipPlan& b) { return a.clip.start < b.clip.start; });
    for (const auto& cp : vp.clips) vp.count += static_cast<long long>(cp.indices.size());
    total += vp.count;
    plan.push_back(std::move(vp));
  }
  for (const auto& c : clips)
    if (std::none_of(videos.begin(), videos.end(), [&](const Video& v) { return v.id == c.video; }))
      throw Error("clip " + c.id, "names video '" + c.video + "', which is not in videos.json");
  return plan;
}

// Where the extraction of one video stands.
struct VideoPass {
  const VideoPlan& plan;
  fs::path source;
  FieldOfView fov;
  std::unique_ptr<VideoReader> reader;
  long long left = 0;  // frames of this video not yet accounted for
  long long lost = 0;  // frames the decoder dropped in a corrupt stretch
  bool broken = false;
};

// The last kept frame of a clip: dedupe compares each new frame with it.
struct ClipCursor {
  bool have_last = false;
  std::uint64_t last = 0;
};

int writer_threads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

// One run of extract_frames: the writer pool, frames.json in memory and the report so far.
class Extraction {
 public:
  Extraction(const Project& p, const ExtractOptions& opt, double dedupe, long long total)
      : p_(p),
        opt_(opt),
        dedupe_(dedupe),
        total_(total),
        table_(p, opt.user),
        pool_(p.root(), writer_threads(), static_cast<std::size_t>(2 * writer_threads() + 2)) {}

  void run(const std::vector<VideoPlan>& plan);
  ExtractReport report;
  long long done() const { return done_; }
  bool cancelled() const { return cancelled_; }

 private:
  void collect(bool force);
  void tick();
  void give_up(VideoPass& pass, const std::string& why);
  void extract_video(const VideoPlan& vp);
  void extract_clip(VideoPass& pass, const ClipPlan& cp);
  bool reuse_existing(const std::string& id, ClipCursor& cur);
  bool decode(VideoPass& pass, long long idx, cv::Mat& img);
  std::string stop_message(const VideoPass& pass, const ClipPlan& cp, long long idx) const;
  void keep_frame(VideoPass& pass, const ClipPlan& cp, long long idx, cv::Mat img, ClipCursor& cur);
  void warn_lost(const VideoPass& pass);

  const Project& p_;
  const ExtractOptions& opt_;
  double dedupe_;
  long long total_;
  FrameTable table_;
  FrameWriterPool pool_;
  long long done_ = 0;
  Clock::time_point last_commit_ = Clock::now();
  bool cancelled_ = false;
};

void Extraction::collect(bool force) {
  std::vector<Frame> fresh;
  std::vector<std::string> errors;
  pool_.take(fresh, errors);
  report.written += static_cast<long long>(fresh.size());
  report.failed += static_cast<long long>(errors.size());
  for (auto& e : errors) report.warnings.push_back("cannot write frame " + e);
  table_.add(fresh);
  // Batches bound both the work a crash loses and the cost of rewriting frames.json.
  const std::size_t batch = std::max<std::size_t>(200, table_.size() / 10);
  if (force || table_.pending() >= batch || Clock::now() - last_commit_ > std::chrono::seconds(5)) {
    table_.save();
    last_commit_ = Clock::now();
  }
}

void Extraction::tick() {
  ++done_;
  if (opt_.progress) opt_.progress(done_, total_);
}

// The rest of the video's planned frames fail, with one warning saying why.
void Extraction::give_up(VideoPass& pass, const std::string& why) {
  report.warnings.push_back(why);
  report.failed += pass.left;
  for (; pass.left > 0; --pass.left) tick();
}

void Extraction::run(const std::vector<VideoPlan>& plan) {
  try {
    for (const auto& vp : plan) {
      if (cancelled_) break;
      extract_video(vp);
    }
  } catch (...) {
    // Whatever was written stays recorded: the project is consistent, the next run completes it.
    pool_.finish();
    collect(true);
    throw;
  }
  pool_.finish();
  collect(true);
}

void Extraction::extract_video(const VideoPlan& vp) {
  VideoPass pass{vp, {}, {}, nullptr, vp.count};
  try {
    pass.source = video_source(p_, vp.video.id);
    pass.fov = video_fov(p_, vp.video);
    pass.reader = std::make_unique<VideoReader>(pass.source);
  } catch (const Error& e) {
    give_up(pass, std::string(e.what()) + "; its " + std::to_string(vp.count) +
                      " frames were not extracted");
    return;
  }
  for (const auto& cp : vp.clips) {
    if (pass.broken || cancelled_) break;
    extract_clip(pass, cp);
  }
  if (pass.lost > 0) warn_lost(pass);
}

void Extraction::extract_clip(VideoPass& pass, const ClipPlan& cp) {
  ClipCursor cur;
  for (long long idx : cp.indices) {
    if (opt_.cancel && opt_.cancel->load()) {
      cancelled_ = true;
      return;
    }
    if (reuse_existing(frame_id(pass.plan.video.id, idx), cur)) {
      --pass.left;
      tick();
      continue;
    }
    cv::Mat img;
    if (!decode(pass, idx, img)) {
      ++report.failed;
      ++pass.lost;
      --pass.left;
      tick();
      continue;
    }
    if (img.empty()) {
      give_up(pass, stop_message(pass, cp, idx));
      pass.broken = true;
      return;
    }
    keep_frame(pass, cp, idx, std::move(img), cur);
  }
}

// A frame recorded by an earlier run whose PNG is still there is kept as it is.
bool Extraction::reuse_existing(const std::string& id, ClipCursor& cur) {
  const Frame* f = table_.find(id);
  std::error_code ec;
  if (!f || !fs::exists(p_.root() / f->file, ec)) return false;
  ++report.kept_existing;
  try {
    cur.last = parse_hash_hex(f->phash);
    cur.have_last = true;
  } catch (const Error&) {
  }
  return true;
}

// Reads source frame `idx`; false when the decoder lost it, an empty image when the video ended.
bool Extraction::decode(VideoPass& pass, long long idx, cv::Mat& img) {
  if (idx < pass.reader->position() && !lost_in_gap(*pass.reader, idx))
    pass.reader = std::make_unique<VideoReader>(pass.source);  // clips.json edited into overlap
  return !(lost_in_gap(*pass.reader, idx) ||
           (!pass.reader->read_at(idx, img) && !pass.reader->at_end()));
}

std::string Extraction::stop_message(const VideoPass& pass, const ClipPlan& cp,
                                     long long idx) const {
  const Video& v = pass.plan.video;
  return "video " + v.id + ": decoding stopped at frame " +
         std::to_string(pass.reader->position()) + " of " + std::to_string(v.frames) +
         " (truncated or corrupt); clip " + cp.clip.id + " is extracted up to frame " +
         std::to_string(idx) + " (exclusive), " + std::to_string(pass.left) +
         " planned frames of this video were not extracted" +
         (is_avi(pass.source)
              ? std::string("; AVI carries no per-frame timestamps, so if frames were "
                            "lost mid-stream the positions after the damage may be "
                            "shifted")
              : std::string());
}

// Blanks, hashes and dedupes a decoded frame; a kept one goes to the writer pool.
void Extraction::keep_frame(VideoPass& pass, const ClipPlan& cp, long long idx, cv::Mat img,
                            ClipCursor& cur) {
  blank_outside_fov(img, pass.fov);
  const std::uint64_t h = perceptual_hash(img);
  --pass.left;
  if (dedupe_ > 0 && cur.have_last && hash_distance(h, cur.last) <= dedupe_) {
    ++report.duplicates_skipped;
    tick();
    return;
  }
  cur.last = h;
  cur.have_last = true;
  const Video& v = pass.plan.video;
  Frame rec;
  rec.id = frame_id(v.id, idx);
  rec.clip = cp.clip.id;
  rec.video = v.id;
  rec.patient = v.patient;
  rec.source_index = idx;
  rec.time_s = static_cast<double>(idx) / v.fps;
  rec.file = "frames/" + rec.id + ".png";
  rec.phash = hash_hex(h);
  pool_.push({std::move(rec), std::move(img)});
  tick();
  collect(false);
}

void Extraction::warn_lost(const VideoPass& pass) {
  std::string where;
  for (const auto& [a, b] : pass.reader->gaps())
    where += (where.empty() ? "" : ", ") + std::to_string(a) + "-" + std::to_string(b - 1);
  report.warnings.push_back("video " + pass.plan.video.id +
                            ": corrupt stretches, the decoder lost frames " + where + "; " +
                            std::to_string(pass.lost) +
                            " planned frames there were not extracted (later frames keep "
                            "their timestamp positions)");
}

}  // namespace

ExtractReport extract_frames(const Project& p, const ExtractOptions& opt) {
  require_safe_id(opt.user, "user");
  // Plan from a settled project: the lock finishes a change a killed run left
  // half-landed and sweeps its temporaries, even when nothing is left to extract.
  { const ProjectLock settle = ProjectLock::acquire(p.root(), "extract"); }
  const ExtractRate rate = resolve_rate(p, opt);
  long long total = 0;
  const std::vector<VideoPlan> plan = plan_extraction(p, opt, rate, total);
  ensure_dir(p.root() / "frames");
  remove_stale_temp_files(p.root() / "frames");
  Extraction job(p, opt, rate.dedupe, total);
  job.run(plan);
  ExtractReport report = std::move(job.report);
  if (job.cancelled())
    report.warnings.push_back("cancelled after " + std::to_string(job.done()) + " of " +
                              std::to_string(total) + " frames; run again to complete");
  p.audit(opt.user, "extract",
          nlohmann::json{{"clip", opt.clip_id},
                         {"fps", rate.fps},
                         {"every_n", rate.every_n},
                         {"dedupe", rate.dedupe},
                         {"written", report.written},
                         {"kept_existing", report.kept_existing},
                         {"duplicates_skipped", report.duplicates_skipped},
                         {"failed", report.failed}});
  return report;
}

}  // namespace excap
