#include "media/imageio.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <utility>

#include "common/error.h"

namespace excap {

// Far above any video frame (8192 x 8192); a header claiming more is hostile or corrupt.
constexpr long long kMaxImagePixels = 1LL << 26;

static long long be_at(const std::vector<std::uint8_t>& b, std::size_t at, int n) {
  long long v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | b[at + i];
  return v;
}

// Width and height a PNG, BMP or JPEG header declares ({0, 0} when unknown),
// read before decoding so the decoder never allocates from an unchecked size.
static std::pair<long long, long long> declared_size(const std::vector<std::uint8_t>& b) {
  static const std::uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= 24 && std::equal(png, png + 8, b.begin()))
    return {be_at(b, 16, 4), be_at(b, 20, 4)};
  if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {
    auto le32 = [&](std::size_t at) {
      return static_cast<std::int32_t>(b[at] | b[at + 1] << 8 | b[at + 2] << 16 |
                                       static_cast<std::uint32_t>(b[at + 3]) << 24);
    };
    return {std::llabs(le32(18)), std::llabs(le32(22))};
  }
  if (b.size() < 4 || b[0] != 0xff || b[1] != 0xd8) return {0, 0};
  for (std::size_t at = 2; at + 9 <= b.size() && b[at] == 0xff;) {
    const int m = b[at + 1];
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc)
      return {be_at(b, at + 7, 2), be_at(b, at + 5, 2)};  // SOFn: height, then width
    at += 2 + static_cast<std::size_t>(be_at(b, at + 2, 2));
  }
  return {0, 0};
}

static cv::Mat decode(const fs::path& path, int flags, const char* what,
                      std::vector<std::uint8_t>* kept = nullptr) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path.string(), std::string(what) + " file not found");
  std::vector<std::uint8_t> local;
  std::vector<std::uint8_t>& bytes = kept ? *kept : local;
  bytes = read_bytes(path);
  if (bytes.empty()) throw Error(path.string(), std::string(what) + " file is empty");
  const auto [w, h] = declared_size(bytes);
  if (w > kMaxImagePixels || h > kMaxImagePixels || w * h > kMaxImagePixels)
    throw Error(path.string(), std::string(what) + " declares " + std::to_string(w) + "x" +
                                   std::to_string(h) + " pixels, above the limit of " +
                                   std::to_string(kMaxImagePixels));
  cv::Mat m;
  try {
    m = cv::imdecode(bytes, flags);
  } catch (const cv::Exception& e) {
    throw Error(path.string(), std::string("cannot decode ") + what + ": " + e.what());
  }
  if (m.empty())
    throw Error(path.string(), std::string("cannot decode ") + what + ": corrupt or not an image");
  return m;
}

cv::Mat read_frame(const fs::path& path) {
  cv::Mat m = decode(path, cv::IMREAD_COLOR, "image");
  if (m.depth() != CV_8U) m.convertTo(m, CV_8U);
  return m;
}

// A PNG's IHDR bit depth and colour type ({0, -1} when `b` is no PNG).
static std::pair<int, int> png_depth_and_type(const std::vector<std::uint8_t>& b) {
  static const std::uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() < 26 || !std::equal(png, png + 8, b.begin())) return {0, -1};
  return {b[24], b[25]};
}

// The PLTE entries (with tRNS alpha, 255 when absent) of a palette PNG, as B,G,R,A.
static std::vector<cv::Vec4b> png_palette(const std::vector<std::uint8_t>& b) {
  std::vector<cv::Vec4b> pal;
  for (std::size_t at = 8; at + 12 <= b.size();) {
    const auto len = static_cast<std::size_t>(be_at(b, at, 4));
    if (len > b.size() - at - 12) break;
    const std::string type(b.begin() + static_cast<long>(at) + 4,
                           b.begin() + static_cast<long>(at) + 8);
    const std::size_t data = at + 8;
    if (type == "PLTE")
      for (std::size_t i = 0; i + 3 <= len; i += 3)
        pal.emplace_back(b[data + i + 2], b[data + i + 1], b[data + i], 255);
    if (type == "tRNS")
      for (std::size_t i = 0; i < len && i < pal.size(); ++i) pal[i][3] = b[data + i];
    if (type == "IDAT") break;
    at = data + len + 4;
  }
  return pal;
}

// OpenCV expands palette PNGs to colour: each pixel goes back to the lowest
// palette index holding its colour (duplicate entries cannot be told apart).
static cv::Mat palette_indices(const fs::path& path, const cv::Mat& colour,
                               const std::vector<cv::Vec4b>& pal) {
  std::map<std::uint32_t, std::uint8_t> index;
  const bool alpha = colour.channels() == 4;
  for (std::size_t i = pal.size(); i-- > 0;) {
    const cv::Vec4b& c = pal[i];
    index[(std::uint32_t(c[0]) << 24) | (c[1] << 16) | (c[2] << 8) | (alpha ? c[3] : 255)] =
        static_cast<std::uint8_t>(i);
  }
  cv::Mat out(colour.size(), CV_8UC1);
  const int ch = colour.channels();
  for (int y = 0; y < colour.rows; ++y) {
    const std::uint8_t* p = colour.ptr<std::uint8_t>(y);
    for (int x = 0; x < colour.cols; ++x, p += ch) {
      auto it = index.find((std::uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) |
                           (alpha ? p[3] : 255));
      if (it == index.end())
        throw Error(path.string(), "palette mask: a colour not in its palette");
      out.at<std::uint8_t>(y, x) = it->second;
    }
  }
  return out;
}

cv::Mat read_mask(const fs::path& path) {
  std::vector<std::uint8_t> bytes;
  cv::Mat m = decode(path, cv::IMREAD_UNCHANGED, "mask", &bytes);
  const auto [depth, type] = png_depth_and_type(bytes);
  if (type == 3 && m.channels() >= 3 && m.depth() == CV_8U) {
    const std::vector<cv::Vec4b> pal = png_palette(bytes);
    if (pal.empty() || pal.size() > 256)
      throw Error(path.string(), "palette mask without a palette");
    return palette_indices(path, m, pal);
  }
  // Gray PNGs under 8 bits come back scaled to 0..255; the stored values are the indices.
  if (type == 0 && depth < 8 && depth > 0 && m.type() == CV_8UC1) m /= 255 / ((1 << depth) - 1);
  if (m.channels() != 1)
    throw Error(path.string(), "mask must be a single-channel class-index image, has " +
                                   std::to_string(m.channels()) + " channels");
  if (m.depth() != CV_8U)
    throw Error(path.string(), "mask must be 8-bit, has depth code " + std::to_string(m.depth()));
  return m;
}

cv::Size image_size(const fs::path& path) {
  // PNG: width and height are big-endian at bytes 16..23 of the IHDR chunk.
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string(), "cannot open image");
  unsigned char h[24] = {};
  in.read(reinterpret_cast<char*>(h), 24);
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (in.gcount() == 24 && std::equal(sig, sig + 8, h)) {
    auto be = [&](int o) { return (h[o] << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]; };
    return cv::Size(be(16), be(20));
  }
  return read_frame(path).size();
}

std::vector<std::uint8_t> encode_png(const cv::Mat& image, int compression) {
  std::vector<std::uint8_t> buf;
  if (!cv::imencode(".png", image, buf, {cv::IMWRITE_PNG_COMPRESSION, compression}))
    throw Error("png", "encoding failed");
  return buf;
}

void write_png_atomic(const fs::path& path, const cv::Mat& image, int compression) {
  if (image.empty()) throw Error(path.string(), "refusing to write an empty image");
  std::vector<std::uint8_t> buf;
  try {
    buf = encode_png(image, compression);
  } catch (const cv::Exception& e) {
    throw Error(path.string(), std::string("PNG encoding failed: ") + e.what());
  }
  atomic_write(path, buf);
}

MaskCheck check_mask_values(const cv::Mat& mask, int num_classes, int ignore_index) {
  MaskCheck r;
  for (int y = 0; y < mask.rows; ++y) {
    const std::uint8_t* p = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) {
      const int v = p[x];
      if (v >= num_classes && v != ignore_index) {
        if (r.bad_pixels == 0) r.first_bad_value = v;
        ++r.bad_pixels;
      }
    }
  }
  return r;
}

}  // namespace excap
