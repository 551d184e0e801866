// A project with one tiny evaluated run as `excap train` and `excap eval`
// write it (docs/runs.md), shared by the Results model and GUI suites.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "common/fsutil.h"
#include "support/project_builder.h"

namespace excap::test {

// Frames v1_00000..v1_0000{n-1} with final masks; pred/ of eval/test equals
// the truth except v1_00002 (every pixel wrong) and v1_00001 (half wrong).
inline Project make_results_project(const fs::path& dir, int frames = 4,
                                    const std::vector<std::string>& annotators = {"a", "b"}) {
  Project p = make_studio_project(dir, frames, 96, annotators);
  const fs::path run = p.run_dir("tiny");
  const fs::path eval = run / "eval" / "test";
  ensure_dir(eval / "pred");
  for (int i = 0; i < frames; ++i) {
    const std::string id = "v1_0000" + std::to_string(i);
    const cv::Mat truth = planted_mask(96, i);
    add_final(p, id, 0, truth);
    cv::Mat pred = truth.clone();
    if (i == 2) pred.setTo(7);
    if (i == 1) pred(cv::Rect(0, 0, 96, 48)).setTo(7);
    write_png_atomic(eval / "pred" / (id + ".png"), pred);
  }
  const nlohmann::json config = {{"format", "excap-run-config"},
                                 {"version", 1},
                                 {"run", "tiny"},
                                 {"iters", 40},
                                 {"model", {{"arch", "mtcsn"}, {"backbone", "tiny"}}}};
  atomic_write(run / "config.json", config.dump(2));
  std::string log = R"({"event":"start","iter":0,"time":"t","device":"cpu"})"
                    "\n";
  for (int it = 10; it <= 40; it += 10) {
    log += R"({"iter":)" + std::to_string(it) + R"(,"lr":)" + std::to_string(0.01 / it) +
           R"(,"loss":)" + std::to_string(2.0 / it) + R"(,"loss_cls":)" + std::to_string(1.0 / it) +
           "}\n";
    if (it == 20) log += "{\"iter\":20,\"lr\":0.0\n";  // a torn line
    if (it % 20 == 0)
      log += R"({"iter":)" + std::to_string(it) + R"(,"val":{"accuracy":0.5,"mIoU":)" +
             std::to_string(it / 100.0) +
             R"(,"f1":null},"score":0.4})"
             "\n";
  }
  log += R"({"event":"end","iter":40,"message":"done"})"
         "\n";
  atomic_write(run / "metrics.jsonl", log);
  nlohmann::json seg_classes = nlohmann::json::array();
  for (const auto& t : p.meta().schema.tissue)
    seg_classes.push_back({{"class", t.name}, {"IoU", t.name == "lesion" ? 0.25 : 0.75}});
  const nlohmann::json metrics = {
      {"format", "excap-eval"},
      {"version", 1},
      {"run", "tiny"},
      {"subset", "test"},
      {"checkpoint", "best"},
      {"iteration", 40},
      {"count", frames},
      {"classification",
       {{"accuracy", 0.75},
        {"precision", 0.5},
        {"recall", 0.5},
        {"f1", nullptr},
        {"confusion", {{3, 1, 0}, {0, 0, 0}, {0, 0, 0}}}}},
      {"segmentation", {{"aAcc", 0.8}, {"mIoU", 0.6}, {"mAcc", 0.7}, {"per_class", seg_classes}}}};
  atomic_write(eval / "metrics.json", metrics.dump(2));
  return p;
}

// Triage outputs of one video in `out` (frames.csv and summary.json), every
// third frame kept, made with `weights` (runs/<run>/checkpoints/<folder>/...).
inline void write_triage_files(const fs::path& out, const fs::path& video,
                               const std::string& weights, int rows = 30) {
  ensure_dir(out);
  std::string csv =
      "frame,time_s,cd_pred,p_clear,p_blur,p_invisible,share_clear_tissue,"
      "share_lesion,score,kept,reason,near_kept_frame\n";
  for (int i = 0; i < rows; ++i) {
    const double p = (i % 10) / 10.0;
    csv += std::to_string(i * 2) + "," + std::to_string(i * 0.2) + ",0," + std::to_string(p) +
           ",0,0,0.5,0.1," + std::to_string(p / 2) + "," +
           (i % 3 == 0 ? "1,kept," : "0,not_clear,") + "\n";
  }
  atomic_write(out / "frames.csv", csv);
  const nlohmann::json summary = {
      {"format", "excap-triage-summary"},
      {"version", 1},
      {"video", {{"path", video.string()}, {"fps", 10.0}}},
      {"run", fs::path(weights).parent_path().parent_path().parent_path().filename().string()},
      {"weights", weights}};
  atomic_write(out / "summary.json", summary.dump(2));
}

}  // namespace excap::test
