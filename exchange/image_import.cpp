#include "exchange/image_import.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "common/ids.h"
#include "curation/split.h"
#include "exchange/exchange.h"
#include "exchange/image_layouts.h"
#include "media/frameops.h"
#include "media/imageio.h"
#include "store/change.h"
#include "store/lock.h"
#include "store/project.h"

namespace excap {

using nlohmann::json;

const std::string& imported_frame_prefix() {
  static const std::string prefix = "img";
  return prefix;
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_file(const fs::path& p) {
  static const std::set<std::string> exts = {".png", ".jpg",  ".jpeg", ".bmp",
                                             ".tif", ".tiff", ".jpe"};
  return exts.count(lower(p.extension().string())) > 0;
}

struct Source {
  fs::path path;
  std::string rel;                    // relative to the images folder, '/' separated
  fs::path mask;                      // layouts: the image's mask file ("" = none)
  std::string subset;                 // layouts: its subset ("" = none)
  const LayoutImage* item = nullptr;  // layouts: what the layout says of it
};

// Every image file below `root`, sorted by relative path (the import order).
std::vector<Source> list_sources(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(root.string(), "images folder not found");
  std::vector<Source> out;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file(ec) && is_image_file(it->path()))
      out.push_back({it->path(), it->path().lexically_relative(root).generic_string(), {}, {}, {}});
  if (ec) throw Error(root.string(), "cannot list: " + ec.message());
  std::sort(out.begin(), out.end(), [](const Source& a, const Source& b) { return a.rel < b.rel; });
  if (out.empty()) throw Error(root.string(), "holds no png, jpg, bmp or tif images");
  return out;
}

// Mask files below `root` by file stem (several files may share one).
std::map<std::string, std::vector<fs::path>> list_masks(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(root.string(), "masks folder not found");
  std::map<std::string, std::vector<fs::path>> out;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file(ec) && is_image_file(it->path()))
      out[it->path().stem().string()].push_back(it->path());
  if (ec) throw Error(root.string(), "cannot list: " + ec.message());
  return out;
}

// One line of a CSV file: comma separated, fields optionally in double quotes.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"')
      f.back() += '"', ++i;
    else if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted)
      f.emplace_back();
    else if (c != '\r' || quoted)
      f.back() += c;
  }
  return f;
}

struct CsvRow {
  std::string cd, patient;
  std::string where;  // file:line
};

// The labels CSV by image index; problems name the file and line.
std::map<std::size_t, CsvRow> read_labels(const fs::path& csv, const std::vector<Source>& images,
                                          std::vector<std::string>& problems) {
  std::map<std::string, std::size_t> by_rel;
  std::map<std::string, std::vector<std::size_t>> by_name;
  for (std::size_t i = 0; i < images.size(); ++i) {
    by_rel[images[i].rel] = i;
    by_name[images[i].path.filename().string()].push_back(i);
  }
  std::istringstream in(read_file(csv));
  std::string line;
  std::getline(in, line);
  const auto header = csv_fields(line);
  auto col = [&](const std::string& n) {
    auto it = std::find(header.begin(), header.end(), n);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int cf = col("file"), cc = col("cd"), cp = col("patient");
  if (cf < 0) throw Error(csv.string(), "needs a header with a 'file' column");
  std::map<std::size_t, CsvRow> rows;
  for (int lineno = 2; std::getline(in, line); ++lineno) {
    if (line.empty() || line == "\r") continue;
    const auto f = csv_fields(line);
    auto at = [&](int c) { return c >= 0 && c < static_cast<int>(f.size()) ? f[c] : ""; };
    const std::string where = csv.string() + ":" + std::to_string(lineno);
    const std::string file = at(cf);
    std::size_t idx = images.size();
    if (auto it = by_rel.find(file); it != by_rel.end()) {
      idx = it->second;
    } else if (auto n = by_name.find(file); n != by_name.end() && n->second.size() == 1) {
      idx = n->second.front();
    } else {
      problems.push_back(where + ": file '" + file + "' " +
                         (n == by_name.end() ? "is not among the images"
                                             : "names several images; give its relative path"));
      continue;
    }
    if (!rows.emplace(idx, CsvRow{at(cc), at(cp), where}).second)
      problems.push_back(where + ": file '" + file + "' has a second row");
  }
  return rows;
}

// --binary-masks CLASS: a tissue id or name, not background.
int resolve_binary_class(const LabelSchema& schema, const std::string& text) {
  int id = schema.tissue_id(text);
  if (id < 0 && !text.empty() && std::all_of(text.begin(), text.end(), ::isdigit) &&
      text.size() < 4)
    id = std::stoi(text);
  if (!schema.valid_tissue(id) || id == 0)
    throw Error("--binary-masks",
                "'" + text + "' is not a tissue class of the schema other than " + "class 0");
  return id;
}

bool is_palette_png(const std::vector<std::uint8_t>& b) {
  return b.size() > 25 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G' && b[25] == 3;
}

// A colour mask through the schema's colours; `why` says what did not map.
cv::Mat colours_to_classes(const cv::Mat& bgr, const LabelSchema& schema, std::string& why) {
  std::map<std::uint32_t, std::uint8_t> ids;
  for (const auto& t : schema.tissue)
    ids[(std::uint32_t(t.color[0]) << 16) | (t.color[1] << 8) | t.color[2]] =
        static_cast<std::uint8_t>(t.id);
  cv::Mat out(bgr.size(), CV_8UC1);
  long long unknown = 0;
  cv::Vec3b first;
  for (int y = 0; y < bgr.rows; ++y)
    for (int x = 0; x < bgr.cols; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      auto it = ids.find((std::uint32_t(p[2]) << 16) | (p[1] << 8) | p[0]);
      if (it == ids.end() && !unknown++) first = p;
      out.at<std::uint8_t>(y, x) = it == ids.end() ? 0 : it->second;
    }
  if (unknown)
    why = std::to_string(unknown) + " pixels have a colour of no schema class (first RGB " +
          std::to_string(first[2]) + "," + std::to_string(first[1]) + "," +
          std::to_string(first[0]) + ")";
  return out;
}

struct MaskRead {
  cv::Mat classes;
  std::string problem, warning;
};

// Reads one mask as class indices: index PNGs (gray or palette), colour
// masks through the schema's colours, or binary (`binary` > 0).
MaskRead read_import_mask(const fs::path& path, const LabelSchema& schema, int binary) {
  MaskRead r;
  const std::vector<std::uint8_t> bytes = read_bytes(path);
  cv::Mat raw;
  try {
    raw = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
  }
  if (raw.empty()) return {{}, path.string() + ": cannot decode mask", {}};
  cv::Mat idx;
  if (raw.channels() == 1 || is_palette_png(bytes)) {
    idx = read_mask(path);
  } else {
    cv::Mat bgr = read_frame(path);
    if (binary > 0) {
      cv::Mat any = cv::Mat::zeros(bgr.size(), CV_8UC1);
      for (int y = 0; y < bgr.rows; ++y)
        for (int x = 0; x < bgr.cols; ++x) {
          const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
          any.at<std::uint8_t>(y, x) = (p[0] | p[1] | p[2]) ? 1 : 0;
        }
      idx = any;
    } else {
      std::string why;
      r.classes = colours_to_classes(bgr, schema, why);
      if (!why.empty()) r.problem = path.string() + ": " + why;
      return r;
    }
  }
  if (binary > 0) {
    r.classes = cv::Mat::zeros(idx.size(), CV_8UC1);
    r.classes.setTo(binary, idx != 0);
    return r;
  }
  const MaskCheck check = check_mask_values(idx, schema.num_tissue(), schema.ignore_index);
  if (check.bad_pixels > 0)
    r.problem = path.string() + ": " + std::to_string(check.bad_pixels) + " pixels hold class " +
                std::to_string(check.first_bad_value) + " (first), not in the schema (0.." +
                std::to_string(schema.num_tissue() - 1) + ", " +
                std::to_string(schema.ignore_index) + " = not labeled)";
  else if (cv::countNonZero(idx) > 0 &&
           cv::countNonZero((idx != 0) & (idx != schema.ignore_index)) == 0)
    r.warning = path.string() + ": holds only 0 and " + std::to_string(schema.ignore_index) +
                " (not labeled); for a foreground/background mask use --binary-masks";
  r.classes = idx;
  return r;
}

// What the run was asked for, checked before any file is read.
struct Request {
  const LabelSchema* schema = nullptr;
  int binary = 0;         // --binary-masks class, 0 when off
  bool to_final = false;  // --as final
  std::string as_user;    // --as USER
  std::optional<std::regex> group_by;
  std::string root_name;  // the images folder's own name: the group of top-level images
  const LayoutListing* layout = nullptr;  // a dataset layout instead of --images/--masks
  std::string split;                      // layouts with subsets: the split to write
};

// Layouts: the split name (free, a safe id) and what their masks allow.
void check_layout_request(const Project& project, const ImageImportOptions& opt,
                          const LayoutListing& layout, Request& q) {
  q.layout = &layout;
  q.root_name = layout.root_name;
  if (!opt.masks.empty()) throw Error("--masks", "a " + layout.kind + " layout brings its masks");
  if (q.binary > 0 && layout.colour_masks)
    throw Error("--binary-masks", "CVAT masks are colour masks read through labelmap.txt");
  const bool any_mask = std::any_of(layout.images.begin(), layout.images.end(),
                                    [](const LayoutImage& i) { return !i.mask.empty(); });
  if (any_mask && opt.as.empty())
    throw Error(layout.root.string(),
                "holds masks, which are labels: say whose with --as final or --as USER");
  if (layout.subsets.empty()) return;
  q.split = opt.split.empty() ? "imported" : opt.split;
  require_safe_id(q.split, "--split");
  std::error_code ec;
  if (fs::exists(project.split_path(q.split), ec))
    throw Error(project.split_path(q.split).string(),
                "split '" + q.split + "' exists; name the layout's split with --split NAME");
}

Request check_request(const Project& project, const ImageImportOptions& opt,
                      const LayoutListing* layout) {
  Request q;
  q.schema = &project.meta().schema;
  const User* who = project.meta().find_user(opt.user);
  if (!who) throw Error("--user", "'" + opt.user + "' is not a user of this project");
  if (!opt.pseudonymise) throw Error("import-images", "no pseudonymiser for group names");
  if (opt.as == "final") {
    if (who->role == Role::Annotator)
      throw Error("--as final", "'" + opt.user + "' is an annotator; final labels need an " +
                                    "expert, engineer or admin as --user");
    q.to_final = true;
  } else if (!opt.as.empty()) {
    require_safe_id(opt.as, "--as user");
    if (!project.meta().find_user(opt.as))
      throw Error("--as", "'" + opt.as + "' is neither 'final' nor a user of this project");
    q.as_user = opt.as;
  }
  if (!opt.binary_class.empty()) {
    if (opt.masks.empty() && !layout) throw Error("--binary-masks", "needs --masks");
    q.binary = resolve_binary_class(*q.schema, opt.binary_class);
  }
  if (!opt.masks.empty() && opt.as.empty())
    throw Error("--masks", "masks are labels: say whose with --as final or --as USER");
  if (!opt.group_by.empty()) {
    try {
      q.group_by.emplace(opt.group_by, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error("--group-by", "'" + opt.group_by + "' is not a regular expression: " + e.what());
    }
  }
  if (layout) {
    check_layout_request(project, opt, *layout, q);
    return q;
  }
  const fs::path abs = fs::absolute(opt.images).lexically_normal();
  q.root_name = (abs.has_filename() ? abs : abs.parent_path()).filename().string();
  return q;
}

struct Prepared {
  std::size_t src = 0;
  cv::Mat image;  // decoded; blanked outside the field of view before hashing
  cv::Mat mask;   // class indices; empty when the image has none
  cv::Size size;
  int cd = -1;
  std::string group;  // before pseudonymising
  std::uint64_t hash = 0;
  std::vector<std::uint8_t> png;
};

// The group of an image: the CSV's patient, else --group-by's first capture
// group of its relative path, else its folder (the images folder's name at the top).
std::string group_of(const Source& s, const CsvRow* row, const Request& q, std::string& problem) {
  if (row && !row->patient.empty()) return row->patient;
  if (q.group_by) {
    std::smatch m;
    if (!std::regex_search(s.rel, m, *q.group_by) || m.str(m.size() > 1 ? 1 : 0).empty())
      problem = s.path.string() + ": --group-by matches no group in '" + s.rel + "'";
    return m.empty() ? "" : m.str(m.size() > 1 ? 1 : 0);
  }
  std::string folder = fs::path(s.rel).parent_path().generic_string();
  if (!s.subset.empty() && (folder + "/").rfind(s.subset + "/", 0) == 0)  // mmseg: no group
    folder = folder.substr(std::min(folder.size(), s.subset.size() + 1));
  return folder.empty() ? q.root_name : folder;
}

// The mask file of `stem`, or a problem when several match.
const fs::path* mask_file(const std::map<std::string, std::vector<fs::path>>& masks,
                          const Source& s, std::vector<std::string>& problems) {
  auto it = masks.find(s.path.stem().string());
  if (it == masks.end()) return nullptr;
  if (it->second.size() > 1) {
    problems.push_back(s.path.string() + ": " + std::to_string(it->second.size()) +
                       " mask files share its stem (first " + it->second.front().string() + ")");
    return nullptr;
  }
  return &it->second.front();
}

// A CVAT colour mask through its labelmap's colours.
MaskRead read_colour_mask(const fs::path& path, const LayoutListing& layout, int ignore_index) {
  MaskRead r;
  cv::Mat bgr;
  try {
    bgr = read_frame(path);
  } catch (const Error& e) {
    r.problem = e.what();
    return r;
  }
  long long unknown = 0;
  std::array<std::uint8_t, 3> first{};
  r.classes = cvat_class_mask(bgr, layout.colours, ignore_index, &unknown, &first);
  if (unknown)
    r.problem = path.string() + ": " + std::to_string(unknown) +
                " pixels have a colour labelmap.txt does not declare (first RGB " +
                std::to_string(first[0]) + "," + std::to_string(first[1]) + "," +
                std::to_string(first[2]) + ")";
  return r;
}

// Reads mask `mf` of image `s` into `p.mask`, checking its size against the image.
void attach_mask(const fs::path& mf, const Source& s, const Request& q, Prepared& p,
                 std::vector<std::string>& problems, std::vector<std::string>& warnings) {
  MaskRead m = q.layout && q.layout->colour_masks
                   ? read_colour_mask(mf, *q.layout, q.schema->ignore_index)
                   : read_import_mask(mf, *q.schema, q.binary);
  if (!m.problem.empty()) problems.push_back(m.problem);
  if (!m.warning.empty()) warnings.push_back(m.warning);
  if (!m.classes.empty() && m.classes.size() != p.image.size())
    problems.push_back(mf.string() + ": mask is " + std::to_string(m.classes.cols) + "x" +
                       std::to_string(m.classes.rows) + ", its image " + s.rel + " is " +
                       std::to_string(p.image.cols) + "x" + std::to_string(p.image.rows));
  p.mask = m.classes;
}

// Decodes one image and its mask and resolves its CD and group; problems name the file.
void prepare_one(const ImageImportOptions& opt, const Request& q, const std::vector<Source>& srcs,
                 std::size_t i, const std::map<std::string, std::vector<fs::path>>& masks,
                 const CsvRow* row, std::vector<Prepared>& out, std::vector<std::string>& problems,
                 std::vector<std::string>& warnings) {
  const Source& s = srcs[i];
  Prepared p;
  p.src = i;
  try {
    p.image = read_frame(s.path);
  } catch (const Error& e) {
    return problems.push_back(e.what());
  }
  p.size = p.image.size();
  if (row && !row->cd.empty()) {
    p.cd = q.schema->cd_id(row->cd);
    if (p.cd < 0)
      problems.push_back(row->where + ": CD '" + row->cd + "' of " + s.rel +
                         " is not a CD class of the schema");
  } else if (s.item && s.item->cd >= 0 && !opt.as.empty()) {
    p.cd = s.item->cd;
  } else if (q.to_final) {
    problems.push_back(s.path.string() + ": no CD (a final label needs one: --labels with a " +
                       "'cd' column)");
  }
  std::string problem;
  p.group = group_of(s, row, q, problem);
  if (!problem.empty()) problems.push_back(problem);
  if (q.layout) {
    if (s.mask.empty() && q.to_final)
      problems.push_back(s.path.string() + ": no mask (" + s.item->expected_mask.string() +
                         " not found)");
    if (!s.mask.empty()) attach_mask(s.mask, s, q, p, problems, warnings);
  } else if (!opt.masks.empty()) {
    const fs::path* mf = mask_file(masks, s, problems);
    if (!mf) {
      if (q.to_final && masks.count(s.path.stem().string()) == 0)
        problems.push_back(s.path.string() + ": no mask of stem '" + s.path.stem().string() +
                           "' in " + opt.masks.string());
    } else {
      attach_mask(*mf, s, q, p, problems, warnings);
    }
  }
  out.push_back(std::move(p));
}

FieldOfView override_fov(const FovOverride& o) {
  FieldOfView fov;
  fov.kind = o.mode == "circle" ? FieldOfView::Circle : FieldOfView::Polygon;
  fov.cx = o.cx, fov.cy = o.cy, fov.r = o.r;
  for (const auto& [x, y] : o.polygon)
    fov.polygon.emplace_back(static_cast<float>(x), static_cast<float>(y));
  return fov;
}

// Blanks outside the field of view: project.json's manual one when set, else
// one detected per folder and image size from up to 16 of its images (as a
// video's is from 16 of its frames), else per image; an image whose disc is
// not found stays as it is, with a warning.
void blank_all(const Project& project, const std::vector<Source>& srcs,
               std::vector<Prepared>& items, std::vector<std::string>& warnings) {
  const FovOverride& o = project.meta().extraction.fov;
  if (o.mode == "circle" || o.mode == "polygon") {
    const FieldOfView fov = override_fov(o);
    for (auto& p : items) blank_outside_fov(p.image, fov);
    return;
  }
  std::map<std::tuple<std::string, int, int>, std::vector<Prepared*>> groups;
  for (auto& p : items)
    groups[{fs::path(srcs[p.src].rel).parent_path().generic_string(), p.image.cols, p.image.rows}]
        .push_back(&p);
  for (auto& [key, members] : groups) {
    std::vector<cv::Mat> sample;
    const std::size_t n = std::min<std::size_t>(16, members.size());
    for (std::size_t k = 0; k < n; ++k) sample.push_back(members[k * members.size() / n]->image);
    std::optional<FieldOfView> shared;
    try {
      shared = detect_fov(sample);
    } catch (const Error&) {
    }
    for (Prepared* p : members) {
      std::optional<FieldOfView> fov = shared;
      if (!fov) try {
          fov = detect_fov({p->image});
        } catch (const Error& e) {
          warnings.push_back(srcs[p->src].path.string() + ": " + e.reason() + "; not blanked");
        }
      if (fov) blank_outside_fov(p->image, *fov);
    }
  }
}

// Hashes each blanked image and encodes its PNG; a near-duplicate of an image
// kept earlier in the run is dropped (listed in `duplicates`).
void hash_and_encode(const std::vector<Source>& srcs, std::vector<Prepared>& items, int threshold,
                     bool dedupe, std::vector<std::string>& duplicates) {
  std::vector<Prepared> kept;
  for (auto& p : items) {
    p.hash = perceptual_hash(p.image);
    auto twin = std::find_if(kept.begin(), kept.end(), [&](const Prepared& k) {
      return hash_distance(k.hash, p.hash) <= threshold;
    });
    if (dedupe && twin != kept.end()) {
      duplicates.push_back(srcs[p.src].rel + ": near-duplicate of " + srcs[twin->src].rel);
      continue;
    }
    p.png = encode_png(p.image);
    p.image.release();
    kept.push_back(std::move(p));
  }
  items = std::move(kept);
}

// The number after "img_" of the largest imported-frame id in `frames` (0 when none).
long long last_image_number(const std::vector<Frame>& frames) {
  const std::string prefix = imported_frame_prefix() + "_";
  long long last = 0;
  for (const auto& f : frames) {
    if (f.id.rfind(prefix, 0) != 0) continue;
    const std::string digits = f.id.substr(prefix.size());
    if (digits.empty() || digits.size() > 12 ||
        !std::all_of(digits.begin(), digits.end(), ::isdigit))
      continue;
    last = std::max(last, std::stoll(digits));
  }
  return last;
}

// Drops the items within `threshold` bits of a frame already in the project.
void drop_existing_duplicates(const std::vector<Frame>& frames, const std::vector<Source>& srcs,
                              int threshold, std::vector<Prepared>& items,
                              std::vector<std::string>& duplicates) {
  std::vector<std::pair<std::uint64_t, std::string>> have;
  for (const auto& f : frames) try {
      have.emplace_back(parse_hash_hex(f.phash), f.id);
    } catch (const Error&) {
    }
  std::vector<Prepared> kept;
  for (auto& p : items) {
    auto twin = std::find_if(have.begin(), have.end(), [&](const auto& h) {
      return hash_distance(h.first, p.hash) <= threshold;
    });
    if (twin != have.end())
      duplicates.push_back(srcs[p.src].rel + ": near-duplicate of frame " + twin->second);
    else
      kept.push_back(std::move(p));
  }
  items = std::move(kept);
}

// Stages one image's frame record, PNG and label.
void stage_item(const Project& project, const ImageImportOptions& opt, const Request& q,
                const Source& src, Prepared& p, const std::string& id, const std::string& now,
                Change& change, std::vector<Frame>& frames, ImageImportResult& r) {
  Frame f;
  f.id = id;
  f.patient = opt.pseudonymise(p.group);
  f.file = "frames/" + id + ".png";
  f.phash = hash_hex(p.hash);
  change.write(project.root() / f.file, p.png);
  frames.push_back(f);
  if (q.to_final) {
    FinalLabel fl;
    fl.frame = id;
    fl.cd = p.cd;
    fl.source = "imported";
    fl.expert = opt.user;
    fl.time = now;
    cv::Mat mask = p.mask;
    if (mask.empty())  // no --masks: a classification-only frame, every pixel not labeled
      mask = cv::Mat(p.size, CV_8UC1, cv::Scalar(q.schema->ignore_index));
    change.write(project.final_mask_path(id), encode_png(mask));
    change.save_final(fl);
  } else if (!q.as_user.empty()) {
    LabelRecord rec;
    rec.frame = id;
    rec.user = q.as_user;
    if (p.cd >= 0) rec.cd = p.cd;
    rec.created = rec.updated = now;
    if (!p.mask.empty()) change.write(project.label_mask_path(q.as_user, id), encode_png(p.mask));
    change.save_label(rec);
  }
  r.imported.push_back({id, src.rel, f.patient, !p.mask.empty(), p.cd});
}

// Under the project lock: drops duplicates of frames already there, allocates
// ids and lands everything as one Change with one audit line.
void commit_import(const Project& project, const ImageImportOptions& opt, const Request& q,
                   const std::vector<Source>& srcs, std::vector<Prepared>& items, int threshold,
                   ImageImportResult& r) {
  const ProjectLock lock = ProjectLock::acquire(project.root(), "import-images");
  std::vector<Frame> frames = project.load_frames();
  if (opt.dedupe) drop_existing_duplicates(frames, srcs, threshold, items, r.duplicates);
  if (items.empty()) return;
  auto assignments = project.load_assignments();
  long long next = last_image_number(frames);
  const std::string now = now_iso8601();
  Change change(lock, project, opt.user, "import-images");
  json files = json::object();
  std::vector<LayoutSplitFrame> in_split;
  for (auto& p : items) {
    const std::string id = frame_id(imported_frame_prefix(), ++next);
    stage_item(project, opt, q, srcs[p.src], p, id, now, change, frames, r);
    files[id] = srcs[p.src].rel;
    if (!srcs[p.src].subset.empty())
      in_split.push_back({id, srcs[p.src].subset, r.imported.back().patient, p.cd});
    if (!q.as_user.empty()) {
      auto& users = assignments[id];
      if (std::find(users.begin(), users.end(), q.as_user) == users.end())
        users.push_back(q.as_user);
    }
  }
  change.save_frames(frames);
  if (!q.as_user.empty()) change.save_assignments(assignments);
  if (!q.split.empty()) {
    std::error_code ec;
    if (fs::exists(project.split_path(q.split), ec))  // made since the check, under no lock
      throw Error(project.split_path(q.split).string(), "split '" + q.split + "' exists");
    const Split sp = layout_split(project, q.split, q.layout->subsets, in_split);
    change.write_json(project.split_path(q.split), split_to_json(sp));
    r.split = q.split;
    for (const auto& [name, ids] : sp.subsets) r.per_subset[name] = static_cast<int>(ids.size());
  }
  change.commit(json{{"images", q.layout ? q.layout->root.string() : opt.images.string()},
                     {"layout", r.layout},
                     {"split", r.split},
                     {"masks", opt.masks.string()},
                     {"labels", opt.labels_csv.string()},
                     {"as", opt.as},
                     {"fov", opt.fov},
                     {"dedupe", opt.dedupe},
                     {"imported", r.imported.size()},
                     {"duplicates", r.duplicates.size()},
                     {"files", files}});
}

}  // namespace

namespace {

// Reads, checks, blanks, dedupes and lands `srcs`: the path shared by folders and layouts.
ImageImportResult run_import(const Project& project, const ImageImportOptions& opt,
                             const Request& q, const std::vector<Source>& srcs,
                             const std::map<std::string, std::vector<fs::path>>& masks,
                             std::vector<std::string> problems, ImageImportResult r) {
  std::map<std::size_t, CsvRow> rows;
  if (!opt.labels_csv.empty()) rows = read_labels(opt.labels_csv, srcs, problems);
  for (const auto& [i, row] : rows)
    if (!row.cd.empty() && opt.as.empty())
      throw Error(opt.labels_csv.string(), "gives CDs, which are labels: say whose with --as " +
                                               std::string("final or --as USER"));
  std::vector<Prepared> items;
  for (std::size_t i = 0; i < srcs.size(); ++i) {
    auto row = rows.find(i);
    prepare_one(opt, q, srcs, i, masks, row == rows.end() ? nullptr : &row->second, items, problems,
                r.warnings);
  }
  if (!problems.empty()) {
    std::string msg = std::to_string(problems.size()) + " problem(s), nothing imported:";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(q.layout ? q.layout->root.string() : opt.images.string(), msg);
  }
  if (opt.fov) blank_all(project, srcs, items, r.warnings);
  const int threshold = static_cast<int>(std::max(0.0, project.meta().extraction.dedupe));
  hash_and_encode(srcs, items, threshold, opt.dedupe, r.duplicates);
  commit_import(project, opt, q, srcs, items, threshold, r);
  return r;
}

}  // namespace

bool importable_image(const fs::path& path) { return is_image_file(path); }

ImageImportResult import_images(const Project& project, const ImageImportOptions& opt) {
  if (!opt.mmseg.empty() || !opt.cvat.empty() ||
      (opt.masks.empty() && !detect_layout(opt.images).empty()))
    return import_layout(project, opt);
  const Request q = check_request(project, opt, nullptr);
  const std::vector<Source> srcs = list_sources(opt.images);
  ImageImportResult r;
  r.layout = "folder";
  std::map<std::string, std::vector<fs::path>> masks;
  if (!opt.masks.empty()) masks = list_masks(opt.masks);
  std::set<std::string> stems;
  for (const auto& s : srcs) stems.insert(s.path.stem().string());
  for (const auto& [stem, files] : masks)
    if (!stems.count(stem)) r.warnings.push_back(files.front().string() + ": no image of its stem");
  return run_import(project, opt, q, srcs, masks, {}, std::move(r));
}

ImageImportResult import_listed_images(const Project& project, const ImageImportOptions& opt,
                                       const LayoutListing& listing) {
  const Request q = check_request(project, opt, &listing);
  if (listing.images.empty()) throw Error(listing.root.string(), "holds no images");
  std::vector<Source> srcs;
  for (const auto& i : listing.images) srcs.push_back({i.path, i.rel, i.mask, i.subset, &i});
  ImageImportResult r;
  r.layout = listing.kind;
  r.warnings = listing.warnings;
  if (opt.as.empty() && std::any_of(listing.images.begin(), listing.images.end(),
                                    [](const LayoutImage& i) { return i.cd >= 0; }))
    r.warnings.push_back((listing.root / "cd_labels.csv").string() +
                         ": its CDs are labels and were not imported: say whose with --as");
  return run_import(project, opt, q, srcs, {}, listing.problems, std::move(r));
}

}  // namespace excap
