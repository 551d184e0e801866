// Triage of many videos: shard specs, the input list, the assignment rule,
// resumption per video and the merged summary (triage/batch.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "store/project.h"
#include "support/test_video.h"
#include "test_support.h"
#include "triage/batch.h"
#include "triage_fixture.h"

// glog (pulled in by LibTorch) defines CHECK too; the assertions here are doctest's.
#undef CHECK
#define CHECK DOCTEST_CHECK

using namespace excap;
using excap::test::ScratchDir;
using trainer::ShardSpec;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

trainer::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Three short lossless test videos, named so that sorted order is a, b, c.
std::vector<fs::path> write_three_videos(const fs::path& dir) {
  test::TestVideoSpec spec;
  spec.frames = 12;
  std::vector<fs::path> v;
  for (const char* name : {"c.mkv", "a.mkv", "b.mkv"}) {
    v.push_back(dir / name);
    test::write_test_video(v.back(), spec);
  }
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("--shard I/N is parsed strictly and bad specs say why") {
  const ShardSpec s = trainer::parse_shard("1/3");
  CHECK(s.index == 1);
  CHECK(s.count == 3);
  CHECK(trainer::parse_shard("0/1").count == 1);
  CHECK(error_of([] { trainer::parse_shard("0/0"); }).find("at least 1") != std::string::npos);
  CHECK(error_of([] { trainer::parse_shard("3/2"); }).find("not below the count 2") !=
        std::string::npos);
  CHECK(error_of([] { trainer::parse_shard("2/2"); }).find("numbered 0 to N-1") !=
        std::string::npos);
  for (const char* bad :
       {"-1/4", "a/b", "1", "1/", "/2", "1/2/3", " 1/2", "+1/2", "1.0/2", "99999999999/2"}) {
    INFO(bad);
    const std::string e = error_of([&] { trainer::parse_shard(bad); });
    CHECK(e.find("--shard") != std::string::npos);
    CHECK(e.find("expected I/N") != std::string::npos);
  }
}

TEST_CASE("the shard comes from --shard, torchrun's or SLURM's environment, and they must agree") {
  using trainer::resolve_shard;
  ShardSpec s = resolve_shard("", env_of({}));
  CHECK((s.index == 0 && s.count == 1 && s.local_rank == -1));

  s = resolve_shard("", env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}}));
  CHECK((s.index == 1 && s.count == 2 && s.local_rank == 1));
  CHECK(s.source.find("torchrun") != std::string::npos);

  s = resolve_shard("",
                    env_of({{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "0"}}));
  CHECK((s.index == 2 && s.count == 4 && s.local_rank == 0));

  // torchrun under srun: torchrun's global rank wins over SLURM's per-node task.
  s = resolve_shard(
      "",
      env_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}));
  CHECK((s.index == 3 && s.count == 4));

  // A job-array task is a world of one: --shard decides.
  s = resolve_shard("3/8", env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}));
  CHECK((s.index == 3 && s.count == 8));
  // Agreeing with the launcher is fine; disagreeing is refused.
  s = resolve_shard("1/2", env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}}));
  CHECK(s.index == 1);
  std::string e = error_of([] {
    resolve_shard("0/2", env_of({{"RANK", "1"}, {"WORLD_SIZE", "2"}}));
  });
  CHECK(e.find("disagrees") != std::string::npos);
  CHECK(e.find("RANK=1") != std::string::npos);
  e = error_of([] {
    resolve_shard("1/3", env_of({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}));
  });
  CHECK(e.find("disagrees") != std::string::npos);

  e = error_of([] { resolve_shard("", env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})); });
  CHECK(e.find("RANK") != std::string::npos);
  CHECK(e.find("whole number") != std::string::npos);
  e = error_of([] { resolve_shard("", env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}})); });
  CHECK(e.find("not below") != std::string::npos);
  e = error_of([] { resolve_shard("", env_of({{"WORLD_SIZE", "2"}})); });
  CHECK(e.find("RANK is not set") != std::string::npos);
  e = error_of([] { resolve_shard("", env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "0"}})); });
  CHECK(e.find("at least 1") != std::string::npos);
}

TEST_CASE("each shard's device: cuda:LOCAL_RANK when CUDA is there, else as asked") {
  using trainer::shard_device;
  CHECK(shard_device("auto", 1, true, 2) == "cuda:1");
  CHECK(shard_device("cuda", 0, true, 2) == "cuda:0");
  CHECK(shard_device("auto", 1, false, 0) == "auto");
  CHECK(shard_device("cpu", 1, true, 2) == "cpu");
  CHECK(shard_device("cuda:0", 1, true, 2) == "cuda:0");  // an explicit device is kept
  CHECK(shard_device("auto", -1, true, 2) == "auto");
  CHECK(error_of([] { shard_device("auto", 2, true, 2); }).find("2 CUDA device") !=
        std::string::npos);
  CHECK(error_of([] { shard_device("cuda", 0, false, 0); }).find("not available") !=
        std::string::npos);
}

TEST_CASE("videos come from files, folders (recursively) and list files, sorted and deduplicated") {
  ScratchDir tmp("triage-list");
  fs::create_directories(tmp / "studies" / "p2");
  for (const char* f : {"studies/p1.mp4", "studies/p2/v.AVI", "studies/p2/notes.txt", "x.mkv"})
    atomic_write(tmp / f, std::string("not decoded here"));
  atomic_write(tmp / "list.txt", "# studies of the week\nx.mkv\n\n  studies/p1.mp4  \n");

  const auto v = trainer::collect_videos(
      {(tmp / "studies").string(), (tmp / "list.txt").string(), (tmp / "x.mkv").string()});
  REQUIRE(v.size() == 3);  // p1.mp4 and x.mkv named twice, notes.txt not a video
  CHECK(v[0] == tmp.path() / "studies" / "p1.mp4");
  CHECK(v[1] == tmp.path() / "studies" / "p2" / "v.AVI");
  CHECK(v[2] == tmp.path() / "x.mkv");
  for (const auto& p : v) CHECK(p.is_absolute());

  CHECK(error_of([&] {
          trainer::collect_videos({(tmp / "gone.mp4").string()});
        }).find("no such video file or folder") != std::string::npos);
  fs::create_directories(tmp / "empty");
  CHECK(error_of([&] {
          trainer::collect_videos({(tmp / "empty").string()});
        }).find("holds no video") != std::string::npos);
  atomic_write(tmp / "bad.list", "missing.mp4\n");
  const std::string e = error_of([&] { trainer::collect_videos({(tmp / "bad.list").string()}); });
  CHECK(e.find("missing.mp4") != std::string::npos);
  CHECK(e.find("bad.list") != std::string::npos);
}

TEST_CASE("shard i owns the videos whose sorted index modulo n is i, same names get a hash") {
  const std::vector<fs::path> sorted = {"/d/a/v.mp4", "/d/b/v.mp4", "/d/c.mp4", "/d/e.mp4",
                                        "/d/f.mp4"};
  const auto plan = trainer::plan_batch(sorted, 2);
  REQUIRE(plan.size() == 5);
  for (std::size_t i = 0; i < plan.size(); ++i) CHECK(plan[i].shard == static_cast<int>(i % 2));
  CHECK(plan[0].key != plan[1].key);
  CHECK(plan[0].key.rfind("v.mp4-", 0) == 0);
  CHECK(plan[0].key.size() == std::string("v.mp4-").size() + 8);
  CHECK(plan[2].key == "c.mp4");
  // Every video exactly once over the shards, for any count.
  for (int n = 1; n <= 6; ++n) {
    std::map<std::string, int> owners;
    for (const auto& v : trainer::plan_batch(sorted, n)) {
      CHECK((v.shard >= 0 && v.shard < n));
      ++owners[v.path.string()];
    }
    CHECK(owners.size() == sorted.size());
  }
}

TEST_CASE("p(clear) statistics of a video") {
  std::vector<trainer::FrameScore> f(5);
  const double p[] = {0.9, 0.1, 0.5, 0.3, 0.7};
  for (int i = 0; i < 5; ++i) f[i].p_clear = p[i];
  const nlohmann::json s = trainer::p_clear_stats(f);
  CHECK(s["count"] == 5);
  CHECK(s["mean"].get<double>() == doctest::Approx(0.5));
  CHECK(s["min"].get<double>() == doctest::Approx(0.1));
  CHECK(s["max"].get<double>() == doctest::Approx(0.9));
  CHECK(s["median"].get<double>() == doctest::Approx(0.5));
  CHECK(s["q25"].get<double>() == doctest::Approx(0.3));
  CHECK(s["share_at_least_half"].get<double>() == doctest::Approx(0.6));
  CHECK(trainer::p_clear_stats({})["count"] == 0);
}

TEST_CASE("an interrupted video of a batch is not complete and is redone, no merge before") {
  const auto& fx = test::triage_fixture();
  ScratchDir tmp("triage-batch-int");
  fs::create_directories(tmp / "in");
  const auto videos = write_three_videos(tmp / "in");
  trainer::BatchOptions b;
  b.inputs = {(tmp / "in").string()};
  b.out = tmp / "out";
  b.shard = trainer::parse_shard("0/2");
  b.triage.run_dir = fx.run_dir;
  b.triage.device = "cpu";
  b.triage.threads = 2;
  std::atomic<bool> cancel{true};  // as Ctrl-C before the first frame
  b.triage.cancel = &cancel;
  trainer::BatchResult r = trainer::run_batch(b);
  CHECK(r.interrupted);
  CHECK_FALSE(r.merged);
  REQUIRE(r.videos.size() == 3);
  CHECK(r.videos[0].status == trainer::VideoStatus::Interrupted);
  CHECK(r.videos[1].status == trainer::VideoStatus::OtherShard);
  CHECK_FALSE(fs::exists(tmp / "out" / "videos" / "a.mkv" / "summary.json"));
  CHECK_FALSE(fs::exists(tmp / "out" / "summary.json"));

  // What a triage stopped mid-video leaves: a summary marked interrupted.
  trainer::TriageOptions t = b.triage;
  t.video = videos[0];
  trainer::write_triage_outputs(trainer::run_triage(t), tmp / "out" / "videos" / "a.mkv");
  CHECK(read_json_file(tmp / "out" / "videos" / "a.mkv" / "summary.json")["interrupted"] == true);
  CHECK(trainer::incomplete_reason(tmp / "out" / "videos" / "a.mkv", videos[0]) ==
        "the last triage was interrupted");

  cancel = false;
  r = trainer::run_batch(b);
  CHECK_FALSE(r.interrupted);
  CHECK(r.videos[0].status == trainer::VideoStatus::Triaged);
  CHECK(r.videos[0].message == "the last triage was interrupted");
  CHECK(r.videos[2].status == trainer::VideoStatus::Triaged);
  CHECK(r.missing == std::vector<std::string>{"b.mkv"});  // shard 1's video
  CHECK_FALSE(r.merged);
  const std::string e =
      error_of([&] { trainer::merge_summaries(b.out, trainer::read_manifest(b.out)); });
  CHECK(e.find("1 of 3 videos are not complete: b.mkv (no summary.json)") != std::string::npos);
}

namespace {

struct CliRun {
  int status = 0;
  std::string text;
};

CliRun excap_triage(std::vector<std::string> args,
                    const std::vector<std::pair<std::string, std::string>>& env = {}) {
  args.insert(args.begin(), {test::built_binary("excap"), "triage"});
  CliRun r;
  r.status = test::run_command(args, &r.text, env);
  return r;
}

bool has(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// The merged summary is the union of the per-video summaries; returns the kept total.
long long check_merged_is_union(const fs::path& out, const std::vector<fs::path>& videos) {
  const nlohmann::json m = read_json_file(out / "summary.json");
  CHECK(m["format"] == "excap-triage-merged");
  CHECK(m["shards"] == 2);
  REQUIRE(m["videos"].size() == 3);
  long long kept = 0, processed = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const nlohmann::json& e = m["videos"][i];
    const nlohmann::json s = read_json_file(out / e["folder"].get<std::string>() / "summary.json");
    CHECK(e["path"] == videos[i].string());
    CHECK(s["video"]["path"] == videos[i].string());
    CHECK(e["shard"] == static_cast<int>(i % 2));
    CHECK(e["kept"] == s["selection"]["kept"]);
    CHECK(e["frames_processed"] == s["frames"]["processed"]);
    CHECK(e["frames_processed"].get<long long>() > 0);
    CHECK(e["p_clear"] == s["p_clear"]);
    CHECK(e["p_clear"]["count"] == e["frames_processed"]);
    CHECK(e["timing"]["wall_s"] == s["performance"]["wall_s"]);
    kept += e["kept"].get<long long>();
    processed += e["frames_processed"].get<long long>();
  }
  CHECK(m["totals"]["videos"] == 3);
  CHECK(m["totals"]["kept"] == kept);
  CHECK(m["totals"]["frames_processed"] == processed);
  CHECK(m["totals"]["p_clear"]["count"] == processed);

  return kept;
}

}  // namespace

TEST_CASE("excap triage over 3 videos as 2 shards: each once, resumable, merged as the union") {
  const auto& fx = test::triage_fixture();
  ScratchDir tmp("triage-batch-cli");
  fs::create_directories(tmp / "in");
  const auto videos = write_three_videos(tmp / "in");
  const fs::path out = tmp / "out";
  const std::vector<std::string> base = {
      (tmp / "in").string(), "--run", fx.run_dir.string(), "--device", "cpu",
      "--threads",           "2",     "--quiet",           "--out",    out.string()};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), base.begin(), base.end());
    return extra;
  };
  const fs::path vdir = out / "videos";

  CliRun r = excap_triage(with({"--shard", "0/2"}));
  INFO(r.text);
  REQUIRE(r.status == 0);
  CHECK(has(r.text, "triage a.mkv (no summary.json)"));
  CHECK(has(r.text, "triage c.mkv (no summary.json)"));
  CHECK_FALSE(has(r.text, "b.mkv ("));
  CHECK(fs::exists(vdir / "a.mkv" / "summary.json"));
  CHECK_FALSE(fs::exists(vdir / "b.mkv"));
  CHECK_FALSE(fs::exists(out / "summary.json"));  // shard 1 has not run
  const nlohmann::json manifest = read_json_file(out / "videos.json");
  CHECK(manifest["shards"] == 2);
  CHECK(manifest["videos"][1]["path"] == videos[1].string());
  CHECK(manifest["videos"][1]["shard"] == 1);

  // The second shard from torchrun's environment; it completes the set and merges.
  r = excap_triage(base, {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}});
  INFO(r.text);
  REQUIRE(r.status == 0);
  CHECK(has(r.text, "triage b.mkv (no summary.json)"));
  CHECK_FALSE(has(r.text, "a.mkv"));
  REQUIRE(fs::exists(out / "summary.json"));

  // A rerun of shard 1 skips its complete video and leaves its files alone.
  const auto b_time = fs::last_write_time(vdir / "b.mkv" / "frames.csv");
  r = excap_triage(with({"--shard", "1/2"}));
  INFO(r.text);
  REQUIRE(r.status == 0);
  CHECK(has(r.text, "skip b.mkv: complete"));
  CHECK(has(r.text, "triaged 0, skipped 1"));
  CHECK(fs::last_write_time(vdir / "b.mkv" / "frames.csv") == b_time);

  // A video killed before its summary landed is redone; its shard's other video is not.
  const auto c_time = fs::last_write_time(vdir / "c.mkv" / "frames.csv");
  fs::remove(vdir / "a.mkv" / "summary.json");
  atomic_write(vdir / "a.mkv" / "frames.csv", "frame,time_s\n0,");
  r = excap_triage(with({"--shard", "0/2"}));
  INFO(r.text);
  REQUIRE(r.status == 0);
  CHECK(has(r.text, "triage a.mkv (no summary.json)"));
  CHECK(has(r.text, "skip c.mkv: complete"));
  CHECK(fs::last_write_time(vdir / "c.mkv" / "frames.csv") == c_time);
  CHECK(fs::file_size(vdir / "a.mkv" / "frames.csv") > 100);

  const long long kept = check_merged_is_union(out, videos);

  // --merge rewrites it from the manifest alone.
  fs::remove(out / "summary.json");
  r = excap_triage({"--merge", "--out", out.string()});
  INFO(r.text);
  CHECK(r.status == 0);
  CHECK(read_json_file(out / "summary.json")["totals"]["kept"] == kept);
}

TEST_CASE("excap triage refuses bad shard specs and a --shard that disagrees with the launcher") {
  const auto& fx = test::triage_fixture();
  ScratchDir tmp("triage-batch-bad");
  const std::vector<std::string> base = {fx.video.string(), "--run", fx.run_dir.string(), "--out",
                                         (tmp / "out").string()};
  for (const char* bad : {"0/0", "3/2", "-1/4", "one/two"}) {
    std::vector<std::string> args = base;
    args.push_back(std::string("--shard=") + bad);
    const CliRun r = excap_triage(args);
    INFO(bad << ": " << r.text);
    CHECK(r.status != 0);
    CHECK(has(r.text, "--shard"));
  }
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--shard", "0/2"});
  CliRun r = excap_triage(args, {{"RANK", "1"}, {"WORLD_SIZE", "2"}});
  INFO(r.text);
  CHECK(r.status == 1);
  CHECK(has(r.text, "disagrees with the launch environment"));
  r = excap_triage(base, {{"SLURM_PROCID", "zero"}, {"SLURM_NTASKS", "2"}});
  CHECK(r.status == 1);
  CHECK(has(r.text, "SLURM_PROCID"));
  CHECK_FALSE(fs::exists(tmp / "out"));
  r = excap_triage({"--merge", "--out", (tmp / "nothing").string()});
  CHECK(r.status == 1);
  CHECK(has(r.text, "no manifest"));
}
