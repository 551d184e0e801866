#include "exchange/image_layouts.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/ids.h"
#include "curation/split.h"
#include "exchange/exchange.h"
#include "store/project.h"

namespace excap {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// Regular files below `dir` (links to files followed, folder links not), sorted.
std::vector<fs::path> files_below(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file(ec)) out.push_back(it->path());
  if (ec) throw Error(dir.string(), "cannot list: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

// The folder's own name (the group of images at a subset's top).
std::string own_name(const fs::path& p) {
  const fs::path abs = fs::absolute(p).lexically_normal();
  return (abs.has_filename() ? abs : abs.parent_path()).filename().string();
}

// train, val, test first, then the rest by name.
void order_subsets(std::vector<std::string>& names) {
  auto rank = [](const std::string& n) {
    return n == "train" ? 0 : n == "val" ? 1 : n == "test" ? 2 : 3;
  };
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return std::make_pair(rank(a), a) < std::make_pair(rank(b), b);
  });
}

// The subset folders of img_dir, each with its subset name; two folders of one name are refused.
std::vector<std::pair<std::string, std::string>> mmseg_subsets(const fs::path& img_dir) {
  std::vector<std::pair<std::string, std::string>> out;  // folder, subset
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(img_dir, ec))
    if (e.is_directory(ec)) out.emplace_back(e.path().filename().string(), "");
  if (ec) throw Error(img_dir.string(), "cannot list: " + ec.message());
  if (out.empty()) throw Error(img_dir.string(), "holds no subset folders (img_dir/train, ...)");
  std::set<std::string> seen;
  for (auto& [folder, subset] : out) {
    subset = layout_subset_name(folder);
    if (!seen.insert(subset).second)
      throw Error(img_dir.string(), "two subset folders stand for '" + subset + "'");
  }
  return out;
}

// One mmseg subset's images and their annotations; `anns` collects every annotation used.
void list_mmseg_subset(const fs::path& root, const std::string& folder, const std::string& subset,
                       const std::string& img_suffix, const std::string& seg_suffix,
                       const std::map<std::string, int>& cds, LayoutListing& out,
                       std::set<fs::path>& anns) {
  const fs::path dir = root / "img_dir" / folder, ann_dir = root / "ann_dir" / folder;
  std::map<fs::path, fs::path> by_ann;  // annotation -> the image that took it
  for (const fs::path& f : files_below(dir)) {
    const std::string name = f.filename().string();
    if (img_suffix.empty() ? !importable_image(f) : !ends_with(name, img_suffix)) continue;
    const std::string stem =
        img_suffix.empty() ? f.stem().string() : name.substr(0, name.size() - img_suffix.size());
    const fs::path sub = f.parent_path().lexically_relative(dir);
    const fs::path ann = (ann_dir / sub / (stem + seg_suffix)).lexically_normal();
    LayoutImage img;
    img.path = f;
    img.rel = folder + "/" + f.lexically_relative(dir).generic_string();
    img.subset = subset;
    img.expected_mask = ann;
    if (auto cd = cds.find(stem); cd != cds.end()) img.cd = cd->second;
    std::error_code ec;
    if (fs::is_regular_file(ann, ec)) {
      img.mask = ann;
      anns.insert(ann);
      auto [it, fresh] = by_ann.emplace(ann, f);
      if (!fresh)
        out.problems.push_back(f.string() + ": shares its annotation " + ann.string() + " with " +
                               it->second.filename().string());
    }
    out.images.push_back(std::move(img));
  }
}

// ImageSets/Segmentation/<subset>.txt: image name (JPEGImages-relative, no extension) -> subset.
std::map<std::string, std::string> cvat_subsets(const fs::path& root,
                                                const std::map<std::string, fs::path>& images,
                                                LayoutListing& out) {
  std::map<std::string, std::string> where;
  const fs::path sets = root / "ImageSets" / "Segmentation";
  if (!is_dir(sets)) return where;
  for (const fs::path& list : files_below(sets)) {
    if (lower(list.extension().string()) != ".txt") continue;
    const std::string subset = layout_subset_name(list.stem().string());
    out.subsets.push_back(subset);
    std::istringstream in(read_file(list));
    std::string line;
    for (int lineno = 1; std::getline(in, line); ++lineno) {
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
        line.pop_back();
      if (line.empty()) continue;
      const std::string at = list.string() + ":" + std::to_string(lineno) + ": '" + line + "' ";
      const fs::path rel(line);
      const bool escapes =
          rel.is_absolute() || rel.has_root_name() ||
          std::any_of(rel.begin(), rel.end(), [](const fs::path& c) { return c == ".."; });
      if (escapes)
        out.problems.push_back(at + "leaves the export folder");
      else if (!images.count(rel.lexically_normal().generic_string()))
        out.problems.push_back(at + "names no image of JPEGImages/");
      else if (!where.emplace(rel.lexically_normal().generic_string(), subset).second)
        out.problems.push_back(at + "is listed in a second subset");
    }
  }
  std::sort(out.subsets.begin(), out.subsets.end());
  out.subsets.erase(std::unique(out.subsets.begin(), out.subsets.end()), out.subsets.end());
  order_subsets(out.subsets);
  return where;
}

// JPEGImages/ by name without extension; two images of one name are a problem.
std::map<std::string, fs::path> cvat_images(const fs::path& root, LayoutListing& out) {
  const fs::path dir = root / "JPEGImages";
  if (!is_dir(dir))
    throw Error(dir.string(), "not found: export the CVAT task with its images (Save images)");
  std::map<std::string, fs::path> images;
  for (const fs::path& f : files_below(dir)) {
    if (!importable_image(f)) continue;
    const std::string key = (f.parent_path() / f.stem()).lexically_relative(dir).generic_string();
    auto [it, fresh] = images.emplace(key, f);
    if (!fresh)
      out.problems.push_back(f.string() + ": a second image named '" + key + "' (first " +
                             it->second.filename().string() + ")");
  }
  return images;
}

// The temporary folder a zip export was unpacked to, removed when done.
struct TempFolder {
  fs::path path;
  ~TempFolder() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// `text` with every occurrence of `from` replaced by `to` (temp paths -> the zip's name).
std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; !from.empty() && (at = text.find(from, at)) != std::string::npos;
       at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

ImageImportResult import_cvat(const Project& project, const ImageImportOptions& opt,
                              const fs::path& src) {
  std::error_code ec;
  if (!fs::exists(src, ec)) throw Error(src.string(), "not found");
  TempFolder tmp;
  if (!is_dir(src)) tmp.path = unpack_cvat_zip(src, ZipLimits{});
  try {
    LayoutListing l = list_cvat_layout(cvat_export_root(tmp.path.empty() ? src : tmp.path),
                                       project.meta().schema);
    l.root = src;
    l.root_name = tmp.path.empty() ? own_name(src) : src.stem().string();
    return import_listed_images(project, opt, l);
  } catch (const Error& e) {
    if (tmp.path.empty()) throw;
    const std::string inside = src.string() + ":";  // files named inside the zip
    throw Error(replace_all(e.where(), tmp.path.string() + "/", inside),
                replace_all(e.reason(), tmp.path.string() + "/", inside));
  }
}

// Shares, then per-subset statistics as curation/split.cpp writes them.
void fill_stats(Split& sp, const LabelSchema& schema,
                const std::map<std::string, std::vector<const LayoutSplitFrame*>>& members,
                std::size_t total) {
  const int num_cd = schema.num_cd();
  auto stats = [&](const std::string& name, const std::vector<const LayoutSplitFrame*>& fs_) {
    SubsetStats st;
    st.name = name;
    st.frames = static_cast<int>(fs_.size());
    st.target_share = total ? double(fs_.size()) / double(total) : 0.0;
    std::set<std::string> patients;
    st.cd_counts.assign(num_cd, 0);
    for (const auto* f : fs_) {
      patients.insert(f->patient);
      if (schema.valid_cd(f->cd)) ++st.cd_counts[f->cd];
    }
    st.patients = static_cast<int>(patients.size());
    for (int c : st.cd_counts) st.cd_share.push_back(st.frames ? double(c) / st.frames : 0.0);
    return st;
  };
  std::vector<const LayoutSplitFrame*> all;
  for (const auto& name : sp.subset_names) {
    auto it = members.find(name);
    const auto& m = it == members.end() ? std::vector<const LayoutSplitFrame*>{} : it->second;
    all.insert(all.end(), m.begin(), m.end());
    sp.stats.push_back(stats(name, m));
    sp.ratios.push_back(sp.stats.back().target_share);
  }
  SubsetStats everything = stats("all", all);
  for (auto& st : sp.stats)
    for (int c = 0; c < num_cd; ++c)
      st.cd_max_deviation =
          std::max(st.cd_max_deviation, std::abs(st.cd_share[c] - everything.cd_share[c]));
  sp.stats.push_back(std::move(everything));
}

}  // namespace

std::string layout_subset_name(const std::string& folder) {
  const std::string l = lower(folder);
  if (l == "training") return "train";
  if (l == "validation" || l == "valid") return "val";
  if (l == "testing") return "test";
  return folder;
}

std::string detect_layout(const fs::path& folder) {
  if (folder.empty() || !is_dir(folder)) return "";
  if (is_dir(folder / "img_dir")) return "mmseg";
  try {
    const fs::path root = cvat_export_root(folder);
    if (is_dir(root / "JPEGImages")) return "cvat-mask";
  } catch (const Error&) {
  }
  return "";
}

LayoutListing list_mmseg_layout(const fs::path& root, const std::string& img_suffix,
                                const std::string& seg_map_suffix, const LabelSchema& schema) {
  if (!is_dir(root / "img_dir"))
    throw Error(root.string(), "no img_dir/: not an mmsegmentation dataset root");
  if (seg_map_suffix.empty()) throw Error("--seg-map-suffix", "is empty");
  LayoutListing out;
  out.kind = "mmseg";
  out.root = root;
  out.root_name = own_name(root);
  std::set<fs::path> anns;
  const std::map<std::string, int> cds = read_export_cd_labels(root, schema);
  for (const auto& [folder, subset] : mmseg_subsets(root / "img_dir")) {
    list_mmseg_subset(root, folder, subset, img_suffix, seg_map_suffix, cds, out, anns);
    out.subsets.push_back(subset);
  }
  order_subsets(out.subsets);
  if (is_dir(root / "ann_dir")) {
    std::size_t orphans = 0;
    std::string first;
    for (const fs::path& f : files_below(root / "ann_dir"))
      if (ends_with(f.filename().string(), seg_map_suffix) && !anns.count(f.lexically_normal()) &&
          !orphans++)
        first = f.string();
    if (orphans)
      out.warnings.push_back(first + ": no image of its stem in img_dir/ (" +
                             std::to_string(orphans) + " such annotation(s))");
  }
  return out;
}

LayoutListing list_cvat_layout(const fs::path& root, const LabelSchema& schema) {
  LayoutListing out;
  out.kind = "cvat-mask";
  out.root = root;
  out.root_name = own_name(root);
  out.colour_masks = true;
  out.colours = read_cvat_labelmap(root, schema);
  const std::map<std::string, fs::path> images = cvat_images(root, out);
  const std::map<std::string, std::string> subset_of = cvat_subsets(root, images, out);
  const std::map<std::string, int> cds = read_export_cd_labels(root, schema);
  std::size_t unlisted = 0;
  for (const auto& [key, path] : images) {
    LayoutImage img;
    img.path = path;
    img.rel = path.lexically_relative(root / "JPEGImages").generic_string();
    const fs::path mask = root / "SegmentationClass" / (key + ".png");
    img.expected_mask = mask;
    if (auto cd = cds.find(path.stem().string()); cd != cds.end()) img.cd = cd->second;
    std::error_code ec;
    if (fs::is_regular_file(mask, ec)) img.mask = mask;
    auto it = subset_of.find(key);
    if (it != subset_of.end()) img.subset = it->second;
    unlisted += out.subsets.empty() || it != subset_of.end() ? 0 : 1;
    out.images.push_back(std::move(img));
  }
  if (unlisted)
    out.warnings.push_back((root / "ImageSets" / "Segmentation").string() + ": " +
                           std::to_string(unlisted) +
                           " image(s) listed in no subset: imported, in no subset of the split");
  return out;
}

ImageImportResult import_layout(const Project& project, const ImageImportOptions& opt) {
  const int given = !opt.images.empty() + !opt.mmseg.empty() + !opt.cvat.empty();
  if (given != 1) throw Error("import-images", "give one of --images, --mmseg, --cvat");
  const std::string kind =
      opt.images.empty() ? (opt.mmseg.empty() ? "cvat-mask" : "mmseg") : detect_layout(opt.images);
  if (kind == "cvat-mask")
    return import_cvat(project, opt, opt.cvat.empty() ? opt.images : opt.cvat);
  const fs::path root = opt.mmseg.empty() ? opt.images : opt.mmseg;
  return import_listed_images(
      project, opt,
      list_mmseg_layout(root, opt.img_suffix, opt.seg_map_suffix, project.meta().schema));
}

Split layout_split(const Project& project, const std::string& name,
                   const std::vector<std::string>& subsets,
                   const std::vector<LayoutSplitFrame>& frames) {
  const LabelSchema& schema = project.meta().schema;
  Split sp;
  sp.name = name;
  sp.created = now_iso8601();
  sp.stratify = "none";  // the layout chose the subsets
  sp.subset_names = subsets;
  for (const auto& c : schema.cd) sp.cd_names.push_back(c.name);
  for (const auto& t : schema.tissue) sp.tissue_names.push_back(t.name);
  std::map<std::string, std::vector<const LayoutSplitFrame*>> members;
  std::map<std::string, std::set<std::string>> subsets_of_patient;
  for (const auto& s : subsets) sp.subsets[s];
  for (const auto& f : frames) {
    sp.subsets[f.subset].push_back(f.frame);
    members[f.subset].push_back(&f);
    subsets_of_patient[f.patient].insert(f.subset);
  }
  for (auto& [s, ids] : sp.subsets) std::sort(ids.begin(), ids.end());
  fill_stats(sp, schema, members, frames.size());
  std::size_t spanning = 0;
  std::string first;
  for (const auto& [patient, in] : subsets_of_patient)
    if (in.size() > 1 && !spanning++) first = patient;
  sp.group = spanning ? "none" : "patient";
  if (spanning)
    sp.warnings.push_back(std::to_string(spanning) +
                          " patient(s) have frames in more than one subset of the layout (first: " +
                          first + "): give patients with --labels or --group-by");
  return sp;
}

}  // namespace excap
