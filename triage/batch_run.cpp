// run_batch and the merged summary (triage/batch.h).
#include <algorithm>
#include <set>

#include <torch/cuda.h>

#include "common/error.h"
#include "store/project.h"
#include "triage/batch.h"

namespace excap::trainer {

namespace {

void say(const BatchOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

std::string shard_tag(const ShardSpec& s) {
  return "[shard " + std::to_string(s.index) + "/" + std::to_string(s.count) + "] ";
}

// Triages one video into its folder; the status says how it went.
BatchVideoResult triage_one(const BatchOptions& o, const BatchVideo& v, const std::string& why) {
  BatchVideoResult res;
  res.video = v;
  res.message = why;
  const fs::path dir = o.out / "videos" / v.key;
  std::error_code ec;
  fs::remove(dir / "summary.json", ec);  // a redo is incomplete until its own summary lands
  say(o, shard_tag(o.shard) + "triage " + v.key + " (" + why + ")");
  try {
    TriageOptions t = o.triage;
    t.video = v.path;
    TriageModel model = load_triage_model(t.run_dir, t.checkpoint);  // fresh: fp16 converts it
    const TriageResult r = run_triage(t, model);
    write_triage_outputs(r, dir);
    res.processed = r.processed;
    res.kept = r.kept;
    res.wall_s = r.wall_s;
    res.status = r.interrupted ? VideoStatus::Interrupted : VideoStatus::Triaged;
    say(o, shard_tag(o.shard) + (r.interrupted ? "interrupted " : "done ") + v.key + ": " +
               std::to_string(r.processed) + " frames, " + std::to_string(r.kept) + " kept");
  } catch (const std::exception& e) {  // one bad video must not stop the others
    res.status = VideoStatus::Failed;
    res.message = e.what();
    say(o, shard_tag(o.shard) + "failed " + v.key + ": " + e.what());
  }
  return res;
}

// The weights file the run's checkpoint resolves to (loading checks the run before any video).
std::string weights_of(const TriageOptions& t) {
  const TriageModel m = load_triage_model(t.run_dir, t.checkpoint);
  return m.weights.string();
}

}  // namespace

BatchResult run_batch(const BatchOptions& options) {
  BatchOptions o = options;
  const std::vector<BatchVideo> plan = plan_batch(collect_videos(o.inputs), o.shard.count);
  ensure_dir(o.out);
  write_json_atomic(o.out / "videos.json", manifest_json(plan, o.shard.count));
  o.triage.device = shard_device(o.triage.device, o.shard.local_rank, torch::cuda::is_available(),
                                 static_cast<int>(torch::cuda::device_count()));
  const bool mine_any = std::any_of(plan.begin(), plan.end(),
                                    [&](const BatchVideo& v) { return v.shard == o.shard.index; });
  const std::string weights = mine_any ? weights_of(o.triage) : "";
  say(o, shard_tag(o.shard) + std::to_string(plan.size()) + " videos in all (" + o.shard.source +
             "), device " + o.triage.device);

  BatchResult result;
  for (const BatchVideo& v : plan) {
    BatchVideoResult res;
    res.video = v;
    const bool cancelled = o.triage.cancel && o.triage.cancel->load();
    if (v.shard == o.shard.index && !result.interrupted && !cancelled) {
      const std::string why = incomplete_reason(o.out / "videos" / v.key, v.path, weights);
      if (why.empty()) {
        res.status = VideoStatus::Skipped;
        say(o, shard_tag(o.shard) + "skip " + v.key + ": complete");
      } else {
        res = triage_one(o, v, why);
      }
    } else if (v.shard == o.shard.index) {
      res.status = VideoStatus::Interrupted;
    }
    result.interrupted = result.interrupted || res.status == VideoStatus::Interrupted;
    result.videos.push_back(res);
  }
  if (result.interrupted) return result;
  for (const BatchVideo& v : plan)
    if (!incomplete_reason(o.out / "videos" / v.key, v.path).empty())
      result.missing.push_back(v.key);
  if (result.missing.empty()) {
    write_merged_summary(o.out, plan);
    result.merged = true;
    say(o,
        shard_tag(o.shard) + "every video is complete: wrote " + (o.out / "summary.json").string());
  } else {
    say(o, shard_tag(o.shard) + std::to_string(result.missing.size()) +
               " video(s) not complete yet; the last shard to finish writes summary.json");
  }
  return result;
}

namespace {

nlohmann::json video_entry(const BatchVideo& v, const nlohmann::json& s) {
  const nlohmann::json& perf = s.at("performance");
  return {{"path", v.path.string()},
          {"folder", "videos/" + v.key},
          {"shard", v.shard},
          {"frames_planned", s.at("frames").at("planned")},
          {"frames_processed", s.at("frames").at("processed")},
          {"predicted_cd", s.at("frames").at("predicted_cd")},
          {"kept", s.at("selection").at("kept")},
          {"quota", s.at("selection").at("quota")},
          {"truncated", s.value("truncated", false)},
          {"warnings", s.value("warnings", nlohmann::json::array())},
          {"p_clear", s.value("p_clear", nlohmann::json{{"count", 0}})},
          {"timing",
           {{"device", perf.at("device")},
            {"setup_s", perf.at("setup_s")},
            {"wall_s", perf.at("wall_s")},
            {"frames_per_s", perf.at("frames_per_s")},
            {"decode_busy_s", perf.at("decode_busy_s")},
            {"inference_s", perf.at("inference_s")}}}};
}

// Sums and frame-weighted p(clear) over the video entries.
nlohmann::json totals(const nlohmann::json& videos) {
  long long planned = 0, processed = 0, kept = 0, pc_count = 0;
  double wall = 0, setup = 0, pc_sum = 0, pc_half = 0, pc_min = 1, pc_max = 0;
  for (const auto& v : videos) {
    planned += v["frames_planned"].get<long long>();
    processed += v["frames_processed"].get<long long>();
    kept += v["kept"].get<long long>();
    wall += v["timing"]["wall_s"].get<double>();
    setup += v["timing"]["setup_s"].get<double>();
    const auto& pc = v["p_clear"];
    const long long n = pc.value("count", 0LL);
    if (n == 0) continue;
    pc_count += n;
    pc_sum += pc["mean"].get<double>() * static_cast<double>(n);
    pc_half += pc["share_at_least_half"].get<double>() * static_cast<double>(n);
    pc_min = std::min(pc_min, pc["min"].get<double>());
    pc_max = std::max(pc_max, pc["max"].get<double>());
  }
  nlohmann::json p = {{"count", pc_count}};
  if (pc_count > 0)
    p.update({{"mean", pc_sum / static_cast<double>(pc_count)},
              {"min", pc_min},
              {"max", pc_max},
              {"share_at_least_half", pc_half / static_cast<double>(pc_count)}});
  return {{"videos", videos.size()},
          {"frames_planned", planned},
          {"frames_processed", processed},
          {"kept", kept},
          {"p_clear", p},
          {"wall_s", wall},
          {"setup_s", setup},
          {"frames_per_s", wall > 0 ? static_cast<double>(processed) / wall : 0.0}};
}

}  // namespace

nlohmann::json merge_summaries(const fs::path& out_dir, const std::vector<BatchVideo>& videos) {
  std::vector<std::string> missing;
  for (const auto& v : videos) {
    const std::string why = incomplete_reason(out_dir / "videos" / v.key, v.path);
    if (!why.empty()) missing.push_back(v.key + " (" + why + ")");
  }
  if (!missing.empty()) {
    std::string list;
    for (std::size_t i = 0; i < missing.size() && i < 10; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 10) list += ", ...";
    throw Error(out_dir.string(), std::to_string(missing.size()) + " of " +
                                      std::to_string(videos.size()) + " videos are not complete: " +
                                      list + "; run their shards (completed videos are skipped)");
  }
  nlohmann::json entries = nlohmann::json::array();
  std::set<std::string> runs, weights;
  for (const auto& v : videos) {
    const nlohmann::json s = read_json_file(out_dir / "videos" / v.key / "summary.json");
    entries.push_back(video_entry(v, s));
    runs.insert(s.value("run", ""));
    weights.insert(s.value("weights", ""));
  }
  int shards = 0;  // the manifest's count; else the highest shard seen
  for (const auto& v : videos) shards = std::max(shards, v.shard + 1);
  std::error_code ec;
  if (fs::exists(out_dir / "videos.json", ec))
    shards = read_json_file(out_dir / "videos.json").value("shards", shards);
  return {{"format", "excap-triage-merged"},
          {"version", 1},
          {"created", now_iso8601()},
          {"runs", runs},
          {"weights", weights},
          {"shards", shards},
          {"totals", totals(entries)},
          {"videos", entries}};
}

fs::path write_merged_summary(const fs::path& out_dir, const std::vector<BatchVideo>& videos) {
  const fs::path file = out_dir / "summary.json";
  write_json_atomic(file, merge_summaries(out_dir, videos));
  return file;
}

}  // namespace excap::trainer
