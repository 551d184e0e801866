#include "annotator/ui/gl_texture.h"

#include <GL/gl.h>

namespace excap::studio {

GlTexture::~GlTexture() {
  if (id_) glDeleteTextures(1, &id_);
}

void GlTexture::upload(const cv::Mat& rgba, bool smooth) {
  CV_Assert(rgba.type() == CV_8UC4 && rgba.isContinuous());
  if (!id_ || size_ != rgba.size()) {
    if (id_) glDeleteTextures(1, &id_);
    glGenTextures(1, &id_);
    glBindTexture(GL_TEXTURE_2D, id_);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, smooth ? GL_LINEAR : GL_NEAREST);
    // Magnified pixels stay crisp: annotators zoom in to see single pixels.
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    size_ = rgba.size();
  }
  glBindTexture(GL_TEXTURE_2D, id_);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, rgba.cols, rgba.rows, 0, GL_RGBA, GL_UNSIGNED_BYTE,
               rgba.data);
  bytes_ += static_cast<long long>(rgba.total() * 4);
}

void GlTexture::update(const cv::Mat& rgba, cv::Rect rect) {
  rect &= cv::Rect(0, 0, size_.width, size_.height);
  if (!id_ || rect.empty()) return;
  CV_Assert(rgba.type() == CV_8UC4 && rgba.size() == size_);
  glBindTexture(GL_TEXTURE_2D, id_);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glPixelStorei(GL_UNPACK_ROW_LENGTH, static_cast<GLint>(rgba.step / 4));
  glTexSubImage2D(GL_TEXTURE_2D, 0, rect.x, rect.y, rect.width, rect.height, GL_RGBA,
                  GL_UNSIGNED_BYTE, rgba.ptr(rect.y, rect.x));
  glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
  bytes_ += static_cast<long long>(rect.area()) * 4;
}

}  // namespace excap::studio
