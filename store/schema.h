// The label schema is data (project.json), not code: names, colours and
// hotkeys of the clearness degrees and tissue classes come from here.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace excap {

struct CdClass {
  int id = 0;
  std::string name;
  std::string hotkey;  // a single key name, e.g. "Q"
};

struct TissueClass {
  int id = 0;
  std::string name;
  std::array<std::uint8_t, 3> color{};  // RGB
  std::string hotkey;                   // "1".."8"
};

struct LabelSchema {
  std::string name;
  std::vector<CdClass> cd;
  std::vector<TissueClass> tissue;
  int ignore_index = 255;  // "not yet labeled" in masks; ignored by losses and metrics

  int num_cd() const { return static_cast<int>(cd.size()); }
  int num_tissue() const { return static_cast<int>(tissue.size()); }
  bool valid_tissue(int v) const { return v >= 0 && v < num_tissue(); }
  bool valid_cd(int v) const { return v >= 0 && v < num_cd(); }
  int tissue_id(const std::string& name) const;  // -1 when unknown
  int cd_id(const std::string& name) const;

  // Structural checks (at least 2 classes of each kind, ids 0..n-1 in order, < 255 tissue
  // classes, unique names and hotkeys, ignore_index off the tissue ids); throws Error.
  void validate(const std::string& where) const;
};

// CECD, the paper's Tables 1-2: CD 0 clear, 1 blur, 2 invisible; tissue
// 0 background .. 7 clear bubble.
LabelSchema cecd_schema();
LabelSchema schema_by_name(const std::string& name);  // "cecd"; throws Error otherwise

// A schema file shaped like project.json's "schema" object ("name" defaults to the
// file's stem), checked by validate(); Error names the file and the reason.
LabelSchema load_schema_file(const std::filesystem::path& file);

// What `excap init --schema` takes: a built-in name, else a path to a schema file.
LabelSchema schema_from_option(const std::string& name_or_file);

void to_json(nlohmann::json& j, const LabelSchema& s);
void from_json(const nlohmann::json& j, LabelSchema& s);

// Tissue ids of the CECD schema, for code that needs the clinical meaning.
namespace cecd {
enum Tissue : std::uint8_t {
  kBackground = 0,
  kClearTissue = 1,
  kBlurredTissue = 2,
  kLesion = 3,
  kHole = 4,
  kBubbleInvisible = 5,
  kExcretaInvisible = 6,
  kClearBubble = 7,
  kIgnore = 255
};
enum Cd : std::uint8_t { kClear = 0, kBlur = 1, kInvisible = 2 };
}  // namespace cecd

}  // namespace excap
