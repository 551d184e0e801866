// The studio's autosave path without a window, for the SIGKILL harness:
// opens a user's session (as the studio does on launch), then paints one edit
// after another on two frames, alternating, each handed to the autosave writer
// like a stroke end. Edit v paints version_mask(v), CD v % 3 and time spent v.
// A journal records "s FRAME V" before each submit and "w FRAME V" after each
// completed write, so the harness knows what was promised to be on disk.
//
//   excap_kill_autosave_driver PROJECT USER JOURNAL EDITS PAUSE_MS
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "annotator/core/autosave.h"
#include "annotator/core/session.h"
#include "autosave_pattern.h"

namespace {

using excap::annotator::AutosaveWriter;
using excap::annotator::LabelDocument;
using excap::annotator::LabelSnapshot;
using excap::annotator::Session;

// One unbuffered O_APPEND write per line: a kill never leaves a line in a buffer.
class Journal {
 public:
  explicit Journal(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {
    if (fd_ < 0) throw std::runtime_error("cannot open journal " + path);
  }
  ~Journal() { ::close(fd_); }
  void line(char kind, const std::string& frame, long long v) const {
    const std::string s = std::string(1, kind) + " " + frame + " " + std::to_string(v) + "\n";
    if (::write(fd_, s.data(), s.size()) != static_cast<ssize_t>(s.size()))
      throw std::runtime_error("journal write failed");
  }

 private:
  int fd_;
};

// The newest version on disk: the largest time spent of this user's labels.
long long disk_version(const Session& s) {
  long long v = 0;
  for (const auto& f : s.frames())
    if (auto rec = s.project().load_label(s.user(), f))
      v = std::max(v, static_cast<long long>(rec->time_spent_s));
  return v;
}

int drive(const std::string& project, const std::string& user, const std::string& journal_path,
          long long edits, int pause_ms) {
  Session session = Session::open(project, user);
  if (session.frames().size() < 2) throw std::runtime_error("needs two assigned frames");
  const Journal journal(journal_path);
  AutosaveWriter writer([&](const LabelSnapshot& s) {
    session.write(s);
    journal.line('w', s.frame, static_cast<long long>(s.time_spent_s));
  });
  std::map<std::string, std::unique_ptr<LabelDocument>> docs;
  const long long start = disk_version(session) + 1;
  for (long long v = start; v < start + edits; ++v) {
    const std::string& frame = session.frames()[static_cast<std::size_t>(v % 2)];
    auto& doc = docs[frame];
    if (!doc) doc = session.open_frame(frame);
    doc->apply("paint", [&](cv::Mat& mask) {
      excap::test::version_mask(mask.size(), v).copyTo(mask);
      return cv::Rect(0, 0, mask.cols, mask.rows);
    });
    doc->set_cd(static_cast<int>(v % 3));
    LabelSnapshot snap = session.snapshot(*doc, static_cast<double>(v));
    journal.line('s', frame, v);
    writer.submit(std::move(snap));
    doc->mark_saved();
    for (const auto& r : writer.take_results()) {
      if (!r.error.empty()) throw std::runtime_error(r.error);
      session.record_saved(r.snapshot);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  writer.flush();
  for (const auto& r : writer.take_results())
    if (!r.error.empty()) throw std::runtime_error(r.error);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PROJECT USER JOURNAL EDITS PAUSE_MS\n", argv[0]);
    return 2;
  }
  try {
    return drive(argv[1], argv[2], argv[3], std::stoll(argv[4]), std::stoi(argv[5]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "autosave driver: %s\n", e.what());
    return 1;
  }
}
