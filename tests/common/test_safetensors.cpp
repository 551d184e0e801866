// The torch-free safetensors codec: bit-exact round trips and refusal of
// malformed files with a message naming the file and the reason.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fsutil.h"
#include "common/safetensors.h"
#include "test_support.h"

namespace st = excap::safetensors;
using excap::test::ScratchDir;

namespace {

// A file from a literal JSON header and `data_size` bytes of data.
std::vector<std::uint8_t> raw_file(const std::string& header, std::size_t data_size) {
  std::vector<std::uint8_t> out(8);
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  for (std::size_t i = 0; i < data_size; ++i) out.push_back(static_cast<std::uint8_t>(i * 7));
  return out;
}

// Expects parse() to throw an excap::Error whose message holds `needle`.
void expect_refused(const std::vector<std::uint8_t>& file, const std::string& needle) {
  try {
    st::parse(file, "bad.safetensors");
    FAIL("accepted a malformed file; expected: " << needle);
  } catch (const excap::Error& e) {
    const std::string msg = e.what();
    CAPTURE(msg);
    CHECK(msg.find("bad.safetensors") != std::string::npos);
    CHECK(msg.find(needle) != std::string::npos);
  }
}

st::Tensor filled(st::DType d, std::vector<std::int64_t> shape, std::uint8_t seed) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  std::vector<std::uint8_t> b(static_cast<std::size_t>(n) * st::itemsize(d));
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(seed + i * 31);
  return st::Tensor(d, std::move(shape), std::move(b));
}

}  // namespace

TEST_CASE("safetensors: every dtype round-trips bit-exact through a file") {
  ScratchDir dir("safetensors_roundtrip");
  st::File f;
  f.metadata = {{"format", "pt"}, {"note", "ünïcode \"quoted\""}};
  const st::DType all[] = {st::DType::BOOL, st::DType::U8,  st::DType::I8,   st::DType::U16,
                           st::DType::I16,  st::DType::F16, st::DType::BF16, st::DType::U32,
                           st::DType::I32,  st::DType::F32, st::DType::U64,  st::DType::I64,
                           st::DType::F64};
  std::uint8_t seed = 1;
  for (st::DType d : all)
    f.tensors.emplace(std::string("t_") + std::string(st::dtype_name(d)),
                      filled(d, {3, 5}, seed++));
  f.tensors.emplace("scalar", filled(st::DType::F32, {}, 9));
  f.tensors.emplace("empty", filled(st::DType::U8, {0, 4}, 0));
  f.tensors.emplace("image", filled(st::DType::U8, {2, 3, 17, 13}, 3));
  const auto path = dir / "all.safetensors";
  st::write(path, f);

  const auto bytes = excap::read_bytes(path);
  // Data starts 8-byte aligned.
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  CHECK((8 + n) % 8 == 0);

  const st::File g = st::read(path);
  CHECK(g.metadata == f.metadata);
  REQUIRE(g.tensors.size() == f.tensors.size());
  for (const auto& [name, t] : f.tensors) {
    CAPTURE(name);
    const st::Tensor& u = g.tensors.at(name);
    CHECK(u.dtype() == t.dtype());
    CHECK(u.shape() == t.shape());
    REQUIRE(u.nbytes() == t.nbytes());
    CHECK(std::memcmp(u.data(), t.data(), t.nbytes()) == 0);
  }
  // Re-serialising what was read reproduces the file byte for byte.
  const std::string again = st::serialize(g);
  CHECK(std::vector<std::uint8_t>(again.begin(), again.end()) == bytes);

  const st::File h = st::read_header(path);
  CHECK(h.metadata == f.metadata);
  CHECK(h.tensors.at("image").shape() == std::vector<std::int64_t>{2, 3, 17, 13});
}

TEST_CASE("safetensors: a file written by the reference layout parses") {
  // Hand-made per the spec: two tensors, metadata, header padded with spaces.
  const auto file = raw_file(
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[1],"data_offsets":[4,12]},)"
      R"("a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}   )",
      12);
  const st::File f = st::parse(file, "good.safetensors");
  CHECK(f.metadata.at("format") == "pt");
  CHECK(f.tensors.at("a").dtype() == st::DType::F16);
  CHECK(f.tensors.at("b").nbytes() == 8);
  CHECK(f.tensors.at("b").data()[0] == static_cast<std::uint8_t>(4 * 7));
}

TEST_CASE("safetensors: truncated and corrupt files are refused with a message") {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  auto file = raw_file(ok, 16);
  CHECK_NOTHROW(st::parse(file, "x"));
  auto truncated = file;
  truncated.pop_back();
  expect_refused(truncated, "run past the data section");
  expect_refused({1, 2, 3}, "too short");
  expect_refused(std::vector<std::uint8_t>(file.begin(), file.begin() + 20),
                 "exceeds the file size");
  auto trailing = file;
  trailing.push_back(0);
  expect_refused(trailing, "trailing bytes");
  expect_refused(raw_file(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})", 16),
                 "not valid JSON");
  expect_refused(raw_file(R"([1,2,3])", 0), "does not start with '{'");
  std::vector<std::uint8_t> huge = file;
  huge[6] = 0xff;  // header length ~ 2^48
  expect_refused(huge, "implausible");
}

TEST_CASE("safetensors: unknown dtypes and bad shapes are refused") {
  expect_refused(raw_file(R"({"a":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}})", 16),
                 "unknown dtype 'F33'");
  expect_refused(raw_file(R"({"a":{"dtype":"f32","shape":[4],"data_offsets":[0,16]}})", 16),
                 "unknown dtype 'f32'");
  expect_refused(raw_file(R"({"a":{"dtype":7,"shape":[4],"data_offsets":[0,16]}})", 16),
                 "non-string dtype");
  expect_refused(raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16),
                 "needs 12 bytes");
  expect_refused(raw_file(R"({"a":{"dtype":"F64","shape":[4],"data_offsets":[0,16]}})", 16),
                 "needs 32 bytes");
  expect_refused(raw_file(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16),
                 "negative");
  expect_refused(raw_file(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,16]}})", 16),
                 "non-integer");
  expect_refused(
      raw_file(
          R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}})",
          16),
      "overflows");
  expect_refused(raw_file(R"({"a":{"dtype":"F32","data_offsets":[0,16]}})", 16), "shape");
  expect_refused(
      raw_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"extra":1}})", 16),
      "unknown header field");
}

TEST_CASE("safetensors: out-of-range, overlapping and gapped offsets are refused") {
  expect_refused(raw_file(R"({"a":{"dtype":"U8","shape":[32],"data_offsets":[0,32]}})", 16),
                 "run past");
  expect_refused(raw_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}})", 16),
                 "before begin");
  expect_refused(raw_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0]}})", 16),
                 "two non-negative");
  expect_refused(raw_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[-2,0]}})", 16),
                 "two non-negative");
  expect_refused(raw_file(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
                          12),
                 "overlaps");
  expect_refused(raw_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}})",
                          12),
                 "gap in the data section");
  expect_refused(raw_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", 8), "gap");
}

TEST_CASE("safetensors: metadata must be a string map and names unique") {
  expect_refused(
      raw_file(R"({"__metadata__":{"n":3},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
               1),
      "is not a string");
  expect_refused(
      raw_file(R"({"__metadata__":[1],"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1),
      "__metadata__ is not a JSON object");
  expect_refused(raw_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                          R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                          2),
                 "appears twice");
}

TEST_CASE("safetensors: reading names the file, writing refuses inconsistent tensors") {
  ScratchDir dir("safetensors_errors");
  try {
    st::read(dir / "missing.safetensors");
    FAIL("read a missing file");
  } catch (const excap::Error& e) {
    CHECK(std::string(e.what()).find("missing.safetensors") != std::string::npos);
  }
  excap::atomic_write(dir / "cut.safetensors", std::string("\x40\0\0\0\0\0\0\0{\"a\"", 12));
  CHECK_THROWS_WITH_AS(st::read(dir / "cut.safetensors"), doctest::Contains("cut.safetensors"),
                       excap::Error);
  CHECK_THROWS_AS(st::Tensor(st::DType::F32, {3}, std::vector<std::uint8_t>(8)), excap::Error);
  st::File f;
  f.tensors.emplace("__metadata__", filled(st::DType::U8, {1}, 0));
  CHECK_THROWS_AS(st::serialize(f), excap::Error);
  CHECK(st::parse_dtype("BF16") == st::DType::BF16);
  CHECK_FALSE(st::parse_dtype("bf16").has_value());
  CHECK(st::itemsize(st::DType::F64) == 8);
}
