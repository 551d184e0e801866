#include "curation/assign.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "common/ids.h"
#include "store/change.h"
#include "store/prelabel.h"
#include "store/project.h"

namespace excap {

std::uint64_t SeededRng::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t SeededRng::below(std::uint64_t n) {
  if (n <= 1) return 0;
  const std::uint64_t limit = ~0ull - (~0ull % n);  // reject the biased tail
  std::uint64_t x;
  do x = next();
  while (x >= limit);
  return x % n;
}

static void check_options(const AssignOptions& opt) {
  if (opt.annotators.empty()) throw Error("assign", "no annotators given");
  std::set<std::string> seen;
  for (const auto& a : opt.annotators) {
    require_safe_id(a, "annotator");
    if (!seen.insert(a).second) throw Error("assign", "annotator '" + a + "' is listed twice");
  }
  if (opt.per_frame < 1) throw Error("assign", "--per-frame must be at least 1");
  if (opt.per_frame > static_cast<int>(opt.annotators.size()))
    throw Error("assign", "--per-frame " + std::to_string(opt.per_frame) + " needs at least " +
                              std::to_string(opt.per_frame) + " distinct annotators, got " +
                              std::to_string(opt.annotators.size()));
}

AssignResult assign_frames(const std::vector<std::string>& frame_ids, Assignments& assignments,
                           const AssignOptions& opt) {
  check_options(opt);
  AssignResult r;
  for (const auto& a : opt.annotators) r.load[a] = 0;
  for (const auto& [frame, users] : assignments)
    for (const auto& u : users)
      if (r.load.count(u)) ++r.load[u];

  // The order of new frames is shuffled so that consecutive frames of one
  // clip are spread over annotators rather than handed out in blocks.
  std::vector<std::string> todo;
  for (const auto& f : frame_ids) {
    auto it = assignments.find(f);
    if (it == assignments.end() || static_cast<int>(it->second.size()) < opt.per_frame)
      todo.push_back(f);
    else
      ++r.unchanged;
  }
  r.frames_total = static_cast<int>(frame_ids.size());
  SeededRng rng(opt.seed);
  rng.shuffle(todo);
  std::map<std::pair<std::string, std::string>, int> pair_count;  // balance pairs too (kappa)
  for (const auto& [frame, users] : assignments)
    for (std::size_t i = 0; i < users.size(); ++i)
      for (std::size_t j = i + 1; j < users.size(); ++j)
        ++pair_count[std::minmax(users[i], users[j])];

  for (const auto& f : todo) {
    std::vector<std::string>& users = assignments[f];
    const bool was_empty = users.empty();
    while (static_cast<int>(users.size()) < opt.per_frame) {
      std::vector<std::string> cand;
      for (const auto& a : opt.annotators)
        if (std::find(users.begin(), users.end(), a) == users.end()) cand.push_back(a);
      if (cand.empty()) break;  // frame already holds every listed annotator
      rng.shuffle(cand);
      auto key = [&](const std::string& a) {
        int pairs = 0;
        for (const auto& u : users) pairs += pair_count[std::minmax(a, u)];
        return std::make_pair(r.load[a], pairs);
      };
      auto best = std::min_element(cand.begin(), cand.end(),
                                   [&](const auto& x, const auto& y) { return key(x) < key(y); });
      for (const auto& u : users) ++pair_count[std::minmax(*best, u)];
      users.push_back(*best);
      ++r.load[*best];
    }
    if (was_empty)
      ++r.newly_assigned;
    else
      ++r.topped_up;
  }
  return r;
}

std::vector<QueueEntry> order_by_uncertainty(const std::vector<QueueEntry>& previous) {
  std::vector<QueueEntry> out = previous;
  std::stable_sort(out.begin(), out.end(), [](const QueueEntry& x, const QueueEntry& y) {
    if (x.score.has_value() != y.score.has_value()) return x.score.has_value();
    return x.score && *x.score > *y.score;
  });
  return out;
}

nlohmann::json queue_json(const Queue& q) {
  nlohmann::json frames = nlohmann::json::array();
  for (const auto& e : q.frames) {
    nlohmann::json f{{"frame", e.frame}, {"score", e.score ? nlohmann::json(*e.score) : nullptr}};
    if (e.score) f["cd_entropy"] = e.cd_entropy, f["pixel_entropy"] = e.pixel_entropy;
    frames.push_back(f);
  }
  return {{"format", "excap-queue"}, {"version", kFormatVersion},
          {"order", q.order},        {"run", q.run},
          {"created", q.created},    {"frames", frames}};
}

std::optional<Queue> load_queue(const Project& project) {
  const fs::path path = project.root() / "queue.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  const nlohmann::json j = read_versioned_json(path, "excap-queue");
  Queue q;
  try {
    q.order = j.at("order").get<std::string>();
    q.run = j.value("run", "");
    q.created = j.value("created", "");
    for (const auto& f : j.at("frames")) {
      QueueEntry e{f.at("frame").get<std::string>(), std::nullopt, 0, 0};
      require_safe_id(e.frame, "frame");
      if (!f.at("score").is_null()) e.score = f["score"].get<double>();
      e.cd_entropy = f.value("cd_entropy", 0.0);
      e.pixel_entropy = f.value("pixel_entropy", 0.0);
      q.frames.push_back(std::move(e));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string(), std::string("bad queue: ") + e.what());
  }
  return q;
}

namespace {

// The queue's previous order: queue.json's, then frames it lacks in frames.json order.
std::vector<std::string> previous_order(const Project& project,
                                        const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  std::set<std::string> known(ids.begin(), ids.end()), seen;
  if (auto q = load_queue(project))
    for (const auto& e : q->frames)
      if (known.count(e.frame) && seen.insert(e.frame).second) out.push_back(e.frame);
  for (const auto& f : ids)
    if (seen.insert(f).second) out.push_back(f);
  return out;
}

Queue uncertainty_queue(const Project& project, const std::vector<std::string>& ids,
                        const std::string& run, AssignResult& r) {
  require_safe_id(run, "run");
  std::vector<QueueEntry> entries;
  for (const auto& f : previous_order(project, ids)) {
    QueueEntry e{f, std::nullopt, 0, 0};
    if (auto s = load_suggestion(project, run, f)) {
      e.score = uncertainty_score(*s);
      e.cd_entropy = s->cd_entropy, e.pixel_entropy = s->pixel_entropy;
    }
    (e.score ? r.scored : r.unscored)++;
    entries.push_back(std::move(e));
  }
  if (r.scored == 0)
    throw Error("assign", "run '" + run +
                              "' has no suggestions for this project's frames (make "
                              "them with `excap prelabel DIR --run " +
                              run + "`)");
  return Queue{"uncertainty", run, now_iso8601(), order_by_uncertainty(entries)};
}

}  // namespace

AssignResult assign_project(const Project& project, const AssignOptions& opt, const std::string& by,
                            const QueueOrder& queue_order) {
  check_options(opt);
  if (!queue_order.order.empty() && queue_order.order != "uncertainty")
    throw Error("assign", "unknown --order '" + queue_order.order + "' (uncertainty)");
  for (const auto& a : opt.annotators)
    if (!project.meta().find_user(a))
      throw Error("assign", "annotator '" + a + "' is not a user of this project (project.json)");
  require_safe_id(by, "user");
  const ProjectLock lock = ProjectLock::acquire(project.root(), "assign");
  std::vector<std::string> ids;
  for (const auto& f : project.load_frames()) ids.push_back(f.id);
  Assignments a = project.load_assignments();
  AssignResult r = assign_frames(ids, a, opt);
  std::optional<Queue> queue;
  if (queue_order.order == "uncertainty")
    queue = uncertainty_queue(project, ids, queue_order.run, r);
  if (r.newly_assigned + r.topped_up > 0 || queue) {
    Change change(lock, project, by, "assign");
    change.save_assignments(a);
    nlohmann::json details{{"annotators", opt.annotators},
                           {"per_frame", opt.per_frame},
                           {"seed", opt.seed},
                           {"new", r.newly_assigned},
                           {"topped_up", r.topped_up}};
    if (queue) {
      change.write_json(project.root() / "queue.json", queue_json(*queue));
      details["order"] = queue->order, details["run"] = queue->run;
      details["scored"] = r.scored, details["unscored"] = r.unscored;
    }
    change.commit(details);
  }
  return r;
}

}  // namespace excap
