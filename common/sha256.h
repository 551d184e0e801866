// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104): file fingerprints and the
// keyed hash that turns a patient's name into a pseudonym.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/fsutil.h"

namespace excap {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  std::array<std::uint8_t, 32> digest();  // finalises; the object is spent afterwards

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t buf_len_ = 0;
  std::uint64_t total_ = 0;
};

std::string to_hex(const std::uint8_t* data, std::size_t size);
std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const fs::path& path);  // hex digest; throws Error naming the path
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

}  // namespace excap
