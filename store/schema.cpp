#include "store/schema.h"

#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"

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

void LabelSchema::validate(const std::string& where) const {
  if (cd.empty()) throw Error(where, "label schema has no clearness-degree classes");
  if (tissue.empty()) throw Error(where, "label schema has no tissue classes");
  if (tissue.size() >= 255) throw Error(where, "label schema has more than 254 tissue classes");
  std::set<std::string> names;
  for (std::size_t i = 0; i < tissue.size(); ++i) {
    if (tissue[i].id != static_cast<int>(i))
      throw Error(where, "tissue class '" + tissue[i].name + "' has id " +
                             std::to_string(tissue[i].id) + ", expected " + std::to_string(i));
    if (!names.insert(tissue[i].name).second)
      throw Error(where, "tissue class name '" + tissue[i].name + "' appears twice");
  }
  names.clear();
  for (std::size_t i = 0; i < cd.size(); ++i) {
    if (cd[i].id != static_cast<int>(i))
      throw Error(where, "clearness degree '" + cd[i].name + "' has id " +
                             std::to_string(cd[i].id) + ", expected " + std::to_string(i));
    if (!names.insert(cd[i].name).second)
      throw Error(where, "clearness degree name '" + cd[i].name + "' appears twice");
  }
  if (ignore_index >= 0 && ignore_index < num_tissue())
    throw Error(where, "ignore index collides with a tissue class id");
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
    if (!col.is_array() || col.size() != 3)
      throw nlohmann::json::other_error::create(
          501, "color of tissue class '" + t.name + "' must be [r, g, b]", &c);
    for (int k = 0; k < 3; ++k) t.color[k] = col[k].get<std::uint8_t>();
    t.hotkey = c.value("hotkey", std::string());
    s.tissue.push_back(std::move(t));
  }
}

}  // namespace excap
