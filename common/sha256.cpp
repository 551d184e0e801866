#include "common/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <vector>

#include "common/error.h"

namespace excap {

struct Sha256::Context {
  EVP_MD_CTX* md = nullptr;
  bool spent = false;
  ~Context() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Context>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
    throw Error("sha256", "libcrypto could not start a SHA-256 digest");
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, std::size_t size) {
  if (ctx_->spent) throw Error("sha256", "update after digest()");
  if (size > 0 && EVP_DigestUpdate(ctx_->md, data, size) != 1)
    throw Error("sha256", "libcrypto digest update failed");
}

std::array<std::uint8_t, 32> Sha256::digest() {
  if (ctx_->spent) throw Error("sha256", "digest() called twice");
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  ctx_->spent = true;
  if (EVP_DigestFinal_ex(ctx_->md, out.data(), &len) != 1 || len != out.size())
    throw Error("sha256", "libcrypto digest final failed");
  return out;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string s(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    s[2 * i] = digits[data[i] >> 4];
    s[2 * i + 1] = digits[data[i] & 15];
  }
  return s;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  auto d = h.digest();
  return to_hex(d.data(), d.size());
}

std::string sha256_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string(), "cannot open for hashing");
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(path.string(), "read failed while hashing");
  auto d = h.digest();
  return to_hex(d.data(), d.size());
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  // HMAC() (one-shot) is in OpenSSL 1.1 and 3.x alike; keys longer than a block are hashed first.
  const unsigned char* ok = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                 reinterpret_cast<const unsigned char*>(message.data()),
                                 message.size(), out.data(), &len);
  if (!ok || len != 32) throw Error("hmac-sha256", "libcrypto HMAC failed");
  return to_hex(out.data(), len);
}

}  // namespace excap
