// PNG charts drawn with OpenCV, for the agreement report and the trainer's
// evaluation report: bar chart, line chart, confusion matrix, image montage.
// Every function returns an 8-bit BGR image; save with write_png_atomic.
#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace excap::plots {

using Rgb = std::array<std::uint8_t, 3>;

// A fixed qualitative palette (RGB) for series without a colour of their own.
Rgb palette(int i);

struct ChartStyle {
  int width = 800;
  int height = 480;
  double font_scale = 0.5;
  std::string x_label;
  std::string y_label;
  // Value axis range; NaN = from the data (bars always include 0).
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
  bool value_labels = true;  // print each bar's value above it
  int value_decimals = 2;
};

struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category; NaN draws "n/a"
  Rgb color{0, 0, 0};
  bool has_color = false;
  std::vector<double> errors = {};  // optional +- whisker per category (e.g. sd); NaN or 0: none
};

// Grouped vertical bars: one group per category, one bar per series.
cv::Mat bar_chart(const std::string& title, const std::vector<std::string>& categories,
                  const std::vector<BarSeries>& series, const ChartStyle& style = {});

struct LineSeries {
  std::string name;
  std::vector<double> x;  // same length as y; NaN points are skipped (line breaks)
  std::vector<double> y;
  Rgb color{0, 0, 0};
  bool has_color = false;
};

cv::Mat line_chart(const std::string& title, const std::vector<LineSeries>& series,
                   const ChartStyle& style = {});

struct ConfusionStyle {
  int cell = 72;  // cell size in pixels
  double font_scale = 0.5;
  bool normalize_rows = true;  // colour by row share; the text shows count and share
  std::string row_title = "truth";
  std::string col_title = "prediction";
};

// counts is k x k, row-major; rows = row_title, columns = col_title.
cv::Mat confusion_matrix_image(const std::string& title, const std::vector<std::string>& labels,
                               const std::vector<long long>& counts,
                               const ConfusionStyle& style = {});

// Tiles (any size, 1 or 3 channels) scaled to tile_width, laid out in a grid
// with a caption under each.
cv::Mat montage(const std::vector<cv::Mat>& tiles, const std::vector<std::string>& captions,
                int columns, int tile_width = 240, double font_scale = 0.45);

// Class-index mask to a colour image (BGR) with the given RGB colours;
// values without a colour (e.g. 255) are drawn grey.
cv::Mat colorize_mask(const cv::Mat& mask, const std::vector<Rgb>& colors);

// Blends `image` (BGR) darkened with `highlight` (8-bit, non-zero = marked)
// drawn in `color`; the disagreement heatmap of the agreement report.
cv::Mat highlight_overlay(const cv::Mat& image, const cv::Mat& highlight, Rgb color = {255, 0, 0});

}  // namespace excap::plots
