// One synthetic capsule video with known clearness per frame, and a tiny
// MTCSN trained by the real trainer (trainer/train.h) on five other synthetic
// patients (frames decoded from their own videos). Built once per build tree
// under test-fixtures/ (every TEST_CASE runs as its own process under ctest)
// and reused; a lock serialises builders.
#pragma once
#include <vector>

#include "common/fsutil.h"

namespace excap::test {

struct TriageFixture {
  fs::path root;     // a project-like folder: packed/synth-64/, runs/tiny/
  fs::path run_dir;  // root / "runs" / "tiny"
  fs::path video;    // patient 1, never imported anywhere
  double fps = 0;
  std::vector<int> truth_cd;  // ground-truth clearness degree of every source frame
};

const TriageFixture& triage_fixture();

}  // namespace excap::test
