// run_demo (sample/demo.h): every pipeline stage on a small sample, reported
// through the callback, never printed; the summary matches the files written.
#include <doctest/doctest.h>

#include <vector>

#include "common/error.h"
#include "common/fsutil.h"
#include "sample/demo.h"
#include "test_support.h"

using excap::DemoEvent;
using excap::test::ScratchDir;
namespace fs = excap::fs;

namespace {
// The smallest demo that still has a test subset and trains a few steps.
excap::DemoOptions small_demo(const fs::path& dir) {
  excap::DemoOptions o;
  o.dir = dir;
  o.synth.patients = 3;
  o.synth.seconds = 4;
  o.synth.fps = 5;
  o.synth.size = 128;
  o.size = 64;
  o.iters = 4;
  o.batch = 2;
  o.threads = 2;
  return o;
}
}  // namespace

TEST_CASE("demo: run_demo runs every stage and reports each through the callback") {
  ScratchDir tmp("demo-lib");
  std::vector<DemoEvent> events;
  const excap::DemoSummary s =
      excap::run_demo(small_demo(tmp / "d"), [&](const DemoEvent& e) { events.push_back(e); });

  std::vector<std::string> stages;
  int open = 0;
  for (const auto& e : events) {
    if (e.kind == DemoEvent::Kind::StageBegin) {
      stages.push_back(e.text);
      ++open;
    } else if (e.kind == DemoEvent::Kind::StageEnd) {
      --open;
      CHECK(e.seconds >= 0);
    } else {
      CHECK(e.text.find('\n') == std::string::npos);  // one event per line
    }
  }
  CHECK(open == 0);
  REQUIRE(stages.size() == 9);
  CHECK(stages[0].rfind("stage 0 + I", 0) == 0);
  CHECK(stages[5].rfind("pack", 0) == 0);
  CHECK(stages[6].rfind("train MTCSN (tiny backbone, 4 iterations, batch 2)", 0) == 0);
  CHECK(stages[8].rfind("triage", 0) == 0);

  CHECK(s.videos == 3);
  CHECK(s.extracted > 0);
  CHECK(s.final_labels == s.extracted);  // the expert settles every frame left
  std::size_t in_split = 0;
  for (const auto& [name, n] : s.split_sizes) in_split += n;
  CHECK(static_cast<long long>(in_split) == s.final_labels);
  CHECK(s.best_iter >= 1);
  CHECK(s.test_frames == static_cast<long long>(s.split_sizes.at("test")));
  CHECK(fs::exists(s.eval_report));
  CHECK(s.triage_processed > 0);
  CHECK(fs::exists(s.triage_dir / "frames.csv"));
  CHECK(fs::exists(s.project / "splits" / "main.json"));
}

TEST_CASE("demo: a non-empty folder is refused, and the failing stage still ends") {
  ScratchDir tmp("demo-refused");
  excap::atomic_write(tmp / "keep.txt", "not the demo's");
  std::vector<DemoEvent> events;
  CHECK_THROWS_AS(
      excap::run_demo(small_demo(tmp.path()), [&](const DemoEvent& e) { events.push_back(e); }),
      excap::Error);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == DemoEvent::Kind::StageBegin);
  CHECK(events[1].kind == DemoEvent::Kind::StageEnd);
}
