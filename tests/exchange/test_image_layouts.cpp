#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <map>
#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "curation/split.h"
#include "exchange/exchange.h"
#include "exchange/image_import.h"
#include "exchange/image_layouts.h"
#include "stage1/stage1.h"
#include "store/validate.h"
#include "support/project_builder.h"
#include "zip_writer.h"

using namespace excap;

namespace {

constexpr int kSize = 40;

// A lit disc with random texture: every seed gives a different dHash.
cv::Mat frame_image(int seed) {
  cv::Mat img(kSize, kSize, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat noise(kSize, kSize, CV_8UC3);
  cv::theRNG().state = static_cast<std::uint64_t>(seed) + 7;
  cv::randu(noise, cv::Scalar(40, 60, 120), cv::Scalar(120, 160, 250));
  cv::Mat disc = cv::Mat::zeros(kSize, kSize, CV_8UC1);
  cv::circle(disc, {kSize / 2, kSize / 2}, kSize / 2 - 2, 255, cv::FILLED);
  noise.copyTo(img, disc);
  return img;
}

// Class `top` above row `cut`, class `bottom` below it.
cv::Mat two_bands(int top, int bottom, int cut) {
  cv::Mat m(kSize, kSize, CV_8UC1, cv::Scalar(bottom));
  m.rowRange(0, cut).setTo(top);
  return m;
}

void write_image(const fs::path& path, const cv::Mat& img) {
  ensure_dir(path.parent_path());
  REQUIRE(cv::imwrite(path.string(), img));
}

void write_text(const fs::path& path, const std::string& text) {
  ensure_dir(path.parent_path());
  std::ofstream(path) << text;
}

// The two-class schema of the bleeding samples.
LabelSchema bleeding_schema() {
  LabelSchema s;
  s.name = "bleeding";
  s.cd = {{0, "normal", "Q"}, {1, "bleeding", "W"}};
  s.tissue = {{0, "background", {0, 0, 0}, "1"}, {1, "bleeding", {255, 40, 40}, "2"}};
  return s;
}

ImageImportOptions options(const Project& p) {
  ImageImportOptions o;
  o.user = "expert";
  o.fov = false;
  o.pseudonymise = [&p](const std::string& name) { return patient_pseudonym(p, name); };
  return o;
}

std::string frame_of(const ImageImportResult& r, const std::string& file) {
  for (const auto& i : r.imported)
    if (i.file == file) return i.frame;
  FAIL("not imported: " << file);
  return "";
}

// img_dir/<subset>/<patient>/<stem>.png with ann_dir/<subset>/<patient>/<stem><suffix>.
struct MmsegImage {
  std::string subset, patient, stem;
  int top, bottom, cut;
};

const std::vector<MmsegImage> kMmseg = {{"train", "p1", "a0", 0, 1, 10},
                                        {"train", "p1", "a1", 1, 0, 20},
                                        {"train", "p2", "a2", 0, 255, 30},
                                        {"val", "p3", "b0", 1, 1, 5},
                                        {"test", "p4", "c0", 0, 1, 25}};

void write_mmseg(const fs::path& root, const std::string& img_suffix = ".png",
                 const std::string& seg_suffix = ".png") {
  int seed = 0;
  for (const auto& m : kMmseg) {
    const fs::path sub = fs::path(m.subset) / m.patient;
    write_image(root / "img_dir" / sub / (m.stem + img_suffix), frame_image(++seed));
    write_image(root / "ann_dir" / sub / (m.stem + seg_suffix), two_bands(m.top, m.bottom, m.cut));
  }
  std::string csv = "file,cd\n";
  for (const auto& m : kMmseg)
    csv += m.subset + "/" + m.patient + "/" + m.stem + img_suffix + "," +
           (m.top == 1 || m.bottom == 1 ? "bleeding" : "normal") + "\n";
  write_text(root / "labels.csv", csv);
}

// A CVAT export: labelmap names in another case and colours other than the schema's.
const std::map<std::string, std::string> kCvatImages = {
    {"f0", ".jpg"}, {"f1", ".png"}, {"sub/f2", ".bmp"}};

cv::Mat cvat_colour_mask(const cv::Mat& classes) {
  cv::Mat c(classes.size(), CV_8UC3, cv::Scalar(0, 0, 0));
  c.setTo(cv::Scalar(83, 50, 250), classes == 1);  // BGR of labelmap's 250,50,83
  return c;
}

void write_cvat(const fs::path& root) {
  write_text(root / "labelmap.txt",
             "# label:color_rgb:parts:actions\nBackground:0,0,0::\nBLEEDING:250,50,83::\n");
  int seed = 20;
  for (const auto& [name, ext] : kCvatImages) {
    write_image(root / "JPEGImages" / (name + ext), frame_image(++seed));
    write_image(root / "SegmentationClass" / (name + ".png"),
                cvat_colour_mask(two_bands(0, 1, 8 + seed % 20)));
  }
  write_text(root / "ImageSets" / "Segmentation" / "train.txt", "f0\nsub/f2\n");
  write_text(root / "ImageSets" / "Segmentation" / "validation.txt", "f1\n");
}

}  // namespace

TEST_CASE("an mmseg layout imports every subset's images and masks and records them as a split") {
  test::ScratchDir tmp("layouts_mmseg");
  Project p = Project::create(tmp / "p", bleeding_schema(), test::curation_users());
  write_mmseg(tmp / "mm");
  ImageImportOptions o = options(p);
  o.mmseg = tmp / "mm";
  o.labels_csv = tmp / "mm" / "labels.csv";
  o.as = "final";
  o.split = "given";
  const ImageImportResult r = import_images(p, o);
  REQUIRE(r.imported.size() == kMmseg.size());
  CHECK(r.layout == "mmseg");
  CHECK(r.split == "given");
  std::map<std::string, Frame> frames;
  for (const auto& f : p.load_frames()) frames[f.id] = f;
  const Split sp = load_split(p, "given");
  CHECK(sp.subset_names == std::vector<std::string>{"train", "val", "test"});
  CHECK(sp.group == "patient");
  for (const auto& m : kMmseg) {
    const std::string rel = m.subset + "/" + m.patient + "/" + m.stem + ".png";
    CAPTURE(rel);
    const std::string id = frame_of(r, rel);
    const cv::Mat mask = read_mask(p.final_mask_path(id));
    CHECK(cv::countNonZero(mask != two_bands(m.top, m.bottom, m.cut)) == 0);
    CHECK(p.load_final(id)->cd == (m.top == 1 || m.bottom == 1 ? 1 : 0));
    CHECK(frames.at(id).patient == patient_pseudonym(p, m.patient));
    const auto& ids = sp.subsets.at(m.subset);
    CHECK(std::find(ids.begin(), ids.end(), id) != ids.end());
  }
  CHECK(sp.subsets.at("train").size() == 3);
  CHECK(sp.stats.back().name == "all");
  CHECK(sp.stats.front().cd_counts == std::vector<int>{1, 2});
  for (const auto& problem : validate_project(p.root()))
    FAIL(problem.file << ": " << problem.reason);
}

TEST_CASE("mmseg suffix flags, subset folder names and a layout found under --images") {
  test::ScratchDir tmp("layouts_mmseg_suffix");
  Project p = Project::create(tmp / "p", bleeding_schema(), test::curation_users());
  write_mmseg(tmp / "mm", "_leftImg8bit.png", "_gtFine.png");
  fs::rename(tmp / "mm" / "img_dir" / "train", tmp / "mm" / "img_dir" / "training");
  fs::rename(tmp / "mm" / "ann_dir" / "train", tmp / "mm" / "ann_dir" / "training");
  write_text(tmp / "mm" / "img_dir" / "val" / "notes.txt", "not an image");
  ImageImportOptions o = options(p);
  o.images = tmp / "mm";  // found to be an mmseg layout
  o.as = "a";
  o.img_suffix = "_leftImg8bit.png";
  o.seg_map_suffix = "_gtFine.png";
  const ImageImportResult r = import_images(p, o);
  CHECK(r.layout == "mmseg");
  REQUIRE(r.imported.size() == kMmseg.size());
  const std::string id = frame_of(r, "training/p1/a1_leftImg8bit.png");
  CHECK(cv::countNonZero(read_mask(p.label_mask_path("a", id)) != two_bands(1, 0, 20)) == 0);
  CHECK(p.load_assignments().at(id) == std::vector<std::string>{"a"});
  const Split sp = load_split(p, "imported");
  CHECK(sp.subset_names == std::vector<std::string>{"train", "val", "test"});
  CHECK(sp.subsets.at("train").size() == 3);
  CHECK(r.per_subset.at("train") == 3);
  // A second run finds only near-duplicates and writes nothing, no split included.
  o.split = "again";
  const ImageImportResult again = import_images(p, o);
  CHECK(again.imported.empty());
  CHECK(again.duplicates.size() == kMmseg.size());
  CHECK_FALSE(fs::exists(p.split_path("again")));
}

TEST_CASE("a CVAT mask export, as a folder and as a zip, imports through its labelmap") {
  test::ScratchDir tmp("layouts_cvat");
  write_cvat(tmp / "export");
  test::zip_folder(tmp / "export", tmp / "export.zip");
  for (const fs::path& src : {tmp / "export", tmp / "export.zip"}) {
    CAPTURE(src);
    Project p = Project::create(tmp / ("p_" + src.filename().string()), bleeding_schema(),
                                test::curation_users());
    ImageImportOptions o = options(p);
    o.cvat = src;
    o.as = "b";
    const ImageImportResult r = import_images(p, o);
    CHECK(r.layout == "cvat-mask");
    REQUIRE(r.imported.size() == kCvatImages.size());
    int seed = 20;
    for (const auto& [name, ext] : kCvatImages) {
      ++seed;
      const std::string id = frame_of(r, name + ext);
      const cv::Mat m = read_mask(p.label_mask_path("b", id));
      CHECK(cv::countNonZero(m != two_bands(0, 1, 8 + seed % 20)) == 0);
    }
    const Split sp = load_split(p, "imported");
    CHECK(sp.subset_names == std::vector<std::string>{"train", "val"});
    CHECK(sp.subsets.at("train") ==
          std::vector<std::string>{frame_of(r, "f0.jpg"), frame_of(r, "sub/f2.bmp")});
    CHECK(sp.subsets.at("val") == std::vector<std::string>{frame_of(r, "f1.png")});
  }
}

TEST_CASE("ExCap's own mmseg and CVAT exports import back with their masks and CDs") {
  test::ScratchDir tmp("layouts_round_trip");
  Project a = Project::create(tmp / "a", bleeding_schema(), test::curation_users());
  write_mmseg(tmp / "mm");
  ImageImportOptions o = options(a);
  o.mmseg = tmp / "mm";
  o.labels_csv = tmp / "mm" / "labels.csv";
  o.as = "final";
  REQUIRE(import_images(a, o).imported.size() == kMmseg.size());
  for (const std::string format : {"mmseg", "cvat-mask"}) {
    CAPTURE(format);
    ExportOptions e;
    e.split = "imported";
    e.format = format;
    export_dataset(a, e, tmp / ("out-" + format));
    Project b = Project::create(tmp / ("b-" + format), bleeding_schema(), test::curation_users());
    ImageImportOptions back = options(b);
    (format == "mmseg" ? back.mmseg : back.cvat) = tmp / ("out-" + format);
    back.as = "final";  // every image needs a CD: cd_labels.csv gives them
    const ImageImportResult r = import_images(b, back);
    REQUIRE(r.imported.size() == kMmseg.size());
    for (const auto& i : r.imported) {
      const std::string from = fs::path(i.file).stem().string();  // the exported frame id
      CHECK(b.load_final(i.frame)->cd == a.load_final(from)->cd);
      CHECK(cv::countNonZero(read_mask(b.final_mask_path(i.frame)) !=
                             read_mask(a.final_mask_path(from))) == 0);
    }
    const Split sa = load_split(a, "imported"), sb = load_split(b, "imported");
    for (const auto& name : sa.subset_names)
      CHECK(sb.subsets.at(name).size() == sa.subsets.at(name).size());
  }
}

TEST_CASE("a layout's bad file is named and nothing of the run is imported") {
  test::ScratchDir tmp("layouts_refusals");
  Project p = Project::create(tmp / "p", bleeding_schema(), test::curation_users());
  struct Case {
    std::string name, kind, expect;
    std::function<void(const fs::path&)> spoil;
  };
  const std::vector<Case> cases = {
      {"mmseg wrong-size mask", "mmseg", "ann_dir/train/p1/a0.png: mask is 20x20",
       [](const fs::path& in) {
         write_image(in / "ann_dir/train/p1/a0.png", cv::Mat::zeros(20, 20, CV_8UC1));
       }},
      {"mmseg class outside the schema", "mmseg", "a1.png: 400 pixels hold class 7",
       [](const fs::path& in) {
         write_image(in / "ann_dir/train/p1/a1.png", two_bands(7, 0, 10));
       }},
      {"mmseg undecodable image", "mmseg", "img_dir/val/p3/b0.png: cannot decode",
       [](const fs::path& in) { write_text(in / "img_dir/val/p3/b0.png", "not a png"); }},
      {"mmseg missing annotation", "mmseg", "ann_dir/test/p4/c0.png not found",
       [](const fs::path& in) { fs::remove(in / "ann_dir/test/p4/c0.png"); }},
      {"CVAT unmapped label", "cvat", "labelmap.txt:4: label 'polyp' is not a tissue class",
       [](const fs::path& in) {
         std::ofstream(in / "labelmap.txt", std::ios::app) << "polyp:1,2,3::\n";
       }},
      {"CVAT undeclared colour", "cvat", "SegmentationClass/f1.png: 1600 pixels have a colour",
       [](const fs::path& in) {
         write_image(in / "SegmentationClass/f1.png",
                     cv::Mat(kSize, kSize, CV_8UC3, cv::Scalar(9, 9, 9)));
       }},
      {"CVAT list escaping the folder", "cvat", "train.txt:3: '../../p/frames' leaves the export",
       [](const fs::path& in) {
         std::ofstream(in / "ImageSets/Segmentation/train.txt", std::ios::app)
             << "../../p/frames\n";
       }},
      {"CVAT image not decoding", "cvat", "JPEGImages/f0.jpg: cannot decode",
       [](const fs::path& in) { write_text(in / "JPEGImages/f0.jpg", "no jpeg"); }},
  };
  const auto before = test::tree_snapshot(p.root());
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const fs::path in = tmp / ("in" + std::to_string(k));
    ImageImportOptions o = options(p);
    o.as = "a";
    if (cases[k].kind == "mmseg") {
      write_mmseg(in);
      o.mmseg = in;
      o.as = "final";  // final labels need every mask
      o.labels_csv = in / "labels.csv";
    } else {
      write_cvat(in);
      o.cvat = in;
    }
    cases[k].spoil(in);
    CAPTURE(cases[k].name);
    CHECK_THROWS_WITH_AS(import_images(p, o), doctest::Contains(cases[k].expect.c_str()), Error);
    CHECK(test::tree_snapshot(p.root()) == before);
  }
}

TEST_CASE(
    "a zip export's bad entry is named inside the zip, and an existing split is not replaced") {
  test::ScratchDir tmp("layouts_zip_refusals");
  Project p = Project::create(tmp / "p", bleeding_schema(), test::curation_users());
  write_cvat(tmp / "export");
  write_image(tmp / "export" / "SegmentationClass" / "f1.png", cv::Mat::zeros(8, 8, CV_8UC3));
  test::zip_folder(tmp / "export", tmp / "bad-size.zip");
  test::write_zip(tmp / "slip.zip",
                  {{"labelmap.txt", "background:0,0,0::\n", ""}, {"../outside.txt", "x", ""}});
  const auto before = test::tree_snapshot(p.root());
  ImageImportOptions o = options(p);
  o.as = "a";
  o.cvat = tmp / "bad-size.zip";
  CHECK_THROWS_WITH_AS(
      import_images(p, o),
      doctest::Contains((o.cvat.string() + ":SegmentationClass/f1.png: mask is 8x8").c_str()),
      Error);
  o.cvat = tmp / "slip.zip";
  CHECK_THROWS_WITH_AS(import_images(p, o), doctest::Contains("outside.txt"), Error);
  CHECK_FALSE(fs::exists(tmp / "outside.txt"));
  CHECK(test::tree_snapshot(p.root()) == before);
  // A split of the layout's name already there: refused before anything is read.
  write_mmseg(tmp / "mm");
  Split taken;
  taken.name = "imported";
  taken.ratios = {1.0};
  taken.subset_names = {"train"};
  save_split(p, taken);
  const auto with_split = test::tree_snapshot(p.root());
  ImageImportOptions m = options(p);
  m.mmseg = tmp / "mm";
  m.as = "a";
  CHECK_THROWS_WITH_AS(import_images(p, m), doctest::Contains("split 'imported' exists"), Error);
  CHECK(test::tree_snapshot(p.root()) == with_split);
}

TEST_CASE("excap import-images --mmseg and --cvat print the split, and a refusal exits 1") {
  test::ScratchDir tmp("layouts_cli");
  Project::create(tmp / "p", bleeding_schema(), test::curation_users());
  const std::string excap = test::built_binary("excap"), dir = (tmp / "p").string();
  write_mmseg(tmp / "mm");
  write_cvat(tmp / "cv");
  write_image(tmp / "cv" / "SegmentationClass" / "f0.png", cv::Mat::zeros(9, 9, CV_8UC3));
  std::string out;
  CHECK(test::run_command({excap, "import-images", dir, "--cvat", (tmp / "cv").string(), "--as",
                           "a", "--no-fov", "--user", "expert"},
                          &out) == 1);
  CHECK(out.find("SegmentationClass/f0.png: mask is 9x9") != std::string::npos);
  CHECK(test::run_command({excap, "import-images", dir, "--images", (tmp / "mm").string(), "--cvat",
                           (tmp / "cv").string(), "--user", "expert"},
                          &out) != 0);
  CHECK(out.find("give one of --images, --mmseg, --cvat") != std::string::npos);
  REQUIRE_MESSAGE(test::run_command({excap, "import-images", dir, "--mmseg", (tmp / "mm").string(),
                                     "--labels", (tmp / "mm" / "labels.csv").string(), "--as",
                                     "final", "--split", "mm", "--user", "expert"},
                                    &out) == 0,
                  out);
  CHECK(out.find("imported 5 images (5 with a mask, 5 with a CD)") != std::string::npos);
  CHECK(out.find("split 'mm' from the mmseg subsets: test 1 train 3 val 1") != std::string::npos);
  REQUIRE_MESSAGE(test::run_command({excap, "validate", dir}, &out) == 0, out);
}

TEST_CASE("wce-bleeding as an mmseg layout: the 60 bleeding masks of mixed encodings all read") {
  const fs::path data = test::shared_data("wce-bleeding");
  if (data.empty()) {
    MESSAGE("skipped: ../shared/data/wce-bleeding is absent");
    return;
  }
  test::ScratchDir tmp("layouts_wce");
  Project p = Project::create(tmp / "p", bleeding_schema(), test::curation_users());
  const fs::path root = tmp / "wce-mmseg";
  std::vector<fs::path> images;
  for (const auto& e : fs::directory_iterator(data / "bleeding" / "images"))
    images.push_back(e.path());
  std::sort(images.begin(), images.end());
  REQUIRE(images.size() == 60);
  std::string csv = "file,cd\n";
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string subset = i % 10 < 8 ? "train" : i % 10 == 8 ? "val" : "test";
    const std::string name = images[i].filename().string();
    ensure_dir(root / "img_dir" / subset);
    ensure_dir(root / "ann_dir" / subset);
    fs::create_symlink(images[i], root / "img_dir" / subset / name);
    fs::create_symlink(data / "bleeding" / "masks" / name, root / "ann_dir" / subset / name);
    csv += subset + "/" + name + ",bleeding\n";
  }
  write_text(tmp / "labels.csv", csv);
  ImageImportOptions o = options(p);
  o.fov = true;
  o.mmseg = root;
  o.labels_csv = tmp / "labels.csv";
  o.binary_class = "bleeding";
  o.as = "final";
  const ImageImportResult r = import_images(p, o);
  REQUIRE(r.imported.size() == 60);
  int with_bleeding = 0;
  for (const auto& i : r.imported) {
    const cv::Mat m = read_mask(p.final_mask_path(i.frame));
    CHECK(m.size() == cv::Size(224, 224));
    CHECK(cv::countNonZero(m > 1) == 0);
    with_bleeding += cv::countNonZero(m == 1) > 0 ? 1 : 0;
  }
  CHECK(with_bleeding == 60);
  const Split sp = load_split(p, "imported");
  CHECK(sp.subsets.at("train").size() == 48);
  CHECK(sp.subsets.at("val").size() == 6);
  CHECK(sp.subsets.at("test").size() == 6);
}

TEST_CASE("options a layout cannot take are refused before anything is read") {
  test::ScratchDir tmp("layouts_options");
  Project p = Project::create(tmp / "p", bleeding_schema(), test::curation_users());
  write_mmseg(tmp / "mm");
  write_cvat(tmp / "cv");
  const auto before = test::tree_snapshot(p.root());
  ImageImportOptions o = options(p);
  o.cvat = tmp / "cv";
  o.as = "a";
  o.binary_class = "bleeding";
  CHECK_THROWS_WITH_AS(import_images(p, o), doctest::Contains("CVAT masks are colour masks"),
                       Error);
  ImageImportOptions m = options(p);
  m.mmseg = tmp / "mm";
  CHECK_THROWS_WITH_AS(import_images(p, m), doctest::Contains("holds masks, which are labels"),
                       Error);
  m.as = "a";
  m.masks = tmp / "mm" / "ann_dir";
  CHECK_THROWS_WITH_AS(import_images(p, m), doctest::Contains("layout brings its masks"), Error);
  m.masks.clear();
  m.images = tmp / "mm";
  CHECK_THROWS_WITH_AS(import_images(p, m), doctest::Contains("give one of --images, --mmseg"),
                       Error);
  m.images.clear();
  m.split = "../x";
  CHECK_THROWS_AS(import_images(p, m), Error);
  CHECK(test::tree_snapshot(p.root()) == before);
}
