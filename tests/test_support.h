// Helpers shared by the test suites: scratch folders, the shared real data,
// running the excap binary.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace excap::test {

namespace fs = std::filesystem;

// A fresh, empty folder under the build tree, removed when the object dies.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name);
  ~ScratchDir();
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& p) const { return path_ / p; }

 private:
  fs::path path_;
};

// Every file and folder below `root`: relative path -> the file's bytes, or
// "<dir>" for a folder. Tests compare two of them to show nothing was written.
std::map<std::string, std::string> tree_snapshot(const fs::path& root);

// ../shared/data/<sub> when present; empty path (and a printed message) when not.
fs::path shared_data(const std::string& sub);

// Runs argv[0] with argv[1..] (no shell: every argument arrives as written),
// with `env` added to the environment; returns its exit status (-1 when it
// died of a signal, 127 when it could not start); stdout+stderr go to *output.
int run_command(const std::vector<std::string>& argv, std::string* output = nullptr,
                const std::vector<std::pair<std::string, std::string>>& env = {});

// Path of a built executable of this project (e.g. "excap").
std::string built_binary(const std::string& name);

// The Debian python3 with torch/torchvision/sklearn, or "" when absent.
std::string reference_python();

}  // namespace excap::test
