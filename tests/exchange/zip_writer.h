// Writes zip archives for the tests with libarchive: a folder's files, or
// hand-made entries (hostile names, symlinks) no well-behaved tool would write.
#pragma once
#include <string>
#include <vector>

#include "common/fsutil.h"

namespace excap::test {

struct ZipEntrySpec {
  std::string name;
  std::string data;            // a file's bytes
  std::string symlink_target;  // non-empty: a symbolic link instead of a file
};

void write_zip(const fs::path& zip, const std::vector<ZipEntrySpec>& entries);

// Every file below `dir`, named relative to it.
void zip_folder(const fs::path& dir, const fs::path& zip);

}  // namespace excap::test
