// A seeded fuzzer over every loader of untrusted input: the project's JSON
// files, frame and mask PNGs, safetensors files, CVAT zips, and `validate`
// over damaged projects. Each case must end in success or an excap::Error:
// never another exception, a crash, a hang (a watchdog alarm aborts) or a
// runaway allocation (address space is bounded while the cases run).
// Seeds are fixed, so every run feeds the same inputs; a failure prints the
// case's seed, and EXCAP_FUZZ_SEED=<seed> runs that case alone.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "common/safetensors.h"
#include "curation/split.h"
#include "exchange/exchange.h"
#include "exchange/zip_writer.h"
#include "media/imageio.h"
#include "store/project.h"
#include "store/validate.h"
#include "support/project_builder.h"
#include "test_support.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EXCAP_FUZZ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define EXCAP_FUZZ_SANITIZED 1
#endif
#endif

using namespace excap;
using nlohmann::json;

namespace {

using Rng = std::mt19937_64;

constexpr std::uint64_t kSeed = 0x5eed'2024'0612ull;
constexpr unsigned kCaseSeconds = 30;                   // a case running longer is a hang
constexpr std::uint64_t kAddressHeadroom = 1ull << 30;  // bound above the suite's own use

// ---- the harness: watchdog, memory bound, outcome tally ----

char g_case[512];  // the running case, for the watchdog (no allocation in a handler)

extern "C" void on_alarm(int) {
  static const char msg[] = "\nfuzz: case ran too long (hang): ";
  if (write(2, msg, sizeof msg - 1) < 0 || write(2, g_case, std::strlen(g_case)) < 0) {
  }
  std::abort();  // doctest reports SIGABRT with the INFO context
}

std::uint64_t vm_size_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  return 0;
}

// Bounds the address space (as `ulimit -v` would) while alive, so a loader
// allocating from an unchecked size fails the case instead of the machine.
class MemoryBound {
 public:
  MemoryBound() {
    signal(SIGALRM, on_alarm);
    // OpenCV's worker threads reserve stacks and arenas by the core count: not ours to bound.
    cv::setNumThreads(1);
#ifndef EXCAP_FUZZ_SANITIZED
    const std::uint64_t vm = vm_size_bytes();
    if (!vm || getrlimit(RLIMIT_AS, &old_) != 0) return;
    rlimit r = old_;
    r.rlim_cur = vm + kAddressHeadroom;
    if (old_.rlim_cur != RLIM_INFINITY && old_.rlim_cur <= r.rlim_cur) return;
    if (old_.rlim_max != RLIM_INFINITY && old_.rlim_max < r.rlim_cur) return;
    set_ = setrlimit(RLIMIT_AS, &r) == 0;
#endif
  }
  ~MemoryBound() {
    alarm(0);
    if (set_) setrlimit(RLIMIT_AS, &old_);
    cv::setNumThreads(threads_);
  }
  MemoryBound(const MemoryBound&) = delete;
  MemoryBound& operator=(const MemoryBound&) = delete;

 private:
  rlimit old_{};
  bool set_ = false;
  int threads_ = cv::getNumThreads();
};

struct Tally {
  std::string loader;
  long cases = 0, accepted = 0, refused = 0;
};

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::uint64_t case_seed(const std::string& loader, int index) {
  std::uint64_t h = kSeed;
  for (char c : loader) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return splitmix(h + static_cast<std::uint64_t>(index));
}

// EXCAP_FUZZ_SEED set: only the case with that seed runs.
bool skipped(std::uint64_t seed) {
  const char* only = std::getenv("EXCAP_FUZZ_SEED");
  return only && *only && std::strtoull(only, nullptr, 0) != seed;
}

// An allocation failure surfacing as an Error still means an unchecked size.
bool mentions_allocation(const std::string& text) {
  for (const char* w : {"Failed to allocate", "Insufficient memory", "bad_alloc", "out of memory"})
    if (text.find(w) != std::string::npos) return true;
  return false;
}

void run_case(Tally& t, std::uint64_t seed, const std::string& how,
              const std::function<void()>& call) {
  std::snprintf(g_case, sizeof g_case, "loader %s, seed %llu (EXCAP_FUZZ_SEED=%llu), %s",
                t.loader.c_str(), static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(seed), how.substr(0, 300).c_str());
  INFO(g_case);
  if (std::getenv("EXCAP_FUZZ_TRACE")) std::fprintf(stderr, "%s\n", g_case);  // finds a crash
  std::string failure;
  alarm(kCaseSeconds);
  try {
    call();
    ++t.accepted;
  } catch (const Error& e) {
    if (mentions_allocation(e.what()))
      failure = std::string("allocation failure reported as an Error: ") + e.what();
    else
      ++t.refused;
  } catch (const std::bad_alloc&) {
    failure = "std::bad_alloc: an allocation from an unchecked size";
  } catch (const std::exception& e) {
    failure = std::string("an exception that is not excap::Error: ") + e.what();
  } catch (...) {
    failure = "an exception of unknown type";
  }
  alarm(0);
  ++t.cases;
  if (!failure.empty()) FAIL_CHECK(g_case << ": " << failure.substr(0, 1500));
}

void report(const Tally& t) {
  std::printf("fuzz %-18s %6ld cases: %6ld accepted, %6ld refused with excap::Error\n",
              t.loader.c_str(), t.cases, t.accepted, t.refused);
  std::fflush(stdout);
  MESSAGE("fuzz " << t.loader << ": " << t.cases << " cases, " << t.accepted << " accepted, "
                  << t.refused << " refused");
}

// A new file each time: truncating one in place makes ext4 flush it (auto_da_alloc).
void write_bytes(const fs::path& p, const std::string& bytes) {
  std::error_code ec;
  fs::remove(p, ec);
  std::ofstream out(p, std::ios::binary);  // no fsync: cases must be fast
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string file_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int pick(Rng& rng, int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); }
template <typename T, std::size_t N>
const T& pick(Rng& rng, const std::array<T, N>& a) {
  return a[rng() % N];
}
bool chance(Rng& rng, int percent) { return pick(rng, 100) < percent; }

// ---- byte-level mutations (any file) ----

const std::array<std::string, 20> kGarbage{
    "{",       "}",       "[",    "]",        "\"",  ",",  ":",    "null", "-",          "1e9",
    "\\u0000", "\\ud800", "\xff", "\xc3\x28", "NaN", "\n", "\x7f", "0x1",  "\"a\":1,\"", "[[[[[[[[",
};

std::string random_bytes(Rng& rng, int n) {
  std::string s(static_cast<std::size_t>(n), '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Flips, truncates, inserts, deletes or repeats bytes; appends its name to `how`.
void mutate_bytes(Rng& rng, std::string& s, std::string& how) {
  const std::size_t n = s.size();
  const std::size_t at = n ? rng() % n : 0;
  switch (pick(rng, 6)) {
    case 0:
      for (int k = 1 + pick(rng, 4); k > 0 && n; --k)
        s[rng() % n] ^= static_cast<char>(1 + rng() % 255);
      how += " byte-flip";
      break;
    case 1:
      s.resize(at);
      how += " truncate@" + std::to_string(at);
      break;
    case 2:
      s.insert(at, chance(rng, 50) ? pick(rng, kGarbage) : random_bytes(rng, 1 + pick(rng, 16)));
      how += " garbage@" + std::to_string(at);
      break;
    case 3:
      s.erase(at, 1 + rng() % 32);
      how += " delete@" + std::to_string(at);
      break;
    case 4:
      s.insert(at, s.substr(at, 1 + rng() % 64));
      how += " repeat@" + std::to_string(at);
      break;
    default:
      s += random_bytes(rng, 1 + pick(rng, 64));
      how += " trailing-bytes";
  }
}

// ---- structural JSON mutations ----

// Raw JSON text that nlohmann cannot hold as a value (NaN, 1e999, depth).
struct RawValues {
  std::vector<std::string> texts;
  json placeholder(std::string raw) {
    texts.push_back(std::move(raw));
    return "@@fuzz" + std::to_string(texts.size() - 1) + "@@";
  }
  std::string render(const json& j) const {
    std::string s = j.dump();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::string key = "\"@@fuzz" + std::to_string(i) + "@@\"";
      for (auto at = s.find(key); at != std::string::npos; at = s.find(key, at + texts[i].size()))
        s.replace(at, key.size(), texts[i]);
    }
    return s;
  }
};

const std::array<std::string, 22> kNumbers{"1e308",
                                           "-1e308",
                                           "1e999",
                                           "-1e999",
                                           "NaN",
                                           "Infinity",
                                           "-1",
                                           "0",
                                           "9223372036854775807",
                                           "9223372036854775808",
                                           "-9223372036854775808",
                                           "18446744073709551615",
                                           "18446744073709551616",
                                           "4294967296",
                                           "2147483648",
                                           "-2147483649",
                                           "1e30",
                                           "0.5",
                                           "-0.0",
                                           "1e-320",
                                           "123456789012345678901234567890",
                                           "1.0"};
const std::array<std::string, 14> kSwaps{
    "null",  "\"\"", "\"x\"", "0",     "1",         "-1",    "true",
    "false", "[]",   "{}",    "[1,2]", "{\"a\":1}", "\"1\"", "\"../../etc/passwd\""};

std::string deep_nesting(Rng& rng) {
  const int depth = std::array<int, 4>{100, 1000, 20000, 100000}[rng() % 4];
  if (chance(rng, 50)) return std::string(depth, '[') + std::string(depth, ']');
  std::string s;
  for (int i = 0; i < depth; ++i) s += "{\"a\":";
  return s + "1" + std::string(depth, '}');
}

std::string long_string(Rng& rng) {
  const std::size_t n = chance(rng, 5) ? (1u << 20) : 1000u + rng() % 70000;
  return "\"" + std::string(n, static_cast<char>('a' + pick(rng, 26))) + "\"";
}

void collect(json& j, std::vector<json*>& nodes) {
  nodes.push_back(&j);
  if (j.is_structured())
    for (auto& c : j) collect(c, nodes);
}

// A random value in place of `node`: type swap, extreme number, long string, depth.
void replace_value(Rng& rng, json& node, RawValues& raw, std::string& how) {
  switch (pick(rng, 5)) {
    case 0:
    case 1:
      node = raw.placeholder(pick(rng, kSwaps));
      how += " type-swap";
      break;
    case 2:
      node = raw.placeholder(pick(rng, kNumbers));
      how += " number";
      break;
    case 3:
      node = raw.placeholder(long_string(rng));
      how += " long-string";
      break;
    default:
      node = raw.placeholder(deep_nesting(rng));
      how += " deep-nesting";
  }
}

// Removes or duplicates a key or an element, or adds an unknown key.
void reshape(Rng& rng, json& node, RawValues& raw, std::string& how) {
  if (node.is_object() && !node.empty()) {
    auto it = std::next(node.begin(), pick(rng, static_cast<int>(node.size())));
    const std::string key = it.key();
    const int what = pick(rng, 3);
    if (what == 0) {
      node.erase(key);
      how += " missing-key(" + key + ")";
    } else if (what == 1) {
      // A duplicated key: the text holds the key twice, the second value mutated.
      json dup = *it;
      replace_value(rng, dup, raw, how);
      const std::string text = raw.render(node);
      node = raw.placeholder(text.substr(0, text.size() - 1) + ",\"" + key +
                             "\":" + raw.render(dup) + "}");
      how += " duplicate-key(" + key + ")";
    } else {
      node[chance(rng, 50) ? "unknown" : "__metadata__"] = raw.placeholder(pick(rng, kSwaps));
      how += " extra-key";
    }
  } else if (node.is_array() && !node.empty()) {
    const auto at = static_cast<std::size_t>(pick(rng, static_cast<int>(node.size())));
    if (chance(rng, 50)) {
      node.insert(node.begin() + static_cast<long>(at), node[at]);
      how += " duplicate-element";
    } else {
      node.erase(at);
      how += " drop-element";
    }
  } else {
    replace_value(rng, node, raw, how);
  }
}

// 1-3 structural mutations of `base`, sometimes followed by byte mutations.
std::string mutate_json(Rng& rng, const json& base, std::string& how) {
  json j = base;
  RawValues raw;
  for (int k = 1 + pick(rng, 3); k > 0; --k) {
    std::vector<json*> nodes;
    collect(j, nodes);
    json& node = *nodes[rng() % nodes.size()];
    if (chance(rng, 50))
      replace_value(rng, node, raw, how);
    else
      reshape(rng, node, raw, how);
  }
  std::string text = raw.render(j);
  if (chance(rng, 30))
    for (int k = 1 + pick(rng, 2); k > 0; --k) mutate_bytes(rng, text, how);
  return text;
}

}  // namespace

namespace {

// ---- the valid project every mutation starts from ----

// Four frames with labels, finals, a split, videos and clips (with a field
// of view), built once per process.
void build_base_project(const fs::path& dir) {
  Project p =
      test::ProjectBuilder(dir).users(test::curation_users()).frames(4).assign({"a", "b"}).build();
  Video v;
  v.id = "V0", v.patient = "P0", v.sha256 = std::string(64, 'a');
  v.fps = 25, v.frames = 1000, v.width = 64, v.height = 48, v.codec = "avc1";
  v.duration_s = 40, v.imported = now_iso8601();
  v.fov = StoredFov{"circle", 32, 24, 20, {}};
  Video w = v;
  w.id = "V1", w.patient = "P1";
  w.fov = StoredFov{"polygon", 0, 0, 0, {{0, 0}, {64, 0}, {64, 48}}};
  p.save_videos({v, w});
  std::vector<Clip> clips;
  for (int i = 0; i < 4; ++i)
    clips.push_back({"C" + std::to_string(i), "V" + std::to_string(i % 2), 10L * i, 10L * i + 5,
                     "a", "note " + std::to_string(i)});
  p.save_clips(clips);
  std::vector<Frame> frames = p.load_frames();  // frame i lies in clip Ci
  for (std::size_t i = 0; i < frames.size(); ++i) frames[i].source_index = 10L * (i % 4);
  p.save_frames(frames);
  for (int i = 0; i < 4; ++i) {
    const std::string id = "f00" + std::to_string(i);
    test::add_label(p, "a", id, i % 3, test::planted_mask(32, i));
    test::add_label(p, "b", id, std::nullopt, test::planted_mask(32, i + 1));
    test::add_final(p, id, i % 3, test::planted_mask(32, i));
  }
  Split s;
  s.name = "s", s.created = now_iso8601(), s.stratify = "cd", s.group = "patient", s.seed = 7;
  s.ratios = {0.5, 0.5};
  s.subset_names = {"train", "test"};
  s.subsets = {{"train", {"f000", "f002"}}, {"test", {"f001", "f003"}}};
  s.cd_names = {"clear", "blur", "invisible"};
  s.tissue_names = {"background", "clear tissue"};
  s.stats = {{"train", 0.5, 2, 1, 2, {1, 0, 1}, {0.5, 0, 0.5}, 0.1, {0.4, 0.6}},
             {"test", 0.5, 2, 1, 2, {0, 1, 1}, {0, 0.5, 0.5}, 0.1, {0.4, 0.6}}};
  save_split(p, s);
}

const fs::path& base_project() {
  static test::ScratchDir dir("fuzz-base");
  static const bool built = (build_base_project(dir / "p"), true);
  (void)built;
  static const fs::path root = dir / "p";
  return root;
}

// A private copy of the base project for one test case's mutations.
class ProjectCopy {
 public:
  explicit ProjectCopy(const std::string& name) : dir_("fuzz-" + name) {
    fs::copy(base_project(), dir_ / "p", fs::copy_options::recursive);
  }
  fs::path root() const { return dir_ / "p"; }

 private:
  test::ScratchDir dir_;
};

// One JSON file of the project and the loader that reads it.
struct JsonTarget {
  std::string loader;
  std::string file;  // relative to the project root
  std::function<void(const fs::path& root)> load;
};

std::vector<JsonTarget> json_targets() {
  auto open = [](const fs::path& root) { return Project::open(root); };
  return {
      {"project.json", "project.json", [=](const fs::path& r) { open(r); }},
      {"videos.json", "videos.json", [=](const fs::path& r) { open(r).load_videos(); }},
      {"clips.json", "clips.json", [=](const fs::path& r) { open(r).load_clips(); }},
      {"frames.json", "frames.json", [=](const fs::path& r) { open(r).load_frames(); }},
      {"assignments.json", "assignments.json",
       [=](const fs::path& r) { open(r).load_assignments(); }},
      {"local.json", "local.json", [=](const fs::path& r) { open(r).load_local(); }},
      {"label json", "labels/a/f001.json",
       [=](const fs::path& r) { open(r).load_label("a", "f001"); }},
      {"final json", "final/f001.json", [=](const fs::path& r) { open(r).load_final("f001"); }},
      {"split json", "splits/s.json", [=](const fs::path& r) { load_split(open(r), "s"); }},
  };
}

constexpr int kJsonCases = 1000;  // per JSON file

// Feeds kJsonCases mutations of `t.file` to its loader; restores the file after.
Tally fuzz_json_target(const JsonTarget& t, const fs::path& root) {
  Tally tally{t.loader};
  const fs::path file = root / t.file;
  const std::string original = file_text(file);
  const json base = json::parse(original);
  REQUIRE_NOTHROW(t.load(root));  // the harness feeds the real loader a file it accepts
  for (int i = 0; i < kJsonCases; ++i) {
    const std::uint64_t seed = case_seed(t.loader, i);
    if (skipped(seed)) continue;
    Rng rng(seed);
    std::string how;
    const std::string text = mutate_json(rng, base, how);
    write_bytes(file, text);
    run_case(tally, seed, how, [&] { t.load(root); });
  }
  write_bytes(file, original);
  return tally;
}

}  // namespace

TEST_CASE("fuzz: every project JSON loader ends each mutated file in success or excap::Error") {
  ProjectCopy copy("json");
  MemoryBound bound;
  long total = 0;
  for (const auto& t : json_targets()) {
    const Tally tally = fuzz_json_target(t, copy.root());
    report(tally);
    total += tally.cases;
    if (!std::getenv("EXCAP_FUZZ_SEED")) {
      CHECK(tally.refused > 0);   // the mutations reach the loader's checks
      CHECK(tally.accepted > 0);  // and some leave a file it still reads
    }
  }
  std::printf("fuzz %-18s %6ld cases in all\n", "project JSON", total);
}

namespace {

// ---- PNG files written by hand: palette, 1-bit, any declared size ----

std::uint32_t crc32(const std::string& bytes) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}

// A zlib stream of stored (uncompressed) deflate blocks.
std::string zlib_stored(const std::string& raw) {
  std::string z = "\x78\x01";
  std::size_t at = 0;
  do {
    const std::size_t n = std::min<std::size_t>(raw.size() - at, 65535);
    const bool last = at + n == raw.size();
    z += static_cast<char>(last ? 1 : 0);
    z += static_cast<char>(n & 0xff), z += static_cast<char>(n >> 8);
    z += static_cast<char>(~n & 0xff), z += static_cast<char>((~n >> 8) & 0xff);
    z += raw.substr(at, n);
    at += n;
  } while (at < raw.size());
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  return z + be32((b << 16) | a);
}

std::string png_ihdr(std::uint32_t w, std::uint32_t h, int depth, int color, int interlace = 0) {
  return png_chunk("IHDR", be32(w) + be32(h) + static_cast<char>(depth) + static_cast<char>(color) +
                               std::string(2, '\0') + static_cast<char>(interlace));
}

// `rows`: the filtered scanlines (a filter byte before each row).
std::string make_png(std::uint32_t w, std::uint32_t h, int depth, int color,
                     const std::string& rows, const std::string& plte = "") {
  std::string png = "\x89PNG\r\n\x1a\n" + png_ihdr(w, h, depth, color);
  if (!plte.empty()) png += png_chunk("PLTE", plte);
  return png + png_chunk("IDAT", zlib_stored(rows)) + png_chunk("IEND", "");
}

std::string encoded(const cv::Mat& m, const char* ext = ".png") {
  std::vector<std::uint8_t> buf;
  REQUIRE(cv::imencode(ext, m, buf));
  return std::string(buf.begin(), buf.end());
}

// Valid images of every kind a loader may meet; the first is the frame, the second the mask.
std::vector<std::pair<std::string, std::string>> png_bases() {
  cv::Mat frame = test::capsule_frame(32, 1), mask = test::planted_mask(32, 1);
  cv::Mat wide(2, 300, CV_8UC1, cv::Scalar(1)), g16(16, 16, CV_16UC1, cv::Scalar(60000));
  cv::Mat c16(16, 16, CV_16UC3, cv::Scalar(1, 500, 65535)), bgra(16, 16, CV_8UC4);
  bgra.setTo(cv::Scalar(10, 20, 30, 128));
  std::string pal_rows, bit_rows;
  for (int y = 0; y < 16; ++y) pal_rows += std::string(1, '\0') + std::string(16, char(y % 4));
  for (int y = 0; y < 16; ++y) bit_rows += std::string(1, '\0') + std::string(2, char(0xa5));
  return {{"frame", encoded(frame)},
          {"mask", encoded(mask)},
          {"1x1", encoded(cv::Mat(1, 1, CV_8UC1, cv::Scalar(3)))},
          {"300x2", encoded(wide)},
          {"16-bit gray", encoded(g16)},
          {"16-bit colour", encoded(c16)},
          {"4 channels", encoded(bgra)},
          {"palette",
           make_png(16, 16, 8, 3, pal_rows, std::string("\0\0\0\xff\0\0\0\xff\0\0\0\xff", 12))},
          {"1-bit", make_png(16, 16, 1, 0, bit_rows)},
          {"bmp", encoded(frame, ".bmp")},
          {"jpeg", encoded(frame, ".jpg")}};
}

const std::array<std::uint32_t, 12> kDims{0,     1,     31,       33,          4096,        30000,
                                          32768, 65535, 1u << 20, 0x7fffffffu, 0xffffffffu, 46341};

// A new IHDR (sizes, depth, colour type, interlace) with a correct CRC, so
// the decoder believes it.
void rewrite_ihdr(Rng& rng, std::string& png, std::string& how) {
  if (png.size() < 33 || png.compare(12, 4, "IHDR") != 0) return;
  const std::uint32_t w = chance(rng, 50) ? pick(rng, kDims) : 32;
  const std::uint32_t h = chance(rng, 50) ? pick(rng, kDims) : 32;
  const int depth = std::array<int, 7>{1, 2, 4, 8, 16, 3, 0}[rng() % 7];
  const int color = std::array<int, 7>{0, 2, 3, 4, 6, 1, 7}[rng() % 7];
  const int lace = chance(rng, 80) ? 0 : pick(rng, 3);
  png.replace(8, 25, png_ihdr(w, h, depth, color, lace));
  how += " ihdr(" + std::to_string(w) + "x" + std::to_string(h) + " depth " +
         std::to_string(depth) + " colour " + std::to_string(color) + ")";
}

// 0-3 mutations of a random valid image (the first mostly).
std::string mutate_image(Rng& rng, const std::vector<std::pair<std::string, std::string>>& bases,
                         int favourite, std::string& how) {
  const auto& base =
      chance(rng, 60) ? bases[static_cast<std::size_t>(favourite)] : bases[rng() % bases.size()];
  std::string png = base.second;
  how = base.first + ":";
  for (int k = pick(rng, 4); k > 0; --k) {
    if (chance(rng, 25))
      rewrite_ihdr(rng, png, how);
    else
      mutate_bytes(rng, png, how);
  }
  return png;
}

constexpr int kImageCases = 1200;  // per image reader

}  // namespace

TEST_CASE("fuzz: frame and mask readers end each damaged image in success or excap::Error") {
  test::ScratchDir dir("fuzz-images");
  const auto bases = png_bases();
  MemoryBound bound;
  const fs::path file = dir / "image.png";
  struct Reader {
    std::string loader;
    int favourite;
    std::function<void()> read;
  };
  const std::vector<Reader> readers{
      {"read_frame", 0, [&] { read_frame(file); }},
      {"read_mask", 1, [&] { read_mask(file); }},
      {"image_size", 0, [&] { image_size(file); }},
  };
  for (const auto& r : readers) {
    Tally tally{r.loader};
    write_bytes(file, bases[static_cast<std::size_t>(r.favourite)].second);
    REQUIRE_NOTHROW(r.read());
    for (int i = 0; i < kImageCases; ++i) {
      const std::uint64_t seed = case_seed(r.loader, i);
      if (skipped(seed)) continue;
      Rng rng(seed);
      std::string how;
      write_bytes(file, mutate_image(rng, bases, r.favourite, how));
      run_case(tally, seed, how, r.read);
    }
    report(tally);
    if (!std::getenv("EXCAP_FUZZ_SEED")) CHECK(tally.refused > 0);
  }
}

TEST_CASE("an image declaring a giant size is refused before anything is allocated for it") {
  test::ScratchDir dir("fuzz-giant");
  const fs::path file = dir / "giant.png";
  MemoryBound bound;
  // A valid stream of one row, under a header claiming 30000 x 30000 pixels.
  std::string png = make_png(1, 1, 8, 2, std::string(4, '\0'));
  png.replace(8, 25, png_ihdr(30000, 30000, 8, 2));
  write_bytes(file, png);
  CHECK_THROWS_WITH_AS(read_frame(file), doctest::Contains("pixels"), Error);
  png.replace(8, 25, png_ihdr(30000, 30000, 16, 0));
  write_bytes(file, png);
  CHECK_THROWS_WITH_AS(read_mask(file), doctest::Contains("pixels"), Error);
  cv::Mat bmp_base(4, 4, CV_8UC3, cv::Scalar(1, 2, 3));
  std::string bmp = encoded(bmp_base, ".bmp");
  const std::uint32_t side = 20000;
  for (int k = 0; k < 4; ++k)
    bmp[18 + k] = bmp[22 + k] = static_cast<char>((side >> (8 * k)) & 0xff);
  write_bytes(file, bmp);
  CHECK_THROWS_WITH_AS(read_frame(file), doctest::Contains("pixels"), Error);
  std::string jpeg = encoded(bmp_base, ".jpg");
  const auto sof = jpeg.find("\xff\xc0");
  REQUIRE(sof != std::string::npos);
  jpeg[sof + 5] = jpeg[sof + 7] = '\x75', jpeg[sof + 6] = jpeg[sof + 8] = '\x30';  // 30000 x 30000
  write_bytes(file, jpeg);
  CHECK_THROWS_WITH_AS(read_frame(file), doctest::Contains("30000x30000 pixels"), Error);
  // Every valid kind of image still reads: the header check refuses none of them.
  for (const auto& [kind, bytes] : png_bases()) {
    write_bytes(file, bytes);
    CHECK_MESSAGE(read_frame(file).rows > 0, kind);
  }
}

namespace {

// ---- safetensors ----

std::string base_safetensors() {
  safetensors::File f;
  f.metadata["kind"] = "fuzz";
  std::vector<std::uint8_t> w(24), b(4, 7), i(8, 1);
  for (std::size_t k = 0; k < w.size(); ++k) w[k] = static_cast<std::uint8_t>(k);
  f.tensors.emplace("w", safetensors::Tensor(safetensors::DType::F32, {2, 3}, w));
  f.tensors.emplace("b", safetensors::Tensor(safetensors::DType::U8, {4}, b));
  f.tensors.emplace("i", safetensors::Tensor(safetensors::DType::I64, {1}, i));
  return safetensors::serialize(f);
}

std::string le64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int k = 0; k < 8; ++k) s[static_cast<std::size_t>(k)] = static_cast<char>(v >> (8 * k));
  return s;
}

const std::array<std::string, 12> kDTypeTexts{"\"F32\"", "\"U8\"",  "\"I64\"", "\"BOOL\"",
                                              "\"F16\"", "\"F64\"", "\"f32\"", "\"F8\"",
                                              "\"\"",    "5",       "null",    "\"U8 \""};
const std::array<std::string, 12> kShapes{
    "[]",    "[0]",     "[-1]", "[1e30]", "[4611686018427387904, 4]", "[4294967296, 4294967296]",
    "[1.5]", "[\"2\"]", "[24]", "[6]",    "[18446744073709551615]",   "[[2],[3]]"};
const std::array<std::string, 10> kOffsets{"[0, 24]",
                                           "[24, 0]",
                                           "[0, 1000000]",
                                           "[0, 18446744073709551615]",
                                           "[-1, 23]",
                                           "[0]",
                                           "[0, 24, 48]",
                                           "[1e3, 2e3]",
                                           "[18446744073709551615, 18446744073709551615]",
                                           "\"0-24\""};

// A targeted change of one tensor's dtype, shape or offsets, else a generic one.
std::string mutate_header(Rng& rng, const json& header, std::string& how) {
  json j = header;
  RawValues raw;
  std::vector<std::string> names;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "__metadata__") names.push_back(it.key());
  const std::string name = names[rng() % names.size()];
  switch (pick(rng, 4)) {
    case 0:
      j[name]["dtype"] = raw.placeholder(pick(rng, kDTypeTexts));
      how += " dtype(" + name + ")";
      break;
    case 1:
      j[name]["shape"] = raw.placeholder(pick(rng, kShapes));
      how += " shape(" + name + ")";
      break;
    case 2:
      j[name]["data_offsets"] = raw.placeholder(pick(rng, kOffsets));
      how += " offsets(" + name + ")";
      break;
    default:
      return mutate_json(rng, header, how);
  }
  return raw.render(j);
}

// Header length field, header JSON, or raw bytes of a valid file.
std::string mutate_safetensors(Rng& rng, const std::string& file, std::string& how) {
  std::uint64_t n = 0;
  for (int k = 7; k >= 0; --k)
    n = (n << 8) | static_cast<unsigned char>(file[static_cast<std::size_t>(k)]);
  const std::string header = file.substr(8, n), data = file.substr(8 + n);
  const int what = pick(rng, 10);
  if (what < 2) {
    const std::array<std::uint64_t, 9> lengths{
        0, 1, n - 1, n + 1, file.size() - 8, file.size() - 7, 1ull << 63, ~0ull, 100'000'001};
    const std::uint64_t len = chance(rng, 80) ? pick(rng, lengths) : rng() % (2 * file.size());
    how += " header-length " + std::to_string(len);
    return le64(len) + header + data;
  }
  if (what < 8) {
    std::string text = mutate_header(rng, json::parse(header), how);
    if (chance(rng, 20)) {
      how += " stale-length";
      text.resize(n, ' ');
    }
    return le64(text.size()) + text + data;
  }
  std::string out = file;
  for (int k = 1 + pick(rng, 2); k > 0; --k) mutate_bytes(rng, out, how);
  return out;
}

constexpr int kSafetensorsCases = 1200;  // per reader

}  // namespace

TEST_CASE("fuzz: the safetensors readers end each damaged file in success or excap::Error") {
  test::ScratchDir dir("fuzz-safetensors");
  const std::string base = base_safetensors();
  const fs::path file = dir / "t.safetensors";
  MemoryBound bound;
  struct Reader {
    std::string loader;
    std::function<void()> read;
  };
  const std::vector<Reader> readers{
      {"safetensors read", [&] { safetensors::read(file); }},
      {"safetensors header", [&] { safetensors::read_header(file); }},
  };
  for (const auto& r : readers) {
    Tally tally{r.loader};
    write_bytes(file, base);
    REQUIRE_NOTHROW(r.read());
    for (int i = 0; i < kSafetensorsCases; ++i) {
      const std::uint64_t seed = case_seed(r.loader, i);
      if (skipped(seed)) continue;
      Rng rng(seed);
      std::string how;
      write_bytes(file, mutate_safetensors(rng, base, how));
      run_case(tally, seed, how, r.read);
    }
    report(tally);
    if (!std::getenv("EXCAP_FUZZ_SEED")) CHECK(tally.refused > 0);
  }
}

namespace {

// ---- CVAT zips ----

std::vector<test::ZipEntrySpec> cvat_entries(const Project& p, const fs::path& out) {
  export_dataset(p, {"s", "cvat-mask", false}, out);
  std::vector<test::ZipEntrySpec> entries;
  for (const auto& e : fs::recursive_directory_iterator(out))
    if (e.is_regular_file())
      entries.push_back(
          {"cvat/" + fs::relative(e.path(), out).generic_string(), file_text(e.path()), ""});
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return entries;
}

const std::array<std::string, 14> kEntryNames{"../escaped.png",
                                              "/tmp/excap-fuzz-abs.png",
                                              "cvat/../../x.png",
                                              "",
                                              ".",
                                              "cvat/./labelmap.txt",
                                              "cvat\\..\\x.png",
                                              "cvat/SegmentationClass",
                                              "cvat/labelmap.txt/inner",
                                              "cvat//labelmap.txt",
                                              "cvat/SegmentationClass/../../../y.png",
                                              "cvat/SegmentationClass/f999.png",
                                              "cvat/SegmentationClass/.png",
                                              "cvat/SegmentationClass/F000.PNG"};

// A change of one entry's bytes, name or kind, or of the entry list.
void mutate_entries(Rng& rng, std::vector<test::ZipEntrySpec>& entries,
                    const std::vector<std::pair<std::string, std::string>>& images,
                    std::string& how) {
  auto& e = entries[rng() % entries.size()];
  switch (pick(rng, 8)) {
    case 0:
    case 1:
    case 2:
      if (e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".png") == 0) {
        std::string sub;
        e.data = mutate_image(rng, images, 0, sub);
        how += " image(" + e.name + ":" + sub + ")";
      } else {
        mutate_bytes(rng, e.data, how);
        how += "(" + e.name + ")";
      }
      break;
    case 3:
      how += " rename(" + e.name + ")";
      e.name = chance(rng, 80) ? pick(rng, kEntryNames) : "cvat/" + std::string(300, 'n');
      break;
    case 4:
      how += " symlink(" + e.name + ")";
      e.symlink_target = chance(rng, 50) ? "/etc/passwd" : "../../outside";
      break;
    case 5:
      how += " drop(" + e.name + ")";
      entries.erase(entries.begin() + (&e - entries.data()));
      break;
    case 6:
      how += " duplicate(" + e.name + ")";
      entries.push_back({e.name, e.data.substr(0, e.data.size() / 2), ""});
      break;
    default:
      how += " oversized-entry";
      entries.push_back({"cvat/padding.bin", std::string((1u << 20) + 1, '\0'), ""});
  }
}

constexpr int kZipCases = 400;

}  // namespace

TEST_CASE("fuzz: CVAT zip import ends each damaged archive in success or excap::Error") {
  ProjectCopy copy("zip");
  Project p = Project::open(copy.root());
  const fs::path dir = copy.root().parent_path();
  const auto base = cvat_entries(p, dir / "export");
  const auto images = png_bases();
  const fs::path zip = dir / "cvat.zip";
  ZipLimits limits;
  limits.max_entry = 1u << 20;  // an entry above 1 MiB is a bomb here
  limits.max_total = 4u << 20;
  test::write_zip(zip, base);
  REQUIRE(import_cvat_masks(p, zip, {"c", true}, limits).imported == 4);
  MemoryBound bound;
  Tally tally{"cvat zip import"};
  for (int i = 0; i < kZipCases; ++i) {
    const std::uint64_t seed = case_seed(tally.loader, i);
    if (skipped(seed)) continue;
    Rng rng(seed);
    std::string how;
    auto entries = base;
    for (int k = 1 + pick(rng, 2); k > 0; --k) mutate_entries(rng, entries, images, how);
    if (entries.empty()) entries.push_back({"cvat/empty.txt", "", ""});
    std::string bytes;
    try {
      test::write_zip(zip, entries);
    } catch (const std::runtime_error&) {
      continue;  // libarchive would not write it: nothing to feed
    }
    if (chance(rng, 20)) {
      bytes = file_text(zip);
      mutate_bytes(rng, bytes, how);
      write_bytes(zip, bytes);
    }
    run_case(tally, seed, how, [&] { import_cvat_masks(p, zip, {"c", true}, limits); });
  }
  report(tally);
  CHECK(!fs::exists("/tmp/excap-fuzz-abs.png"));
  CHECK(!fs::exists(dir / "escaped.png"));
  if (!std::getenv("EXCAP_FUZZ_SEED")) CHECK(tally.refused > 0);
}

namespace {

// ---- validate over damaged projects ----

// One damage to a copy of the project: a mutated JSON file or image, a file
// gone, a folder where a file was, or a stray file.
void damage(Rng& rng, const fs::path& root,
            const std::vector<std::pair<std::string, std::string>>& images, std::string& how) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().parent_path().filename() != "log")
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const fs::path& f = files[rng() % files.size()];
  const std::string rel = fs::relative(f, root).generic_string();
  const int what = pick(rng, 10);
  if (what < 6 && f.extension() == ".json") {
    write_bytes(f, mutate_json(rng, json::parse(file_text(f)), how));
    how += "(" + rel + ")";
  } else if (what < 6) {
    std::string sub;
    write_bytes(f, mutate_image(rng, images, f.parent_path().filename() == "frames" ? 0 : 1, sub));
    how += " image(" + rel + ":" + sub + ")";
  } else if (what < 8) {
    fs::remove(f);
    how += " removed(" + rel + ")";
  } else if (what < 9) {
    fs::remove(f);
    fs::create_directory(f);
    how += " folder-instead(" + rel + ")";
  } else {
    write_bytes(f.parent_path() / "stray.png", chance(rng, 50) ? images[0].second : "junk");
    how += " stray-file(" + fs::relative(f.parent_path(), root).generic_string() + ")";
  }
}

constexpr int kValidateCases = 150;

}  // namespace

TEST_CASE("fuzz: validate reports on damaged projects and throws nothing but excap::Error") {
  ProjectCopy copy("validate");
  const auto images = png_bases();
  std::string clean;
  for (const auto& pr : validate_project(copy.root())) clean += pr.file + ": " + pr.reason + "\n";
  REQUIRE_MESSAGE(clean.empty(), clean);
  MemoryBound bound;
  Tally tally{"validate"};
  long reported = 0;
  for (int i = 0; i < kValidateCases; ++i) {
    const std::uint64_t seed = case_seed(tally.loader, i);
    if (skipped(seed)) continue;
    Rng rng(seed);
    std::string how;
    const fs::path root = copy.root().parent_path() / ("case" + std::to_string(i));
    fs::copy(copy.root(), root, fs::copy_options::recursive);
    for (int k = 1 + pick(rng, 3); k > 0; --k) damage(rng, root, images, how);
    run_case(tally, seed, how, [&] { reported += !validate_project(root).empty(); });
    fs::remove_all(root);
  }
  report(tally);
  std::printf("fuzz %-18s %6ld damaged projects with problems reported\n", "validate", reported);
  if (!std::getenv("EXCAP_FUZZ_SEED")) CHECK(reported > kValidateCases / 2);
}

TEST_CASE("a project file nested very deep or holding a number beyond a double is an Error") {
  ProjectCopy copy("deep");
  const fs::path clips = copy.root() / "clips.json";
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  write_bytes(clips, R"({"format": "excap-clips", "version": 1, "clips": )" + deep + "}");
  CHECK_THROWS_WITH_AS(Project::open(copy.root()).load_clips(), doctest::Contains("nested deeper"),
                       Error);
  write_bytes(clips, R"({"format": "excap-clips", "version": 1, "clips": [], "x": 1e999})");
  CHECK_THROWS_WITH_AS(Project::open(copy.root()).load_clips(), doctest::Contains("malformed JSON"),
                       Error);
  // Brackets inside strings, escaped quotes included, do not count as nesting.
  write_bytes(clips, R"({"format": "excap-clips", "version": 1, "clips": [], "x": "\"[[[[)" +
                         std::string(200, '[') + "\"}");
  CHECK(Project::open(copy.root()).load_clips().empty());
}

TEST_CASE("a safetensors header nested very deep is an Error") {
  test::ScratchDir dir("fuzz-deep-header");
  std::string header = R"({"w": {"dtype": "U8", "shape": [1], "data_offsets": )" +
                       std::string(100000, '[') + std::string(100000, ']') + "}}";
  header.append((8 - header.size() % 8) % 8, ' ');
  write_bytes(dir / "t.safetensors", le64(header.size()) + header + "x");
  CHECK_THROWS_WITH_AS(safetensors::read(dir / "t.safetensors"), doctest::Contains("nests deeper"),
                       Error);
  CHECK_THROWS_WITH_AS(safetensors::read_header(dir / "t.safetensors"),
                       doctest::Contains("nests deeper"), Error);
}
