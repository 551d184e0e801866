#include "test_support.h"

#include <array>
#include <cstdio>
#include <iostream>
#include <random>
#include <sys/wait.h>

namespace excap::test {

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

int run_command(const std::string& cmd, std::string* output) {
  std::string full = cmd + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buf{};
  std::string out;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  int status = ::pclose(pipe);
  if (output) *output = out;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -1;
}

std::string built_binary(const std::string& name) {
  return (fs::path(EXCAP_BINARY_DIR) / "bin" / name).string();
}

std::string reference_python() {
  std::string py = EXCAP_REFERENCE_PYTHON;
  if (py.empty()) return "";
  std::string out;
  if (run_command(py + " -c 'import torch, torchvision'", &out) != 0) {
    std::cout << "[skip] Debian python3-torch/python3-torchvision are missing: " << out << "\n";
    return "";
  }
  return py;
}

}  // namespace excap::test
