// An RGBA texture that uploads either whole or one changed rectangle
// (glTexSubImage2D with GL_UNPACK_ROW_LENGTH), so a brush stroke sends only
// the pixels it touched. The only GL the panels use; it lives in ui/ because
// ImGui draws textures by id.
#pragma once
#include <cstdint>

#include <imgui.h>
#include <opencv2/core.hpp>

namespace excap::studio {

class GlTexture {
 public:
  GlTexture() = default;
  ~GlTexture();
  GlTexture(const GlTexture&) = delete;
  GlTexture& operator=(const GlTexture&) = delete;

  // (Re)creates the texture from a CV_8UC4 RGBA image.
  void upload(const cv::Mat& rgba, bool smooth);
  // Uploads rgba(rect) into the same rectangle of the texture.
  void update(const cv::Mat& rgba, cv::Rect rect);
  bool valid() const { return id_ != 0; }
  ImTextureID id() const { return reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(id_)); }
  cv::Size size() const { return size_; }
  long long bytes_uploaded() const { return bytes_; }  // running total, for the benchmark

 private:
  unsigned int id_ = 0;
  cv::Size size_;
  long long bytes_ = 0;
};

}  // namespace excap::studio
