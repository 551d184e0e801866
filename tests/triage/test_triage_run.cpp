// End to end: a tiny MTCSN trained by the trainer on synthetic patients 2-3
// triages the never-imported video of patient 1, whose clearness per frame is
// known from the renderer.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "bench/triage_bench.h"
#include "common/error.h"
#include "store/project.h"
#include "test_support.h"
#include "trainer/train.h"
#include "triage/triage.h"
#include "triage_fixture.h"

// glog (pulled in by LibTorch) defines CHECK too; the assertions here are doctest's.
#undef CHECK
#define CHECK DOCTEST_CHECK

using namespace excap;
using excap::test::ScratchDir;

namespace {

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    std::string c;
    while (std::getline(s, c, ',')) cells.push_back(c);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    rows.push_back(cells);
  }
  return rows;
}

trainer::TriageOptions options_for(const test::TriageFixture& fx) {
  trainer::TriageOptions o;
  o.video = fx.video;
  o.run_dir = fx.run_dir;
  o.device = "cpu";
  o.threads = 2;
  return o;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// Also ctest's setup test `triage.fixture` (FIXTURES_SETUP): it builds the shared fixture
// before the suite's other cases run.
TEST_CASE(
    "triage fixture: a tiny MTCSN trained on five synthetic patients and a sixth patient's video") {
  const auto& fx = test::triage_fixture();
  CHECK(fs::exists(fx.video));
  CHECK(fs::exists(fx.run_dir / "config.json"));
  CHECK(fx.fps > 0);
  REQUIRE_FALSE(fx.truth_cd.empty());
  CHECK(std::count(fx.truth_cd.begin(), fx.truth_cd.end(), -1) == 0);  // every frame has its truth
}

// Stated threshold: the tiny MTCSN of the fixture (64x64, 1500 iterations on
// five other synthetic patients, about a minute on 2 cores) generalises only
// modestly to an unseen patient, so the test asks that the share of truly
// clear frames among the kept ones beats the clear share of the whole video
// (random picking) by at least 5 points. Measured when written: 0.58 vs 0.48.
TEST_CASE("triage of a synthetic video keeps mostly clear frames, within quota and spacing") {
  const auto& fx = test::triage_fixture();
  trainer::TriageOptions o = options_for(fx);
  o.rule.keep = 0.1;
  o.rule.min_gap_s = 1.0;
  const trainer::TriageResult r = trainer::run_triage(o);
  const long long n = static_cast<long long>(fx.truth_cd.size());
  CHECK(r.processed == n);
  CHECK(r.planned == n);
  CHECK_FALSE(r.interrupted);
  CHECK_FALSE(r.truncated);
  CHECK(r.quota == (n + 5) / 10);
  CHECK(r.kept <= r.quota);
  CHECK(r.kept >= 1);
  CHECK(r.fold.folded_pairs == 14);

  long long kept_clear = 0, clear_total = 0;
  std::vector<double> times;
  for (const auto& f : r.frames) {
    if (f.verdict != trainer::Verdict::Kept) continue;
    kept_clear += fx.truth_cd.at(f.index) == 0;
    times.push_back(f.time_s);
  }
  for (int cd : fx.truth_cd) clear_total += cd == 0;
  const double precision =
      static_cast<double>(kept_clear) / static_cast<double>(std::max(1LL, r.kept));
  const double base_rate = static_cast<double>(clear_total) / static_cast<double>(n);
  MESSAGE("kept " << r.kept << " of " << n << " (quota " << r.quota << "), clear precision "
                  << precision << ", clear share of the video " << base_rate);
  CHECK(precision >= base_rate + 0.05);
  for (std::size_t i = 1; i < times.size(); ++i) CHECK(times[i] - times[i - 1] >= 1.0 - 1e-9);
  // Every processed frame has CD probabilities summing to 1 and tissue shares summing to 1.
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    double p = 0, s = 0;
    for (float v : r.cd_probs[i]) p += v;
    for (float v : r.shares[i]) s += v;
    CHECK(p == doctest::Approx(1.0).epsilon(1e-4));
    CHECK(s == doctest::Approx(1.0).epsilon(1e-3));
  }
}

TEST_CASE("triage writes frames.csv (one row per processed frame), summary.json and the pictures") {
  const auto& fx = test::triage_fixture();
  ScratchDir out("triage-out");
  trainer::TriageOptions o = options_for(fx);
  o.every_n = 3;
  const trainer::TriageResult r = trainer::run_triage(o);
  trainer::write_triage_outputs(r, out.path());
  const long long n = static_cast<long long>(fx.truth_cd.size());
  CHECK(r.processed == (n + 2) / 3);

  const auto rows = read_csv(out / "frames.csv");
  REQUIRE(rows.size() == static_cast<std::size_t>(r.processed) + 1);
  const auto& header = rows[0];
  CHECK(header[0] == "frame");
  CHECK(header[3] == "p_clear");
  CHECK(std::find(header.begin(), header.end(), "share_lesion") != header.end());
  CHECK(header.back() == "near_kept_frame");
  long long kept = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    REQUIRE(rows[i].size() == header.size());
    CHECK(std::stoll(rows[i][0]) == static_cast<long long>(3 * (i - 1)));  // every 3rd source frame
    kept += rows[i][header.size() - 3] == "1";
  }
  CHECK(kept == r.kept);

  const nlohmann::json s = read_json_file(out / "summary.json");
  CHECK(s["format"] == "excap-triage-summary");
  CHECK(s["frames"]["processed"] == r.processed);
  CHECK(s["selection"]["kept"] == r.kept);
  CHECK(s["selection"]["quota"] == r.quota);
  CHECK(s["interrupted"] == false);
  CHECK(s["selection"]["kept_frames"].size() == static_cast<std::size_t>(r.kept));
  CHECK(s["selection"]["rule"].get<std::string>().find("clear") != std::string::npos);
  for (const char* png : {"timeline.png", "contact_sheet.png"}) {
    const cv::Mat img = cv::imread((out / png).string());
    INFO(png);
    CHECK_FALSE(img.empty());
  }
  CHECK(r.sheet.size() == static_cast<std::size_t>(std::min<long long>(r.kept, 48)));
}

TEST_CASE("triage interrupted (cancel flag, as Ctrl-C sets it) keeps what is done and says so") {
  const auto& fx = test::triage_fixture();
  ScratchDir out("triage-int");
  trainer::TriageOptions o = options_for(fx);
  std::atomic<bool> cancel{true};  // set before the first frame: deterministic
  o.cancel = &cancel;
  const trainer::TriageResult r = trainer::run_triage(o);
  CHECK(r.interrupted);
  CHECK(r.processed == 0);
  trainer::write_triage_outputs(r, out.path());
  CHECK(read_json_file(out / "summary.json")["interrupted"] == true);
  CHECK(read_csv(out / "frames.csv").size() == 1);

  // Mid-run: whatever was processed is consistent.
  std::atomic<bool> later{false};
  o.cancel = &later;
  o.batch = 4;
  o.progress = [&](const trainer::TriageProgress& p) {
    if (p.done >= 8) later = true;
  };
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    later = true;
  });
  const trainer::TriageResult m = trainer::run_triage(o);
  t.join();
  CHECK(m.frames.size() == static_cast<std::size_t>(m.processed));
  if (m.interrupted) {
    CHECK(m.processed < m.planned);
  }
  CHECK(m.kept <= m.quota);
}

TEST_CASE(
    "triage gives clear errors: corrupt video, missing run, missing checkpoint, other schema") {
  const auto& fx = test::triage_fixture();
  ScratchDir tmp("triage-err");

  // Corrupt video: refused before the model runs, naming the file.
  const fs::path broken = tmp / "broken.mp4";
  atomic_write(broken, std::string(4096, 'x'));
  trainer::TriageOptions o = options_for(fx);
  o.video = broken;
  std::string e = error_of([&] { trainer::run_triage(o); });
  CHECK(e.find("broken.mp4") != std::string::npos);
  MESSAGE("corrupt video: " << e);

  o = options_for(fx);
  o.video = tmp / "absent.mp4";
  e = error_of([&] { trainer::run_triage(o); });
  CHECK(e.find("no such video file") != std::string::npos);

  // Missing run folder.
  e = error_of([&] { trainer::load_triage_model(fx.root / "runs" / "nope"); });
  CHECK(e.find("no such run folder") != std::string::npos);

  // A run folder with a config but no checkpoint.
  const fs::path proj = tmp / "proj";
  fs::create_directories(proj / "runs" / "empty");
  fs::copy_file(fx.run_dir / "config.json", proj / "runs" / "empty" / "config.json");
  e = error_of([&] { trainer::load_triage_model(proj / "runs" / "empty"); });
  CHECK(e.find("has no checkpoint") != std::string::npos);
  MESSAGE("no checkpoint: " << e);

  // A run trained with another schema, recorded in its config.json.
  fs::copy(fx.run_dir, proj / "runs" / "other", fs::copy_options::recursive);
  nlohmann::json cfg = read_json_file(proj / "runs" / "other" / "config.json");
  nlohmann::json schema = cecd_schema();
  schema["tissue"][3]["name"] = "polyp";
  cfg["schema"] = schema;
  write_json_atomic(proj / "runs" / "other" / "config.json", cfg);
  e = error_of([&] { trainer::load_triage_model(proj / "runs" / "other"); });
  CHECK(e.find("different label schema") != std::string::npos);
  CHECK(e.find("polyp") != std::string::npos);
  MESSAGE("schema mismatch: " << e);

  // Class counts differ (a 5-class tissue schema), found through the class counts alone.
  fs::copy(fx.run_dir, proj / "runs" / "five", fs::copy_options::recursive);
  cfg = read_json_file(proj / "runs" / "five" / "config.json");
  cfg["split"] = "gone";  // no packed header, no project.json: only the counts are left
  cfg["model"]["num_tissue"] = 5;
  write_json_atomic(proj / "runs" / "five" / "config.json", cfg);
  e = error_of([&] { trainer::load_triage_model(proj / "runs" / "five"); });
  CHECK(e.find("5 tissue classes") != std::string::npos);

  // The fixture's own run passes, its names read from the packed training data.
  const trainer::TriageModel m = trainer::load_triage_model(fx.run_dir);
  CHECK(m.schema_source.find("train.safetensors") != std::string::npos);
}

TEST_CASE("excap triage and bench triage on the command line") {
  const auto& fx = test::triage_fixture();
  ScratchDir out("triage-cli");
  const std::string excap = test::built_binary("excap");
  std::string text;
  REQUIRE(test::run_command({excap, "triage", "--help"}, &text) == 0);
  CHECK(text.find("--min-gap") != std::string::npos);
  REQUIRE(
      test::run_command({excap, "triage", fx.video.string(), "--run", fx.run_dir.string(), "--fps",
                         "5", "--keep", "0.1", "--threads", "2", "--out", (out / "t").string()},
                        &text) == 0);
  INFO(text);
  CHECK(text.find("kept") != std::string::npos);
  const auto rows = read_csv(out / "t" / "frames.csv");
  CHECK(rows.size() == fx.truth_cd.size() / 2 + 1);  // 10 fps video at 5 fps: every other frame
  CHECK(fs::exists(out / "t" / "summary.json"));

  CHECK(test::run_command({excap, "triage", fx.video.string(), "--run",
                           (fx.root / "runs" / "missing").string(), "--out", (out / "u").string()},
                          &text) == 1);
  CHECK(text.find("no such run folder") != std::string::npos);

  // The benchmark prints frames/s, GFLOP/s and the conv peak (no Python peer here: it is a figure,
  // not a test).
  REQUIRE(
      test::run_command({excap, "bench", "triage", fx.video.string(), "--run", fx.run_dir.string(),
                         "--frames", "32", "--threads", "2", "--python", "", "--no-variants"},
                        &text) == 0);
  CHECK(text.find("frames/s") != std::string::npos);
  CHECK(text.find("GFLOP/s") != std::string::npos);
  CHECK(text.find("conv peak") != std::string::npos);
}

// Not a test: `excap_tests_triage -tc='bench triage*' --no-skip` prints the
// benchmark figures when the excap binary is not at hand. EXCAP_BENCH_BACKBONE
// (default resnet50) picks a run trained for 1 iteration on the fixture's
// pack (speed does not depend on the weights), benchmarked at 240x240.
TEST_CASE("bench triage figures (tiny fixture model and an MTCSN at 240x240)" * doctest::skip()) {
  const auto& fx = test::triage_fixture();
  const char* env = std::getenv("EXCAP_BENCH_BACKBONE");
  const std::string backbone = env ? env : "resnet50";
  const fs::path run = fx.root / "runs" / ("bench-" + backbone);
  if (!fs::exists(run / "checkpoints" / "latest.json")) {
    trainer::TrainConfig cfg =
        read_json_file(fx.run_dir / "config.json").get<trainer::TrainConfig>();
    cfg.run = "bench-" + backbone;
    cfg.model.backbone = backbone;
    cfg.model.cls_hidden = cfg.model.seg_channels = 0;
    cfg.iters = 1;
    cfg.val_interval = 1;
    trainer::train(fx.root, cfg);
    nlohmann::json j = read_json_file(run / "config.json");
    j["size"] = 240;
    write_json_atomic(run / "config.json", j);
  }
  for (const fs::path& r : {fx.run_dir, run}) {
    trainer::BenchTriageOptions b;
    b.triage = options_for(fx);
    b.triage.run_dir = r;
    b.frames = r == fx.run_dir ? 0 : 32;
    b.python = "/usr/bin/python3";
    b.python_script = fs::path(EXCAP_SOURCE_DIR) / "bench" / "peers" / "bench_triage_reference.py";
    const trainer::BenchTriageResult res = trainer::bench_triage(b);
    MESSAGE(trainer::format_bench_triage(res));
  }
}
