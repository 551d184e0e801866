#include "common/resources.h"

#include <cstdlib>
#include <vector>

#include "common/error.h"

namespace excap {

fs::path resource_path(const std::string& relative) {
  std::vector<fs::path> roots;
  if (const char* data = std::getenv("EXCAP_DATA_DIR"); data && *data) roots.emplace_back(data);
  std::error_code ec;
  // /proc/self/exe: Linux's own answer to "where is this binary", links resolved.
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(exe.parent_path().parent_path() / "share" / "excap");
  std::string looked;
  for (const auto& root : roots) {
    const fs::path candidate = root / relative;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  if (looked.empty()) looked = "nowhere ($EXCAP_DATA_DIR unset, /proc/self/exe unreadable)";
  throw Error(relative, "data file not found; looked in " + looked +
                            " (set EXCAP_DATA_DIR to the folder holding share/excap's contents)");
}

}  // namespace excap
