#include "store/schema.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "store/project.h"

namespace excap {

int LabelSchema::tissue_id(const std::string& n) const {
  for (const auto& t : tissue)
    if (t.name == n) return t.id;
  return -1;
}

int LabelSchema::cd_id(const std::string& n) const {
  for (const auto& c : cd)
    if (c.name == n) return c.id;
  return -1;
}

namespace {

// Ids run 0..n-1 in array order (so none repeats) and names are unique; `kind` names the class.
template <class C>
void check_class_table(const std::vector<C>& classes, const std::string& kind,
                       const std::string& plural, const std::string& where) {
  if (classes.size() < 2)
    throw Error(where, "label schema needs at least 2 " + plural + ", has " +
                           std::to_string(classes.size()));
  std::set<std::string> names;
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const auto& c = classes[i];
    if (c.id != static_cast<int>(i)) {
      const bool repeated = std::count_if(classes.begin(), classes.end(),
                                          [&](const C& o) { return o.id == c.id; }) > 1;
      throw Error(where, kind + " '" + c.name + "' has id " + std::to_string(c.id) + ", expected " +
                             std::to_string(i) +
                             (repeated ? " (id " + std::to_string(c.id) + " appears twice)" : ""));
    }
    if (!names.insert(c.name).second)
      throw Error(where, kind + " name '" + c.name + "' appears twice");
  }
}

// The studio reads "q" and "Q" as the same key.
std::string key_of(const std::string& hotkey) {
  std::string k = hotkey;
  if (k.size() == 1) k[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(k[0])));
  return k;
}

void check_hotkeys(const LabelSchema& s, const std::string& where) {
  std::map<std::string, std::string> used;  // key -> the class that has it
  auto take = [&](const std::string& hotkey, const std::string& owner) {
    if (hotkey.empty()) return;
    const auto [it, fresh] = used.emplace(key_of(hotkey), owner);
    if (!fresh)
      throw Error(where,
                  "hotkey '" + hotkey + "' is used twice (" + it->second + " and " + owner + ")");
  };
  for (const auto& c : s.cd) take(c.hotkey, "clearness degree '" + c.name + "'");
  for (const auto& t : s.tissue) take(t.hotkey, "tissue class '" + t.name + "'");
}

// "[json.exception.type_error.302] type must be ..." -> "type must be ...".
std::string json_reason(const nlohmann::json::exception& e) {
  const std::string what = e.what();
  const auto close = what.find("] ");
  return what.rfind("[json.exception.", 0) == 0 && close != std::string::npos
             ? what.substr(close + 2)
             : what;
}

}  // namespace

void LabelSchema::validate(const std::string& where) const {
  check_class_table(cd, "clearness degree", "clearness degrees", where);
  check_class_table(tissue, "tissue class", "tissue classes", where);
  if (tissue.size() >= 255) throw Error(where, "label schema has more than 254 tissue classes");
  if (ignore_index >= 0 && ignore_index < num_tissue())
    throw Error(where, "ignore_index " + std::to_string(ignore_index) +
                           " collides with a tissue class id (use a value >= " +
                           std::to_string(num_tissue()) + ", normally 255)");
  // Mask PNGs mark "not labeled" with 255 (docs/label-schema.md): the studio's
  // eraser, pack and the metrics all read it so, whatever the schema says.
  if (ignore_index != 255)
    throw Error(where, "ignore_index is " + std::to_string(ignore_index) +
                           "; it must be 255, the value mask PNGs use for unlabeled pixels");
  check_hotkeys(*this, where);
}

LabelSchema cecd_schema() {
  LabelSchema s;
  s.name = "cecd";
  s.cd = {{0, "clear", "Q"}, {1, "blur", "W"}, {2, "invisible", "E"}};
  s.tissue = {
      {0, "background", {0, 0, 0}, "1"},
      {1, "clear tissue", {230, 120, 100}, "2"},
      {2, "blurred tissue", {170, 110, 200}, "3"},
      {3, "lesion", {255, 40, 40}, "4"},
      {4, "hole", {40, 90, 255}, "5"},
      {5, "invisible by bubble", {120, 230, 255}, "6"},
      {6, "invisible by excreta", {170, 150, 40}, "7"},
      {7, "clear bubble", {80, 230, 120}, "8"},
  };
  return s;
}

LabelSchema schema_by_name(const std::string& name) {
  if (name == "cecd") return cecd_schema();
  throw Error("--schema " + name, "unknown label schema (known: cecd)");
}

LabelSchema load_schema_file(const std::filesystem::path& file) {
  const std::string where = file.string();
  nlohmann::json j = read_json_file(file);  // names the file when unreadable or malformed
  if (!j.is_object())
    throw Error(where, "not a label schema: expected a JSON object like project.json's \"schema\"");
  if (!j.contains("name")) j["name"] = file.stem().string();
  LabelSchema s;
  try {
    s = j.get<LabelSchema>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where, "bad label schema: " + json_reason(e));
  }
  s.validate(where);
  return s;
}

LabelSchema schema_from_option(const std::string& name_or_file) {
  if (name_or_file == "cecd") return cecd_schema();
  const std::filesystem::path file(name_or_file);
  std::error_code ec;
  if (std::filesystem::exists(file, ec) || file.extension() == ".json" ||
      name_or_file.find('/') != std::string::npos)
    return load_schema_file(file);
  throw Error("--schema " + name_or_file,
              "unknown label schema (known: cecd) and no such schema file");
}

void to_json(nlohmann::json& j, const LabelSchema& s) {
  j = nlohmann::json::object();
  j["name"] = s.name;
  j["ignore_index"] = s.ignore_index;
  auto& cd = j["cd"] = nlohmann::json::array();
  for (const auto& c : s.cd) cd.push_back({{"id", c.id}, {"name", c.name}, {"hotkey", c.hotkey}});
  auto& t = j["tissue"] = nlohmann::json::array();
  for (const auto& c : s.tissue)
    t.push_back({{"id", c.id},
                 {"name", c.name},
                 {"color", {c.color[0], c.color[1], c.color[2]}},
                 {"hotkey", c.hotkey}});
}

void from_json(const nlohmann::json& j, LabelSchema& s) {
  s.name = j.at("name").get<std::string>();
  s.ignore_index = j.value("ignore_index", 255);
  s.cd.clear();
  for (const auto& c : j.at("cd"))
    s.cd.push_back(
        {c.at("id").get<int>(), c.at("name").get<std::string>(), c.value("hotkey", std::string())});
  s.tissue.clear();
  for (const auto& c : j.at("tissue")) {
    TissueClass t;
    t.id = c.at("id").get<int>();
    t.name = c.at("name").get<std::string>();
    const auto& col = c.at("color");
    auto channel_ok = [](const nlohmann::json& v) {
      return v.is_number_integer() && v.get<long long>() >= 0 && v.get<long long>() <= 255;
    };
    if (!col.is_array() || col.size() != 3 || !std::all_of(col.begin(), col.end(), channel_ok))
      throw nlohmann::json::other_error::create(
          501, "color of tissue class '" + t.name + "' must be [r, g, b], each 0-255", &c);
    for (int k = 0; k < 3; ++k) t.color[k] = static_cast<std::uint8_t>(col[k].get<int>());
    t.hotkey = c.value("hotkey", std::string());
    s.tissue.push_back(std::move(t));
  }
}

}  // namespace excap
