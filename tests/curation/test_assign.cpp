#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "common/error.h"
#include "curation/assign.h"
#include "support/project_builder.h"

using namespace excap;

static std::vector<std::string> ids(int n, int from = 0) {
  std::vector<std::string> v;
  for (int i = from; i < from + n; ++i) v.push_back("f" + std::to_string(i));
  return v;
}

TEST_CASE("assign: distinct annotators, balanced load, reproducible") {
  for (int k = 2; k <= 5; ++k)
    for (int per = 1; per <= k; ++per)
      for (std::uint64_t seed : {0ull, 1ull, 99ull}) {
        AssignOptions opt;
        for (int i = 0; i < k; ++i) opt.annotators.push_back("u" + std::to_string(i));
        opt.per_frame = per;
        opt.seed = seed;
        Assignments a, b;
        const auto frames = ids(37);
        AssignResult r = assign_frames(frames, a, opt);
        assign_frames(frames, b, opt);
        CHECK(a == b);  // same seed, same result
        CHECK(r.newly_assigned == 37);
        for (const auto& [f, users] : a) {
          CHECK(static_cast<int>(users.size()) == per);
          CHECK(std::set<std::string>(users.begin(), users.end()).size() == users.size());
        }
        int lo = 1 << 30, hi = 0;
        for (const auto& [u, n] : r.load) lo = std::min(lo, n), hi = std::max(hi, n);
        CHECK(hi - lo <= 1);  // balanced
      }
}

TEST_CASE("assign: re-running assigns only new frames and keeps the old ones") {
  AssignOptions opt{{"a", "b", "c"}, 2, 7};
  Assignments a;
  assign_frames(ids(10), a, opt);
  const Assignments before = a;
  AssignResult again = assign_frames(ids(10), a, opt);
  CHECK(again.newly_assigned == 0);
  CHECK(again.unchanged == 10);
  CHECK(a == before);
  AssignResult more = assign_frames(ids(16), a, opt);
  CHECK(more.newly_assigned == 6);
  for (const auto& [f, users] : before) CHECK(a.at(f) == users);
  int lo = 1 << 30, hi = 0;
  for (const auto& [u, n] : more.load) lo = std::min(lo, n), hi = std::max(hi, n);
  CHECK(hi - lo <= 1);
  // Raising per-frame tops frames up without removing anyone.
  opt.per_frame = 3;
  AssignResult up = assign_frames(ids(16), a, opt);
  CHECK(up.topped_up == 16);
  for (const auto& [f, users] : a) CHECK(users.size() == 3);
}

TEST_CASE("assign: bad requests are refused") {
  Assignments a;
  CHECK_THROWS_AS(assign_frames(ids(3), a, {{"a"}, 2, 0}), Error);
  CHECK_THROWS_AS(assign_frames(ids(3), a, {{"a", "a"}, 2, 0}), Error);
  CHECK_THROWS_AS(assign_frames(ids(3), a, {{}, 1, 0}), Error);
  CHECK_THROWS_AS(assign_frames(ids(3), a, {{"a", "../x"}, 1, 0}), Error);
}

TEST_CASE("assign: on a project, saved and audited and unknown annotators refused") {
  test::CurationProject cp("assign-project");
  cp.add_frames(8);
  AssignResult r = assign_project(cp.project(), {{"a", "b"}, 2, 3});
  CHECK(r.newly_assigned == 8);
  auto a = cp.project().load_assignments();
  CHECK(a.size() == 8);
  for (const auto& [f, users] : a) CHECK(users.size() == 2);
  CHECK(fs::exists(cp.root() / "log" / "excap.jsonl"));
  cp.add_frames(3);
  r = assign_project(cp.project(), {{"a", "b"}, 2, 3});
  CHECK(r.newly_assigned == 3);
  CHECK(r.unchanged == 8);
  CHECK_THROWS_WITH_AS(assign_project(cp.project(), {{"a", "zed"}, 2, 3}),
                       doctest::Contains("not a user"), Error);
}
