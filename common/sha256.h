// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) through OpenSSL's libcrypto:
// file fingerprints and the keyed hash that turns a patient's name into a
// pseudonym. The digests must never change: pseudonyms already on disk depend
// on them (tests/common/test_hash.cpp fixes known values).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/fsutil.h"

namespace excap {

// Streaming SHA-256 for inputs that do not fit in memory.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  std::array<std::uint8_t, 32> digest();  // finalises; the object is spent afterwards

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

std::string to_hex(const std::uint8_t* data, std::size_t size);
std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const fs::path& path);  // hex digest; throws Error naming the path
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

}  // namespace excap
