// The project store: round trips, atomic writes, version checks, id rules.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "store/project.h"
#include "test_support.h"

using namespace excap;
using excap::test::ScratchDir;

TEST_CASE("project round trip keeps every record") {
  ScratchDir tmp("store-roundtrip");
  const fs::path dir = tmp / "proj";
  Project p = Project::create(
      dir, cecd_schema(), {{"a", Role::Annotator}, {"b", Role::Annotator}, {"x", Role::Expert}});
  for (const char* f : {"project.json", "videos.json", "clips.json", "frames.json",
                        "assignments.json", "local.json"})
    CHECK(fs::exists(dir / f));
  for (const char* d : {"frames", "labels", "final", "splits", "runs", "log"})
    CHECK(fs::is_directory(dir / d));

  Video v{"v0001", "p-1234", "ab", 25.0, 1000, 320, 320, "mp4v", 40.0, "2026-01-01T00:00:00Z", {}};
  p.save_videos({v});
  p.save_clips({{"c0001", "v0001", 10, 20, "a", "ulcer?"}});
  p.save_frames({{"v0001_000010", "c0001", "v0001", "p-1234", 10, 0.4, "frames/v0001_000010.png",
                  "00ff00ff00ff00ff"}});
  p.save_assignments({{"v0001_000010", {"a", "b"}}});
  LabelRecord r{"v0001_000010", "a", 1, 12.5, "t0", "t1"};
  p.save_label(r);
  FinalLabel fl{"v0001_000010", 2, "merged", "x", "t2", {"a", "b"}, 0.8};
  p.save_final(fl);

  Project q = Project::open(dir);
  CHECK(q.meta().schema.num_tissue() == 8);
  CHECK(q.meta().schema.tissue[3].name == "lesion");
  REQUIRE(q.meta().users.size() == 3);
  CHECK(q.meta().users[2].role == Role::Expert);
  auto videos = q.load_videos();
  REQUIRE(videos.size() == 1);
  CHECK(videos[0].frames == 1000);
  CHECK(videos[0].codec == "mp4v");
  auto clips = q.load_clips();
  REQUIRE(clips.size() == 1);
  CHECK(clips[0].note == "ulcer?");
  CHECK(clips[0].end == 20);
  auto frames = q.load_frames();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].source_index == 10);
  CHECK(frames[0].phash == "00ff00ff00ff00ff");
  CHECK(q.load_assignments().at("v0001_000010") == std::vector<std::string>{"a", "b"});
  auto lr = q.load_label("a", "v0001_000010");
  REQUIRE(lr);
  CHECK(lr->cd == 1);
  CHECK(lr->time_spent_s == doctest::Approx(12.5));
  CHECK_FALSE(q.load_label("b", "v0001_000010"));
  auto f = q.load_final("v0001_000010");
  REQUIRE(f);
  CHECK(f->source == "merged");
  CHECK(f->annotators.size() == 2);
  CHECK(q.labeled_frames("a") == std::vector<std::string>{"v0001_000010"});
  CHECK(q.final_frames() == std::vector<std::string>{"v0001_000010"});
}

TEST_CASE("a video's stored field of view round-trips, an entry without one loads") {
  ScratchDir tmp("store-fov");
  Project p = Project::create(tmp / "proj", cecd_schema());
  Video circle{"v1", "p-1", "", 10, 100, 320, 240, "FFV1", 10, "", {}};
  circle.fov = StoredFov{"circle", 160.5, 120.25, 100, {}};
  Video polygon{"v2", "p-1", "", 10, 100, 320, 240, "FFV1", 10, "", {}};
  polygon.fov = StoredFov{"polygon", 0, 0, 0, {{0, 0}, {320, 0}, {320, 240}, {0, 240}}};
  Video none{"v3", "p-1", "", 10, 100, 320, 240, "FFV1", 10, "", {}};
  p.save_videos({circle, polygon, none});
  const auto j = read_json_file(tmp / "proj" / "videos.json");
  CHECK(j["videos"][0]["fov"]["kind"] == "circle");
  CHECK(j["videos"][1]["fov"]["points"].size() == 4);
  CHECK_FALSE(j["videos"][2].contains("fov"));

  const auto back = p.load_videos();
  REQUIRE(back.size() == 3);
  REQUIRE(back[0].fov);
  CHECK(back[0].fov->kind == "circle");
  CHECK(back[0].fov->cx == 160.5);
  CHECK(back[0].fov->cy == 120.25);
  CHECK(back[0].fov->r == 100);
  REQUIRE(back[1].fov);
  CHECK(back[1].fov->kind == "polygon");
  CHECK(back[1].fov->points == polygon.fov->points);
  CHECK_FALSE(back[2].fov);
  CHECK(stored_fov_problem(*back[0].fov, 320, 240).empty());
  CHECK(stored_fov_problem(*back[1].fov, 320, 240).empty());

  // A number JSON cannot hold (NaN is written as null) loads as not finite,
  // so validate names the video instead of the whole file failing.
  auto broken = j;
  broken["videos"][0]["fov"]["r"] = nullptr;
  write_json_atomic(tmp / "proj" / "videos.json", broken);
  const auto loaded = p.load_videos();
  REQUIRE(loaded[0].fov);
  CHECK(stored_fov_problem(*loaded[0].fov, 320, 240).find("not finite") != std::string::npos);
}

TEST_CASE("stored_fov_problem names each unsound field of view") {
  const auto why = [](const StoredFov& f) { return stored_fov_problem(f, 320, 240); };
  CHECK(why({"circle", 160, 120, 0, {}}).find("radius") != std::string::npos);
  CHECK(why({"circle", 160, 120, -5, {}}).find("radius") != std::string::npos);
  CHECK(why({"circle", 160, 120, 121, {}}).find("outside the 320x240 frame") != std::string::npos);
  CHECK(why({"circle", 160, 120, 120, {}}).empty());
  CHECK(why({"polygon", 0, 0, 0, {{0, 0}, {10, 0}}}).find("fewer than 3") != std::string::npos);
  CHECK(why({"polygon", 0, 0, 0, {{0, 0}, {321, 0}, {0, 10}}}).find("outside") !=
        std::string::npos);
  CHECK(why({"square", 0, 0, 0, {}}).find("unknown field-of-view kind 'square'") !=
        std::string::npos);
}

TEST_CASE("a label without a clearness degree round-trips as unset") {
  ScratchDir tmp("store-nocd");
  Project p = Project::create(tmp / "p", cecd_schema(), {{"a", Role::Annotator}});
  p.save_label({"f1", "a", std::nullopt, 0, "", ""});
  auto r = p.load_label("a", "f1");
  REQUIRE(r);
  CHECK_FALSE(r->cd.has_value());
}

TEST_CASE("create refuses a non-empty folder and open refuses a non-project") {
  ScratchDir tmp("store-create");
  atomic_write(tmp / "x" / "something.txt", "hello");
  CHECK_THROWS_WITH_AS(Project::create(tmp / "x", cecd_schema()), doctest::Contains("not empty"),
                       Error);
  CHECK_THROWS_WITH_AS(Project::open(tmp / "x"), doctest::Contains("project.json"), Error);
}

TEST_CASE("readers reject an unknown format, a newer version and malformed JSON") {
  ScratchDir tmp("store-versions");
  const fs::path dir = tmp / "p";
  Project::create(dir, cecd_schema());
  const fs::path pj = dir / "project.json";
  auto j = nlohmann::json::parse(read_file(pj));

  j["version"] = 2;
  atomic_write(pj, j.dump());
  CHECK_THROWS_WITH_AS(Project::open(dir), doctest::Contains("newer"), Error);
  try {
    Project::open(dir);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(pj.string()) != std::string::npos);
  }

  j["version"] = 1;
  j["format"] = "something-else";
  atomic_write(pj, j.dump());
  CHECK_THROWS_WITH_AS(Project::open(dir), doctest::Contains("something-else"), Error);

  atomic_write(pj, "{\"format\": \"excap-project\", ");
  CHECK_THROWS_WITH_AS(Project::open(dir), doctest::Contains("malformed JSON"), Error);

  Project::create(tmp / "q", cecd_schema());
  atomic_write(tmp / "q" / "frames.json", "[1,2");
  Project q = Project::open(tmp / "q");
  CHECK_THROWS_WITH_AS(q.load_frames(), doctest::Contains("frames.json"), Error);
}

TEST_CASE("an interrupted atomic write leaves the old file intact") {
  ScratchDir tmp("store-atomic");
  const fs::path f = tmp / "data.json";
  atomic_write(f, "old contents");
  set_atomic_write_fault_for_tests(true);
  CHECK_THROWS_AS(atomic_write(f, "new contents that never land"), Error);
  set_atomic_write_fault_for_tests(false);
  CHECK(read_file(f) == "old contents");
  // The temp file the "crash" left is recognisable and can be swept.
  int leftovers = 0;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) ++leftovers;
  CHECK(leftovers == 1);
  // A live process's temp file (this one's) is a write in progress and stays.
  CHECK(remove_stale_temp_files(tmp.path()) == 0);
  atomic_write(f, "new");
  CHECK(read_file(f) == "new");
}

TEST_CASE("ids that could escape the project are refused") {
  for (const char* bad :
       {"..", "../x", "a/b", "/etc/passwd", "a\\b", "", ".hidden", "-rf", "a..b", "x y", "é"})
    CHECK_MESSAGE(!is_safe_id(bad), bad);
  CHECK_FALSE(is_safe_id(std::string("ab\0cd", 5)));
  CHECK_FALSE(is_safe_id(std::string(129, 'a')));
  for (const char* good : {"a", "v0001_000123", "user.name", "A-1_b"})
    CHECK_MESSAGE(is_safe_id(good), good);

  ScratchDir tmp("store-ids");
  Project p = Project::create(tmp / "p", cecd_schema());
  CHECK_THROWS_AS(p.label_json_path("../../etc", "f"), Error);
  CHECK_THROWS_AS(p.label_mask_path("a", "../f"), Error);
  CHECK_THROWS_AS(p.save_label({"../../outside", "a", 0, 0, "", ""}), Error);
  CHECK_THROWS_AS(p.frame_path("/abs"), Error);
  CHECK_THROWS_AS(p.split_path("a/b"), Error);
  CHECK_THROWS_AS(Project::create(tmp / "q", cecd_schema(), {{"../evil", Role::Annotator}}), Error);
  CHECK_FALSE(fs::exists(tmp / "outside.json"));

  // A frames.json that names an escaping id is refused on load.
  atomic_write(tmp / "p" / "frames.json",
               R"({"format":"excap-frames","version":1,"frames":[{"id":"../x","file":"f"}]})");
  CHECK_THROWS_WITH_AS(p.load_frames(), doctest::Contains("not allowed"), Error);
}

TEST_CASE("sha256 and hmac match the published test vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // RFC 4231 test case 2.
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("the audit log appends one JSON line per action") {
  ScratchDir tmp("store-audit");
  Project p = Project::create(tmp / "p", cecd_schema(), {{"a", Role::Annotator}});
  p.audit("a", "label", {{"frame", "f1"}});
  p.audit("a", "label", {{"frame", "f2"}});
  std::string log = read_file(tmp / "p" / "log" / "a.jsonl");
  CHECK(std::count(log.begin(), log.end(), '\n') == 2);
  auto first = nlohmann::json::parse(log.substr(0, log.find('\n')));
  CHECK(first["action"] == "label");
  CHECK(first["frame"] == "f1");
}

TEST_CASE("the schema rejects broken class tables") {
  LabelSchema s = cecd_schema();
  s.tissue[2].id = 5;
  CHECK_THROWS_WITH_AS(s.validate("x"), doctest::Contains("expected 2"), Error);
  s = cecd_schema();
  s.tissue[1].name = "background";
  CHECK_THROWS_WITH_AS(s.validate("x"), doctest::Contains("twice"), Error);
  CHECK_THROWS_AS(schema_by_name("nope"), Error);
}

namespace {

// videos.json / clips.json / frames.json with one record whose `field` is the
// raw JSON text `value`, around a sound record.
void write_record(const fs::path& file, const char* format, const char* key, nlohmann::json rec,
                  const std::string& field, const std::string& value) {
  rec[field] = nlohmann::json::parse(value);
  write_json_atomic(file, {{"format", format}, {"version", 1}, {key, {rec}}});
}

const nlohmann::json kVideo = {{"id", "v1"},      {"patient", "p-1"}, {"fps", 10},
                               {"frames", 100},   {"width", 32},      {"height", 24},
                               {"duration_s", 10}};
const nlohmann::json kClip = {{"id", "c1"}, {"video", "v1"}, {"start", 0}, {"end", 50}};
const nlohmann::json kFrame = {
    {"id", "v1_000000"}, {"clip", "c1"}, {"source_index", 0}, {"file", "frames/v1_000000.png"}};

}  // namespace

TEST_CASE(
    "numbers in videos.json out of any real video's range are refused, naming file and field") {
  ScratchDir tmp("store-bounds-videos");
  Project p = Project::create(tmp / "proj", cecd_schema());
  const fs::path file = tmp / "proj" / "videos.json";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"frames", "-1"},     {"frames", "1e300"},    {"frames", "0"},
      {"frames", "2.5"},    {"frames", "\"100\""},  {"frames", "9223372036854775807"},
      {"fps", "0"},         {"fps", "-25"},         {"fps", "null"},
      {"fps", "1e300"},     {"fps", "5000"},        {"width", "1e9"},
      {"width", "0"},       {"height", "16385"},    {"height", "18446744073709551615"},
      {"duration_s", "-1"}, {"duration_s", "1e300"}};
  for (const auto& [field, value] : bad) {
    write_record(file, "excap-videos", "videos", kVideo, field, value);
    CHECK_THROWS_WITH_AS(
        p.load_videos(),
        doctest::Contains(("videos.json: video 'v1': field '" + field + "'").c_str()), Error);
  }
  write_record(file, "excap-videos", "videos", kVideo, "fps", "29.97");
  REQUIRE(p.load_videos().size() == 1);
  CHECK(p.load_videos()[0].frames == 100);
}

TEST_CASE("clip and frame positions beyond any video are refused when read") {
  ScratchDir tmp("store-bounds-clips");
  Project p = Project::create(tmp / "proj", cecd_schema());
  const fs::path clips = tmp / "proj" / "clips.json";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"start", "1e30"}, {"start", "-1"}, {"end", "9223372036854775807"},
      {"end", "1e300"},  {"end", "0"},    {"start", "0.5"}};
  for (const auto& [field, value] : bad) {
    write_record(clips, "excap-clips", "clips", kClip, field, value);
    CHECK_THROWS_WITH_AS(
        p.load_clips(), doctest::Contains(("clips.json: clip 'c1': field '" + field + "'").c_str()),
        Error);
  }
  // A well-typed but empty range is refused as well.
  write_record(clips, "excap-clips", "clips", kClip, "start", "50");
  CHECK_THROWS_WITH_AS(p.load_clips(), doctest::Contains("empty or negative frame range"), Error);

  const fs::path frames = tmp / "proj" / "frames.json";
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, std::string>>{{"source_index", "-3"},
                                                        {"source_index", "1e30"},
                                                        {"time_s", "-1"},
                                                        {"time_s", "1e300"}}) {
    write_record(frames, "excap-frames", "frames", kFrame, field, value);
    CHECK_THROWS_WITH_AS(
        p.load_frames(),
        doctest::Contains(("frames.json: frame 'v1_000000': field '" + field + "'").c_str()),
        Error);
  }
}

TEST_CASE("label, final label and project.json numbers are bounded when read") {
  ScratchDir tmp("store-bounds-labels");
  Project p = Project::create(tmp / "proj", cecd_schema(), {{"a", Role::Annotator}});
  atomic_write(p.label_json_path("a", "f1"),
               R"({"format":"excap-label","version":1,"frame":"f1","user":"a","cd":1e300})");
  CHECK_THROWS_WITH_AS(p.load_label("a", "f1"), doctest::Contains("f1.json"), Error);
  CHECK_THROWS_WITH_AS(p.load_label("a", "f1"), doctest::Contains("field 'cd'"), Error);
  atomic_write(p.label_json_path("a", "f1"),
               R"({"format":"excap-label","version":1,"frame":"f1","user":"a","time_spent_s":-4})");
  CHECK_THROWS_WITH_AS(p.load_label("a", "f1"), doctest::Contains("field 'time_spent_s'"), Error);
  atomic_write(p.final_json_path("f1"),
               R"({"format":"excap-final","version":1,"frame":"f1","cd":-1,"source":"A"})");
  CHECK_THROWS_WITH_AS(p.load_final("f1"), doctest::Contains("final/f1.json"), Error);
  CHECK_THROWS_WITH_AS(p.load_final("f1"), doctest::Contains("field 'cd'"), Error);

  const fs::path pj = tmp / "proj" / "project.json";
  const nlohmann::json good = read_json_file(pj);
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"fps", "-1"}, {"fps", "1e300"}, {"every_n", "1e30"}, {"dedupe", "-2"}}) {
    nlohmann::json j = good;
    j["extraction"][field] = nlohmann::json::parse(value);
    write_json_atomic(pj, j);
    CHECK_THROWS_WITH_AS(
        Project::open(tmp / "proj"),
        doctest::Contains(("project.json: extraction: field '" + field + "'").c_str()), Error);
  }
  nlohmann::json j = good;
  j["extraction"]["fov"] = {{"mode", "circle"}, {"cx", 10}, {"cy", 10}, {"r", 1e300}};
  write_json_atomic(pj, j);
  CHECK_THROWS_WITH_AS(Project::open(tmp / "proj"), doctest::Contains("field 'r'"), Error);
  write_json_atomic(pj, good);
  CHECK_NOTHROW(Project::open(tmp / "proj"));
}
