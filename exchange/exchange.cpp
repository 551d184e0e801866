#include "exchange/exchange.h"

#include <algorithm>
#include <cctype>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common/error.h"
#include "curation/split.h"
#include "exchange/zip.h"
#include "media/imageio.h"
#include "store/change.h"
#include "store/project.h"

namespace excap {

using nlohmann::json;

namespace {

const std::array<std::uint8_t, 3> kVoidColor{224, 224, 192};

void require_empty_out(const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && (!fs::is_directory(out, ec) || !fs::is_empty(out, ec)))
    throw Error(out.string(), "output folder exists and is not empty");
  ensure_dir(out);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::vector<std::string> csv_split(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        f.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        f.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      f.emplace_back();
    } else if (c != '\r') {
      f.back() += c;
    }
  }
  return f;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

cv::Mat colorize(const cv::Mat& mask, const std::vector<std::array<std::uint8_t, 3>>& colors,
                 int ignore) {
  cv::Mat out(mask.size(), CV_8UC3);
  for (int y = 0; y < mask.rows; ++y) {
    const std::uint8_t* m = mask.ptr<std::uint8_t>(y);
    cv::Vec3b* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < mask.cols; ++x) {
      const auto& c = m[x] == ignore ? kVoidColor : colors.at(m[x]);
      o[x] = cv::Vec3b(c[2], c[1], c[0]);  // RGB -> OpenCV's BGR
    }
  }
  return out;
}

}  // namespace

std::string cvat_unlabeled_label_name(const std::vector<std::string>& names) {
  std::string n = "unlabeled";
  while (std::find(names.begin(), names.end(), n) != names.end()) n = "excap-" + n;
  return n;
}

namespace {

// One frame of the export: its subset, final label and checked mask.
struct ExportItem {
  std::string subset, frame;
  FinalLabel fin;
  cv::Mat mask;
};

// Loads and checks every frame of the split before anything is written.
std::vector<ExportItem> collect_export_items(const Project& project, const Split& split,
                                             const std::string& split_name, bool* any_unlabeled) {
  const LabelSchema& schema = project.meta().schema;
  std::vector<ExportItem> items;
  for (const auto& subset : split.subset_names) {
    auto it = split.subsets.find(subset);
    if (it == split.subsets.end()) continue;
    for (const auto& id : it->second) {
      auto fin = project.load_final(id);
      if (!fin)
        throw Error(
            project.final_json_path(id).string(),
            "split '" + split_name + "' names frame '" + id + "' but it has no final label");
      cv::Mat m = read_mask(project.final_mask_path(id));
      const MaskCheck mc = check_mask_values(m, schema.num_tissue(), schema.ignore_index);
      if (mc.bad_pixels)
        throw Error(project.final_mask_path(id).string(),
                    "value " + std::to_string(mc.first_bad_value) + " is outside the schema");
      *any_unlabeled = *any_unlabeled || cv::countNonZero(m == schema.ignore_index) > 0;
      items.push_back({subset, id, *fin, m});
    }
  }
  return items;
}

void write_mmseg(const Project& project, const Split& split, const std::vector<ExportItem>& items,
                 const fs::path& out) {
  const LabelSchema& schema = project.meta().schema;
  for (const auto& it : items) {
    const fs::path img = out / "img_dir" / it.subset / (it.frame + ".png");
    const fs::path ann = out / "ann_dir" / it.subset / (it.frame + ".png");
    ensure_dir(img.parent_path());
    ensure_dir(ann.parent_path());
    atomic_write(img, read_bytes(project.frame_path(it.frame)));
    write_png_atomic(ann, it.mask);
  }
  std::vector<std::string> names;
  std::string classes;
  json palette = json::array();
  for (const auto& t : schema.tissue) {
    names.push_back(t.name);
    classes += t.name + "\n";
    palette.push_back({t.color[0], t.color[1], t.color[2]});
  }
  atomic_write(out / "classes.txt", classes);
  // What an mmsegmentation dataset config needs (BaseSegDataset metainfo).
  json info{{"classes", names},
            {"palette", palette},
            {"ignore_index", schema.ignore_index},
            {"img_suffix", ".png"},
            {"seg_map_suffix", ".png"},
            {"reduce_zero_label", false},
            {"subsets", split.subset_names},
            {"split", split.name},
            {"cd_classes", split.cd_names}};
  write_json_atomic(out / "dataset_info.json", info);
}

// labelmap.txt: every schema class with its colour, plus "unlabeled" when needed.
std::string cvat_labelmap(const LabelSchema& schema, bool any_unlabeled) {
  std::vector<std::string> names;
  std::vector<std::array<std::uint8_t, 3>> colors;
  for (const auto& t : schema.tissue) names.push_back(t.name), colors.push_back(t.color);
  for (const auto& n : names)
    if (n.find(':') != std::string::npos)
      throw Error("labelmap.txt", "class name '" + n + "' holds ':', which CVAT's labelmap cannot");
  std::set<std::array<std::uint8_t, 3>> seen;
  for (std::size_t k = 0; k < colors.size(); ++k)
    if (!seen.insert(colors[k]).second || colors[k] == kVoidColor)
      throw Error(
          "labelmap.txt",
          "class '" + names[k] + "' shares its colour with another: CVAT masks would be lossy");
  std::ostringstream lm;
  lm << "# label:color_rgb:parts:actions\n";
  for (std::size_t k = 0; k < names.size(); ++k)
    lm << names[k] << ":" << int(colors[k][0]) << "," << int(colors[k][1]) << ","
       << int(colors[k][2]) << "::\n";
  if (any_unlabeled)
    lm << cvat_unlabeled_label_name(names) << ":" << int(kVoidColor[0]) << "," << int(kVoidColor[1])
       << "," << int(kVoidColor[2]) << "::\n";
  return lm.str();
}

void write_cvat(const Project& project, const std::vector<ExportItem>& items,
                const std::string& labelmap, bool with_images, const fs::path& out) {
  const LabelSchema& schema = project.meta().schema;
  std::vector<std::array<std::uint8_t, 3>> colors;
  for (const auto& t : schema.tissue) colors.push_back(t.color);
  atomic_write(out / "labelmap.txt", labelmap);
  std::map<std::string, std::string> lists;
  ensure_dir(out / "SegmentationClass");
  if (with_images) ensure_dir(out / "JPEGImages");  // VOC's folder name, any image type
  for (const auto& it : items) {
    write_png_atomic(out / "SegmentationClass" / (it.frame + ".png"),
                     colorize(it.mask, colors, schema.ignore_index));
    if (with_images)
      atomic_write(out / "JPEGImages" / (it.frame + ".png"),
                   read_bytes(project.frame_path(it.frame)));
    lists[it.subset] += it.frame + "\n";
  }
  ensure_dir(out / "ImageSets" / "Segmentation");
  for (const auto& [subset, text] : lists)
    atomic_write(out / "ImageSets" / "Segmentation" / (subset + ".txt"), text);
}

}  // namespace

ExportResult export_dataset(const Project& project, const ExportOptions& opt, const fs::path& out) {
  if (opt.format != "mmseg" && opt.format != "cvat-mask")
    throw Error("--format", "'" + opt.format + "' is not one of: mmseg, cvat-mask");
  const Split split = load_split(project, opt.split);
  const LabelSchema& schema = project.meta().schema;
  bool any_unlabeled = false;
  const std::vector<ExportItem> items =
      collect_export_items(project, split, opt.split, &any_unlabeled);
  // The labelmap's checks refuse a lossy schema before the folder is touched.
  const std::string labelmap =
      opt.format == "cvat-mask" ? cvat_labelmap(schema, any_unlabeled) : "";
  require_empty_out(out);
  ExportResult r;
  r.out = out;
  if (opt.format == "mmseg") {
    write_mmseg(project, split, items, out);
  } else {
    write_cvat(project, items, labelmap, opt.with_images, out);
    r.unlabeled_label = any_unlabeled;
  }
  std::ostringstream csv;
  csv << "frame,subset,cd,cd_name\n";
  for (const auto& it : items) {
    csv << csv_field(it.frame) << "," << csv_field(it.subset) << "," << it.fin.cd << ","
        << csv_field(schema.valid_cd(it.fin.cd) ? schema.cd[it.fin.cd].name : "") << "\n";
    ++r.per_subset[it.subset];
    ++r.frames;
  }
  atomic_write(out / "cd_labels.csv", csv.str());
  project.audit("excap", "export",
                json{{"split", opt.split},
                     {"format", opt.format},
                     {"frames", r.frames},
                     {"out", out.string()}});
  return r;
}

namespace {

// Unpacks a zip into a fresh temp folder, within `limits` (exchange/zip.h).
fs::path unpack_zip(const fs::path& zip, const ZipLimits& limits) {
  std::random_device rd;
  const fs::path tmp = fs::temp_directory_path() / ("excap-cvat-" + std::to_string(rd()));
  ensure_dir(tmp);
  try {
    extract_zip(zip, tmp, limits);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  return tmp;
}

// The folder holding labelmap.txt: the root, or a single folder below it.
fs::path find_cvat_root(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "labelmap.txt", ec) || fs::is_directory(dir / "SegmentationClass", ec))
    return dir;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory() && (fs::exists(e.path() / "labelmap.txt", ec) ||
                             fs::is_directory(e.path() / "SegmentationClass", ec)))
      return e.path();
  throw Error(dir.string(),
              "no labelmap.txt or SegmentationClass/ found: not a CVAT "
              "'Segmentation mask 1.1' export");
}

using ColorMap = std::map<std::array<std::uint8_t, 3>, int>;

// One labelmap.txt line ("label:r,g,b:parts:actions") into `colors`.
void parse_labelmap_line(const std::string& line, const std::string& where,
                         const LabelSchema& schema, const std::string& unlabeled,
                         const fs::path& lm, ColorMap& colors) {
  const auto c1 = line.find(':');
  const auto c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
  if (c2 == std::string::npos) throw Error(where, "expected label:r,g,b:parts:actions");
  const std::string label = line.substr(0, c1);
  int r = -1, g = -1, b = -1;
  if (std::sscanf(line.substr(c1 + 1, c2 - c1 - 1).c_str(), "%d,%d,%d", &r, &g, &b) != 3 || r < 0 ||
      r > 255 || g < 0 || g > 255 || b < 0 || b > 255)
    throw Error(where, "bad colour for '" + label + "'");
  int cls = -1;
  if (lower(label) == lower(unlabeled)) {
    cls = schema.ignore_index;
  } else {
    for (const auto& t : schema.tissue)
      if (lower(t.name) == lower(label)) cls = t.id;
  }
  if (cls < 0)
    throw Error(where, "label '" + label + "' is not a tissue class of this project's schema");
  const std::array<std::uint8_t, 3> key{std::uint8_t(r), std::uint8_t(g), std::uint8_t(b)};
  auto [it, fresh] = colors.emplace(key, cls);
  if (!fresh && it->second != cls)
    throw Error(lm.string(), "two labels share the colour " + std::to_string(r) + "," +
                                 std::to_string(g) + "," + std::to_string(b));
}

// Colour -> class index, from labelmap.txt (or the schema colours without one).
ColorMap read_labelmap(const fs::path& root, const LabelSchema& schema) {
  std::vector<std::string> names;
  for (const auto& t : schema.tissue) names.push_back(t.name);
  const std::string unlabeled = cvat_unlabeled_label_name(names);
  ColorMap colors;
  const fs::path lm = root / "labelmap.txt";
  std::error_code ec;
  if (!fs::exists(lm, ec)) {
    for (const auto& t : schema.tissue) colors[t.color] = t.id;
    return colors;
  }
  std::istringstream in(read_file(lm));
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    parse_labelmap_line(line, lm.string() + ":" + std::to_string(lineno), schema, unlabeled, lm,
                        colors);
  }
  return colors;
}

// Frame id -> CD, from cd_labels.csv when the export has one.
std::map<std::string, int> read_cd_csv(const fs::path& root, const LabelSchema& schema) {
  std::map<std::string, int> cds;
  const fs::path csv = root / "cd_labels.csv";
  std::error_code ec;
  if (!fs::exists(csv, ec)) return cds;
  std::istringstream in(read_file(csv));
  std::string line;
  std::getline(in, line);
  const auto header = csv_split(line);
  auto col = [&](const std::string& n) {
    auto it = std::find(header.begin(), header.end(), n);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int cf = col("frame"), cc = col("cd"), cn = col("cd_name");
  if (cf < 0 || (cc < 0 && cn < 0))
    throw Error(csv.string(), "needs a 'frame' column and a 'cd' or 'cd_name' column");
  int lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line == "\r") continue;
    const auto f = csv_split(line);
    const std::string where = csv.string() + ":" + std::to_string(lineno);
    int cd = -1;
    if (cc >= 0 && cc < static_cast<int>(f.size()) && !f[cc].empty()) {
      try {
        cd = std::stoi(f[cc]);
      } catch (const std::exception&) {
        throw Error(where, "cd '" + f[cc] + "' is not a number");
      }
    } else if (cn >= 0 && cn < static_cast<int>(f.size())) {
      cd = schema.cd_id(f[cn]);
    }
    if (!schema.valid_cd(cd)) throw Error(where, "CD is not in the schema");
    if (cf >= static_cast<int>(f.size())) throw Error(where, "no frame column");
    cds[f[cf]] = cd;
  }
  return cds;
}

// The PNG masks of SegmentationClass/, sorted.
std::vector<fs::path> list_masks(const fs::path& root) {
  std::error_code ec;
  const fs::path sc = root / "SegmentationClass";
  if (!fs::is_directory(sc, ec)) throw Error(sc.string(), "folder not found");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(sc, ec))
    if (e.is_regular_file() && lower(e.path().extension().string()) == ".png")
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw Error(sc.string(), "holds no PNG masks");
  return files;
}

// A colour mask -> class indices; counts pixels of undeclared colours.
cv::Mat to_class_mask(const cv::Mat& color, const ColorMap& colors, int ignore_index,
                      long long* unknown, cv::Vec3b* first) {
  cv::Mat mask(color.size(), CV_8UC1);
  for (int y = 0; y < color.rows; ++y) {
    const cv::Vec3b* p = color.ptr<cv::Vec3b>(y);
    std::uint8_t* o = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < color.cols; ++x) {
      auto it = colors.find({p[x][2], p[x][1], p[x][0]});
      if (it == colors.end()) {
        if (!(*unknown)++) *first = p[x];
        o[x] = static_cast<std::uint8_t>(ignore_index);
      } else {
        o[x] = static_cast<std::uint8_t>(it->second);
      }
    }
  }
  return mask;
}

struct PendingMask {
  std::string frame;
  cv::Mat mask;
};

// Checks one mask file; appends it to `pending` or says why not in `problems`.
void check_mask_file(const Project& project, const fs::path& file, const ColorMap& colors,
                     const std::set<std::string>& known, const ImportOptions& opt,
                     std::vector<PendingMask>& pending, std::vector<std::string>& problems,
                     ImportResult& r) {
  const std::string id = file.stem().string();
  if (!known.count(id))
    return problems.push_back(file.string() + ": no frame '" + id + "' in this project");
  if (!opt.overwrite && project.load_label(opt.user, id)) {
    ++r.skipped_existing;
    return;
  }
  cv::Mat color;
  try {
    color = read_frame(file);
  } catch (const Error& e) {
    return problems.push_back(e.what());
  }
  std::error_code ec;
  const fs::path fp = project.frame_path(id);
  if (fs::exists(fp, ec) && image_size(fp) != color.size())
    return problems.push_back(file.string() + ": mask is " + std::to_string(color.cols) + "x" +
                              std::to_string(color.rows) + ", the frame " +
                              std::to_string(image_size(fp).width) + "x" +
                              std::to_string(image_size(fp).height));
  long long unknown = 0;
  cv::Vec3b first{};
  cv::Mat mask = to_class_mask(color, colors, project.meta().schema.ignore_index, &unknown, &first);
  if (unknown)
    return problems.push_back(file.string() + ": " + std::to_string(unknown) +
                              " pixels have an undeclared colour (first " +
                              std::to_string(first[2]) + "," + std::to_string(first[1]) + "," +
                              std::to_string(first[0]) + ")");
  pending.push_back({id, mask});
}

// Writes the checked masks as `opt.user`'s labels, keeping each label's creation time.
void save_imported(const Project& project, const std::vector<PendingMask>& pending,
                   const std::map<std::string, int>& cds, const ImportOptions& opt,
                   const std::string& from, ImportResult& r) {
  const std::string now = now_iso8601();
  const ProjectLock lock = ProjectLock::acquire(project.root(), "import-masks");
  Change change(lock, project, opt.user, "import-masks");
  for (const auto& p : pending) {
    LabelRecord rec;
    rec.frame = p.frame;
    rec.user = opt.user;
    auto it = cds.find(p.frame);
    if (it != cds.end())
      rec.cd = it->second;
    else
      ++r.without_cd;
    rec.created = rec.updated = now;
    if (auto old = project.load_label(opt.user, p.frame)) rec.created = old->created;
    change.write(project.label_mask_path(opt.user, p.frame), encode_png(p.mask));
    change.save_label(rec);
    r.frames.push_back(p.frame);
    ++r.imported;
  }
  change.commit(json{{"from", from},
                     {"format", "cvat-mask"},
                     {"imported", r.imported},
                     {"skipped_existing", r.skipped_existing}});
}

}  // namespace

ImportResult import_cvat_masks(const Project& project, const fs::path& dir_or_zip,
                               const ImportOptions& opt, const ZipLimits& zip_limits) {
  const User* user = project.meta().find_user(opt.user);
  if (!user) throw Error("--user", "'" + opt.user + "' is not a user of this project");
  std::error_code ec;
  if (!fs::exists(dir_or_zip, ec)) throw Error(dir_or_zip.string(), "not found");
  fs::path tmp;
  if (!fs::is_directory(dir_or_zip, ec)) tmp = unpack_zip(dir_or_zip, zip_limits);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code e;
      if (!p.empty()) fs::remove_all(p, e);
    }
  } cleanup{tmp};
  const fs::path root = find_cvat_root(tmp.empty() ? dir_or_zip : tmp);
  const LabelSchema& schema = project.meta().schema;
  const ColorMap colors = read_labelmap(root, schema);
  const std::map<std::string, int> cds = read_cd_csv(root, schema);
  std::set<std::string> known;
  for (const auto& f : project.load_frames()) known.insert(f.id);
  std::vector<PendingMask> pending;
  std::vector<std::string> problems;
  ImportResult r;
  for (const auto& file : list_masks(root))
    check_mask_file(project, file, colors, known, opt, pending, problems, r);
  if (!problems.empty()) {
    std::string msg = std::to_string(problems.size()) + " problem(s), nothing imported:";
    for (std::size_t i = 0; i < problems.size() && i < 10; ++i) msg += "\n  " + problems[i];
    if (problems.size() > 10) msg += "\n  ...";
    throw Error(root.string(), msg);
  }
  save_imported(project, pending, cds, opt, dir_or_zip.string(), r);
  return r;
}

fs::path unpack_cvat_zip(const fs::path& zip, const ZipLimits& limits) {
  return unpack_zip(zip, limits);
}

fs::path cvat_export_root(const fs::path& dir) { return find_cvat_root(dir); }

CvatColours read_cvat_labelmap(const fs::path& root, const LabelSchema& schema) {
  return read_labelmap(root, schema);
}

std::map<std::string, int> read_export_cd_labels(const fs::path& root, const LabelSchema& schema) {
  return read_cd_csv(root, schema);
}

cv::Mat cvat_class_mask(const cv::Mat& bgr, const CvatColours& colours, int ignore_index,
                        long long* unknown, std::array<std::uint8_t, 3>* first) {
  cv::Vec3b f{};
  cv::Mat m = to_class_mask(bgr, colours, ignore_index, unknown, &f);
  if (*unknown) *first = {f[2], f[1], f[0]};
  return m;
}

}  // namespace excap
