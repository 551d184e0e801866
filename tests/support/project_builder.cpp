#include "project_builder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "common/fsutil.h"
#include "media/imageio.h"

namespace excap::test {

std::vector<User> curation_users() {
  return {{"a", Role::Annotator},
          {"b", Role::Annotator},
          {"c", Role::Annotator},
          {"expert", Role::Expert},
          {"eng", Role::Engineer}};
}

cv::Mat planted_mask(int size, int variant) {
  cv::Mat m(size, size, CV_8UC1, cv::Scalar(cecd::kBackground));
  cv::circle(m, {size / 2, size / 2}, size / 2 - 1, cv::Scalar(cecd::kClearTissue), cv::FILLED);
  cv::circle(m, {size / 3 + variant % 3, size / 3}, size / 8, cv::Scalar(cecd::kLesion),
             cv::FILLED);
  cv::circle(m, {2 * size / 3, 2 * size / 3 - variant % 2}, size / 10, cv::Scalar(cecd::kHole),
             cv::FILLED);
  return m;
}

cv::Mat capsule_frame(int size, int seed) {
  cv::Mat img(size, size, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::circle(img, {size / 2, size / 2}, size / 2 - 4, cv::Scalar(70, 90 + seed % 40, 170),
             cv::FILLED);
  cv::circle(img, {size / 2 + 10, size / 2 - 8}, size / 8, cv::Scalar(20, 25, 60), cv::FILLED);
  return img;
}

namespace {

cv::Mat textured_tissue(std::mt19937& rng, int size) {
  std::uniform_real_distribution<double> u(0, 1);
  cv::Mat tissue(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double t = 25 * std::sin(0.5 * x + 0.3 * y + 6 * u(rng) * 0.1) + 20 * (u(rng) - 0.5);
      tissue.at<cv::Vec3b>(y, x) =
          cv::Vec3b(cv::saturate_cast<uchar>(120 + t), cv::saturate_cast<uchar>(130 + t),
                    cv::saturate_cast<uchar>(215 + t));
    }
  return tissue;
}

// Blur: the image loses detail, tissue becomes "blurred tissue".
void blur_frame(int size, const cv::Mat& fov, cv::Mat& bgr, cv::Mat& mask) {
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
}

Frame frame_entry(const std::string& id, long long index) {
  Frame f;
  f.id = id;
  f.clip = "c1";
  f.video = "v1";
  f.patient = "p-test";
  f.source_index = index;
  f.file = "frames/" + id + ".png";
  return f;
}

}  // namespace

void synthetic_frame(std::mt19937& rng, int size, int cd, cv::Mat& bgr, cv::Mat& mask) {
  std::uniform_real_distribution<double> u(0, 1);
  bgr = cv::Mat(size, size, CV_8UC3, cv::Scalar(0, 0, 0));
  mask = cv::Mat(size, size, CV_8UC1, cv::Scalar(0));
  cv::Mat fov(size, size, CV_8UC1, cv::Scalar(0));
  cv::circle(fov, {size / 2, size / 2}, int(size * 0.46), cv::Scalar(255), cv::FILLED);
  textured_tissue(rng, size).copyTo(bgr, fov);
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
  if (cd == 1) {
    blur_frame(size, fov, bgr, mask);
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

void add_frames(const Project& p, int n, const FrameOptions& o) {
  std::vector<Frame> frames = p.load_frames();
  cv::RNG rng(o.seed);
  for (int i = 0; i < n; ++i) {
    const long long index = static_cast<long long>(frames.size());
    char id[32];
    Frame f;
    if (o.naming == FrameNaming::SingleVideo) {
      std::snprintf(id, sizeof id, "v1_%05lld", index);
      f = frame_entry(id, index);
    } else {
      std::snprintf(id, sizeof id, "f%03lld", index);
      f.id = id;
      f.patient = "P" + std::to_string(i % o.patients);
      f.clip = "C" + std::to_string(i % o.clips);
      f.video = "V" + std::to_string(i % o.patients);
      f.file = "frames/" + f.id + ".png";
    }
    cv::Mat img;
    if (o.look == FrameLook::Capsule) {
      img = capsule_frame(o.size, static_cast<int>(index));
    } else {
      img.create(o.size, o.size, CV_8UC3);
      rng.fill(img, cv::RNG::UNIFORM, 0, 255);
    }
    write_png_atomic(p.frame_path(f.id), img);
    frames.push_back(f);
  }
  p.save_frames(frames);
}

void assign_all(const Project& p, const std::vector<std::string>& users) {
  auto a = p.load_assignments();
  for (const auto& f : p.load_frames()) a[f.id] = users;
  p.save_assignments(a);
}

void add_label(const Project& p, const std::string& user, const std::string& frame,
               std::optional<int> cd, const cv::Mat& mask) {
  LabelRecord r;
  r.frame = frame;
  r.user = user;
  r.cd = cd;
  r.created = r.updated = now_iso8601();
  ensure_dir(p.label_mask_path(user, frame).parent_path());
  if (!mask.empty()) write_png_atomic(p.label_mask_path(user, frame), mask);
  p.save_label(r);
}

void add_final(const Project& p, const std::string& frame, int cd, const cv::Mat& mask,
               const std::string& source, const std::string& expert) {
  FinalLabel f;
  f.frame = frame;
  f.cd = cd;
  f.source = source;
  f.expert = expert;
  f.time = now_iso8601();
  p.save_final(f);
  write_png_atomic(p.final_mask_path(frame), mask);
}

void write_split(const fs::path& project_dir, const std::string& name,
                 const std::map<std::string, std::vector<std::string>>& subsets) {
  std::vector<std::string> names;
  std::vector<double> ratios;
  for (const auto& entry : subsets) {
    names.push_back(entry.first);
    ratios.push_back(1.0 / subsets.size());
  }
  nlohmann::json j = {{"format", "excap-split"}, {"version", 1},          {"name", name},
                      {"ratios", ratios},        {"subset_names", names}, {"subsets", subsets}};
  ensure_dir(project_dir / "splits");
  write_json_atomic(project_dir / "splits" / (name + ".json"), j);
}

ProjectBuilder::ProjectBuilder(fs::path dir) : dir_(std::move(dir)) {}

ProjectBuilder& ProjectBuilder::users(std::vector<User> users) {
  users_ = std::move(users);
  return *this;
}

ProjectBuilder& ProjectBuilder::schema(LabelSchema schema) {
  schema_ = std::move(schema);
  return *this;
}

const Project& ProjectBuilder::open() {
  if (!project_) project_ = Project::create(dir_, schema_, users_);
  return *project_;
}

void ProjectBuilder::flush_frames() {
  if (pending_.empty()) return;
  std::vector<Frame> frames = open().load_frames();
  frames.insert(frames.end(), pending_.begin(), pending_.end());
  open().save_frames(frames);
  pending_.clear();
}

ProjectBuilder& ProjectBuilder::frames(int n, const FrameOptions& options) {
  flush_frames();
  add_frames(open(), n, options);
  return *this;
}

ProjectBuilder& ProjectBuilder::frame(const std::string& id, const cv::Mat& bgr) {
  write_png_atomic(open().frame_path(id), bgr);
  pending_.push_back(frame_entry(id, static_cast<long long>(pending_.size())));
  return *this;
}

ProjectBuilder& ProjectBuilder::assign(const std::vector<std::string>& users) {
  flush_frames();
  assign_all(open(), users);
  return *this;
}

ProjectBuilder& ProjectBuilder::labels(const std::string& user, const std::string& frame,
                                       std::optional<int> cd, const cv::Mat& mask) {
  add_label(open(), user, frame, cd, mask);
  return *this;
}

ProjectBuilder& ProjectBuilder::final(const std::string& frame, int cd, const cv::Mat& mask) {
  add_final(open(), frame, cd, mask);
  return *this;
}

ProjectBuilder& ProjectBuilder::split(
    const std::string& name, const std::map<std::string, std::vector<std::string>>& subsets) {
  write_split(open().root(), name, subsets);
  return *this;
}

ProjectBuilder& ProjectBuilder::video(const fs::path& file, const TestVideoSpec& spec) {
  write_test_video(file, spec);
  return *this;
}

Project ProjectBuilder::build() {
  flush_frames();
  return open();
}

Project make_studio_project(const fs::path& dir, int frames, int size,
                            const std::vector<std::string>& annotators) {
  std::vector<User> users;
  for (const auto& a : annotators)
    if (a != "expert") users.push_back({a, Role::Annotator});
  users.push_back({"expert", Role::Expert});
  FrameOptions o;
  o.size = size;
  o.look = FrameLook::Capsule;
  o.naming = FrameNaming::SingleVideo;
  return ProjectBuilder(dir).users(users).frames(frames, o).assign(annotators).build();
}

void make_synthetic_project(const fs::path& dir, const std::string& split,
                            const SyntheticSetOptions& o) {
  ProjectBuilder b(dir);
  std::mt19937 rng(o.seed);
  std::map<std::string, std::vector<std::string>> subsets;
  int n = 0;
  for (const auto& [subset, count] : std::vector<std::pair<std::string, int>>{
           {"train", o.train}, {"val", o.val}, {"test", o.test}}) {
    for (int i = 0; i < count; ++i, ++n) {
      // Imbalanced like the paper's Table 1: clear is the majority class.
      const double r = std::uniform_real_distribution<double>(0, 1)(rng);
      const int cd = r < 0.45 ? 0 : (r < 0.75 ? 1 : 2);
      cv::Mat bgr, mask;
      synthetic_frame(rng, o.size, cd, bgr, mask);
      char id[32];
      std::snprintf(id, sizeof id, "syn%04d", n);
      b.frame(id, bgr).final(id, cd, mask);
      subsets[subset].push_back(id);
    }
  }
  b.split(split, subsets).build();
}

namespace {

// File numbers have gaps (the set was de-duplicated): list the folder.
std::vector<std::string> png_stems(const fs::path& folder) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().extension() == ".png") v.push_back(e.path().stem().string());
  std::sort(v.begin(), v.end());
  return v;
}

cv::Mat wce_mask(const cv::Mat& bgr, const fs::path& bleeding_mask) {
  cv::Mat grey;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  cv::Mat mask(bgr.size(), CV_8UC1, cv::Scalar(0));
  mask.setTo(1, grey > 15);  // the circular field of view on black
  if (!bleeding_mask.empty())
    mask.setTo(3, read_mask(bleeding_mask) != 0);  // mixed encodings: non-zero = bleeding
  return mask;
}

}  // namespace

bool make_wce_project(const fs::path& dir, const std::string& split,
                      const std::map<std::string, int>& per_subset) {
  const fs::path data = shared_data("wce-bleeding");
  if (data.empty()) return false;
  ProjectBuilder b(dir);
  std::map<std::string, std::vector<std::string>> subsets;
  const std::vector<std::string> b_stems = png_stems(data / "bleeding" / "images"),
                                 n_stems = png_stems(data / "non-bleeding" / "images");
  std::size_t next_b = 0, next_n = 0;
  for (const auto& [subset, count] : per_subset)
    for (int i = 0; i < count; ++i) {
      const bool bleeding = i % 2 == 0;
      const std::string stem = bleeding ? b_stems.at(next_b++) : n_stems.at(next_n++);
      const fs::path folder = data / (bleeding ? "bleeding" : "non-bleeding");
      const cv::Mat bgr = read_frame(folder / "images" / (stem + ".png"));
      const fs::path masks = bleeding ? folder / "masks" / (stem + ".png") : fs::path();
      b.frame(stem, bgr).final(stem, 0, wce_mask(bgr, masks));
      subsets[subset].push_back(stem);
    }
  b.split(split, subsets).build();
  return true;
}

CurationProject::CurationProject(const std::string& name)
    : dir_(name), project_(ProjectBuilder(dir_.path() / "p").users(curation_users()).build()) {}

void CurationProject::add_frames(int n, int patients, int clips, int size) {
  FrameOptions o;
  o.patients = patients;
  o.clips = clips;
  o.size = size;
  test::add_frames(project_, n, o);
}

std::string sklearn_python() {
  std::string py = EXCAP_REFERENCE_PYTHON;
  if (py.empty()) py = "/usr/bin/python3";
  std::string out;
  if (run_command({py, "-c", "import sklearn"}, &out) != 0) {
    std::printf("[skip] %s cannot import sklearn (python3-sklearn): %s\n", py.c_str(), out.c_str());
    return "";
  }
  return py;
}

}  // namespace excap::test
