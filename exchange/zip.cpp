#include "exchange/zip.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>

#include "common/error.h"

namespace excap {
namespace {

// libarchive's message, which it may not have set (a null pointer).
std::string archive_reason(struct archive* a) {
  const char* why = archive_error_string(a);
  return why ? why : "unknown libarchive error";
}

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_read_free)>;

std::string where(const fs::path& zip, const std::string& entry) {
  return zip.string() + (entry.empty() ? "" : " (entry '" + entry + "')");
}

// A relative path whose components are plain names: no root, no "..".
bool safe_relative(const std::string& name) {
  if (name.empty() || name[0] == '/' || name[0] == '\\') return false;
  const fs::path p(name);
  if (p.has_root_name() || p.has_root_directory()) return false;
  for (const auto& part : p)
    if (part == "..") return false;
  return name.find('\\') == std::string::npos;  // Windows separators could hide a ".."
}

// The entry's bytes into `target`, counted against both limits as they inflate.
void copy_entry(archive* a, const fs::path& target, const fs::path& zip, const std::string& name,
                const ZipLimits& limits, std::uint64_t& total) {
  std::ofstream out(target, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(target.string(), "cannot create while unpacking " + zip.string());
  std::uint64_t entry = 0;
  char buf[65536];
  for (;;) {
    const la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) throw Error(where(zip, name), std::string("corrupt entry: ") + archive_reason(a));
    entry += static_cast<std::uint64_t>(n);
    total += static_cast<std::uint64_t>(n);
    if (entry > limits.max_entry)
      throw Error(where(zip, name), "inflates beyond the per-entry limit of " +
                                        std::to_string(limits.max_entry) + " bytes");
    if (total > limits.max_total)
      throw Error(where(zip, name), "the archive inflates beyond its limit of " +
                                        std::to_string(limits.max_total) + " bytes");
    out.write(buf, n);
  }
  if (!out.flush()) throw Error(target.string(), "write failed while unpacking " + zip.string());
}

// Refuses an entry by name, type or declared size; true for a folder.
bool check_entry(archive_entry* e, const fs::path& zip, const std::string& name,
                 const ZipLimits& limits, std::uint64_t total) {
  if (!safe_relative(name))
    throw Error(where(zip, name), "absolute path or '..' component: it would leave the folder");
  const auto type = archive_entry_filetype(e);
  if (archive_entry_hardlink(e) || (type != AE_IFREG && type != AE_IFDIR))
    throw Error(where(zip, name), "is a link or special file; only files and folders are accepted");
  if (archive_entry_size_is_set(e)) {
    const auto declared =
        static_cast<std::uint64_t>(std::max<la_int64_t>(0, archive_entry_size(e)));
    if (declared > limits.max_entry || total + declared > limits.max_total)
      throw Error(where(zip, name),
                  "declares " + std::to_string(declared) + " bytes, beyond the unpacking limits");
  }
  return type == AE_IFDIR;
}

}  // namespace

void extract_zip(const fs::path& zip, const fs::path& dest, const ZipLimits& limits) {
  ArchivePtr a(archive_read_new(), archive_read_free);
  if (!a) throw Error(zip.string(), "libarchive could not start");
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), zip.c_str(), 1 << 16) != ARCHIVE_OK)
    throw Error(zip.string(),
                std::string("not a readable zip archive: ") + archive_reason(a.get()));
  ensure_dir(dest);
  std::uint64_t total = 0;
  archive_entry* e = nullptr;
  for (;;) {
    const int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      throw Error(zip.string(),
                  std::string("not a readable zip archive: ") + archive_reason(a.get()));
    const char* raw = archive_entry_pathname(e);
    const std::string name = raw ? raw : "";
    const bool folder = check_entry(e, zip, name, limits, total);
    const fs::path target = dest / fs::path(name).relative_path();
    if (folder) {
      ensure_dir(target);
      continue;
    }
    ensure_dir(target.parent_path());
    copy_entry(a.get(), target, zip, name, limits, total);
  }
}

}  // namespace excap
