#include "common/ids.h"

#include "common/error.h"

namespace excap {

bool is_safe_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  if (id.front() == '.' || id.front() == '-') return false;
  if (id.find("..") != std::string_view::npos) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void require_safe_id(std::string_view id, std::string_view what) {
  if (is_safe_id(id)) return;
  std::string shown;
  for (char c : id) shown += (c == '\0') ? std::string("\\0") : std::string(1, c);
  throw Error(std::string(what) + " id '" + shown + "'",
              "not allowed: ids are 1-128 characters of letters, digits, '.', '_' and '-', "
              "may not start with '.' or '-' and may not contain '..' (they name files inside "
              "the project)");
}

fs::path safe_child(const fs::path& root, std::string_view id, std::string_view suffix,
                    std::string_view what) {
  require_safe_id(id, what);
  return root / (std::string(id) + std::string(suffix));
}

}  // namespace excap
