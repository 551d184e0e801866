#include "store/project.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/error.h"
#include "common/ids.h"

namespace excap {

using nlohmann::json;

namespace {

json envelope(const std::string& format) {
  return json{{"format", format}, {"version", kFormatVersion}};
}

template <typename T>
std::vector<T> load_list(const fs::path& path, const std::string& format, const char* key) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  json j = read_versioned_json(path, format);
  try {
    return j.at(key).get<std::vector<T>>();
  } catch (const json::exception& e) {
    throw Error(path.string(), std::string("bad entry: ") + e.what());
  } catch (const Error& e) {  // a record's own check names the record and field, we add the file
    throw Error(path.string(), e.where().empty() ? e.reason() : e.where() + ": " + e.reason());
  }
}

template <typename T>
json list_document(const std::string& format, const char* key, const std::vector<T>& items) {
  json j = envelope(format);
  j[key] = items;
  return j;
}

std::vector<std::string> stems_with_ext(const fs::path& dir, const std::string& ext) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ext && is_safe_id(e.path().stem().string()))
      out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string role_name(Role r) {
  switch (r) {
    case Role::Annotator:
      return "annotator";
    case Role::Expert:
      return "expert";
    case Role::Engineer:
      return "engineer";
    case Role::Admin:
      return "admin";
  }
  return "annotator";
}

Role role_from_name(const std::string& s, const std::string& where) {
  if (s == "annotator") return Role::Annotator;
  if (s == "expert") return Role::Expert;
  if (s == "engineer") return Role::Engineer;
  if (s == "admin") return Role::Admin;
  throw Error(where, "unknown role '" + s + "' (annotator, expert, engineer, admin)");
}

const User* ProjectMeta::find_user(const std::string& id) const {
  for (const auto& u : users)
    if (u.id == id) return &u;
  return nullptr;
}

// Project files nest a few levels; copying a value nested far deeper would
// recurse past the stack, so such a file is refused unparsed.
constexpr int kMaxJsonDepth = 64;

static bool nested_deeper_than(const std::string& text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

json read_json_file(const fs::path& path) {
  const std::string text = read_file(path);
  if (nested_deeper_than(text, kMaxJsonDepth))
    throw Error(path.string(),
                "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // syntax, and numbers beyond a double (1e999)
    throw Error(path.string(), std::string("malformed JSON: ") + e.what());
  }
}

json read_versioned_json(const fs::path& path, const std::string& format) {
  json j = read_json_file(path);
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string())
    throw Error(path.string(), "not an ExCap file (no \"format\" field)");
  if (j["format"] != format)
    throw Error(path.string(),
                "format is '" + j["format"].get<std::string>() + "', expected '" + format + "'");
  if (!j.contains("version") || !j["version"].is_number_integer())
    throw Error(path.string(), "no integer \"version\" field");
  const int v = j["version"].get<int>();
  if (v > kFormatVersion)
    throw Error(path.string(), "format version " + std::to_string(v) +
                                   " is newer than this ExCap reads (" +
                                   std::to_string(kFormatVersion) + "); update ExCap");
  if (v < 1) throw Error(path.string(), "invalid format version " + std::to_string(v));
  return j;
}

void write_json_atomic(const fs::path& path, const json& j) {
  atomic_write(path, j.dump(2) + "\n");
}

// ---- record (de)serialisation ----

std::string stored_fov_problem(const StoredFov& fov, int width, int height) {
  const auto inside = [&](double x, double y) {
    return x >= 0 && y >= 0 && x <= width && y <= height;
  };
  const std::string frame = std::to_string(width) + "x" + std::to_string(height) + " frame";
  if (fov.kind == "circle") {
    if (!std::isfinite(fov.cx) || !std::isfinite(fov.cy) || !std::isfinite(fov.r))
      return "field-of-view circle has a number that is not finite";
    if (!(fov.r > 0)) return "field-of-view circle has radius " + std::to_string(fov.r) + " (<= 0)";
    if (!inside(fov.cx - fov.r, fov.cy - fov.r) || !inside(fov.cx + fov.r, fov.cy + fov.r))
      return "field-of-view circle reaches outside the " + frame;
    return "";
  }
  if (fov.kind == "polygon") {
    if (fov.points.size() < 3) return "field-of-view polygon has fewer than 3 points";
    for (const auto& [x, y] : fov.points) {
      if (!std::isfinite(x) || !std::isfinite(y))
        return "field-of-view polygon has a point that is not finite";
      if (!inside(x, y)) return "field-of-view polygon has a point outside the " + frame;
    }
    return "";
  }
  return "unknown field-of-view kind '" + fov.kind + "' (circle, polygon)";
}

namespace {

// Not a number (null, text, missing) reads as NaN, so validate can name the
// video instead of the whole file failing to load.
double number_or_nan(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>()
                                               : std::numeric_limits<double>::quiet_NaN();
}

std::string number_text(double d) {
  std::ostringstream o;
  o << d;
  return o.str();
}

[[noreturn]] void refuse_number(const json& v, const std::string& field, const std::string& range,
                                const std::string& what) {
  const std::string got =
      v.is_number() ? v.dump() : "not a number (" + std::string(v.type_name()) + ")";
  throw Error(what, "field '" + field + "' is " + got + ", expected " + range);
}

// A whole number in [lo, hi] (0 <= lo <= hi); checked before any cast, which
// would wrap 9223372036854775807 or be undefined for 1e300.
long long whole_value(const json& v, const std::string& field, long long lo, long long hi,
                      const std::string& what) {
  const std::string range = "a whole number in " + std::to_string(lo) + ".." + std::to_string(hi);
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u >= static_cast<std::uint64_t>(lo) && u <= static_cast<std::uint64_t>(hi))
      return static_cast<long long>(u);
  } else if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (n >= lo && n <= hi) return n;
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d >= static_cast<double>(lo) && d <= static_cast<double>(hi) && d == std::floor(d))
      return static_cast<long long>(d);
  }
  refuse_number(v, field, range, what);
}

// A finite number in [lo, hi], or (lo, hi] when above_lo.
double real_value(const json& v, const std::string& field, double lo, double hi, bool above_lo,
                  const std::string& what) {
  if (v.is_number()) {
    const double d = v.get<double>();
    if ((above_lo ? d > lo : d >= lo) && d <= hi) return d;
  }
  refuse_number(v, field, (above_lo ? "(" : "[") + number_text(lo) + ", " + number_text(hi) + "]",
                what);
}

long long whole_field(const json& j, const char* key, long long lo, long long hi,
                      const std::string& what) {
  return whole_value(j.at(key), key, lo, hi, what);
}

double real_field(const json& j, const char* key, double lo, double hi, const std::string& what,
                  bool above_lo = false) {
  return real_value(j.at(key), key, lo, hi, above_lo, what);
}

// An optional field: absent gives `fallback`, present must be in range.
double real_field_or(const json& j, const char* key, double fallback, double lo, double hi,
                     const std::string& what) {
  return j.contains(key) ? real_field(j, key, lo, hi, what) : fallback;
}

json stored_fov_to_json(const StoredFov& f) {
  json j{{"kind", f.kind}};
  if (f.kind == "circle") {
    j["cx"] = f.cx, j["cy"] = f.cy, j["r"] = f.r;
    return j;
  }
  json pts = json::array();
  for (const auto& [x, y] : f.points) pts.push_back({x, y});
  j["points"] = pts;
  return j;
}

StoredFov stored_fov_from_json(const json& j) {
  StoredFov f;
  f.kind = j.value("kind", "");
  f.cx = number_or_nan(j, "cx");
  f.cy = number_or_nan(j, "cy");
  f.r = number_or_nan(j, "r");
  if (f.kind != "polygon" || !j.contains("points") || !j["points"].is_array()) return f;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const auto& p : j["points"]) {
    const bool pair = p.is_array() && p.size() == 2 && p[0].is_number() && p[1].is_number();
    f.points.emplace_back(pair ? p[0].get<double>() : nan, pair ? p[1].get<double>() : nan);
  }
  return f;
}

}  // namespace

void to_json(json& j, const Video& v) {
  j = json{{"id", v.id},
           {"patient", v.patient},
           {"sha256", v.sha256},
           {"fps", v.fps},
           {"frames", v.frames},
           {"width", v.width},
           {"height", v.height},
           {"codec", v.codec},
           {"duration_s", v.duration_s},
           {"imported", v.imported}};
  if (v.fov) j["fov"] = stored_fov_to_json(*v.fov);
}
void from_json(const json& j, Video& v) {
  v.id = j.at("id").get<std::string>();
  require_safe_id(v.id, "video");
  v.patient = j.at("patient").get<std::string>();
  v.sha256 = j.value("sha256", "");
  const std::string what = "video '" + v.id + "'";
  v.fps = real_field(j, "fps", 0, kMaxVideoFps, what, true);
  v.frames = whole_field(j, "frames", 1, kMaxVideoFrames, what);
  v.width = static_cast<int>(whole_field(j, "width", 1, kMaxFrameSide, what));
  v.height = static_cast<int>(whole_field(j, "height", 1, kMaxFrameSide, what));
  v.codec = j.value("codec", "");
  v.duration_s = real_field_or(j, "duration_s", 0.0, 0, kMaxSeconds, what);
  v.imported = j.value("imported", "");
  v.fov.reset();
  // Anything but an object reads as a kind-less fov that validate reports.
  if (j.contains("fov") && !j["fov"].is_null())
    v.fov = stored_fov_from_json(j["fov"].is_object() ? j["fov"] : json{{"kind", ""}});
}

void to_json(json& j, const Clip& c) {
  j = json{{"id", c.id},   {"video", c.video}, {"start", c.start},
           {"end", c.end}, {"by", c.by},       {"note", c.note}};
}
void from_json(const json& j, Clip& c) {
  c.id = j.at("id").get<std::string>();
  require_safe_id(c.id, "clip");
  c.video = j.at("video").get<std::string>();
  const std::string what = "clip '" + c.id + "'";
  c.start = whole_field(j, "start", 0, kMaxVideoFrames - 1, what);
  c.end = whole_field(j, "end", 1, kMaxVideoFrames, what);
  if (c.end <= c.start)
    throw Error(what, "empty or negative frame range: end " + std::to_string(c.end) +
                          " is not after start " + std::to_string(c.start));
  c.by = j.value("by", "");
  c.note = j.value("note", "");
}

void to_json(json& j, const Frame& f) {
  j = json{{"id", f.id},
           {"clip", f.clip},
           {"video", f.video},
           {"patient", f.patient},
           {"source_index", f.source_index},
           {"time_s", f.time_s},
           {"file", f.file},
           {"phash", f.phash}};
}
void from_json(const json& j, Frame& f) {
  f.id = j.at("id").get<std::string>();
  require_safe_id(f.id, "frame");
  f.clip = j.value("clip", "");
  f.video = j.value("video", "");
  f.patient = j.value("patient", "");
  const std::string what = "frame '" + f.id + "'";
  f.source_index =
      j.contains("source_index") ? whole_field(j, "source_index", 0, kMaxVideoFrames - 1, what) : 0;
  f.time_s = real_field_or(j, "time_s", 0.0, 0, kMaxSeconds, what);
  f.file = j.at("file").get<std::string>();
  f.phash = j.value("phash", "");
}

void to_json(json& j, const LabelRecord& r) {
  j = json{{"frame", r.frame},
           {"user", r.user},
           {"cd", r.cd ? json(*r.cd) : json(nullptr)},
           {"time_spent_s", r.time_spent_s},
           {"created", r.created},
           {"updated", r.updated}};
  if (r.from_suggestion)
    j["from_suggestion"] = {{"run", r.from_suggestion->run},
                            {"checkpoint", r.from_suggestion->checkpoint},
                            {"time", r.from_suggestion->time}};
}
void from_json(const json& j, LabelRecord& r) {
  r.frame = j.at("frame").get<std::string>();
  r.user = j.at("user").get<std::string>();
  const std::string what = "label of frame '" + r.frame + "'";
  if (j.contains("cd") && !j["cd"].is_null())
    r.cd = static_cast<int>(whole_field(j, "cd", 0, 254, what));  // 255 ids at most
  else
    r.cd.reset();
  r.time_spent_s = real_field_or(j, "time_spent_s", 0.0, 0, kMaxSeconds, what);
  r.created = j.value("created", "");
  r.updated = j.value("updated", "");
  r.from_suggestion.reset();
  if (j.contains("from_suggestion") && !j["from_suggestion"].is_null()) {
    const json& o = j.at("from_suggestion");
    r.from_suggestion = SuggestionOrigin{o.at("run").get<std::string>(), o.value("checkpoint", ""),
                                         o.value("time", "")};
  }
}

void to_json(json& j, const FinalLabel& f) {
  j = json{{"frame", f.frame},
           {"cd", f.cd},
           {"source", f.source},
           {"expert", f.expert},
           {"time", f.time},
           {"annotators", f.annotators},
           {"agreement_iou", f.agreement_iou}};
}
void from_json(const json& j, FinalLabel& f) {
  f.frame = j.at("frame").get<std::string>();
  const std::string what = "final label of frame '" + f.frame + "'";
  f.cd = static_cast<int>(whole_field(j, "cd", 0, 254, what));
  f.source = j.at("source").get<std::string>();
  f.expert = j.value("expert", "");
  f.time = j.value("time", "");
  f.annotators = j.value("annotators", std::vector<std::string>{});
  f.agreement_iou = real_field_or(j, "agreement_iou", -1.0, -1, 1, what);
}

// ---- Project ----

static json meta_to_json(const ProjectMeta& m) {
  json j = envelope("excap-project");
  j["name"] = m.name;
  j["created"] = m.created;
  j["schema"] = m.schema;
  json fov{{"mode", m.extraction.fov.mode}};
  if (m.extraction.fov.mode == "circle") {
    fov["cx"] = m.extraction.fov.cx;
    fov["cy"] = m.extraction.fov.cy;
    fov["r"] = m.extraction.fov.r;
  } else if (m.extraction.fov.mode == "polygon") {
    json pts = json::array();
    for (auto& p : m.extraction.fov.polygon) pts.push_back({p.first, p.second});
    fov["points"] = pts;
  }
  j["extraction"] = {{"fps", m.extraction.fps},
                     {"every_n", m.extraction.every_n},
                     {"dedupe", m.extraction.dedupe},
                     {"fov", fov}};
  json users = json::array();
  for (const auto& u : m.users) users.push_back({{"id", u.id}, {"role", role_name(u.role)}});
  j["users"] = users;
  if (m.prelabels) j["prelabels"] = true;  // absent: off, as in projects made before it existed
  return j;
}

namespace {

// project.json's "fov": the manual field-of-view override, coordinates in
// pixels of a frame no larger than kMaxFrameSide.
FovOverride parse_fov_override(const json& f, const std::string& where) {
  FovOverride o;
  o.mode = f.value("mode", "auto");
  const std::string what = "extraction field of view";
  const double side = kMaxFrameSide;
  if (o.mode == "circle") {
    o.cx = real_field(f, "cx", 0, side, what);
    o.cy = real_field(f, "cy", 0, side, what);
    o.r = real_field(f, "r", 0, side, what, true);
  } else if (o.mode == "polygon") {
    const json& pts = f.at("points");
    if (!pts.is_array() || pts.size() < 3 || pts.size() > 4096)
      throw Error(where, "field-of-view polygon needs 3 to 4096 points");
    for (const auto& p : pts) {
      if (!p.is_array() || p.size() != 2)
        throw Error(where, "a field-of-view polygon point is not a pair [x, y]");
      o.polygon.emplace_back(real_value(p[0], "points", 0, side, false, what),
                             real_value(p[1], "points", 0, side, false, what));
    }
  } else if (o.mode != "auto") {
    throw Error(where, "unknown field-of-view mode '" + o.mode + "' (auto, circle, polygon)");
  }
  return o;
}

ExtractionSettings parse_extraction(const json& e, const std::string& where) {
  ExtractionSettings x;
  const std::string what = "extraction";
  x.fps = real_field_or(e, "fps", 2.0, 0, kMaxVideoFps, what);  // 0: use every_n
  x.every_n = static_cast<int>(
      e.contains("every_n") ? whole_field(e, "every_n", 0, kMaxVideoFrames, what) : 0);
  x.dedupe = real_field_or(e, "dedupe", 0.0, 0, 64, what);  // Hamming distance of 64-bit hashes
  if (e.contains("fov")) x.fov = parse_fov_override(e["fov"], where);
  return x;
}

}  // namespace

ProjectMeta parse_project_meta(const json& j, const fs::path& path) {
  ProjectMeta m;
  const std::string where = path.string();
  try {
    m.name = j.value("name", "");
    m.created = j.value("created", "");
    m.schema = j.at("schema").get<LabelSchema>();
    if (j.contains("extraction")) m.extraction = parse_extraction(j["extraction"], where);
    for (const auto& u : j.value("users", json::array())) {
      User user;
      user.id = u.at("id").get<std::string>();
      require_safe_id(user.id, "user");
      if (!u.contains("role")) throw Error(where, "user '" + user.id + "' has no role");
      user.role = role_from_name(u["role"].get<std::string>(), where);
      m.users.push_back(user);
    }
    if (j.contains("prelabels") && !j["prelabels"].is_boolean())
      throw Error(where, "field 'prelabels' must be true or false");
    m.prelabels = j.value("prelabels", false);
  } catch (const json::exception& e) {
    throw Error(where, std::string("bad project file: ") + e.what());
  } catch (const Error& e) {  // a field check names the field; the file is added here
    if (e.where() == where) throw;
    throw Error(where, e.where().empty() ? e.reason() : e.where() + ": " + e.reason());
  }
  m.schema.validate(where);
  return m;
}

Project Project::create(const fs::path& dir, const LabelSchema& schema,
                        const std::vector<User>& users) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw Error(dir.string(), "exists and is not a folder");
    if (!fs::is_empty(dir, ec))
      throw Error(dir.string(), "folder is not empty; choose a new or empty folder");
  }
  schema.validate("schema");
  for (const auto& u : users) require_safe_id(u.id, "user");
  Project p(dir);
  p.meta_.name = dir.filename().string();
  p.meta_.created = now_iso8601();
  p.meta_.schema = schema;
  p.meta_.users = users;
  for (const char* sub : {"frames", "labels", "final", "splits", "runs", "log"})
    ensure_dir(dir / sub);
  p.save_meta();
  p.save_videos({});
  p.save_clips({});
  p.save_frames({});
  p.save_assignments({});
  // The per-project secret for patient pseudonyms: local, never exported.
  std::random_device rd;
  std::string secret;
  for (int i = 0; i < 4; ++i) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
    secret += buf;
  }
  p.save_local(json{{"format", "excap-local"},
                    {"version", kFormatVersion},
                    {"pseudonym_secret", secret},
                    {"sources", json::object()}});
  return p;
}

Project Project::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string(), "not a folder");
  const fs::path pj = dir / "project.json";
  if (!fs::exists(pj, ec))
    throw Error(pj.string(), "not found: this folder is not an ExCap project (run 'excap init')");
  Project p(dir);
  p.meta_ = parse_project_meta(read_versioned_json(pj, "excap-project"), pj);
  return p;
}

Project Project::with_meta(const fs::path& dir, ProjectMeta meta) {
  Project p(dir);
  p.meta_ = std::move(meta);
  return p;
}

void Project::save_meta() const { write_json_atomic(root_ / "project.json", meta_to_json(meta_)); }

std::vector<Video> Project::load_videos() const {
  return load_list<Video>(root_ / "videos.json", "excap-videos", "videos");
}
void Project::save_videos(const std::vector<Video>& v) const {
  write_json_atomic(root_ / "videos.json", document_of(v));
}
std::vector<Clip> Project::load_clips() const {
  return load_list<Clip>(root_ / "clips.json", "excap-clips", "clips");
}
void Project::save_clips(const std::vector<Clip>& c) const {
  write_json_atomic(root_ / "clips.json", document_of(c));
}
std::vector<Frame> Project::load_frames() const {
  return load_list<Frame>(root_ / "frames.json", "excap-frames", "frames");
}
void Project::save_frames(const std::vector<Frame>& f) const {
  write_json_atomic(root_ / "frames.json", document_of(f));
}

std::map<std::string, std::vector<std::string>> Project::load_assignments() const {
  const fs::path path = root_ / "assignments.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  json j = read_versioned_json(path, "excap-assignments");
  try {
    auto a = j.at("assignments").get<std::map<std::string, std::vector<std::string>>>();
    for (const auto& [frame, users] : a) {
      require_safe_id(frame, "frame");
      for (const auto& u : users) require_safe_id(u, "user");
    }
    return a;
  } catch (const json::exception& e) {
    throw Error(path.string(), std::string("bad assignments: ") + e.what());
  }
}
void Project::save_assignments(const std::map<std::string, std::vector<std::string>>& a) const {
  write_json_atomic(root_ / "assignments.json", document_of(a));
}

json Project::load_local() const {
  const fs::path path = root_ / "local.json";
  std::error_code ec;
  if (!fs::exists(path, ec))
    return json{
        {"format", "excap-local"}, {"version", kFormatVersion}, {"sources", json::object()}};
  return read_versioned_json(path, "excap-local");
}
void Project::save_local(const json& j) const { write_json_atomic(root_ / "local.json", j); }

fs::path Project::label_json_path(const std::string& user, const std::string& frame) const {
  return safe_child(safe_child(root_ / "labels", user, "", "user"), frame, ".json", "frame");
}
fs::path Project::label_mask_path(const std::string& user, const std::string& frame) const {
  return safe_child(safe_child(root_ / "labels", user, "", "user"), frame, ".png", "frame");
}

std::optional<LabelRecord> Project::load_label(const std::string& user,
                                               const std::string& frame) const {
  const fs::path path = label_json_path(user, frame);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  json j = read_versioned_json(path, "excap-label");
  try {
    return j.get<LabelRecord>();
  } catch (const json::exception& e) {
    throw Error(path.string(), std::string("bad label: ") + e.what());
  } catch (const Error& e) {
    throw Error(path.string(), e.where() + ": " + e.reason());
  }
}

void Project::save_label(const LabelRecord& r) const {
  write_json_atomic(label_json_path(r.user, r.frame), document_of(r));
}

std::vector<std::string> Project::labeled_frames(const std::string& user) const {
  return stems_with_ext(safe_child(root_ / "labels", user, "", "user"), ".json");
}

fs::path Project::final_json_path(const std::string& frame) const {
  return safe_child(root_ / "final", frame, ".json", "frame");
}
fs::path Project::final_mask_path(const std::string& frame) const {
  return safe_child(root_ / "final", frame, ".png", "frame");
}

std::optional<FinalLabel> Project::load_final(const std::string& frame) const {
  const fs::path path = final_json_path(frame);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  json j = read_versioned_json(path, "excap-final");
  try {
    return j.get<FinalLabel>();
  } catch (const json::exception& e) {
    throw Error(path.string(), std::string("bad final label: ") + e.what());
  } catch (const Error& e) {
    throw Error(path.string(), e.where() + ": " + e.reason());
  }
}

void Project::save_final(const FinalLabel& f) const {
  write_json_atomic(final_json_path(f.frame), document_of(f));
}

std::vector<std::string> Project::final_frames() const {
  return stems_with_ext(root_ / "final", ".json");
}

fs::path Project::frame_path(const std::string& frame) const {
  return safe_child(root_ / "frames", frame, ".png", "frame");
}
fs::path Project::split_path(const std::string& name) const {
  return safe_child(root_ / "splits", name, ".json", "split");
}
fs::path Project::run_dir(const std::string& name) const {
  return safe_child(root_ / "runs", name, "", "run");
}

std::vector<std::string> Project::split_names() const {
  return stems_with_ext(root_ / "splits", ".json");
}

std::vector<std::string> Project::run_names() const {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(root_ / "runs", ec)) return out;
  for (const auto& e : fs::directory_iterator(root_ / "runs", ec))
    if (e.is_directory() && is_safe_id(e.path().filename().string()))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

json document_of(const std::vector<Video>& videos) {
  return list_document("excap-videos", "videos", videos);
}
json document_of(const std::vector<Clip>& clips) {
  return list_document("excap-clips", "clips", clips);
}
json document_of(const std::vector<Frame>& frames) {
  return list_document("excap-frames", "frames", frames);
}
json document_of(const std::map<std::string, std::vector<std::string>>& assignments) {
  json j = envelope("excap-assignments");
  j["assignments"] = assignments;
  return j;
}
json document_of(const LabelRecord& label) {
  json j = label;
  j["format"] = "excap-label";
  j["version"] = kFormatVersion;
  return j;
}
json document_of(const ProjectMeta& meta) { return meta_to_json(meta); }
json document_of(const FinalLabel& final_label) {
  json j = final_label;
  j["format"] = "excap-final";
  j["version"] = kFormatVersion;
  return j;
}

void Project::audit(const std::string& user, const std::string& action, const json& details) const {
  json line{{"time", now_iso8601()}, {"user", user}, {"action", action}};
  if (details.is_object())
    for (auto it = details.begin(); it != details.end(); ++it) line[it.key()] = it.value();
  append_line(safe_child(root_ / "log", user, ".jsonl", "user"), line.dump());
}

}  // namespace excap
