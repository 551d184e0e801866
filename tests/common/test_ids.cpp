// One rule for every name (common/ids.h) and one escape for user text on a
// terminal (common/text.h).
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "common/error.h"
#include "common/ids.h"
#include "common/text.h"

using namespace excap;

TEST_CASE("safe ids: names inside the project only") {
  for (const char* ok : {"a", "v001", "v001-c1", "test", "run_1.b", "A-b_c.d"})
    CHECK_MESSAGE(is_safe_id(ok), ok);
  const std::string nul("a\0b", 3);
  for (const std::string& bad :
       {std::string(), std::string("../../x"), std::string(".."), std::string("a/b"),
        std::string("/tmp/x"), std::string(".hidden"), std::string("-rf"), std::string("a..b"),
        std::string("a\\b"), std::string("a b"), std::string("a:b"), nul, std::string(129, 'a')})
    CHECK_MESSAGE(!is_safe_id(bad), bad);
  CHECK(is_safe_id(std::string(128, 'a')));
}

TEST_CASE("safe ids: one message, naming the id shown printable and the rule") {
  CHECK(safe_id_problem("ok").empty());
  const std::string p = safe_id_problem("../\x1b[2J");
  CHECK(p == "'../\\x1b[2J' is not allowed: " + safe_id_rule());
  CHECK(p.find('\x1b') == std::string::npos);
  try {
    require_safe_id("a/b", "subset");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.where() == "subset id 'a/b'");
    CHECK(e.reason() == "not allowed: " + safe_id_rule());
  }
  CHECK_THROWS_AS(safe_child("/p", "../x", ".json", "split"), Error);
  CHECK(safe_child("/p/splits", "s1", ".json", "split") == fs::path("/p/splits/s1.json"));
}

TEST_CASE("printable: control characters become visible escapes, text stays") {
  CHECK(printable("plain text, äöü – 日本") == "plain text, äöü – 日本");
  CHECK(printable("\r\n\x1b[2J") == "\\r\\n\\x1b[2J");
  CHECK(printable("a\tb\\c") == "a\\tb\\\\c");
  CHECK(printable(std::string("nul\0end", 7)) == "nul\\x00end");
  CHECK(printable("\x7f\x07") == "\\x7f\\x07");
  // Bytes that are not UTF-8 (a lone 8-bit CSI) and encoded C1 controls.
  CHECK(printable("\x9b"
                  "31m") == "\\x9b31m");
  CHECK(printable("\xc2\x9b"
                  "31m") == "\\u{009b}31m");
  CHECK(printable("\xe2\x80\xae"
                  "evil") == "\\u{202e}evil");            // right-to-left override
  CHECK(printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  CHECK(printable("cut \xe2\x80") == "cut \\xe2\\x80");   // truncated sequence
  const std::string all_bytes = [] {
    std::string s;
    for (int c = 0; c < 256; ++c) s += static_cast<char>(c);
    return s;
  }();
  for (char c : printable(all_bytes)) {
    const auto u = static_cast<unsigned char>(c);
    CHECK((u >= 0x20 && u != 0x7f));
  }
}

TEST_CASE("duration_text: minutes and seconds, hours and minutes, a dash when unknown") {
  CHECK(duration_text(0) == "0m00s");
  CHECK(duration_text(59.4) == "0m59s");
  CHECK(duration_text(59.6) == "1m00s");
  CHECK(duration_text(247) == "4m07s");
  CHECK(duration_text(3599.4) == "59m59s");
  CHECK(duration_text(3600) == "1h00m");
  CHECK(duration_text(2 * 3600 + 13 * 60 + 59) == "2h13m");
  CHECK(duration_text(-1) == "-");
  CHECK(duration_text(std::nan("")) == "-");
}
