// Helpers shared by the test suites: scratch folders, the shared real data,
// running the excap binary.
#pragma once
#include <filesystem>
#include <string>

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

// ../shared/data/<sub> when present; empty path (and a printed message) when not.
fs::path shared_data(const std::string& sub);

// Runs a shell command, returns its exit status; stdout+stderr go to *output.
int run_command(const std::string& cmd, std::string* output = nullptr);

// Path of a built executable of this project (e.g. "excap").
std::string built_binary(const std::string& name);

// The Debian python3 with torch/torchvision/sklearn, or "" when absent.
std::string reference_python();

}  // namespace excap::test
