// Stage II assignment: every frame goes to N distinct annotators, with a
// balanced load, reproducibly from a seed; re-running assigns only new frames.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

struct AssignResult {
  int frames_total = 0;
  int newly_assigned = 0;  // frames that had no annotator before
  int topped_up = 0;       // frames that had fewer than per_frame and got more
  int unchanged = 0;
  std::map<std::string, int> load;  // annotator -> frames assigned after the run
};

// Pure core: extends `assignments` for `frame_ids` (in the given order).
// Existing entries never lose an annotator; a frame with fewer than per_frame
// annotators gets the least-loaded missing ones, ties broken by the seeded
// generator. Throws Error on a bad request (per_frame > annotators, dupes).
AssignResult assign_frames(const std::vector<std::string>& frame_ids, Assignments& assignments,
                           const AssignOptions& opt);

// Loads frames.json and assignments.json, assigns, saves atomically and
// writes an audit line for `by`. Annotators must be project users.
AssignResult assign_project(const Project& project, const AssignOptions& opt,
                            const std::string& by = "excap");

}  // namespace excap
