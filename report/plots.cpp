#include "report/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <opencv2/imgproc.hpp>

namespace excap::plots {

namespace {

const cv::Scalar kBlack(0, 0, 0), kGrey(160, 160, 160), kLight(235, 235, 235),
    kWhite(255, 255, 255);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

cv::Scalar bgr(const Rgb& c) { return cv::Scalar(c[2], c[1], c[0]); }

std::string fmt(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Draws text with its anchor: ax, ay in {0 left/top, 0.5 centre, 1 right/bottom}.
void text(cv::Mat& img, const std::string& s, cv::Point p, double scale, cv::Scalar color,
          double ax = 0, double ay = 1, int thickness = 1) {
  int base = 0;
  cv::Size sz = cv::getTextSize(s, kFont, scale, thickness, &base);
  cv::Point o(p.x - static_cast<int>(ax * sz.width), p.y + static_cast<int>((1 - ay) * sz.height));
  cv::putText(img, s, o, kFont, scale, color, thickness, cv::LINE_AA);
}

void vertical_text(cv::Mat& img, const std::string& s, cv::Point centre, double scale) {
  int base = 0;
  cv::Size sz = cv::getTextSize(s, kFont, scale, 1, &base);
  cv::Mat t(sz.height + base + 4, sz.width + 4, CV_8UC3, kWhite);
  cv::putText(t, s, cv::Point(2, sz.height + 2), kFont, scale, kBlack, 1, cv::LINE_AA);
  cv::rotate(t, t, cv::ROTATE_90_COUNTERCLOCKWISE);
  cv::Rect r(centre.x - t.cols / 2, centre.y - t.rows / 2, t.cols, t.rows);
  r &= cv::Rect(0, 0, img.cols, img.rows);
  if (r.area() > 0) t(cv::Rect(0, 0, r.width, r.height)).copyTo(img(r));
}

// "Nice" tick step (1, 2, 5 x 10^k) for about n ticks over span.
double tick_step(double span, int n) {
  if (!(span > 0)) return 1;
  double raw = span / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

struct Axes {
  cv::Rect area;
  double y0, y1;
  int y_px(double v) const {
    return area.y + area.height - static_cast<int>(std::lround((v - y0) / (y1 - y0) * area.height));
  }
};

Axes draw_frame(cv::Mat& img, const std::string& title, const ChartStyle& st, double y0, double y1,
                int legend_rows) {
  const double fs = st.font_scale;
  text(img, title, {img.cols / 2, 8}, fs * 1.3, kBlack, 0.5, 0, 1);
  const int top = 40 + legend_rows * 18, left = 70, right = 34, bottom = 70;
  Axes ax{cv::Rect(left, top, img.cols - left - right, img.rows - top - bottom), y0, y1};
  const double step = tick_step(y1 - y0, 6);
  for (double v = std::ceil(y0 / step) * step; v <= y1 + 1e-9 * step; v += step) {
    int y = ax.y_px(v);
    cv::line(img, {ax.area.x, y}, {ax.area.x + ax.area.width, y}, kLight, 1);
    text(img, fmt(v, step < 1 ? static_cast<int>(std::ceil(-std::log10(step))) : 0),
         {ax.area.x - 6, y}, fs * 0.9, kBlack, 1, 0.5);
  }
  cv::rectangle(img, ax.area, kGrey, 1);
  if (!st.y_label.empty()) vertical_text(img, st.y_label, {14, ax.area.y + ax.area.height / 2}, fs);
  if (!st.x_label.empty())
    text(img, st.x_label, {ax.area.x + ax.area.width / 2, img.rows - 6}, fs, kBlack, 0.5, 1);
  return ax;
}

void legend(cv::Mat& img, const std::vector<std::pair<std::string, cv::Scalar>>& items, double fs) {
  int x = 70, y = 34;
  for (const auto& [name, color] : items) {
    int base = 0;
    cv::Size sz = cv::getTextSize(name, kFont, fs, 1, &base);
    if (x + 20 + sz.width > img.cols - 10) {
      x = 70;
      y += 18;
    }
    cv::rectangle(img, cv::Rect(x, y, 12, 12), color, cv::FILLED);
    text(img, name, {x + 16, y + 6}, fs, kBlack, 0, 0.5);
    x += 16 + sz.width + 18;
  }
}

int legend_rows(const std::vector<std::string>& names, int width, double fs) {
  int rows = names.empty() ? 0 : 1, x = 70;
  for (const auto& n : names) {
    int base = 0;
    int w = cv::getTextSize(n, kFont, fs, 1, &base).width + 34;
    if (x + w > width - 10) {
      ++rows;
      x = 70;
    }
    x += w;
  }
  return rows;
}

}  // namespace

Rgb palette(int i) {
  static const Rgb p[] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                          {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                          {188, 189, 34},  {23, 190, 207}};
  return p[((i % 10) + 10) % 10];
}

namespace {
// Draws v +- e as a capped vertical line over the bar [x0, x1]; returns its top (or the bar's).
int whisker(cv::Mat& img, const Axes& ax, int x0, int x1, double v, double e, double lo,
            double hi) {
  if (!std::isfinite(e) || e == 0) return ax.y_px(std::clamp(v, lo, hi));
  const int xm = (x0 + x1) / 2, cap = std::max(2, (x1 - x0) / 4);
  const int ylo = ax.y_px(std::clamp(v - std::abs(e), lo, hi));
  const int yhi = ax.y_px(std::clamp(v + std::abs(e), lo, hi));
  cv::line(img, {xm, ylo}, {xm, yhi}, kBlack, 1, cv::LINE_AA);
  cv::line(img, {xm - cap, ylo}, {xm + cap, ylo}, kBlack, 1, cv::LINE_AA);
  cv::line(img, {xm - cap, yhi}, {xm + cap, yhi}, kBlack, 1, cv::LINE_AA);
  return yhi;
}
}  // namespace

cv::Mat bar_chart(const std::string& title, const std::vector<std::string>& categories,
                  const std::vector<BarSeries>& series, const ChartStyle& st) {
  cv::Mat img(st.height, st.width, CV_8UC3, kWhite);
  double lo = 0, hi = 0;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      const double v = s.values[i], e = i < s.errors.size() ? s.errors[i] : 0.0;
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
      if (std::isfinite(v) && std::isfinite(e)) hi = std::max(hi, v + std::abs(e));
    }
  if (!std::isnan(st.y_min)) lo = st.y_min;
  if (!std::isnan(st.y_max)) hi = st.y_max;
  if (hi <= lo) hi = lo + 1;
  std::vector<std::string> names;
  for (const auto& s : series) names.push_back(s.name);
  const int rows = series.size() > 1 ? legend_rows(names, st.width, st.font_scale) : 0;
  Axes ax = draw_frame(img, title, st, lo, hi, rows);
  const int n = std::max<int>(1, static_cast<int>(categories.size()));
  const double group_w = static_cast<double>(ax.area.width) / n;
  const int ns = std::max<int>(1, static_cast<int>(series.size()));
  const double bar_w = group_w * 0.8 / ns;
  std::vector<std::pair<std::string, cv::Scalar>> leg;
  for (int s = 0; s < static_cast<int>(series.size()); ++s) {
    const cv::Scalar col = bgr(series[s].has_color ? series[s].color : palette(s));
    leg.push_back({series[s].name, col});
    for (int c = 0; c < n && c < static_cast<int>(series[s].values.size()); ++c) {
      const double v = series[s].values[c];
      const int x0 = ax.area.x + static_cast<int>(group_w * c + group_w * 0.1 + bar_w * s);
      const int x1 = x0 + std::max(1, static_cast<int>(bar_w) - 1);
      if (!std::isfinite(v)) {
        text(img, "n/a", {(x0 + x1) / 2, ax.y_px(lo) - 4}, st.font_scale * 0.7, kGrey, 0.5, 1);
        continue;
      }
      const double vc = std::clamp(v, lo, hi);
      const int ya = ax.y_px(std::clamp(0.0, lo, hi));
      int yb = ax.y_px(vc);
      cv::rectangle(img, cv::Point(x0, std::min(ya, yb)), cv::Point(x1, std::max(ya, yb)), col,
                    cv::FILLED);
      const double e = c < static_cast<int>(series[s].errors.size()) ? series[s].errors[c] : 0.0;
      yb = std::min(yb, whisker(img, ax, x0, x1, v, e, lo, hi));
      if (st.value_labels)
        text(img, fmt(v, st.value_decimals), {(x0 + x1) / 2, std::min(ya, yb) - 3},
             st.font_scale * 0.7, kBlack, 0.5, 1);
    }
  }
  for (int c = 0; c < static_cast<int>(categories.size()); ++c) {
    // Long category names are drawn in two lines rather than overlapping.
    std::string name = categories[c], second;
    int base = 0;
    if (cv::getTextSize(name, kFont, st.font_scale * 0.85, 1, &base).width > group_w &&
        name.find(' ') != std::string::npos) {
      auto sp = name.find(' ', name.size() / 3);
      if (sp == std::string::npos) sp = name.find(' ');
      second = name.substr(sp + 1);
      name = name.substr(0, sp);
    }
    const int cx = ax.area.x + static_cast<int>(group_w * (c + 0.5));
    const int y = ax.area.y + ax.area.height + 6;
    text(img, name, {cx, y}, st.font_scale * 0.85, kBlack, 0.5, 0);
    if (!second.empty()) text(img, second, {cx, y + 18}, st.font_scale * 0.85, kBlack, 0.5, 0);
  }
  if (series.size() > 1) legend(img, leg, st.font_scale);
  return img;
}

cv::Mat line_chart(const std::string& title, const std::vector<LineSeries>& series,
                   const ChartStyle& st) {
  cv::Mat img(st.height, st.width, CV_8UC3, kWhite);
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) {
        xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
        ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
      }
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  if (!std::isnan(st.y_min)) ylo = st.y_min;
  if (!std::isnan(st.y_max)) yhi = st.y_max;
  if (yhi <= ylo) yhi = ylo + 1;
  if (xhi <= xlo) xhi = xlo + 1;
  std::vector<std::string> names;
  for (const auto& s : series) names.push_back(s.name);
  Axes ax = draw_frame(img, title, st, ylo, yhi, legend_rows(names, st.width, st.font_scale));
  auto x_px = [&](double v) {
    return ax.area.x + static_cast<int>(std::lround((v - xlo) / (xhi - xlo) * ax.area.width));
  };
  const double step = tick_step(xhi - xlo, 8);
  for (double v = std::ceil(xlo / step) * step; v <= xhi + 1e-9 * step; v += step) {
    const int x = x_px(v);
    cv::line(img, {x, ax.area.y + ax.area.height}, {x, ax.area.y + ax.area.height + 4}, kGrey);
    text(img, fmt(v, step < 1 ? static_cast<int>(std::ceil(-std::log10(step))) : 0),
         {x, ax.area.y + ax.area.height + 6}, st.font_scale * 0.85, kBlack, 0.5, 0);
  }
  std::vector<std::pair<std::string, cv::Scalar>> leg;
  for (int s = 0; s < static_cast<int>(series.size()); ++s) {
    const cv::Scalar col = bgr(series[s].has_color ? series[s].color : palette(s));
    leg.push_back({series[s].name, col});
    bool have_prev = false;
    cv::Point prev;
    const auto& L = series[s];
    for (std::size_t i = 0; i < L.x.size() && i < L.y.size(); ++i) {
      if (!std::isfinite(L.x[i]) || !std::isfinite(L.y[i])) {
        have_prev = false;
        continue;
      }
      cv::Point p(x_px(L.x[i]), ax.y_px(std::clamp(L.y[i], ylo, yhi)));
      if (have_prev) cv::line(img, prev, p, col, 2, cv::LINE_AA);
      if (L.x.size() <= 40) cv::circle(img, p, 3, col, cv::FILLED, cv::LINE_AA);
      prev = p;
      have_prev = true;
    }
  }
  legend(img, leg, st.font_scale);
  return img;
}

cv::Mat confusion_matrix_image(const std::string& title, const std::vector<std::string>& labels,
                               const std::vector<long long>& counts, const ConfusionStyle& st) {
  const int k = static_cast<int>(labels.size());
  int base = 0, label_w = 0;
  for (const auto& l : labels)
    label_w = std::max(label_w, cv::getTextSize(l, kFont, st.font_scale, 1, &base).width);
  const int left = label_w + 40, top = 70, c = st.cell;
  const int width = std::max(left + k * c + 20, 320), height = top + k * c + 50;
  cv::Mat img(height, width, CV_8UC3, kWhite);
  text(img, title, {width / 2, 8}, st.font_scale * 1.3, kBlack, 0.5, 0);
  text(img, st.col_title, {left + k * c / 2, 34}, st.font_scale, kBlack, 0.5, 0);
  vertical_text(img, st.row_title, {12, top + k * c / 2}, st.font_scale);
  long long total = 0, maxv = 0;
  for (long long v : counts) total += v, maxv = std::max(maxv, v);
  for (int i = 0; i < k; ++i) {
    long long row = 0;
    for (int j = 0; j < k; ++j) row += counts[i * k + j];
    for (int j = 0; j < k; ++j) {
      const long long v = counts[i * k + j];
      const double share =
          st.normalize_rows ? (row ? double(v) / row : 0.0) : (maxv ? double(v) / maxv : 0.0);
      // White to dark blue; text switches to white on dark cells.
      const cv::Scalar fill(255 - 120 * share, 255 - 200 * share, 255 - 230 * share);
      cv::Rect r(left + j * c, top + i * c, c, c);
      cv::rectangle(img, r, fill, cv::FILLED);
      cv::rectangle(img, r, kGrey, 1);
      const cv::Scalar tc = share > 0.55 ? kWhite : kBlack;
      text(img, std::to_string(v), {r.x + c / 2, r.y + c / 2 - 2}, st.font_scale, tc, 0.5, 1);
      if (st.normalize_rows && row)
        text(img, fmt(100.0 * share, 0) + "%", {r.x + c / 2, r.y + c / 2 + 4}, st.font_scale * 0.8,
             tc, 0.5, 0);
    }
    text(img, labels[i], {left - 6, top + i * c + c / 2}, st.font_scale, kBlack, 1, 0.5);
  }
  for (int j = 0; j < k; ++j)
    text(img, labels[j], {left + j * c + c / 2, top - 4}, st.font_scale * 0.85, kBlack, 0.5, 1);
  text(img, "n = " + std::to_string(total), {left, top + k * c + 10}, st.font_scale, kBlack, 0, 0);
  return img;
}

cv::Mat montage(const std::vector<cv::Mat>& tiles, const std::vector<std::string>& captions,
                int columns, int tile_width, double font_scale) {
  if (tiles.empty()) return cv::Mat(40, tile_width, CV_8UC3, kWhite);
  columns = std::max(1, std::min(columns, static_cast<int>(tiles.size())));
  std::vector<cv::Mat> scaled;
  int tile_h = 0;
  for (const auto& t : tiles) {
    cv::Mat s;
    if (t.channels() == 1)
      cv::cvtColor(t, s, cv::COLOR_GRAY2BGR);
    else
      s = t;
    const int h = std::max(1, s.rows * tile_width / std::max(1, s.cols));
    cv::resize(s, s, cv::Size(tile_width, h), 0, 0, cv::INTER_NEAREST);
    tile_h = std::max(tile_h, h);
    scaled.push_back(s);
  }
  const int cap_h = 24, gap = 8;
  const int rows = (static_cast<int>(tiles.size()) + columns - 1) / columns;
  cv::Mat img(rows * (tile_h + cap_h + gap) + gap, columns * (tile_width + gap) + gap, CV_8UC3,
              kWhite);
  for (std::size_t i = 0; i < scaled.size(); ++i) {
    const int r = static_cast<int>(i) / columns, c = static_cast<int>(i) % columns;
    const int x = gap + c * (tile_width + gap), y = gap + r * (tile_h + cap_h + gap);
    scaled[i].copyTo(img(cv::Rect(x, y, scaled[i].cols, scaled[i].rows)));
    if (i < captions.size()) text(img, captions[i], {x, y + tile_h + 4}, font_scale, kBlack, 0, 0);
  }
  return img;
}

cv::Mat colorize_mask(const cv::Mat& mask, const std::vector<Rgb>& colors) {
  cv::Mat out(mask.size(), CV_8UC3);
  cv::Vec3b lut[256];
  for (int v = 0; v < 256; ++v)
    lut[v] = v < static_cast<int>(colors.size())
                 ? cv::Vec3b(colors[v][2], colors[v][1], colors[v][0])
                 : cv::Vec3b(128, 128, 128);
  for (int y = 0; y < mask.rows; ++y) {
    const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
    cv::Vec3b* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < mask.cols; ++x) o[x] = lut[m[x]];
  }
  return out;
}

cv::Mat highlight_overlay(const cv::Mat& image, const cv::Mat& highlight, Rgb color) {
  cv::Mat base;
  if (image.empty())
    base = cv::Mat(highlight.size(), CV_8UC3, cv::Scalar(40, 40, 40));
  else if (image.channels() == 1)
    cv::cvtColor(image, base, cv::COLOR_GRAY2BGR);
  else
    base = image.clone();
  if (base.size() != highlight.size())
    cv::resize(base, base, highlight.size(), 0, 0, cv::INTER_AREA);
  base.convertTo(base, CV_8UC3, 0.45);  // darken so the marks stand out
  const cv::Vec3b c(color[2], color[1], color[0]);
  for (int y = 0; y < base.rows; ++y) {
    const std::uint8_t* h = highlight.ptr<std::uint8_t>(y);
    cv::Vec3b* o = base.ptr<cv::Vec3b>(y);
    for (int x = 0; x < base.cols; ++x)
      if (h[x])
        o[x] =
            cv::Vec3b((o[x][0] + 3 * c[0]) / 4, (o[x][1] + 3 * c[1]) / 4, (o[x][2] + 3 * c[2]) / 4);
  }
  return base;
}

}  // namespace excap::plots
