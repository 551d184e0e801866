#include "triage/batch.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string_view>

#include "common/error.h"
#include "common/sha256.h"
#include "store/project.h"

namespace excap::trainer {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::optional<int> whole_number(std::string_view s) { return parse_whole_number(s); }

// The launcher's ranks (common/launch.h) as a shard; nullopt when not launched.
std::optional<ShardSpec> shard_from_environment(const EnvLookup& env) {
  const std::optional<LaunchInfo> launch = launch_from_environment(env);
  if (!launch) return std::nullopt;
  ShardSpec s;
  s.index = launch->rank;
  s.count = launch->world_size;
  s.local_rank = launch->local_rank;
  s.source = launch->source;
  return s;
}

}  // namespace

ShardSpec parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  const std::string expect = "expected I/N with whole numbers 0 <= I < N (e.g. 0/4), got '";
  if (slash == std::string::npos) throw Error("--shard", expect + text + "'");
  const auto i = whole_number(std::string_view(text).substr(0, slash));
  const auto n = whole_number(std::string_view(text).substr(slash + 1));
  if (!i || !n) throw Error("--shard", expect + text + "'");
  if (*n < 1) throw Error("--shard", "'" + text + "': the shard count N must be at least 1");
  if (*i >= *n)
    throw Error("--shard", "'" + text + "': shard index " + std::to_string(*i) +
                               " is not below the count " + std::to_string(*n) +
                               " (shards are numbered 0 to N-1)");
  ShardSpec s;
  s.index = *i;
  s.count = *n;
  s.source = "--shard " + text;
  return s;
}

ShardSpec resolve_shard(const std::string& cli, const EnvLookup& env) {
  const std::optional<ShardSpec> launched = shard_from_environment(env);
  if (cli.empty()) return launched ? *launched : ShardSpec{};
  ShardSpec s = parse_shard(cli);
  if (launched && launched->count > 1 && (launched->index != s.index || launched->count != s.count))
    throw Error("--shard " + cli, "disagrees with the launch environment, " + launched->source +
                                      ": give one or the other");
  if (launched) s.local_rank = launched->local_rank;
  return s;
}

std::string shard_device(const std::string& requested, int local_rank, bool cuda_available,
                         int cuda_devices) {
  if (local_rank < 0 || !(requested == "auto" || requested == "cuda")) return requested;
  if (!cuda_available) {
    if (requested == "cuda") throw Error("--device cuda", "CUDA is not available");
    return requested;
  }
  if (local_rank >= cuda_devices)
    throw Error("LOCAL_RANK", std::to_string(local_rank) + " but only " +
                                  std::to_string(cuda_devices) +
                                  " CUDA device(s) are visible: one process per device");
  return "cuda:" + std::to_string(local_rank);
}

const std::vector<std::string>& video_extensions() {
  static const std::vector<std::string> ext = {".mp4", ".avi", ".mkv",  ".mov", ".mpg", ".mpeg",
                                               ".m4v", ".wmv", ".webm", ".flv", ".ts"};
  return ext;
}

bool is_list_file(const fs::path& p) {
  const std::string e = lower(p.extension().string());
  return e == ".txt" || e == ".lst" || e == ".list";
}

namespace {

bool is_video_name(const fs::path& p) {
  const auto& ext = video_extensions();
  return std::find(ext.begin(), ext.end(), lower(p.extension().string())) != ext.end();
}

// Adds one file or folder (not a list) to `out`.
void add_input(const fs::path& p, const std::string& named_in, std::vector<fs::path>& out) {
  std::error_code ec;
  const std::string where = named_in.empty() ? p.string() : p.string() + " (in " + named_in + ")";
  if (fs::is_directory(p, ec)) {
    const std::size_t before = out.size();
    for (const auto& e :
         fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec))
      if (e.is_regular_file(ec) && is_video_name(e.path())) out.push_back(e.path());
    if (out.size() == before)
      throw Error(where,
                  "folder holds no video file (searched recursively for .mp4, .avi, .mkv, "
                  ".mov, ...)");
  } else if (fs::is_regular_file(p, ec)) {
    out.push_back(p);
  } else {
    throw Error(where, "no such video file or folder");
  }
}

void add_list(const fs::path& list, std::vector<fs::path>& out) {
  std::ifstream in(list);
  if (!in) throw Error(list.string(), "cannot read the list of videos");
  std::string line;
  int entries = 0;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const auto e = line.find_last_not_of(" \t\r");
    fs::path p = line.substr(b, e - b + 1);
    if (p.is_relative()) p = list.parent_path() / p;  // as the list's author sees it
    add_input(p, list.string(), out);
    ++entries;
  }
  if (entries == 0) throw Error(list.string(), "the list of videos is empty");
}

}  // namespace

std::vector<fs::path> collect_videos(const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw Error("triage", "no video given");
  std::vector<fs::path> found;
  for (const auto& in : inputs) {
    const fs::path p = in;
    std::error_code ec;
    if (is_list_file(p) && fs::is_regular_file(p, ec))
      add_list(p, found);
    else
      add_input(p, "", found);
  }
  std::set<std::string> seen;
  std::vector<fs::path> unique;
  for (const auto& p : found) {
    fs::path a = fs::absolute(p).lexically_normal();
    if (seen.insert(a.string()).second) unique.push_back(a);
  }
  std::sort(unique.begin(), unique.end(),
            [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
  return unique;
}

std::vector<BatchVideo> plan_batch(const std::vector<fs::path>& sorted_videos, int count) {
  std::map<std::string, int> name_uses;
  for (const auto& p : sorted_videos) ++name_uses[p.filename().string()];
  std::vector<BatchVideo> plan;
  for (std::size_t i = 0; i < sorted_videos.size(); ++i) {
    BatchVideo v;
    v.path = sorted_videos[i];
    v.key = v.path.filename().string();
    if (name_uses[v.key] > 1) v.key += "-" + sha256_hex(v.path.string()).substr(0, 8);
    v.shard = static_cast<int>(i % static_cast<std::size_t>(std::max(1, count)));
    plan.push_back(v);
  }
  return plan;
}

nlohmann::json manifest_json(const std::vector<BatchVideo>& videos, int count) {
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < videos.size(); ++i)
    list.push_back({{"index", i},
                    {"path", videos[i].path.string()},
                    {"folder", "videos/" + videos[i].key},
                    {"shard", videos[i].shard}});
  return {{"format", "excap-triage-videos"},
          {"version", 1},
          {"shards", count},
          {"assignment", "video i of the list sorted by absolute path goes to shard i % shards"},
          {"videos", list}};
}

std::vector<BatchVideo> read_manifest(const fs::path& out_dir) {
  const fs::path file = out_dir / "videos.json";
  std::error_code ec;
  if (!fs::exists(file, ec))
    throw Error(file.string(),
                "no manifest: this folder was not written by a triage of many "
                "videos (run `excap triage VIDEOS... --out` first)");
  const nlohmann::json j = read_json_file(file);
  if (j.value("format", "") != "excap-triage-videos")
    throw Error(file.string(), "not a triage manifest (format is not excap-triage-videos)");
  std::vector<BatchVideo> v;
  for (const auto& e : j.at("videos")) {
    BatchVideo b;
    b.path = e.at("path").get<std::string>();
    b.key = fs::path(e.at("folder").get<std::string>()).filename().string();
    b.shard = e.at("shard").get<int>();
    v.push_back(b);
  }
  return v;
}

std::string incomplete_reason(const fs::path& video_dir, const fs::path& video,
                              const std::string& weights) {
  const fs::path file = video_dir / "summary.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) return "no summary.json";
  nlohmann::json s;
  try {
    s = read_json_file(file);
  } catch (const std::exception&) {
    return "summary.json is unreadable";
  }
  if (s.value("format", "") != "excap-triage-summary")
    return "summary.json is not a triage summary";
  if (!s.contains("video") || s["video"].value("path", "") != video.string())
    return "summary.json is for another video";
  auto norm = [](const std::string& w) { return fs::absolute(w).lexically_normal(); };
  const std::string written = s.value("weights", "");
  if (!weights.empty() && (written.empty() || norm(written) != norm(weights)))
    return "summary.json was written with other weights";
  if (s.value("interrupted", false)) return "the last triage was interrupted";
  return "";
}

nlohmann::json p_clear_stats(const std::vector<FrameScore>& frames) {
  std::vector<double> p;
  for (const auto& f : frames) p.push_back(f.p_clear);
  if (p.empty()) return {{"count", 0}};
  std::sort(p.begin(), p.end());
  // Linear interpolation between order statistics (numpy's default quantile).
  auto q = [&](double at) {
    const double pos = at * static_cast<double>(p.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, p.size() - 1);
    return p[lo] + (pos - static_cast<double>(lo)) * (p[hi] - p[lo]);
  };
  double sum = 0;
  long long clear = 0;
  for (double v : p) {
    sum += v;
    clear += v >= 0.5;
  }
  return {{"count", p.size()},
          {"mean", sum / static_cast<double>(p.size())},
          {"min", p.front()},
          {"q25", q(0.25)},
          {"median", q(0.5)},
          {"q75", q(0.75)},
          {"max", p.back()},
          {"share_at_least_half", static_cast<double>(clear) / static_cast<double>(p.size())}};
}

const char* status_name(VideoStatus s) {
  switch (s) {
    case VideoStatus::Triaged:
      return "triaged";
    case VideoStatus::Skipped:
      return "skipped";
    case VideoStatus::Failed:
      return "failed";
    case VideoStatus::Interrupted:
      return "interrupted";
    case VideoStatus::OtherShard:
      return "other shard";
  }
  return "?";
}

int BatchResult::count(VideoStatus s) const {
  return static_cast<int>(
      std::count_if(videos.begin(), videos.end(), [s](const auto& v) { return v.status == s; }));
}

}  // namespace excap::trainer
