// The Clips workspace's core: frame-accurate random access on a worker
// thread, and extraction on a worker thread with progress and cancel.
#include <doctest/doctest.h>

#include <opencv2/videoio.hpp>

#include "annotator/core/extract_job.h"
#include "annotator/core/video_cursor.h"
#include "media/video.h"
#include "stage1/stage1.h"
#include "support/project_builder.h"
#include "test_support.h"

using namespace excap;
using namespace excap::annotator;

namespace {
// A lossless video whose frame i carries i in its top-left pixel.
fs::path numbered_video(const fs::path& dir, int frames) {
  const fs::path path = dir / "numbered.avi";
  cv::VideoWriter w(path.string(), cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 10.0,
                    cv::Size(64, 64));
  REQUIRE(w.isOpened());
  for (int i = 0; i < frames; ++i) {
    cv::Mat f = test::capsule_frame(64, i);
    f(cv::Rect(0, 0, 4, 4)).setTo(cv::Scalar(i * 4, i * 4, i * 4));
    w.write(f);
  }
  return path;
}
int frame_number(const cv::Mat& bgr) { return (bgr.at<cv::Vec3b>(1, 1)[0] + 2) / 4; }
}  // namespace

TEST_CASE("video cursor serves any frame exactly, forwards and backwards") {
  test::ScratchDir dir("studio-cursor");
  const fs::path video = numbered_video(dir.path(), 50);
  VideoCursor cur(video, 50, 8);
  for (long long want : {0LL, 10LL, 11LL, 9LL, 40LL, 3LL, 49LL, 48LL}) {
    const auto snap = cur.wait(want);
    REQUIRE(snap.index == want);
    CHECK(frame_number(snap.bgr) == want);
    CHECK(snap.error.empty());
  }
  CHECK(cur.wait(500).index == 49);  // clamped to the last frame
}

TEST_CASE("extraction runs on a worker with progress, a re-run keeps what exists") {
  test::ScratchDir dir("studio-extract");
  Project p = test::make_studio_project(dir / "proj", 0);
  const fs::path video = numbered_video(dir.path(), 60);
  const Video v = import_video(p, video, "Some Patient", "a");
  add_clip(p, v.id, 0, 60, "a", "");
  ExtractJob job;
  ExtractOptions opt;
  opt.fps = 10;  // every frame
  opt.dedupe = 0;
  opt.user = "a";
  REQUIRE(job.start(p, opt));
  job.join();
  auto pr = job.progress();
  CHECK(pr.finished);
  CHECK_FALSE(pr.running);
  CHECK(pr.error.empty());
  CHECK(pr.report.written == 60);
  CHECK(pr.done == pr.total);
  CHECK(p.load_frames().size() == 60);

  // Re-running is idempotent: every frame is kept, none written again.
  REQUIRE(job.start(p, opt));
  job.join();
  CHECK(job.progress().report.written == 0);
  CHECK(job.progress().report.kept_existing == 60);
}

TEST_CASE("a cancelled extraction reports cancelled and leaves a consistent project") {
  test::ScratchDir dir("studio-extract-cancel");
  Project p = test::make_studio_project(dir / "proj", 0);
  const fs::path video = numbered_video(dir.path(), 60);
  const Video v = import_video(p, video, "Some Patient", "a");
  add_clip(p, v.id, 0, 60, "a", "");
  ExtractJob job;
  ExtractOptions opt;
  opt.fps = 10;
  opt.dedupe = 0;
  job.start(p, opt);
  job.cancel();
  job.join();
  const auto pr = job.progress();
  CHECK(pr.finished);
  CHECK(pr.cancelled);
  CHECK(p.load_frames().size() <= 60);  // whatever was saved is valid; a re-run completes it
  ExtractJob again;
  again.start(p, opt);
  again.join();
  CHECK(p.load_frames().size() == 60);
}
