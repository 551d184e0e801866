#include <doctest/doctest.h>

#include <array>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "exchange/image_import.h"
#include "stage1/stage1.h"
#include "store/validate.h"
#include "support/project_builder.h"

using namespace excap;

namespace {

// ---- a minimal PNG writer: OpenCV writes no palette or 1-bit PNGs ----

std::uint32_t crc32_of(const std::string& s) {
  std::uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put_be32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 255));
}

// A zlib stream of stored (uncompressed) deflate blocks.
std::string zlib_stored(const std::string& raw) {
  std::string z = "\x78\x01";
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - pos);
    z.push_back(pos + n == raw.size() ? 1 : 0);
    z.push_back(static_cast<char>(n & 255));
    z.push_back(static_cast<char>(n >> 8));
    z.push_back(static_cast<char>(~n & 255));
    z.push_back(static_cast<char>((~n >> 8) & 255));
    z.append(raw, pos, n);
    pos += n;
  } while (pos < raw.size());
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  put_be32(z, (b << 16) | a);
  return z;
}

void chunk(std::string& out, const std::string& type, const std::string& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  out += type + data;
  put_be32(out, crc32_of(type + data));
}

// Writes `values` (8-bit, one channel) as a gray (colour type 0) or palette (3) PNG of `depth`
// bits.
void write_raw_png(const fs::path& path, const cv::Mat& values, int depth, int colour_type,
                   const std::vector<std::array<std::uint8_t, 3>>& palette = {}) {
  std::string png("\x89PNG\r\n\x1a\n", 8), ihdr;
  put_be32(ihdr, static_cast<std::uint32_t>(values.cols));
  put_be32(ihdr, static_cast<std::uint32_t>(values.rows));
  ihdr += {static_cast<char>(depth), static_cast<char>(colour_type), 0, 0, 0};
  chunk(png, "IHDR", ihdr);
  std::string plte;
  for (const auto& c : palette)
    plte += {static_cast<char>(c[0]), static_cast<char>(c[1]), static_cast<char>(c[2])};
  if (!plte.empty()) chunk(png, "PLTE", plte);
  std::string raw;
  for (int y = 0; y < values.rows; ++y) {
    raw.push_back(0);
    int acc = 0, bits = 0;
    for (int x = 0; x < values.cols; ++x) {
      acc = (acc << depth) | values.at<std::uint8_t>(y, x);
      if ((bits += depth) == 8) raw.push_back(static_cast<char>(acc)), acc = 0, bits = 0;
    }
    if (bits) raw.push_back(static_cast<char>(acc << (8 - bits)));
  }
  chunk(png, "IDAT", zlib_stored(raw));
  chunk(png, "IEND", "");
  ensure_dir(path.parent_path());
  std::ofstream(path, std::ios::binary) << png;
}

// ---- inputs ----

constexpr int kSize = 48;

// A lit disc on black with random texture: every seed gives a different dHash.
cv::Mat textured_frame(int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  cv::Mat img(kSize, kSize, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat noise(kSize, kSize, CV_8UC3);
  cv::theRNG().state = static_cast<std::uint64_t>(seed) + 1;
  cv::randu(noise, cv::Scalar(40, 60, 120), cv::Scalar(120, 160, 250));
  cv::Mat disc = cv::Mat::zeros(kSize, kSize, CV_8UC1);
  cv::circle(disc, {kSize / 2, kSize / 2}, kSize / 2 - 3, 255, cv::FILLED);
  noise.copyTo(img, disc);
  cv::circle(img, {10 + static_cast<int>(rng() % 28), 10 + static_cast<int>(rng() % 28)}, 6,
             cv::Scalar(20, 25, 60), cv::FILLED);
  return img;
}

void write_image(const fs::path& path, const cv::Mat& img) {
  ensure_dir(path.parent_path());
  REQUIRE(cv::imwrite(path.string(), img));
}

// A class-index mask of the given classes in horizontal bands.
cv::Mat bands(const std::vector<int>& classes) {
  cv::Mat m(kSize, kSize, CV_8UC1, cv::Scalar(0));
  for (std::size_t i = 0; i < classes.size(); ++i)
    m.rowRange(static_cast<int>(i * kSize / classes.size()),
               static_cast<int>((i + 1) * kSize / classes.size()))
        .setTo(classes[i]);
  return m;
}

void write_text(const fs::path& path, const std::string& text) {
  ensure_dir(path.parent_path());
  std::ofstream(path) << text;
}

Project cecd_project(const fs::path& dir) {
  return Project::create(dir, cecd_schema(), test::curation_users());
}

ImageImportOptions options(const Project& p, const fs::path& in) {
  ImageImportOptions o;
  o.images = in / "images";
  o.user = "expert";
  o.pseudonymise = [&p](const std::string& name) { return patient_pseudonym(p, name); };
  return o;
}

std::map<std::string, Frame> frames_by_id(const Project& p) {
  std::map<std::string, Frame> out;
  for (const auto& f : p.load_frames()) out[f.id] = f;
  return out;
}

std::string frame_of(const ImageImportResult& r, const std::string& file) {
  for (const auto& i : r.imported)
    if (i.file == file) return i.frame;
  FAIL("not imported: " << file);
  return "";
}

}  // namespace

TEST_CASE("import-images reads every mask encoding as final labels with CD and patient") {
  test::ScratchDir tmp("image_import_encodings");
  Project p = cecd_project(tmp / "p");
  const fs::path in = tmp / "in";
  const std::vector<std::array<std::uint8_t, 3>> bw = {{0, 0, 0}, {255, 255, 255}};
  const std::vector<std::array<std::uint8_t, 3>> five = {
      {0, 0, 0}, {9, 9, 9}, {200, 10, 10}, {10, 200, 10}, {10, 10, 200}};
  std::map<std::string, cv::Mat> truth = {
      {"patA/s0.png", bands({0, 1, 3})},    {"patA/s1.png", bands({0, 1})},
      {"patA/s2.png", bands({1, 0})},       {"patB/s3.png", bands({0, 1, 3, 4})},
      {"patB/s4.bmp", bands({0, 1, 3, 7})}, {"patB/s5.jpg", bands({2, 255})}};
  int seed = 0;
  for (const auto& [rel, m] : truth) write_image(in / "images" / rel, textured_frame(++seed));
  write_image(in / "masks" / "s0.png", truth["patA/s0.png"]);                // 8-bit gray
  write_raw_png(in / "masks" / "s1.png", truth["patA/s1.png"], 1, 0);        // 1-bit gray
  write_raw_png(in / "masks" / "s2.png", truth["patA/s2.png"], 1, 3, bw);    // 1-bit palette
  write_raw_png(in / "masks" / "s3.png", truth["patB/s3.png"], 8, 3, five);  // 8-bit palette
  cv::Mat colour(kSize, kSize, CV_8UC3);                                     // schema colours
  const LabelSchema schema = cecd_schema();
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) {
      const auto& c = schema.tissue[truth["patB/s4.bmp"].at<std::uint8_t>(y, x)].color;
      colour.at<cv::Vec3b>(y, x) = cv::Vec3b(c[2], c[1], c[0]);
    }
  write_image(in / "masks" / "s4.png", colour);
  write_image(in / "masks" / "s5.png", truth["patB/s5.jpg"]);
  write_text(in / "labels.csv",
             "file,cd,patient\npatA/s0.png,clear,Alice Smith\ns1.png,blur,alice  SMITH\n"
             "patA/s2.png,invisible,\"Smith, Bob\"\npatB/s3.png,clear,Carol\n"
             "s4.bmp,blur,Carol\npatB/s5.jpg,clear,Carol\n");
  ImageImportOptions o = options(p, in);
  o.masks = in / "masks";
  o.labels_csv = in / "labels.csv";
  o.as = "final";
  o.fov = false;
  const ImageImportResult r = import_images(p, o);
  REQUIRE(r.imported.size() == 6);
  CHECK(r.duplicates.empty());
  const auto frames = frames_by_id(p);
  for (const auto& [rel, m] : truth) {
    const std::string id = frame_of(r, rel);
    CAPTURE(rel);
    CHECK(id.rfind("img_", 0) == 0);
    const Frame& f = frames.at(id);
    CHECK(f.video.empty());
    CHECK(f.clip.empty());
    CHECK(f.file == "frames/" + id + ".png");
    CHECK(fs::exists(p.frame_path(id)));
    CHECK(cv::countNonZero(read_mask(p.final_mask_path(id)) != m) == 0);
    const auto fin = p.load_final(id);
    REQUIRE(fin);
    CHECK(fin->source == "imported");
    CHECK(fin->expert == "expert");
  }
  CHECK(p.load_final(frame_of(r, "patA/s1.png"))->cd == 1);
  CHECK(p.load_final(frame_of(r, "patA/s2.png"))->cd == 2);
  // Patients pseudonymised as video import does; names differing only in case and spaces are one.
  CHECK(frames.at(frame_of(r, "patA/s0.png")).patient == patient_pseudonym(p, "Alice Smith"));
  CHECK(frames.at(frame_of(r, "patA/s1.png")).patient ==
        frames.at(frame_of(r, "patA/s0.png")).patient);
  CHECK(frames.at(frame_of(r, "patA/s2.png")).patient == patient_pseudonym(p, "Smith, Bob"));
  // The audit line keeps each frame's original file.
  const std::string log = read_file(p.root() / "log" / "expert.jsonl");
  CHECK(log.find("\"import-images\"") != std::string::npos);
  CHECK(log.find("patB/s4.bmp") != std::string::npos);
  CHECK(log.find("Alice") == std::string::npos);
  for (const auto& problem : validate_project(p.root()))
    FAIL(problem.file << ": " << problem.reason);
}

TEST_CASE("--binary-masks turns every non-zero pixel of any encoding into the class") {
  test::ScratchDir tmp("image_import_binary");
  Project p = cecd_project(tmp / "p");
  const fs::path in = tmp / "in";
  const cv::Mat fg = bands({0, 1, 0});  // foreground: the middle band
  for (int i = 0; i < 4; ++i)
    write_image(in / "images" / ("b" + std::to_string(i) + ".png"), textured_frame(10 + i));
  write_image(in / "masks" / "b0.png", fg * 255);                              // 8-bit 0/255
  write_raw_png(in / "masks" / "b1.png", fg, 1, 0);                            // 1-bit gray
  write_raw_png(in / "masks" / "b2.png", fg, 1, 3, {{0, 0, 0}, {255, 0, 0}});  // 1-bit palette
  cv::Mat rgb;
  cv::cvtColor(fg * 200, rgb, cv::COLOR_GRAY2BGR);
  write_image(in / "masks" / "b3.png", rgb);  // colour, not a schema colour
  write_text(in / "labels.csv", "file,cd\nb0.png,clear\nb1.png,clear\nb2.png,blur\nb3.png,clear\n");
  ImageImportOptions o = options(p, in);
  o.masks = in / "masks";
  o.labels_csv = in / "labels.csv";
  o.binary_class = "lesion";
  o.as = "final";
  const ImageImportResult r = import_images(p, o);
  REQUIRE(r.imported.size() == 4);
  for (const auto& i : r.imported) {
    CAPTURE(i.file);
    CHECK(cv::countNonZero(read_mask(p.final_mask_path(i.frame)) != fg * 3) == 0);
  }
  o.binary_class = "0";
  CHECK_THROWS_WITH_AS(import_images(p, o), doctest::Contains("--binary-masks"), Error);
}

TEST_CASE("--as USER writes one annotator's labels and assigns the frames to them") {
  test::ScratchDir tmp("image_import_user");
  Project p = cecd_project(tmp / "p");
  const fs::path in = tmp / "in";
  write_image(in / "images" / "u0.png", textured_frame(20));
  write_image(in / "images" / "u1.png", textured_frame(21));
  write_image(in / "masks" / "u0.png", bands({0, 1, 3}));
  write_text(in / "labels.csv", "file,cd\nu1.png,blur\n");
  ImageImportOptions o = options(p, in);
  o.masks = in / "masks";
  o.labels_csv = in / "labels.csv";
  o.as = "a";
  const ImageImportResult r = import_images(p, o);
  REQUIRE(r.imported.size() == 2);
  const std::string f0 = frame_of(r, "u0.png"), f1 = frame_of(r, "u1.png");
  CHECK(cv::countNonZero(read_mask(p.label_mask_path("a", f0)) != bands({0, 1, 3})) == 0);
  CHECK_FALSE(p.load_label("a", f0)->cd.has_value());
  CHECK(p.load_label("a", f1)->cd == 1);
  CHECK_FALSE(fs::exists(p.label_mask_path("a", f1)));
  CHECK(p.final_frames().empty());
  const auto assignments = p.load_assignments();
  CHECK(assignments.at(f0) == std::vector<std::string>{"a"});
  CHECK(assignments.at(f1) == std::vector<std::string>{"a"});
  o.as = "nobody";
  CHECK_THROWS_WITH_AS(import_images(p, o), doctest::Contains("nobody"), Error);
}

TEST_CASE("groups come from --group-by's capture, else the image's folder, pseudonymised") {
  test::ScratchDir tmp("image_import_groups");
  Project p = cecd_project(tmp / "p");
  const fs::path in = tmp / "in";
  write_image(in / "images" / "case7" / "x" / "g0.png", textured_frame(30));
  write_image(in / "images" / "case7" / "y" / "g1.png", textured_frame(31));
  write_image(in / "images" / "case9" / "x" / "g2.png", textured_frame(32));
  write_image(in / "images" / "g3.png", textured_frame(33));
  ImageImportOptions o = options(p, in);
  o.group_by = "^(case[0-9]+)/";
  // The top-level image matches no group: refused, nothing imported.
  CHECK_THROWS_WITH_AS(import_images(p, o), doctest::Contains("g3.png"), Error);
  CHECK(p.load_frames().empty());
  fs::remove(in / "images" / "g3.png");
  ImageImportResult r = import_images(p, o);
  REQUIRE(r.imported.size() == 3);
  auto frames = frames_by_id(p);
  CHECK(frames.at(frame_of(r, "case7/x/g0.png")).patient == patient_pseudonym(p, "case7"));
  CHECK(frames.at(frame_of(r, "case7/y/g1.png")).patient == patient_pseudonym(p, "case7"));
  CHECK(frames.at(frame_of(r, "case9/x/g2.png")).patient == patient_pseudonym(p, "case9"));
  // Without --group-by the folder names the group; ids continue past the last imported one.
  test::ScratchDir tmp2("image_import_groups2");
  write_image(tmp2 / "images" / "ward" / "h0.png", textured_frame(34));
  write_image(tmp2 / "images" / "h1.png", textured_frame(35));
  ImageImportOptions o2 = options(p, tmp2.path());
  r = import_images(p, o2);
  frames = frames_by_id(p);
  CHECK(frames.at(frame_of(r, "ward/h0.png")).patient == patient_pseudonym(p, "ward"));
  CHECK(frames.at(frame_of(r, "h1.png")).patient == patient_pseudonym(p, "images"));
  CHECK(frame_of(r, "h1.png") == "img_000004");
  CHECK(frame_of(r, "ward/h0.png") == "img_000005");
}

TEST_CASE("frames are blanked outside the field of view and near-duplicates skipped") {
  test::ScratchDir tmp("image_import_fov");
  const fs::path in = tmp / "in";
  cv::Mat img = textured_frame(40);
  img(cv::Rect(0, 0, 6, 4)).setTo(cv::Scalar(255, 255, 255));  // overlay text in a corner
  write_image(in / "images" / "f0.png", img);
  write_image(in / "images" / "f1.png", img);  // the same picture again
  {
    Project p = cecd_project(tmp / "p1");
    const ImageImportResult r = import_images(p, options(p, in));
    REQUIRE(r.imported.size() == 1);
    REQUIRE(r.duplicates.size() == 1);
    CHECK(r.duplicates[0].find("f1.png") != std::string::npos);
    const cv::Mat out = read_frame(p.frame_path(r.imported[0].frame));
    CHECK(out.at<cv::Vec3b>(1, 1) == cv::Vec3b(0, 0, 0));
    CHECK(out.at<cv::Vec3b>(kSize / 2, kSize / 2) == img.at<cv::Vec3b>(kSize / 2, kSize / 2));
    // Importing the same folder again finds the frame already there.
    const ImageImportResult again = import_images(p, options(p, in));
    CHECK(again.imported.empty());
    CHECK(again.duplicates.size() == 2);
    CHECK(p.load_frames().size() == 1);
  }
  {
    Project p = cecd_project(tmp / "p2");
    ImageImportOptions o = options(p, in);
    o.fov = false;
    o.dedupe = false;
    const ImageImportResult r = import_images(p, o);
    REQUIRE(r.imported.size() == 2);
    const cv::Mat out = read_frame(p.frame_path(r.imported[0].frame));
    CHECK(out.at<cv::Vec3b>(1, 1) == cv::Vec3b(255, 255, 255));
  }
}

TEST_CASE("every problem is listed with its file and the project stays byte-identical") {
  test::ScratchDir tmp("image_import_refusals");
  Project p = cecd_project(tmp / "p");
  struct Case {
    std::string name, expect;
    std::function<void(const fs::path&)> spoil;
  };
  const std::vector<Case> cases = {
      {"wrong-size mask", "m1.png: mask is 20x20",
       [](const fs::path& in) {
         write_image(in / "masks" / "m1.png", cv::Mat::zeros(20, 20, CV_8UC1));
       }},
      {"unmapped colour", "m1.png: 2304 pixels have a colour of no schema class",
       [](const fs::path& in) {
         write_image(in / "masks" / "m1.png", cv::Mat(kSize, kSize, CV_8UC3, cv::Scalar(1, 2, 3)));
       }},
      {"class outside the schema", "pixels hold class 9",
       [](const fs::path& in) {
         write_image(in / "masks" / "m1.png", bands({0, 9}));
       }},
      {"undecodable image", "m0.png: cannot decode image",
       [](const fs::path& in) { write_text(in / "images" / "m0.png", "not a png"); }},
      {"CSV row naming a missing file", "file 'gone.png' is not among the images",
       [](const fs::path& in) {
         write_text(in / "labels.csv", "file,cd\nm0.png,clear\nm1.png,clear\ngone.png,clear\n");
       }},
      {"CD not in the schema", "CD 'sharp' of m1.png is not a CD class",
       [](const fs::path& in) {
         write_text(in / "labels.csv", "file,cd\nm0.png,clear\nm1.png,sharp\n");
       }},
      {"missing mask", "m1.png: no mask of stem 'm1'",
       [](const fs::path& in) { fs::remove(in / "masks" / "m1.png"); }},
  };
  write_image(tmp / "seed" / "images" / "z.png", textured_frame(59));
  ImageImportOptions seed = options(p, tmp / "seed");
  REQUIRE(import_images(p, seed).imported.size() == 1);  // a project with something in it
  const auto before = test::tree_snapshot(p.root());
  std::vector<std::string> all;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const fs::path in = tmp / ("in" + std::to_string(k));
    for (int i = 0; i < 2; ++i) {
      write_image(in / "images" / ("m" + std::to_string(i) + ".png"), textured_frame(50 + i));
      write_image(in / "masks" / ("m" + std::to_string(i) + ".png"), bands({0, 1}));
    }
    write_text(in / "labels.csv", "file,cd\nm0.png,clear\nm1.png,clear\n");
    cases[k].spoil(in);
    ImageImportOptions o = options(p, in);
    o.masks = in / "masks";
    o.labels_csv = in / "labels.csv";
    o.as = "final";
    CAPTURE(cases[k].name);
    CHECK_THROWS_WITH_AS(import_images(p, o), doctest::Contains(cases[k].expect.c_str()), Error);
    CHECK(test::tree_snapshot(p.root()) == before);
  }
}

TEST_CASE("excap import-images prints what it imported and lists what it refused") {
  test::ScratchDir tmp("image_import_cli");
  cecd_project(tmp / "p");
  const std::string excap = test::built_binary("excap"), dir = (tmp / "p").string();
  write_image(tmp / "images" / "c0.png", textured_frame(70));
  write_image(tmp / "images" / "c1.png", textured_frame(71));
  write_image(tmp / "masks" / "c0.png", bands({0, 3}));
  write_image(tmp / "masks" / "c1.png", cv::Mat::zeros(10, 10, CV_8UC1));
  write_text(tmp / "labels.csv", "file,cd\nc0.png,clear\nc1.png,blurry\n");
  const std::vector<std::string> args = {excap,
                                         "import-images",
                                         dir,
                                         "--images",
                                         (tmp / "images").string(),
                                         "--masks",
                                         (tmp / "masks").string(),
                                         "--labels",
                                         (tmp / "labels.csv").string(),
                                         "--as",
                                         "final",
                                         "--user",
                                         "expert"};
  std::string out;
  CHECK(test::run_command(args, &out) == 1);
  CHECK(out.find("2 problem(s), nothing imported") != std::string::npos);
  CHECK(out.find("c1.png: mask is 10x10") != std::string::npos);
  CHECK(out.find("CD 'blurry' of c1.png") != std::string::npos);
  write_image(tmp / "masks" / "c1.png", bands({0, 1}));
  write_text(tmp / "labels.csv", "file,cd\nc0.png,clear\nc1.png,blur\n");
  REQUIRE_MESSAGE(test::run_command(args, &out) == 0, out);
  CHECK(out.find("c0.png -> img_000001") != std::string::npos);
  CHECK(out.find("imported 2 images (2 with a mask, 2 with a CD)") != std::string::npos);
  REQUIRE_MESSAGE(test::run_command({excap, "validate", dir}, &out) == 0, out);
}

TEST_CASE("the 60 real bleeding frames of wce-bleeding import with their binary masks") {
  const fs::path data = test::shared_data("wce-bleeding");
  if (data.empty()) {
    MESSAGE("skipped: ../shared/data/wce-bleeding is absent");
    return;
  }
  test::ScratchDir tmp("image_import_wce");
  LabelSchema s;
  s.name = "bleeding";
  s.cd = {{0, "normal", "Q"}, {1, "bleeding", "W"}};
  s.tissue = {{0, "background", {0, 0, 0}, "1"}, {1, "bleeding", {255, 40, 40}, "2"}};
  Project p = Project::create(tmp / "p", s, test::curation_users());
  std::string csv = "file,cd\n";
  for (const auto& e : fs::directory_iterator(data / "bleeding" / "images"))
    csv += e.path().filename().string() + ",bleeding\n";
  write_text(tmp / "labels.csv", csv);
  const std::string excap = test::built_binary("excap"), dir = (tmp / "p").string();
  std::string out;
  REQUIRE_MESSAGE(test::run_command({excap, "import-images", dir, "--images",
                                     (data / "bleeding" / "images").string(), "--masks",
                                     (data / "bleeding" / "masks").string(), "--labels",
                                     (tmp / "labels.csv").string(), "--binary-masks", "bleeding",
                                     "--as", "final", "--user", "expert"},
                                    &out) == 0,
                  out);
  MESSAGE(out.substr(out.rfind("imported")));
  CHECK(out.find("imported 60 images (60 with a mask, 60 with a CD)") != std::string::npos);
  int with_bleeding = 0;
  for (const auto& id : p.final_frames()) {
    const cv::Mat m = read_mask(p.final_mask_path(id));
    CHECK(m.size() == cv::Size(224, 224));
    CHECK(cv::countNonZero(m > 1) == 0);
    with_bleeding += cv::countNonZero(m == 1) > 0 ? 1 : 0;
  }
  CHECK(with_bleeding == 60);
  REQUIRE_MESSAGE(test::run_command({excap, "validate", dir}, &out) == 0, out);
}
