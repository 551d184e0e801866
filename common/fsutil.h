// File-system helpers: atomic writes, whole-file reads, append-only logs.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace excap {

namespace fs = std::filesystem;

// Writes `bytes` to `path` atomically: a temp file in the same folder is
// written, flushed and fsync'd, then renamed over `path`, and the folder is
// fsync'd. A crash at any point leaves either the old or the new file.
void atomic_write(const fs::path& path, std::string_view bytes);
void atomic_write(const fs::path& path, const std::vector<std::uint8_t>& bytes);

// The two halves of atomic_write, for changes that land several files at
// once (store/change.h): a fsync'd temporary beside `path` ("<path>.tmp-<pid>-<hex>"),
// then its rename over `path` and the folder's fsync.
fs::path write_temp_beside(const fs::path& path, std::string_view bytes);
void rename_into_place(const fs::path& tmp, const fs::path& path);

// Test hook: when set, atomic_write stops after writing the temp file and
// throws, as a crash before the rename would (the temp file is left behind).
void set_atomic_write_fault_for_tests(bool fail_before_rename);

std::string read_file(const fs::path& path);  // throws Error naming the path
std::vector<std::uint8_t> read_bytes(const fs::path& path);

// Appends one line (a '\n' is added) with O_APPEND and fsync: the audit log.
void append_line(const fs::path& path, std::string_view line);

// Creates `dir` and its parents; throws Error naming the folder on failure.
void ensure_dir(const fs::path& dir);

// Removes stale "*.tmp-<pid>-*" files an interrupted atomic_write left in
// `dir`: those of a process that no longer runs here, or older than an hour
// (a writer on another machine of a shared drive); never a live writer's.
int remove_stale_temp_files(const fs::path& dir);

// UTC time as ISO-8601 with seconds, e.g. 2026-11-25T17:20:00Z.
std::string now_iso8601();

}  // namespace excap
