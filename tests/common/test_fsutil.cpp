// Whole-file reads refuse what is not a regular file, so that a pipe or a
// device placed where a project file belongs can never hang or flood a reader.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "test_support.h"

using namespace excap;

TEST_CASE("read_file refuses a pipe, a device and a folder, naming the path") {
  test::ScratchDir tmp("fsutil-special");
  const fs::path fifo = tmp / "frames.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK_THROWS_WITH_AS(read_file(fifo), doctest::Contains("not a regular file"), Error);
  CHECK_THROWS_WITH_AS(read_file("/dev/zero"), doctest::Contains("/dev/zero"), Error);
  CHECK_THROWS_WITH_AS(read_bytes(tmp.path()), doctest::Contains("not a regular file"), Error);
  fs::create_symlink("/dev/zero", tmp / "link.json");  // links are followed, then refused
  CHECK_THROWS_AS(read_file(tmp / "link.json"), Error);
  atomic_write(tmp / "ok.json", std::string("{}"));
  CHECK(read_file(tmp / "ok.json") == "{}");
}
