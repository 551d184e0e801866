// Autosave off the UI thread. A stroke end hands a snapshot (mask copy, CD,
// time) to a writer thread, which writes it atomically (see Session::write);
// a newer snapshot of the same frame replaces one still waiting, so a burst
// of strokes costs one write. A save that fails comes back as a message.
// Killing the program loses at most what was not yet written: the stroke in
// progress and, during a write (tens of ms under load), the newest one;
// the file on disk is always a complete earlier state.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>

#include "store/project.h"

namespace excap::annotator {

struct LabelSnapshot {
  std::string frame;
  cv::Mat mask;  // owned copy
  std::optional<int> cd;
  double time_spent_s = 0;
  bool done = false;                         // complete by the "done" rule when taken
  bool became_done = false;                  // and was not done before (audit line)
  std::optional<SuggestionOrigin> origin{};  // the suggestion the label started from
};

class AutosaveWriter {
 public:
  using WriteFn = std::function<void(const LabelSnapshot&)>;  // throws on failure
  struct Result {
    LabelSnapshot snapshot;
    std::string error;  // empty: written
  };

  explicit AutosaveWriter(WriteFn write);
  ~AutosaveWriter();  // writes what is pending, then stops
  AutosaveWriter(const AutosaveWriter&) = delete;
  AutosaveWriter& operator=(const AutosaveWriter&) = delete;

  void submit(LabelSnapshot s);
  void flush();                        // blocks until everything submitted is written
  std::vector<Result> take_results();  // finished writes since the last call
  bool busy() const;

 private:
  void run();
  WriteFn write_;
  mutable std::mutex mutex_;
  std::condition_variable wake_, drained_;
  std::deque<LabelSnapshot> pending_;
  std::vector<Result> results_;
  bool writing_ = false, stop_ = false;
  std::thread worker_;
};

}  // namespace excap::annotator
