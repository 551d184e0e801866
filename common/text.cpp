#include "common/text.h"

#include <cstdint>
#include <cstdio>

namespace excap {

namespace {

std::string hex_byte(unsigned char c) {
  char b[8];
  std::snprintf(b, sizeof b, "\\x%02x", c);
  return b;
}

// Length of the valid UTF-8 sequence at text[i] (2..4) and its code point; 0 if invalid.
std::size_t utf8_sequence(std::string_view text, std::size_t i, std::uint32_t& cp) {
  const auto c = static_cast<unsigned char>(text[i]);
  std::size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, cp = c & 0x1Fu;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, cp = c & 0x0Fu;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, cp = c & 0x07u;
  else
    return 0;
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto t = static_cast<unsigned char>(text[i + k]);
    if ((t & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (t & 0x3Fu);
  }
  const std::uint32_t min = n == 2 ? 0x80u : n == 3 ? 0x800u : 0x10000u;
  if (cp < min || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) return 0;
  return n;
}

// C1 controls and the bidirectional embeddings, overrides and isolates, which
// can reorder or hide what a terminal shows.
bool hidden_code_point(std::uint32_t cp) {
  return (cp >= 0x80u && cp <= 0x9Fu) || (cp >= 0x202Au && cp <= 0x202Eu) ||
         (cp >= 0x2066u && cp <= 0x2069u) || cp == 0x200Eu || cp == 0x200Fu;
}

std::string escape_ascii(unsigned char c) {
  switch (c) {
    case '\r':
      return "\\r";
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\\':
      return "\\\\";
    default:
      break;
  }
  if (c < 0x20 || c == 0x7F) return hex_byte(c);
  return std::string(1, static_cast<char>(c));
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += escape_ascii(c);
      ++i;
      continue;
    }
    std::uint32_t cp = 0;
    const std::size_t n = utf8_sequence(text, i, cp);
    if (n == 0) {
      out += hex_byte(c);
      ++i;
      continue;
    }
    if (hidden_code_point(cp)) {
      char b[16];
      std::snprintf(b, sizeof b, "\\u{%04x}", static_cast<unsigned>(cp));
      out += b;
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string duration_text(double seconds) {
  if (!(seconds >= 0)) return "-";
  char b[32];
  const long t = static_cast<long>(seconds + 0.5);
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  return b;
}

}  // namespace excap
