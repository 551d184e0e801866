// Safe unpacking of a zip archive (CVAT exports) with libarchive. An archive
// is untrusted input: entries may not leave the destination (absolute paths,
// `..`: "zip slip"), may not be links or devices, and may not expand beyond
// fixed bounds (a "zip bomb" declares or inflates to gigabytes from kilobytes).
#pragma once
#include <cstdint>

#include "common/fsutil.h"

namespace excap {

struct ZipLimits {
  static constexpr std::uint64_t kDefaultTotal = 4ull << 30;  // 4 GiB: far above a CVAT mask export
  static constexpr std::uint64_t kDefaultEntry = 1ull << 30;  // 1 GiB for any single file
  std::uint64_t max_total = kDefaultTotal;
  std::uint64_t max_entry = kDefaultEntry;
};

// Extracts every regular file and folder of `zip` below `dest` (created when
// absent). Checks each entry's name, type and declared size before writing
// it, and counts the bytes actually inflated against the same limits. Throws
// Error naming the zip and the entry; `dest` may then hold a partial tree.
void extract_zip(const fs::path& zip, const fs::path& dest, const ZipLimits& limits = {});

}  // namespace excap
