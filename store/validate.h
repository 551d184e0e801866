// `excap validate`: checks a whole project and lists every problem found
// rather than stopping at the first.
#pragma once
#include <string>
#include <vector>

#include "common/fsutil.h"

namespace excap {

struct Problem {
  std::string file;    // path of the file at fault (or the folder)
  std::string reason;  // one line
};

std::vector<Problem> validate_project(const fs::path& dir);

}  // namespace excap
