#include "common/ids.h"

#include "common/error.h"
#include "common/text.h"

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

const std::string& safe_id_rule() {
  static const std::string rule =
      "ids are 1-128 characters of letters, digits, '.', '_' and '-', may not start with '.' or "
      "'-' and may not contain '..' (they name files inside the project)";
  return rule;
}

std::string safe_id_problem(std::string_view id) {
  if (is_safe_id(id)) return {};
  return "'" + printable(id) + "' is not allowed: " + safe_id_rule();
}

void require_safe_id(std::string_view id, std::string_view what) {
  if (is_safe_id(id)) return;
  throw Error(std::string(what) + " id '" + printable(id) + "'", "not allowed: " + safe_id_rule());
}

fs::path safe_child(const fs::path& root, std::string_view id, std::string_view suffix,
                    std::string_view what) {
  require_safe_id(id, what);
  return root / (std::string(id) + std::string(suffix));
}

}  // namespace excap
