// Reading a frame's final mask for evaluation at its original size: through
// media/ when the build has OpenCV, refused otherwise (the GPU build has none).
#include <cstring>

#include "common/error.h"
#include "store/project.h"
#include "trainer/run_eval.h"

#ifdef EXCAP_TRAINER_READS_PNG
#include "media/imageio.h"
#endif

namespace excap::trainer {

bool reads_final_masks() {
#ifdef EXCAP_TRAINER_READS_PNG
  return true;
#else
  return false;
#endif
}

FrameMask read_final_mask(const Project& project, const std::string& frame_id) {
  const fs::path path = project.final_mask_path(frame_id);
#ifdef EXCAP_TRAINER_READS_PNG
  if (!fs::exists(path))
    throw Error(path.string(),
                "no final mask for a frame of the packed subset (re-pack the split, "
                "or score with --at-packed-size)");
  const cv::Mat m = read_mask(path);
  FrameMask out;
  out.height = m.rows;
  out.width = m.cols;
  out.pixels.resize(std::size_t(m.rows) * m.cols);
  for (int y = 0; y < m.rows; ++y)
    std::memcpy(out.pixels.data() + std::size_t(y) * m.cols, m.ptr<std::uint8_t>(y), m.cols);
  return out;
#else
  throw Error(path.string(),
              "this build reads no PNG (built without OpenCV); score at the packed "
              "size with --at-packed-size");
#endif
}

}  // namespace excap::trainer
