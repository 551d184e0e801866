#include "store/change.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <sstream>

#include "common/error.h"
#include "common/ids.h"

namespace excap {

using nlohmann::json;

namespace {

std::string change_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream s;
  s << std::hex << rng();
  return s.str();
}

void append_to(int fd, const fs::path& path, const std::string& line) {
  const std::string buf = line + "\n";
  const char* data = buf.data();
  std::size_t left = buf.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(path.string(), std::string("cannot append: ") + std::strerror(errno));
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0)
    throw Error(path.string(), std::string("fsync failed: ") + std::strerror(errno));
}

int open_log(const fs::path& path) {
  ensure_dir(path.parent_path());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error(path.string(), std::string("cannot open the audit log for writing: ") +
                                   std::strerror(errno) + "; nothing was changed");
  return fd;
}

// Lands the files a journal names: renames whose temporary is still there, then removals.
void apply_files(const fs::path& root, const json& j) {
  for (const auto& w : j.at("writes")) {
    const fs::path tmp = root / w.at(0).get<std::string>();
    const fs::path target = root / w.at(1).get<std::string>();
    std::error_code ec;
    if (fs::exists(tmp, ec)) rename_into_place(tmp, target);
  }
  for (const auto& r : j.at("removes")) {
    std::error_code ec;
    fs::remove(root / r.get<std::string>(), ec);
  }
}

// Appends a journal's audit line unless the log has it already.
void apply_audit(const fs::path& root, const json& j) {
  const fs::path log = root / j.at("log").get<std::string>();
  const std::string line = j.at("line").get<std::string>();
  const std::string mark = "\"change\":\"" + j.at("change").get<std::string>() + "\"";
  std::error_code ec;
  if (fs::exists(log, ec) && read_file(log).find(mark) != std::string::npos) return;
  const int fd = open_log(log);
  try {
    append_to(fd, log, line);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

}  // namespace

fs::path journal_path(const fs::path& root) { return root / "project.journal"; }

bool finish_interrupted_change(const fs::path& root) {
  const fs::path path = journal_path(root);
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  json j;
  try {
    j = json::parse(read_file(path));
    if (j.value("format", "") != "excap-journal")
      throw Error(path.string(), "not an ExCap journal");
    apply_files(root, j);
    apply_audit(root, j);
  } catch (const json::exception& e) {
    throw Error(path.string(), std::string("cannot finish the interrupted change it records (") +
                                   e.what() + "); inspect it, then remove it");
  }
  if (::unlink(path.c_str()) != 0)
    throw Error(path.string(), std::string("cannot remove: ") + std::strerror(errno));
  return true;
}

Change::Change(const ProjectLock& lock, const Project& project, std::string user,
               std::string action)
    : project_(project), user_(std::move(user)), action_(std::move(action)) {
  if (!lock.held()) throw Error(project.root().string(), "a change needs the project lock");
  log_ = safe_child(project_.root() / "log", user_, ".jsonl", "user");
  log_fd_ = open_log(log_);
}

Change::~Change() {
  if (log_fd_ >= 0) ::close(log_fd_);
}

// The root as lexically_relative needs it: normal, without a trailing separator.
static fs::path normal_root(const fs::path& root) {
  fs::path r = root.lexically_normal();
  return !r.has_filename() && r.has_parent_path() ? r.parent_path() : r;
}

fs::path Change::inside(const fs::path& path) const {
  const fs::path rel = path.lexically_normal().lexically_relative(normal_root(project_.root()));
  bool ok = !rel.empty() && !rel.is_absolute();
  for (const auto& part : rel)
    if (part == ".." || part == ".") ok = false;
  if (!ok) throw Error(path.string(), "is not inside the project " + project_.root().string());
  return rel;
}

void Change::write(const fs::path& path, std::string bytes) {
  writes_.emplace_back(inside(path), std::move(bytes));
}
void Change::write(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  write(path, std::string(bytes.begin(), bytes.end()));
}
void Change::write_json(const fs::path& path, const json& j) { write(path, j.dump(2) + "\n"); }
void Change::remove(const fs::path& path) { removes_.push_back(inside(path)); }

void Change::save_videos(const std::vector<Video>& v) {
  write_json(project_.root() / "videos.json", document_of(v));
}
void Change::save_clips(const std::vector<Clip>& c) {
  write_json(project_.root() / "clips.json", document_of(c));
}
void Change::save_frames(const std::vector<Frame>& f) {
  write_json(project_.root() / "frames.json", document_of(f));
}
void Change::save_assignments(const std::map<std::string, std::vector<std::string>>& a) {
  write_json(project_.root() / "assignments.json", document_of(a));
}
void Change::save_local(const json& j) { write_json(project_.root() / "local.json", j); }
void Change::save_label(const LabelRecord& r) {
  write_json(project_.label_json_path(r.user, r.frame), document_of(r));
}
void Change::save_final(const FinalLabel& f) {
  write_json(project_.final_json_path(f.frame), document_of(f));
}

void Change::commit(const json& details) {
  if (committed_) throw Error(project_.root().string(), "a change is committed once");
  committed_ = true;
  const fs::path root = normal_root(project_.root());
  const std::string id = change_id();
  json line{{"time", now_iso8601()}, {"user", user_}, {"action", action_}};
  if (details.is_object())
    for (auto it = details.begin(); it != details.end(); ++it) line[it.key()] = it.value();
  line["change"] = id;
  json journal{{"format", "excap-journal"},   {"version", kFormatVersion}, {"change", id},
               {"writes", json::array()},     {"removes", json::array()},  {"line", line.dump()},
               {"log", inside(log_).string()}};
  std::vector<fs::path> temps;
  try {
    for (const auto& [rel, bytes] : writes_) {
      temps.push_back(write_temp_beside(root / rel, bytes));
      journal["writes"].push_back({temps.back().lexically_relative(root).string(), rel.string()});
    }
    for (const auto& rel : removes_) journal["removes"].push_back(rel.string());
    if (!writes_.empty() || !removes_.empty()) atomic_write(journal_path(root), journal.dump());
  } catch (...) {
    for (const auto& t : temps) ::unlink(t.c_str());
    throw;  // nothing landed
  }
  if (writes_.empty() && removes_.empty()) {
    append_to(log_fd_, log_, line.dump());
    return;
  }
  apply_files(root, journal);
  append_to(log_fd_, log_, line.dump());
  ::unlink(journal_path(root).c_str());
}

}  // namespace excap
