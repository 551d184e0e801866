#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "curation/adjudication.h"
#include "curation/split.h"
#include "exchange/exchange.h"
#include "support/project_builder.h"
#include "zip_writer.h"

using namespace excap;

namespace {

// 12 frames over 4 patients with final labels using every class, some
// unlabeled pixels, all three CDs; split "s" written.
void finals_and_split(test::CurationProject& cp) {
  cp.add_frames(12, 4, 6);
  int i = 0;
  for (const auto& f : cp.project().load_frames()) {
    cv::Mat m = test::planted_mask(32, i);
    m(cv::Rect(i, 0, 3, 2)).setTo(i % 8);  // every class shows up somewhere
    if (i % 4 == 1) m(cv::Rect(20, 20, 4, 4)).setTo(255);
    FinalLabel fl;
    fl.frame = f.id;
    fl.cd = i % 3;
    fl.source = "agreed";
    fl.expert = "auto";
    fl.time = now_iso8601();
    write_png_atomic(cp.project().final_mask_path(f.id), m);
    cp.project().save_final(fl);
    ++i;
  }
  SplitOptions so;
  so.name = "s";
  so.ratios = {0.5, 0.5};
  so.stratify = "none";
  so.group = "patient";
  save_split(cp.project(), make_split(cp.project(), so));
}

void check_round_trip(test::CurationProject& cp, const std::string& user) {
  for (const auto& id : cp.project().final_frames()) {
    auto lab = cp.project().load_label(user, id);
    REQUIRE(lab);
    CHECK(lab->cd == cp.project().load_final(id)->cd);
    cv::Mat a = read_mask(cp.project().final_mask_path(id));
    cv::Mat b = read_mask(cp.project().label_mask_path(user, id));
    CHECK_MESSAGE(cv::countNonZero(a != b) == 0, id);
  }
}

}  // namespace

TEST_CASE("export cvat-mask -> import-masks is lossless (folder and zip)") {
  test::CurationProject cp("cvat-roundtrip");
  finals_and_split(cp);
  const fs::path out = cp.root().parent_path() / "cvat";
  ExportOptions eo;
  eo.split = "s";
  eo.format = "cvat-mask";
  ExportResult r = export_dataset(cp.project(), eo, out);
  CHECK(r.frames == 12);
  CHECK(r.unlabeled_label);
  const std::string lm = read_file(out / "labelmap.txt");
  CHECK(lm.find("# label:color_rgb:parts:actions") == 0);
  CHECK(lm.find("background:0,0,0::") != std::string::npos);
  CHECK(lm.find("lesion:255,40,40::") != std::string::npos);
  CHECK(lm.find("unlabeled:224,224,192::") != std::string::npos);
  CHECK(fs::exists(out / "ImageSets" / "Segmentation" / "train.txt"));
  CHECK(fs::exists(out / "ImageSets" / "Segmentation" / "val.txt"));
  CHECK(fs::exists(out / "JPEGImages" / "f000.png"));
  CHECK(read_file(out / "cd_labels.csv").find("frame,subset,cd,cd_name\n") == 0);
  // The class mask is RGB with the schema colours.
  cv::Mat color = cv::imread((out / "SegmentationClass" / "f000.png").string(), cv::IMREAD_COLOR);
  REQUIRE(!color.empty());
  const cv::Vec3b centre = color.at<cv::Vec3b>(16, 16);  // clear tissue 230,120,100
  CHECK(centre == cv::Vec3b(100, 120, 230));

  ImportResult ir = import_cvat_masks(cp.project(), out, {"c", false});
  CHECK(ir.imported == 12);
  CHECK(ir.without_cd == 0);
  check_round_trip(cp, "c");
  // Again: existing labels are skipped unless overwrite.
  CHECK(import_cvat_masks(cp.project(), out, {"c", false}).skipped_existing == 12);
  CHECK(import_cvat_masks(cp.project(), out, {"c", true}).imported == 12);

  const fs::path zip = cp.root().parent_path() / "cvat.zip";
  test::zip_folder(out, zip);
  ImportResult iz = import_cvat_masks(cp.project(), zip, {"b", false});
  CHECK(iz.imported == 12);
  check_round_trip(cp, "b");
}

TEST_CASE("import-masks refuses bad input and writes nothing") {
  test::CurationProject cp("cvat-bad");
  finals_and_split(cp);
  const fs::path out = cp.root().parent_path() / "cvat";
  export_dataset(cp.project(), {"s", "cvat-mask", false}, out);
  CHECK(!fs::exists(out / "JPEGImages"));
  // An undeclared colour in one mask.
  cv::Mat color = cv::imread((out / "SegmentationClass" / "f003.png").string(), cv::IMREAD_COLOR);
  color.at<cv::Vec3b>(0, 0) = cv::Vec3b(1, 2, 3);
  cv::imwrite((out / "SegmentationClass" / "f003.png").string(), color);
  CHECK_THROWS_WITH_AS(import_cvat_masks(cp.project(), out, {"c", false}),
                       doctest::Contains("undeclared colour (first 3,2,1)"), Error);
  CHECK(cp.project().labeled_frames("c").empty());
  CHECK_THROWS_WITH_AS(import_cvat_masks(cp.project(), out, {"zed", false}),
                       doctest::Contains("not a user"), Error);
  // A label the schema does not know.
  atomic_write(out / "labelmap.txt", "# label:color_rgb:parts:actions\npolyp:1,2,3::\n");
  CHECK_THROWS_WITH_AS(import_cvat_masks(cp.project(), out, {"c", false}),
                       doctest::Contains("not a tissue class"), Error);
  CHECK_THROWS_AS(import_cvat_masks(cp.project(), cp.root() / "nope", {"c", false}), Error);
  // Export refuses a non-empty output folder and an unknown split.
  CHECK_THROWS_WITH_AS(export_dataset(cp.project(), {"s", "mmseg", true}, out),
                       doctest::Contains("not empty"), Error);
  CHECK_THROWS_AS(
      export_dataset(cp.project(), {"missing", "mmseg", true}, cp.root().parent_path() / "x"),
      Error);
}

TEST_CASE("a zip whose entry leaves the folder (zip slip) is refused, naming the entry") {
  test::CurationProject cp("zip-slip");
  const fs::path zip = cp.root().parent_path() / "slip.zip";
  const fs::path victim = cp.root().parent_path() / "escaped.txt";
  test::write_zip(zip, {{"SegmentationClass/ok.txt", "x", ""}, {"../escaped.txt", "owned", ""}});
  CHECK_THROWS_WITH_AS(import_cvat_masks(cp.project(), zip, {"c", false}),
                       doctest::Contains("'../escaped.txt'"), Error);
  CHECK_FALSE(fs::exists(victim));
  test::write_zip(zip, {{"/tmp/excap-absolute.txt", "owned", ""}});
  CHECK_THROWS_WITH_AS(import_cvat_masks(cp.project(), zip, {"c", false}),
                       doctest::Contains("absolute path or '..'"), Error);
  CHECK_FALSE(fs::exists("/tmp/excap-absolute.txt"));
  test::write_zip(zip, {{"a/../../escaped.txt", "owned", ""}});
  CHECK_THROWS_AS(import_cvat_masks(cp.project(), zip, {"c", false}), Error);
  CHECK_FALSE(fs::exists(victim));
}

TEST_CASE("a zip holding a symbolic link is refused") {
  test::CurationProject cp("zip-link");
  const fs::path zip = cp.root().parent_path() / "link.zip";
  test::write_zip(zip, {{"labelmap.txt", "", "/etc/passwd"}});
  CHECK_THROWS_WITH_AS(import_cvat_masks(cp.project(), zip, {"c", false}),
                       doctest::Contains("is a link or special file"), Error);
  CHECK(cp.project().labeled_frames("c").empty());
}

TEST_CASE("a zip entry beyond the size limits is refused before and while inflating") {
  test::CurationProject cp("zip-bomb");
  finals_and_split(cp);
  const fs::path out = cp.root().parent_path() / "cvat";
  export_dataset(cp.project(), {"s", "cvat-mask", false}, out);
  const fs::path zip = cp.root().parent_path() / "bomb.zip";
  // 4 MiB of zeros deflates to a few KiB: a small stand-in for a 1 GiB bomb.
  test::write_zip(zip, {{"cvat/padding.bin", std::string(4 << 20, '\0'), ""}});
  CHECK(fs::file_size(zip) < 64 * 1024);
  ZipLimits limits;
  limits.max_entry = 1 << 20;
  CHECK_THROWS_WITH_AS(import_cvat_masks(cp.project(), zip, {"c", false}, limits),
                       doctest::Contains("'cvat/padding.bin'"), Error);
  // The total is bounded too, across entries each below the per-entry limit.
  test::zip_folder(out, zip);
  limits.max_entry = ZipLimits::kDefaultEntry;
  limits.max_total = 500;
  CHECK_THROWS_WITH_AS(import_cvat_masks(cp.project(), zip, {"c", false}, limits),
                       doctest::Contains("limit"), Error);
  CHECK(cp.project().labeled_frames("c").empty());
  // Within the default limits the same archive imports.
  CHECK(import_cvat_masks(cp.project(), zip, {"c", false}).imported == 12);
}

// Overwrites the uncompressed size in every header of a one-entry zip
// (APPNOTE 4.3.7, 4.3.9, 4.3.12).
static void lie_about_size(const fs::path& zip, std::uint32_t size) {
  std::string z = read_file(zip);
  auto put = [&](const char* signature, std::size_t offset) {
    const auto at = z.find(std::string(signature, 4));
    if (at == std::string::npos) return;
    for (int i = 0; i < 4; ++i) z[at + offset + i] = static_cast<char>(size >> (8 * i));
  };
  put("PK\x03\x04", 22);  // local file header
  put("PK\x07\x08", 12);  // data descriptor
  put("PK\x01\x02", 24);  // central directory
  atomic_write(zip, z);
}

TEST_CASE("extract_zip counts inflated bytes when a header lies about the size, and refuses junk") {
  test::ScratchDir tmp("zip-stream");
  const fs::path zip = tmp / "big.zip";
  test::write_zip(zip, {{"big.bin", std::string(3 << 20, 'a'), ""}});
  ZipLimits limits;
  limits.max_entry = 1 << 20;
  CHECK_THROWS_WITH_AS(extract_zip(zip, tmp / "out", limits), doctest::Contains("declares"), Error);
  // The headers now claim 1000 bytes: only the count while inflating stops it.
  lie_about_size(zip, 1000);
  CHECK_THROWS_WITH_AS(extract_zip(zip, tmp / "lie", limits),
                       doctest::Contains("'big.bin'): inflates beyond"), Error);
  test::write_zip(zip, {{"big.bin", std::string(3 << 20, 'a'), ""}});
  limits.max_entry = 4 << 20;
  extract_zip(zip, tmp / "ok", limits);
  CHECK(fs::file_size(tmp / "ok" / "big.bin") == (3u << 20));
  atomic_write(tmp / "junk.zip", std::string("not a zip at all"));
  CHECK_THROWS_WITH_AS(extract_zip(tmp / "junk.zip", tmp / "j"), doctest::Contains("junk.zip"),
                       Error);
}

TEST_CASE("export mmseg: img_dir/ann_dir per subset, class list, CD CSV") {
  test::CurationProject cp("mmseg");
  finals_and_split(cp);
  const fs::path out = cp.root().parent_path() / "mmseg";
  ExportResult r = export_dataset(cp.project(), {"s", "mmseg", true}, out);
  CHECK(r.frames == 12);
  const Split s = load_split(cp.project(), "s");
  for (const auto& [subset, ids] : s.subsets)
    for (const auto& id : ids) {
      CHECK(read_file(out / "img_dir" / subset / (id + ".png")) ==
            read_file(cp.project().frame_path(id)));
      cv::Mat ann = read_mask(out / "ann_dir" / subset / (id + ".png"));
      CHECK(cv::countNonZero(ann != read_mask(cp.project().final_mask_path(id))) == 0);
    }
  const std::string classes = read_file(out / "classes.txt");
  CHECK(classes.find("background\nclear tissue\n") == 0);
  auto info = read_json_file(out / "dataset_info.json");
  CHECK(info["ignore_index"] == 255);
  CHECK(info["palette"].size() == 8);
  const std::string csv = read_file(out / "cd_labels.csv");
  CHECK(csv.find("f001,") != std::string::npos);
  CHECK(csv.find(",1,blur\n") != std::string::npos);
}

TEST_CASE("CLI: assign -> agreement -> adjudicate -> split -> export -> import-masks") {
  const std::string excap = test::built_binary("excap");
  if (!fs::exists(excap)) {
    MESSAGE("[skip] " << excap << " is not built");
    return;
  }
  test::CurationProject cp("cli-curation");
  cp.add_frames(24, 4, 8);
  const std::string dir = cp.root().string();
  std::string out;
  REQUIRE_MESSAGE(
      test::run_command({excap, "assign", dir, "--annotators", "a,b", "--seed", "3"}, &out) == 0,
      out);
  CHECK(out.find("newly assigned 24") != std::string::npos);
  // Plant labels: most agree; every 4th frame has A's lesion moved; frame 5
  // disagrees on CD.
  int i = 0;
  for (const auto& f : cp.project().load_frames()) {
    const int cd = i % 3;
    cp.label("a", f.id, cd, test::planted_mask(32, i % 4 == 0 ? 2 : 0));
    cp.label("b", f.id, i == 5 ? (cd + 1) % 3 : cd, test::planted_mask(32));
    ++i;
  }
  const fs::path report = cp.root().parent_path() / "report";
  REQUIRE_MESSAGE(test::run_command({excap, "agreement", dir, "--out", report.string()}, &out) == 0,
                  out);
  CHECK(out.find("CD kappa") != std::string::npos);
  CHECK(fs::exists(report / "agreement.md"));
  REQUIRE_MESSAGE(test::run_command({excap, "adjudicate", dir, "--auto-accept", "0.95"}, &out) == 0,
                  out);
  CHECK(out.find("auto-accepted 17") != std::string::npos);
  REQUIRE(test::run_command({excap, "adjudicate", dir, "--list"}, &out) == 0);
  CHECK(out.find("7 undecided") != std::string::npos);
  // Settle the rest through the library, as the studio would.
  for (const auto& u : undecided_frames(cp.project())) {
    AdjudicationDraft d(load_adjudication_case(cp.project(), u.frame));
    d.take(Side::B);
    save_expert_decision(cp.project(), d, "expert");
  }
  REQUIRE_MESSAGE(test::run_command({excap, "split", dir, "--name", "main", "--ratios", "0.5,0.5",
                                     "--group", "patient", "--seed", "1"},
                                    &out) == 0,
                  out);
  CHECK(out.find("split 'main'") != std::string::npos);
  CHECK(fs::exists(cp.project().split_path("main")));
  // Impossible: 4 patients, a CD class with frames in every patient, 5 subsets? no: bad ratios.
  CHECK(test::run_command({excap, "split", dir, "--name", "bad", "--ratios", "0.5,0.6"}, &out) !=
        0);
  CHECK(out.find("sum to 1") != std::string::npos);
  CHECK(test::run_command({excap, "split", dir, "--name", "main", "--ratios", "0.5,0.5"}, &out) !=
        0);
  CHECK(out.find("exists") != std::string::npos);
  const fs::path cvat = cp.root().parent_path() / "cvat";
  REQUIRE_MESSAGE(test::run_command({excap, "export", dir, "--split", "main", "--format",
                                     "cvat-mask", cvat.string()},
                                    &out) == 0,
                  out);
  REQUIRE_MESSAGE(test::run_command({excap, "import-masks", dir, "--format", "cvat-mask",
                                     cvat.string(), "--user", "c"},
                                    &out) == 0,
                  out);
  CHECK(out.find("imported 24") != std::string::npos);
  REQUIRE_MESSAGE(test::run_command({excap, "export", dir, "--split", "main", "--format", "mmseg",
                                     (cp.root().parent_path() / "mm").string()},
                                    &out) == 0,
                  out);
  CHECK(test::run_command({excap, "adjudicate", dir}, &out) != 0);
  CHECK(out.find("nothing to do") != std::string::npos);
}
