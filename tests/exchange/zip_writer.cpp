#include "zip_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <stdexcept>

#include "common/fsutil.h"

namespace excap::test {

// libarchive may fail without a message (a null string).
static std::string error_text(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "libarchive failed without a message";
}

void write_zip(const fs::path& zip, const std::vector<ZipEntrySpec>& entries) {
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                            archive_write_free);
  archive_write_set_format_zip(a.get());
  if (archive_write_open_filename(a.get(), zip.c_str()) != ARCHIVE_OK)
    throw std::runtime_error(zip.string() + ": " + error_text(a.get()));
  for (const auto& e : entries) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> h(archive_entry_new(),
                                                                    archive_entry_free);
    archive_entry_set_pathname(h.get(), e.name.c_str());
    if (e.symlink_target.empty()) {
      archive_entry_set_filetype(h.get(), AE_IFREG);
      archive_entry_set_size(h.get(), static_cast<la_int64_t>(e.data.size()));
    } else {
      archive_entry_set_filetype(h.get(), AE_IFLNK);
      archive_entry_set_symlink(h.get(), e.symlink_target.c_str());
    }
    archive_entry_set_perm(h.get(), 0644);
    if (archive_write_header(a.get(), h.get()) != ARCHIVE_OK)
      throw std::runtime_error(zip.string() + ": " + error_text(a.get()));
    if (!e.data.empty() && archive_write_data(a.get(), e.data.data(), e.data.size()) < 0)
      throw std::runtime_error(zip.string() + ": " + error_text(a.get()));
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK)
    throw std::runtime_error(zip.string() + ": " + error_text(a.get()));
}

void zip_folder(const fs::path& dir, const fs::path& zip) {
  std::vector<ZipEntrySpec> entries;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      entries.push_back({fs::relative(e.path(), dir).generic_string(), read_file(e.path()), ""});
  write_zip(zip, entries);
}

}  // namespace excap::test
