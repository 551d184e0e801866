// Ids name files inside the project (frames/<id>.png, labels/<user>/...), so
// an id must never be able to leave the project folder. One rule for every
// name: ids read from project files and names given on a command line
// (subset, run, split, user, clip, video, frame) alike.
#pragma once
#include <string>
#include <string_view>

#include "common/fsutil.h"

namespace excap {

// True when `id` is 1..128 characters of [A-Za-z0-9._-], does not start with
// '.' or '-', and holds no "..". Rules out '/', '\\', NUL, absolute paths.
bool is_safe_id(std::string_view id);

// The rule of is_safe_id in words, for messages.
const std::string& safe_id_rule();

// Empty when `id` is safe, else "'<id>' is not allowed: <rule>" (the id shown
// printable). For command-line validators and require_safe_id alike.
std::string safe_id_problem(std::string_view id);

// Throws Error("<what> id '<id>'", reason) when the id is not safe.
void require_safe_id(std::string_view id, std::string_view what);

// Joins root / id + suffix after checking the id; the result stays inside root.
fs::path safe_child(const fs::path& root, std::string_view id, std::string_view suffix,
                    std::string_view what);

}  // namespace excap
