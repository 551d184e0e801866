// Pinned digests: pseudonyms already stored in projects are HMAC-SHA256 values,
// so the hashing backend may change but these outputs may not. The expected
// strings were produced by the project's earlier hand-written SHA-256.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "common/error.h"
#include "common/sha256.h"
#include "test_support.h"

using namespace excap;

TEST_CASE("hmac-sha256 pseudonym values stay byte-identical") {
  // stage1's pseudonym is "p-" + the first 16 hex digits of this HMAC.
  CHECK(hmac_sha256_hex("0123456789abcdef0123456789abcdef", "jane doe") ==
        "a197124a482222388abe444abbb7da165a10f575baf0b3736f5039bcfef1ccc8");
  // A key longer than one block (64 bytes) is hashed first (RFC 2104 §2).
  CHECK(hmac_sha256_hex(std::string(100, 'k'), "Jane Doe 1970") ==
        "f6486a8c0744539ca0498f3e11e6065b915137534183a55cecc764946fd9db52");
  CHECK(hmac_sha256_hex("secret-key-16byt", std::string(300, 'x')) ==
        "75797cde1d901ffc92195964e9154cc8ea7c33ef00d226a119efe54698693433");
}

TEST_CASE("sha256_file streams a multi-megabyte file to the pinned digest") {
  test::ScratchDir tmp("hash");
  std::string bytes;
  for (int i = 0; i < 3000000; ++i) bytes.push_back(static_cast<char>((i * 131) % 251));
  const auto file = tmp / "big.bin";
  std::ofstream(file, std::ios::binary) << bytes;
  const std::string pinned = "0e4011e3eb2bb2292a5b49a253fd4be07ab54e8d6aa8fb4fd8a5b91a9e4b710a";
  CHECK(sha256_file(file) == pinned);
  CHECK(sha256_hex(bytes) == pinned);
  // The streaming class gives the same digest whatever the chunking.
  Sha256 h;
  for (std::size_t at = 0; at < bytes.size(); at += 777)
    h.update(bytes.data() + at, std::min<std::size_t>(777, bytes.size() - at));
  const auto d = h.digest();
  CHECK(to_hex(d.data(), d.size()) == pinned);
  CHECK_THROWS_AS(h.digest(), Error);
  CHECK_THROWS_WITH_AS(sha256_file(tmp / "missing.bin"), doctest::Contains("missing.bin"), Error);
}
