// User text (notes, names, file names, ids read from a project) shown on a
// terminal or in a log: control characters must never reach it raw.
#pragma once
#include <string>
#include <string_view>

namespace excap {

// `text` with every control character as a visible escape: \r \n \t \\ and
// \xHH for other C0 bytes, DEL and bytes that are not valid UTF-8; \u{HHHH}
// for C1 controls and bidirectional overrides. Printable UTF-8 is kept.
std::string printable(std::string_view text);

// A duration for progress lines: "4m07s", "2h13m"; "-" when unknown (negative).
std::string duration_text(double seconds);

}  // namespace excap
