// Internal to metrics/: the one NaN rule for an empty denominator, and how a
// NaN is written to JSON (null), shared by the confusion and area metrics.
#pragma once
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace excap::metrics::detail {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// mmsegmentation's convention: a class with no pixels in the denominator is NaN.
inline double ratio(long long num, long long den) {
  return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den);
}

inline nlohmann::json number_or_null(double v) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

}  // namespace excap::metrics::detail
