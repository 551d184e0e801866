// Stage II assignment: every frame goes to N distinct annotators, with a
// balanced load, reproducibly from a seed; re-running assigns only new frames.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace excap {

class Project;

// A small seeded generator whose output is fixed by the seed on every
// platform (std::uniform_int_distribution and std::shuffle are not).
class SeededRng {
 public:
  explicit SeededRng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();                  // SplitMix64
  std::uint64_t below(std::uint64_t n);  // uniform in [0, n), unbiased
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  template <class T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::uint64_t state_;
};

using Assignments = std::map<std::string, std::vector<std::string>>;  // frame -> annotators

struct AssignOptions {
  std::vector<std::string> annotators;
  int per_frame = 2;
  std::uint64_t seed = 0;
};

// How the labeling queue is ordered. order "" keeps each annotator's own
// shuffled queue; "uncertainty" orders it by the stored suggestions of `run`
// (queue.json, docs/prelabels.md).
struct QueueOrder {
  std::string order;
  std::string run;
};

// One place in the labeling queue and why it is there.
struct QueueEntry {
  std::string frame;
  std::optional<double> score;  // uncertainty (store/prelabel.h); unset: no suggestion
  double cd_entropy = 0, pixel_entropy = 0;
};

// queue.json: the order every annotator's queue follows, most uncertain first.
struct Queue {
  std::string order;  // "uncertainty"
  std::string run;
  std::string created;
  std::vector<QueueEntry> frames;
};

// Frames with a score first, highest score first (ties by their previous
// place); frames without one after them, in their previous order.
std::vector<QueueEntry> order_by_uncertainty(const std::vector<QueueEntry>& previous_order);

// queue.json (nullopt when absent; Error naming the file when malformed).
std::optional<Queue> load_queue(const Project& project);
nlohmann::json queue_json(const Queue& q);

struct AssignResult {
  int frames_total = 0;
  int newly_assigned = 0;  // frames that had no annotator before
  int topped_up = 0;       // frames that had fewer than per_frame and got more
  int unchanged = 0;
  std::map<std::string, int> load;  // annotator -> frames assigned after the run
  int scored = 0, unscored = 0;     // order "uncertainty": frames with / without a suggestion
};

// Pure core: extends `assignments` for `frame_ids` (in the given order).
// Existing entries never lose an annotator; a frame with fewer than per_frame
// annotators gets the least-loaded missing ones, ties broken by the seeded
// generator. Throws Error on a bad request (per_frame > annotators, dupes).
AssignResult assign_frames(const std::vector<std::string>& frame_ids, Assignments& assignments,
                           const AssignOptions& opt);

// Loads frames.json and assignments.json, assigns, saves atomically and
// writes an audit line for `by`. Annotators must be project users. With
// queue_order "uncertainty", also writes queue.json from the run's suggestions
// (Error when the run has none).
AssignResult assign_project(const Project& project, const AssignOptions& opt,
                            const std::string& by = "excap", const QueueOrder& queue_order = {});

}  // namespace excap
