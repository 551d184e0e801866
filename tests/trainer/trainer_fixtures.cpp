#include "trainer_fixtures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "media/imageio.h"
#include "store/project.h"
#include "store/schema.h"
#include "test_support.h"

namespace excap::test {

void write_split(const fs::path& project_dir, const std::string& name,
                 const std::map<std::string, std::vector<std::string>>& subsets) {
  std::vector<std::string> names;
  std::vector<double> ratios;
  for (const auto& [subset, ids] : subsets) names.push_back(subset), ratios.push_back(1.0 / subsets.size());
  nlohmann::json j = {{"format", "excap-split"}, {"version", 1}, {"name", name},
                      {"ratios", ratios},        {"subset_names", names}, {"subsets", subsets}};
  ensure_dir(project_dir / "splits");
  write_json_atomic(project_dir / "splits" / (name + ".json"), j);
}

namespace {
void save_labelled_frame(const Project& p, const std::string& id, const cv::Mat& bgr,
                         const cv::Mat& mask, int cd) {
  write_png_atomic(p.frame_path(id), bgr);
  FinalLabel f;
  f.frame = id;
  f.cd = cd;
  f.source = "agreed";
  f.expert = "test";
  f.time = now_iso8601();
  p.save_final(f);
  write_png_atomic(p.final_mask_path(id), mask);
}

void synthetic_frame(std::mt19937& rng, int size, int cd, cv::Mat& bgr, cv::Mat& mask) {
  std::uniform_real_distribution<double> u(0, 1);
  bgr = cv::Mat(size, size, CV_8UC3, cv::Scalar(0, 0, 0));
  mask = cv::Mat(size, size, CV_8UC1, cv::Scalar(0));
  cv::Mat fov(size, size, CV_8UC1, cv::Scalar(0));
  cv::circle(fov, {size / 2, size / 2}, int(size * 0.46), cv::Scalar(255), cv::FILLED);
  // Pink tissue with a random fold texture.
  cv::Mat tissue(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double t = 25 * std::sin(0.5 * x + 0.3 * y + 6 * u(rng) * 0.1) + 20 * (u(rng) - 0.5);
      tissue.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uchar>(120 + t), cv::saturate_cast<uchar>(130 + t),
                                             cv::saturate_cast<uchar>(215 + t));
    }
  tissue.copyTo(bgr, fov);
  mask.setTo(1, fov);
  if (u(rng) < 0.6) {  // a lesion
    const cv::Point c(int(size * (0.3 + 0.4 * u(rng))), int(size * (0.3 + 0.4 * u(rng))));
    const int r = int(size * (0.08 + 0.08 * u(rng)));
    cv::Mat blob(size, size, CV_8UC1, cv::Scalar(0));
    cv::circle(blob, c, r, cv::Scalar(255), cv::FILLED);
    cv::bitwise_and(blob, fov, blob);
    bgr.setTo(cv::Scalar(40, 30, 150), blob);
    mask.setTo(3, blob);
  }
  if (cd == 1) {  // blur: the image loses detail, tissue becomes "blurred tissue"
    cv::GaussianBlur(bgr, bgr, {0, 0}, size / 16.0);
    cv::Mat grey;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(grey, grey, cv::COLOR_GRAY2BGR);
    cv::addWeighted(bgr, 0.6, grey, 0.4, 0, bgr);
    cv::Mat outside;
    cv::bitwise_not(fov, outside);
    bgr.setTo(cv::Scalar(0, 0, 0), outside);
    cv::Mat clear_tissue = (mask == 1);
    mask.setTo(2, clear_tissue);
  } else if (cd == 2) {  // invisible: excreta over most of the view
    cv::Mat cover(size, size, CV_8UC1, cv::Scalar(0));
    const int shift = int(size * 0.2 * (u(rng) - 0.5));
    cv::ellipse(cover, {size / 2 + shift, size / 2 - shift}, {int(size * 0.42), int(size * 0.34)},
                180 * u(rng), 0, 360, cv::Scalar(255), cv::FILLED);
    cv::bitwise_and(cover, fov, cover);
    bgr.setTo(cv::Scalar(40, 110, 100), cover);
    mask.setTo(6, cover);
  }
}
}  // namespace

void make_synthetic_project(const fs::path& dir, const std::string& split,
                            const SyntheticSetOptions& o) {
  Project p = Project::create(dir, cecd_schema());
  std::mt19937 rng(o.seed);
  std::map<std::string, std::vector<std::string>> subsets;
  int n = 0;
  for (const auto& [subset, count] :
       std::vector<std::pair<std::string, int>>{{"train", o.train}, {"val", o.val}, {"test", o.test}}) {
    for (int i = 0; i < count; ++i, ++n) {
      // Imbalanced like the paper's Table 1: clear is the majority class.
      const double r = std::uniform_real_distribution<double>(0, 1)(rng);
      const int cd = r < 0.45 ? 0 : (r < 0.75 ? 1 : 2);
      cv::Mat bgr, mask;
      synthetic_frame(rng, o.size, cd, bgr, mask);
      char id[32];
      std::snprintf(id, sizeof id, "syn%04d", n);
      save_labelled_frame(p, id, bgr, mask, cd);
      subsets[subset].push_back(id);
    }
  }
  write_split(dir, split, subsets);
}

bool make_wce_project(const fs::path& dir, const std::string& split,
                      const std::map<std::string, int>& per_subset) {
  const fs::path data = shared_data("wce-bleeding");
  if (data.empty()) return false;
  Project p = Project::create(dir, cecd_schema());
  std::map<std::string, std::vector<std::string>> subsets;
  // File numbers have gaps (the set was de-duplicated): list the folders.
  auto stems = [&](const char* sub) {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(data / sub / "images"))
      if (e.path().extension() == ".png") v.push_back(e.path().stem().string());
    std::sort(v.begin(), v.end());
    return v;
  };
  const std::vector<std::string> b_stems = stems("bleeding"), n_stems = stems("non-bleeding");
  std::size_t next_b = 0, next_n = 0;
  for (const auto& [subset, count] : per_subset)
    for (int i = 0; i < count; ++i) {
      const bool bleeding = i % 2 == 0;
      const std::string stem = bleeding ? b_stems.at(next_b++) : n_stems.at(next_n++);
      const fs::path folder = data / (bleeding ? "bleeding" : "non-bleeding");
      cv::Mat bgr = read_frame(folder / "images" / (stem + ".png"));
      cv::Mat grey;
      cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
      cv::Mat mask(bgr.size(), CV_8UC1, cv::Scalar(0));
      mask.setTo(1, grey > 15);  // the circular field of view on black
      if (bleeding) {
        cv::Mat m = read_mask(folder / "masks" / (stem + ".png"));  // mixed encodings: non-zero = bleeding
        mask.setTo(3, m != 0);
      }
      save_labelled_frame(p, stem, bgr, mask, 0);
      subsets[subset].push_back(stem);
    }
  write_split(dir, split, subsets);
  return true;
}

}  // namespace excap::test
