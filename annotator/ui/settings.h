// The studio's settings: a typed struct loaded tolerantly (a missing key
// keeps its default, a parse error falls back to the defaults with a
// warning, as Tracy's LoadValue does). Window layout alone goes to imgui.ini.
#pragma once
#include <string>

#include "common/fsutil.h"

namespace excap::studio {

struct StudioSettings {
  float ui_scale = 0.f;    // 0: from the monitor's content scale
  float font_size = 15.f;  // in pixels at scale 1
  float overlay_opacity = 0.45f;
  bool outline = false;
  bool show_mask = true;
  int brush_radius = 8;  // image pixels
  int island_min_pixels = 40;
  int superpixel_size = 18;
  int grabcut_margin = 10;
  double extract_fps = 2.0;

  // Reads `path`; returns defaults (and a warning in *warning) on trouble.
  static StudioSettings load(const fs::path& path, std::string* warning);
  void save(const fs::path& path) const;  // atomic; throws Error
};

// $XDG_CONFIG_HOME/excap (or ~/.config/excap); empty when neither is known.
fs::path config_dir();

}  // namespace excap::studio
