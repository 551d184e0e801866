#include "test_support.h"

#include <iostream>
#include <random>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/process.h"

namespace excap::test {

using excap::Error;
using excap::ProcessOptions;
using excap::ProcessResult;
using excap::run_process;

ScratchDir::ScratchDir(const std::string& name) {
  std::random_device rd;
  path_ = fs::path(EXCAP_BINARY_DIR) / "test-scratch" / (name + "-" + std::to_string(rd()));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  if (!std::getenv("EXCAP_KEEP_SCRATCH")) fs::remove_all(path_, ec);
}

fs::path shared_data(const std::string& sub) {
  fs::path p = fs::path(EXCAP_SHARED_DATA) / sub;
  std::error_code ec;
  if (!fs::is_directory(p, ec)) {
    std::cout << "[skip] " << p.string()
              << " is absent: this test needs the shared real endoscopy images\n";
    return {};
  }
  return p;
}

int run_command(const std::vector<std::string>& argv, std::string* output,
                const std::vector<std::pair<std::string, std::string>>& env) {
  ProcessOptions o;
  o.env = env;
  try {
    const ProcessResult r = run_process(argv, o);
    if (output) *output = r.out;
    return r.signal != 0 ? -1 : r.exit_code;
  } catch (const Error& e) {
    if (output) *output = e.what();
    return 127;  // as a shell reports a program it cannot find
  }
}

std::string built_binary(const std::string& name) {
  return (fs::path(EXCAP_BINARY_DIR) / "bin" / name).string();
}

std::string reference_python() {
  std::string py = EXCAP_REFERENCE_PYTHON;
  if (py.empty()) return "";
  std::string out;
  if (run_command({py, "-c", "import torch, torchvision"}, &out) != 0) {
    std::cout << "[skip] Debian python3-torch/python3-torchvision are missing: " << out << "\n";
    return "";
  }
  return py;
}

std::map<std::string, std::string> tree_snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    files[fs::relative(e.path(), root).string()] =
        e.is_regular_file() ? excap::read_file(e.path()) : std::string("<dir>");
  return files;
}

}  // namespace excap::test
