// Stage I import and clips: probing, pseudonyms (the name stored nowhere),
// refusals, relinking by sha256, clip times, overlaps and the video's end.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/sha256.h"
#include "media/imageio.h"
#include "stage1/stage1.h"
#include "support/test_video.h"
#include "test_support.h"

using namespace excap;
using excap::test::ScratchDir;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Every file below `dir` whose bytes contain `needle` (case-insensitive).
std::vector<std::string> files_containing(const fs::path& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    if (lower(read_file(e.path())).find(lower(needle)) != std::string::npos)
      hits.push_back(e.path().string());
  }
  return hits;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Frames extracted every 10th source frame of the one clip [0, 20).
std::vector<cv::Mat> extract_two(const Project& p) {
  ExtractOptions o;
  o.every_n = 10;
  o.dedupe = 0;
  REQUIRE(extract_frames(p, o).written == 2);
  std::vector<cv::Mat> out;
  for (const auto& f : p.load_frames()) out.push_back(read_frame(p.root() / f.file));
  return out;
}

// Pixels lit (grey > 0) outside a circle.
int lit_outside(const cv::Mat& bgr, double cx, double cy, double r) {
  FieldOfView c;
  c.cx = cx, c.cy = cy, c.r = r;
  cv::Mat grey;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  return cv::countNonZero(grey & ~c.mask(grey.size()));
}

// The built `excap` run on a scratch folder holding a 60-frame test video;
// built() is false (and says so) when the binary is missing.
struct CliSession {
  explicit CliSession(const std::string& name) : tmp(name) {
    video = tmp / "exam.mkv";
    dir = (tmp / "proj").string();
    if (built()) test::write_test_video(video, {60, 10});
  }
  bool built() const {
    if (fs::exists(excap)) return true;
    MESSAGE("[skip] " << excap << " is not built");
    return false;
  }
  int run(std::vector<std::string> args) {
    args.insert(args.begin(), excap);
    return test::run_command(args, &out);
  }
  std::string excap = test::built_binary("excap");
  ScratchDir tmp;
  fs::path video;
  std::string dir;
  std::string out;
};

}  // namespace

TEST_CASE("import detects the field of view once and keeps it in videos.json") {
  ScratchDir tmp("stage1-import-fov");
  const fs::path video = tmp / "exam.mkv";
  test::write_test_video(video, {20, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  const Video v = import_video(p, video, "Pat One", "u");
  // The test disc: centre (80, 80), radius 72, shrunk by detect_fov's margin.
  REQUIRE(v.fov);
  CHECK(v.fov->kind == "circle");
  CHECK(v.fov->cx == doctest::Approx(80).epsilon(0.02));
  CHECK(v.fov->cy == doctest::Approx(80).epsilon(0.02));
  CHECK(v.fov->r > 64);
  CHECK(v.fov->r < 72);
  const auto stored = p.load_videos().at(0).fov;
  REQUIRE(stored);
  CHECK(stored->r == v.fov->r);
  const FieldOfView used = video_fov(p, p.load_videos().at(0));
  CHECK(used.kind == FieldOfView::Circle);
  CHECK(used.r == v.fov->r);
}

TEST_CASE("extraction reads the stored field of view instead of detecting it again") {
  ScratchDir tmp("stage1-stored-fov");
  const fs::path video = tmp / "exam.mkv";
  test::write_test_video(video, {20, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  import_video(p, video, "Pat One", "u");
  add_clip(p, "v001", 0, 20, "u", "");
  // A smaller circle than the disc: detection would never give it.
  std::vector<Video> videos = p.load_videos();
  videos[0].fov = StoredFov{"circle", 80, 80, 30, {}};
  p.save_videos(videos);
  const auto frames = extract_two(p);
  for (const auto& f : frames) {
    CHECK(lit_outside(f, 80, 80, 30) == 0);
    CHECK(lit_outside(f, 80, 80, 1) > 0);  // the tissue inside is kept
  }
  // The project's manual override still wins over the stored one.
  p.mutable_meta().extraction.fov = FovOverride{"circle", 80, 80, 20, {}};
  CHECK(video_fov(p, videos[0]).r == 20);
  // An unsound stored one is refused, naming videos.json and the video.
  videos[0].fov->r = -1;
  p.mutable_meta().extraction.fov = FovOverride{};
  const std::string why = error_of([&] { video_fov(p, videos[0]); });
  CHECK(why.find("videos.json") != std::string::npos);
  CHECK(why.find("v001") != std::string::npos);
  CHECK(why.find("radius") != std::string::npos);
}

TEST_CASE("a videos.json from before the stored field of view still extracts") {
  ScratchDir tmp("stage1-old-videos");
  const fs::path video = tmp / "exam.mkv";
  test::write_test_video(video, {20, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  const Video v = import_video(p, video, "Pat One", "u");
  REQUIRE(v.fov);
  add_clip(p, v.id, 0, 20, "u", "");
  auto j = read_json_file(p.root() / "videos.json");
  j["videos"][0].erase("fov");
  write_json_atomic(p.root() / "videos.json", j);
  Project old = Project::open(p.root());
  REQUIRE_FALSE(old.load_videos().at(0).fov);
  // Detected again, the same disc: the corner overlay is blanked, the tissue kept.
  CHECK(video_fov(old, old.load_videos().at(0)).r == v.fov->r);
  for (const auto& f : extract_two(old)) {
    CHECK(lit_outside(f, v.fov->cx, v.fov->cy, v.fov->r) == 0);
    CHECK(lit_outside(f, 80, 80, 30) > 0);
  }
}

TEST_CASE("import probes the video, fingerprints it and stores only a pseudonym") {
  ScratchDir tmp("stage1-import");
  const fs::path video = tmp / "exam.mkv";
  test::write_test_video(video, {40, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  const std::string name = "Jane Quentina Doe-Smithers";
  const Video v = import_video(p, video, name, "alice");
  CHECK(v.id == "v001");
  CHECK(v.fps == doctest::Approx(10));
  CHECK(v.frames == 40);
  CHECK(v.width == test::kVideoSize);
  CHECK(v.height == test::kVideoSize);
  CHECK(v.codec == "FFV1");
  CHECK(v.duration_s == doctest::Approx(4.0));
  CHECK(v.sha256 == sha256_file(video));
  CHECK(v.patient.rfind("p-", 0) == 0);
  CHECK(v.patient.size() == 18);
  // Same person, differently typed: same pseudonym; other name: another one.
  CHECK(patient_pseudonym(p, "  jane quentina   DOE-SMITHERS ") == v.patient);
  CHECK(patient_pseudonym(p, "John Doe") != v.patient);
  // A different project (another secret) gives another pseudonym.
  Project q = Project::create(tmp / "proj2", cecd_schema());
  CHECK(patient_pseudonym(q, name) != v.patient);

  // Clips and frames carry the pseudonym too; the name is in no file at all.
  add_clip(p, v.id, 0, 40, "alice", "whole");
  ExtractOptions o;
  o.every_n = 10;
  CHECK(extract_frames(p, o).written == 4);
  for (const std::string& part : {name, std::string("Quentina"), std::string("Smithers")})
    CHECK_MESSAGE(files_containing(p.root(), part).empty(), "'" << part << "' leaked");
  // The source path lives in local.json only.
  CHECK(files_containing(p.root(), "exam.mkv") ==
        std::vector<std::string>{(p.root() / "local.json").string()});
  CHECK(p.load_videos().at(0).patient == v.patient);
}

TEST_CASE("import refuses a duplicate and an undecodable file, with the reason") {
  ScratchDir tmp("stage1-refuse");
  const fs::path video = tmp / "a.mkv";
  test::write_test_video(video, {20, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  import_video(p, video, "Pat One", "u");
  fs::copy_file(video, tmp / "copy.mkv");
  const std::string dup = error_of([&] { import_video(p, tmp / "copy.mkv", "Pat One", "u"); });
  CHECK(dup.find("already imported as video v001") != std::string::npos);

  {
    std::ofstream junk(tmp / "junk.mp4", std::ios::binary);
    for (int i = 0; i < 5000; ++i) junk.put(static_cast<char>((i * 7919) & 0xff));
  }
  const std::string bad = error_of([&] { import_video(p, tmp / "junk.mp4", "Pat Two", "u"); });
  CHECK(bad.find("junk.mp4") != std::string::npos);
  CHECK(bad.find("cannot") != std::string::npos);
  { std::ofstream empty(tmp / "empty.avi"); }
  CHECK(error_of([&] { import_video(p, tmp / "empty.avi", "Pat Two", "u"); }).find("empty") !=
        std::string::npos);
  CHECK(error_of([&] { import_video(p, tmp / "missing.avi", "Pat Two", "u"); }).find("not found") !=
        std::string::npos);
  CHECK(error_of([&] { import_video(p, video, "   ", "u"); }).find("empty") != std::string::npos);
  CHECK(p.load_videos().size() == 1);
}

TEST_CASE("relink finds a moved video by its sha256") {
  ScratchDir tmp("stage1-relink");
  const fs::path video = tmp / "a.mkv";
  test::write_test_video(video, {20, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  const Video v = import_video(p, video, "Pat", "u");
  CHECK(video_source(p, v.id) == fs::weakly_canonical(video));
  fs::create_directories(tmp / "moved" / "deep");
  fs::rename(video, tmp / "moved" / "deep" / "renamed.mkv");
  CHECK(error_of([&] { video_source(p, v.id); }).find("excap relink") != std::string::npos);
  const auto found = relink_folder(p, tmp / "moved", "u");
  REQUIRE(found.size() == 1);
  CHECK(found[0].first == v.id);
  CHECK(fs::exists(video_source(p, v.id)));
  fs::rename(tmp / "moved" / "deep" / "renamed.mkv", tmp / "back.mkv");
  CHECK(relink_video(p, tmp / "back.mkv", "u") == v.id);
  CHECK(video_source(p, v.id) == fs::weakly_canonical(tmp / "back.mkv"));
  test::write_test_video(tmp / "other.mkv", {5, 10});
  CHECK(error_of([&] { relink_video(p, tmp / "other.mkv", "u"); }).find("matches no imported") !=
        std::string::npos);
}

TEST_CASE("clip positions: hh:mm:ss.mmm and frame numbers") {
  CHECK(parse_frame_position("120", 25) == 120);
  CHECK(parse_frame_position("00:00:01.500", 10) == 15);
  CHECK(parse_frame_position("01:02", 10) == 620);
  CHECK(parse_frame_position("1:00:00.000", 30) == 108000);
  CHECK(parse_frame_position("2.5", 4) == 10);
  CHECK(parse_frame_position("00:00:00.1", 30) == 3);
  for (const char* bad : {"", "abc", "1:xx", "1::2", "1:2:3:4", "-5", "1.2.3", "."})
    CHECK_THROWS_AS(parse_frame_position(bad, 10), Error);
  CHECK(format_time(3723.456) == "01:02:03.456");
  CHECK(format_time(0) == "00:00:00.000");
}

TEST_CASE("clips: overlap refused (naming the clip) or merged, past the end refused") {
  ScratchDir tmp("stage1-clips");
  test::write_test_video(tmp / "a.mkv", {60, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  const Video v = import_video(p, tmp / "a.mkv", "Pat", "u");
  const Clip a = add_clip(p, v.id, 0, 20, "ann", "first");
  CHECK(a.id == "v001-c1");
  const Clip b = add_clip(p, v.id, 20, 30, "ann", "touching is fine");
  CHECK(b.id == "v001-c2");
  const std::string overlap = error_of([&] { add_clip(p, v.id, 25, 40, "ann", ""); });
  CHECK(overlap.find("overlaps clip v001-c2") != std::string::npos);
  CHECK(overlap.find("--merge") != std::string::npos);
  CHECK(error_of([&] { add_clip(p, v.id, 50, 61, "ann", ""); }).find("past the end") !=
        std::string::npos);
  CHECK(error_of([&] { add_clip(p, v.id, 40, 40, "ann", ""); }).find("empty") != std::string::npos);
  CHECK_THROWS_AS(add_clip(p, "v999", 0, 5, "ann", ""), Error);
  CHECK(p.load_clips().size() == 2);

  // Extract from c1 and c2, then merge a clip spanning both: frames follow the kept id.
  ExtractOptions o;
  o.every_n = 5;
  CHECK(extract_frames(p, o).written == 6);
  const AddClipResult m = add_clip_ex(p, v.id, 15, 45, "ann", "merged", true);
  CHECK(m.clip.id == "v001-c1");
  CHECK(m.clip.start == 0);
  CHECK(m.clip.end == 45);
  CHECK(m.merged == std::vector<std::string>{"v001-c1", "v001-c2"});
  const auto clips = p.load_clips();
  REQUIRE(clips.size() == 1);
  for (const auto& f : p.load_frames()) CHECK(f.clip == "v001-c1");

  // Removing a clip with frames needs --drop-frames, which removes them too.
  CHECK(error_of([&] { remove_clip(p, "v001-c1", false, "ann"); }).find("--drop-frames") !=
        std::string::npos);
  remove_clip(p, "v001-c1", true, "ann");
  CHECK(p.load_clips().empty());
  CHECK(p.load_frames().empty());
  CHECK(fs::is_empty(p.root() / "frames"));
}

TEST_CASE("excap import / clips / extract / relink from the command line") {
  CliSession cli("stage1-cli");
  if (!cli.built()) return;
  ScratchDir& tmp = cli.tmp;
  const fs::path& video = cli.video;
  const std::string& dir = cli.dir;
  std::string& out = cli.out;
  auto run = [&](std::vector<std::string> args) { return cli.run(std::move(args)); };
  REQUIRE(run({"init", dir}) == 0);
  REQUIRE(run({"import", dir, video.string(), "--patient", "Max Mustermann"}) == 0);
  CHECK(out.find("imported v001") != std::string::npos);
  CHECK(run({"import", dir, video.string(), "--patient", "Max Mustermann"}) == 1);
  CHECK(out.find("already imported") != std::string::npos);
  CHECK(run({"clips", "add", dir, "--video", "v001", "--from", "00:00:01.000", "--to", "40",
             "--note", "ok"}) == 0);
  CHECK(out.find("v001-c1: frames [10, 40)") != std::string::npos);
  CHECK(run({"clips", "add", dir, "--video", "v001", "--from", "30", "--to", "50"}) != 0);
  CHECK(out.find("overlaps clip v001-c1") != std::string::npos);
  CHECK(run({"clips", "add", dir, "--video", "v001", "--from", "50", "--to", "00:00:06.100"}) != 0);
  CHECK(out.find("past the end") != std::string::npos);
  CHECK(run({"clips", "add", dir, "--video", "v001", "--from", "30", "--to", "50", "--merge"}) ==
        0);
  CHECK(out.find("merged with v001-c1") != std::string::npos);
  CHECK(run({"clips", "list", dir}) == 0);
  CHECK(out.find("v001-c1  video v001  frames [10, 50)") != std::string::npos);
  CHECK(run({"extract", dir, "--fps", "2", "--every", "3"}) != 0);  // one or the other
  CHECK(run({"extract", dir, "--every", "5", "--dedupe", "0"}) == 0);
  CHECK(out.find("written 8, kept existing 0") != std::string::npos);
  CHECK(out.find("8/8 frames") != std::string::npos);  // the progress line
  CHECK(run({"extract", dir, "--every", "5", "--quiet"}) == 0);
  CHECK(out.find("written 0, kept existing 8") != std::string::npos);
  fs::rename(video, tmp / "moved.mkv");
  CHECK(run({"extract", dir, "--every", "2", "--quiet"}) == 3);
  CHECK(out.find("excap relink") != std::string::npos);
  CHECK(run({"relink", dir, tmp.path().string()}) == 0);
  CHECK(out.find("relinked v001") != std::string::npos);
  CHECK(run({"extract", dir, "--every", "2", "--quiet"}) == 0);
  CHECK(run({"clips", "remove", dir, "v001-c1"}) != 0);
  CHECK(out.find("--drop-frames") != std::string::npos);
  CHECK(run({"clips", "remove", dir, "v001-c1", "--drop-frames"}) == 0);
  CHECK(files_containing(dir, "Mustermann").empty());
}

TEST_CASE("import and relink read only regular files, symlinks followed") {
  ScratchDir tmp("stage1-regular");
  test::write_test_video(tmp / "a.mkv", {20, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  fs::create_directory(tmp / "folder.mkv");
  fs::create_symlink("/dev/null", tmp / "null.mkv");
  for (const fs::path& bad : {fs::path("/dev/null"), tmp / "folder.mkv", tmp / "null.mkv"}) {
    const std::string e = error_of([&] { import_video(p, bad, "Pat", "u"); });
    CHECK_MESSAGE(e.find(bad.string() + ": is not a regular file") != std::string::npos, e);
    CHECK(error_of([&] { relink_video(p, bad, "u"); }).find("not a regular file") !=
          std::string::npos);
  }
  CHECK(p.load_videos().empty());
  fs::create_symlink(tmp / "a.mkv", tmp / "link.mkv");
  CHECK(import_video(p, tmp / "link.mkv", "Pat", "u").id == "v001");
}

TEST_CASE("a clip position beyond any video is refused, not wrapped") {
  for (const char* huge : {"99999999999999999999999999999.0", "9999999999999999:00:00"})
    CHECK(error_of([&] { parse_frame_position(huge, 30); }).find("out of range") !=
          std::string::npos);
}

TEST_CASE("excap clips add and extract check every number at the edge") {
  CliSession cli("stage1-cli-bounds");
  if (!cli.built()) return;
  ScratchDir& tmp = cli.tmp;
  const fs::path& video = cli.video;
  const std::string& dir = cli.dir;
  std::string& out = cli.out;
  auto run = [&](std::vector<std::string> args) { return cli.run(std::move(args)); };
  REQUIRE(run({"init", dir}) == 0);
  CHECK(run({"import", dir, "/dev/null", "--patient", "P"}) == 1);
  CHECK(out ==
        "excap: error: /dev/null: is not a regular file (a device, pipe or folder is "
        "never a video file)\n");
  REQUIRE(run({"import", dir, video.string(), "--patient", "P"}) == 0);

  // clip ends past the video's 60 frames, however large
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"9223372036854775807", "5"}, {"0", "9223372036854775807"}, {"60", "61"}}) {
    CHECK(run({"clips", "add", dir, "--video", "v001", "--from", from, "--to", to}) == 1);
    CHECK_MESSAGE(
        out.find("clip --from " + from + " --to " + to + " of video v001") != std::string::npos,
        out);
    CHECK_MESSAGE(out.find("the video has 60 frames (00:00:06.000)") != std::string::npos, out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  }
  CHECK(run({"clips", "add", dir, "--video", "v001", "--from", "99999999999999999999.0", "--to",
             "5"}) == 1);
  CHECK(out.find("out of range") != std::string::npos);
  REQUIRE(run({"clips", "list", dir}) == 0);  // no clip was added
  CHECK(out.find("v001-c1") == std::string::npos);
  REQUIRE(run({"clips", "add", dir, "--video", "v001", "--from", "0", "--to", "60"}) == 0);

  // rates out of range: refused, naming the option and its range; nothing extracted
  const std::vector<std::vector<std::string>> bad = {
      {"--fps", "-1"},    {"--fps", "0"},     {"--fps", "nan"},
      {"--fps", "inf"},   {"--every", "0"},   {"--every", "-2"},
      {"--dedupe", "-1"}, {"--dedupe", "65"}, {"--dedupe", "nan"}};
  for (const auto& b : bad) {
    CHECK_MESSAGE(run({"extract", dir, "--quiet", b[0], b[1]}) == 1, (b[0] + " " + b[1]));
    CHECK_MESSAGE(out.rfind("excap: error: " + b[0] + ": must be ", 0) == 0, out);
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  }
  CHECK((!fs::exists(tmp / "proj" / "frames") || fs::is_empty(tmp / "proj" / "frames")));
  // left unset, project.json's rate (2 fps) applies
  CHECK(run({"extract", dir, "--quiet"}) == 0);
  CHECK(out.find("written 12,") != std::string::npos);
}

namespace {

std::size_t log_count(const fs::path& log, const std::string& action) {
  std::error_code ec;
  if (!fs::exists(log, ec)) return 0;
  std::size_t n = 0;
  std::string text = read_file(log);
  for (std::size_t at = 0;
       (at = text.find("\"action\":\"" + action + "\"", at)) != std::string::npos; ++at)
    ++n;
  return n;
}

}  // namespace

TEST_CASE("a refused import, clip or extraction changes nothing: the user is checked first") {
  ScratchDir tmp("stage1-refused");
  test::write_test_video(tmp / "a.mkv", {60, 10});
  test::write_test_video(tmp / "b.mkv", {40, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  const Video v = import_video(p, tmp / "a.mkv", "Pat", "ann");
  add_clip(p, v.id, 0, 20, "ann", "");
  const auto before = test::tree_snapshot(p.root());
  for (const std::string bad : {"../../evil", "/etc/x", "a/b", ""}) {
    CHECK_THROWS_AS(import_video(p, tmp / "b.mkv", "Other", bad), Error);
    CHECK_THROWS_AS(add_clip(p, v.id, 30, 40, bad, ""), Error);
    ExtractOptions o;
    o.every_n = 10;
    o.user = bad;
    CHECK_THROWS_AS(extract_frames(p, o), Error);
    CHECK_THROWS_AS(remove_clip(p, "v001-c1", true, bad), Error);
  }
  // An audit log that cannot be written (a folder in its place) refuses too.
  fs::create_directories(p.root() / "log" / "blocked.jsonl");
  CHECK_THROWS_WITH_AS(add_clip(p, v.id, 30, 40, "blocked", ""), doctest::Contains("audit log"),
                       Error);
  CHECK_THROWS_WITH_AS(import_video(p, tmp / "b.mkv", "Other", "blocked"),
                       doctest::Contains("audit log"), Error);
  fs::remove(p.root() / "log" / "blocked.jsonl");
  CHECK(test::tree_snapshot(p.root()) == before);
  CHECK_FALSE(fs::exists(tmp / "evil.jsonl"));
}

TEST_CASE("each change of stage I lands with exactly one audit line") {
  ScratchDir tmp("stage1-audit");
  test::write_test_video(tmp / "a.mkv", {60, 10});
  Project p = Project::create(tmp / "proj", cecd_schema());
  const fs::path log = p.root() / "log" / "ann.jsonl";
  const Video v = import_video(p, tmp / "a.mkv", "Pat", "ann");
  CHECK(log_count(log, "import_video") == 1);
  add_clip(p, v.id, 0, 20, "ann", "x");
  add_clip(p, v.id, 20, 30, "ann", "y");
  CHECK(log_count(log, "add_clip") == 2);
  set_clip_note(p, "v001-c2", "a note", "ann");
  CHECK(log_count(log, "clip_note") == 1);
  CHECK(p.load_clips()[1].note == "a note");
  ExtractOptions o;
  o.every_n = 10;
  o.user = "ann";
  CHECK(extract_frames(p, o).written == 3);
  CHECK(log_count(log, "extract_frames") >= 1);
  CHECK(log_count(log, "extract") == 1);
  remove_clip(p, "v001-c2", true, "ann");
  CHECK(log_count(log, "remove_clip") == 1);
  CHECK(p.load_frames().size() == 2);
  CHECK_FALSE(fs::exists(p.root() / "project.lock"));
  CHECK_FALSE(fs::exists(p.root() / "project.journal"));
}
