#include "media/video.h"

#include <cmath>

#include <opencv2/videoio.hpp>

#include "common/error.h"

namespace excap {

namespace {

std::string fourcc_text(double v) {
  const auto code = static_cast<std::uint32_t>(v);
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((code >> (8 * i)) & 0xff);
    if (c >= 32 && c < 127) s += c;
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s.empty() ? "unknown" : s;
}

void open_capture(cv::VideoCapture& cap, const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path.string(), "video file not found");
  if (!fs::is_regular_file(path, ec)) throw Error(path.string(), "not a regular file");
  if (fs::file_size(path, ec) == 0) throw Error(path.string(), "video file is empty");
  try {
    cap.open(path.string(), cv::CAP_FFMPEG);
  } catch (const cv::Exception& e) {
    throw Error(path.string(), std::string("cannot open video: ") + e.what());
  }
  if (!cap.isOpened())
    throw Error(path.string(),
                "cannot open video: no decodable video stream (corrupt, truncated before its "
                "index, or not a video)");
}

}  // namespace

VideoInfo probe_video(const fs::path& path, bool count_frames) {
  cv::VideoCapture cap;
  open_capture(cap, path);
  VideoInfo info;
  info.fps = cap.get(cv::CAP_PROP_FPS);
  info.width = static_cast<int>(cap.get(cv::CAP_PROP_FRAME_WIDTH));
  info.height = static_cast<int>(cap.get(cv::CAP_PROP_FRAME_HEIGHT));
  info.codec = fourcc_text(cap.get(cv::CAP_PROP_FOURCC));
  const double container_frames = cap.get(cv::CAP_PROP_FRAME_COUNT);
  cv::Mat first;
  if (!cap.read(first) || first.empty())
    throw Error(path.string(), "cannot decode the first frame (codec " + info.codec +
                                   "): corrupt or unsupported stream");
  info.width = first.cols;
  info.height = first.rows;
  if (!(info.fps > 0 && info.fps < 1000))
    throw Error(path.string(), "the container gives no usable frame rate");
  if (count_frames || !(container_frames > 0)) {
    long long n = 1;
    while (cap.grab()) ++n;
    info.frames = n;
  } else {
    info.frames = static_cast<long long>(std::llround(container_frames));
  }
  info.duration_s = static_cast<double>(info.frames) / info.fps;
  return info;
}

struct VideoReader::Impl {
  cv::VideoCapture cap;
  fs::path path;
};

VideoReader::VideoReader(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  open_capture(impl_->cap, path);
}

VideoReader::~VideoReader() = default;

double VideoReader::fps() const { return impl_->cap.get(cv::CAP_PROP_FPS); }

cv::Size VideoReader::size() const {
  return cv::Size(static_cast<int>(impl_->cap.get(cv::CAP_PROP_FRAME_WIDTH)),
                  static_cast<int>(impl_->cap.get(cv::CAP_PROP_FRAME_HEIGHT)));
}

bool VideoReader::grab_next() {
  if (held_) {
    held_ = false;
    return true;
  }
  if (ended_ || !impl_->cap.grab()) {
    ended_ = true;
    return false;
  }
  const double ms = impl_->cap.get(cv::CAP_PROP_POS_MSEC);
  const double fps = impl_->cap.get(cv::CAP_PROP_FPS);
  if (first_ms_ < 0) first_ms_ = ms;
  if (ms > 0 && fps > 0) {
    const long long by_time = std::llround((ms - first_ms_) * fps / 1000.0);
    if (by_time > next_) {  // the decoder dropped frames: resynchronise on the timestamp
      gaps_.emplace_back(next_, by_time);
      next_ = by_time;
    }
  }
  return true;
}

bool VideoReader::skip_to(long long index) {
  if (index < next_) throw Error(impl_->path.string(), "cannot read backwards (sequential reader)");
  // grab() decodes but skips the colour conversion of frames we do not keep.
  while (next_ < index) {
    if (!grab_next()) return false;
    if (next_ >= index) {  // a gap jumped to or past the target: keep that frame for later
      held_ = true;
      return true;
    }
    ++next_;
  }
  return true;
}

bool VideoReader::read_at(long long index, cv::Mat& bgr) {
  if (!skip_to(index)) return false;
  if (next_ > index) return false;  // lost in a gap
  if (!grab_next()) return false;
  if (next_ > index) {  // the gap began right at the target
    held_ = true;
    return false;
  }
  ++next_;
  return impl_->cap.retrieve(bgr) && !bgr.empty();
}

std::vector<long long> sample_indices(int count, long long total_frames) {
  std::vector<long long> out;
  if (count <= 0 || total_frames <= 0) return out;
  if (total_frames <= count) {
    for (long long i = 0; i < total_frames; ++i) out.push_back(i);
    return out;
  }
  // Stretches are at least one frame long here, so the midpoints never repeat.
  for (long long i = 0; i < count; ++i) out.push_back(total_frames * (2 * i + 1) / (2 * count));
  return out;
}

std::vector<cv::Mat> sample_frames(const fs::path& path, int count, long long total_frames) {
  std::vector<cv::Mat> out;
  if (count <= 0) return out;
  // One pass of grab() up to the last index, retrieve() only at the chosen
  // ones. Cost: a 4-hour capsule video at 30 fps is ~430k frames, minutes of
  // decoding, once per extraction run. Worth it: the container seek lands on
  // other frames, or none, in some containers (MPEG-TS, MPEG-PS), and which
  // frames are sampled decides the disc edge, hence every extracted pixel there.
  {
    VideoReader reader(path);
    for (long long index : sample_indices(count, total_frames)) {
      if (index < reader.position()) continue;  // lost in a corrupt stretch (see gaps())
      cv::Mat f;
      if (reader.read_at(index, f)) out.push_back(f);
      if (reader.at_end()) break;
    }
  }
  if (out.empty()) {  // the stream is shorter than its recorded length says
    VideoReader reader(path);
    cv::Mat f;
    for (int i = 0; i < count && reader.read(f); ++i) out.push_back(f.clone());
  }
  return out;
}

}  // namespace excap
