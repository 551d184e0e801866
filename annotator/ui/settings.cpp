#include "annotator/ui/settings.h"

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace excap::studio {

namespace {
template <typename T>
void load_value(const nlohmann::json& j, const char* key, T& value) {
  auto it = j.find(key);
  if (it == j.end()) return;
  try {
    value = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    // A wrong type for one key keeps that key's default.
  }
}
}  // namespace

StudioSettings StudioSettings::load(const fs::path& path, std::string* warning) {
  StudioSettings s;
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return s;
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file(path));
    load_value(j, "ui_scale", s.ui_scale);
    load_value(j, "font_size", s.font_size);
    load_value(j, "overlay_opacity", s.overlay_opacity);
    load_value(j, "outline", s.outline);
    load_value(j, "show_mask", s.show_mask);
    load_value(j, "brush_radius", s.brush_radius);
    load_value(j, "island_min_pixels", s.island_min_pixels);
    load_value(j, "superpixel_size", s.superpixel_size);
    load_value(j, "grabcut_margin", s.grabcut_margin);
    load_value(j, "extract_fps", s.extract_fps);
  } catch (const std::exception& e) {
    if (warning) *warning = path.string() + ": " + e.what() + " (using default settings)";
    return StudioSettings{};
  }
  s.overlay_opacity = std::clamp(s.overlay_opacity, 0.f, 1.f);
  s.brush_radius = std::clamp(s.brush_radius, 0, 500);
  s.font_size = std::clamp(s.font_size, 8.f, 48.f);
  return s;
}

void StudioSettings::save(const fs::path& path) const {
  const nlohmann::json j{{"ui_scale", ui_scale},
                         {"font_size", font_size},
                         {"overlay_opacity", overlay_opacity},
                         {"outline", outline},
                         {"show_mask", show_mask},
                         {"brush_radius", brush_radius},
                         {"island_min_pixels", island_min_pixels},
                         {"superpixel_size", superpixel_size},
                         {"grabcut_margin", grabcut_margin},
                         {"extract_fps", extract_fps}};
  ensure_dir(path.parent_path());
  atomic_write(path, j.dump(2) + "\n");
}

fs::path config_dir() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return fs::path(x) / "excap";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".config" / "excap";
  return {};
}

}  // namespace excap::studio
