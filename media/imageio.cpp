#include "media/imageio.h"

#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"

namespace excap {

static cv::Mat decode(const fs::path& path, int flags, const char* what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path.string(), std::string(what) + " file not found");
  std::vector<std::uint8_t> bytes = read_bytes(path);
  if (bytes.empty()) throw Error(path.string(), std::string(what) + " file is empty");
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

cv::Mat read_mask(const fs::path& path) {
  // IMREAD_UNCHANGED keeps palette indices as they are stored for 8-bit PNGs.
  cv::Mat m = decode(path, cv::IMREAD_UNCHANGED, "mask");
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
