// Shipped data files are found at run time: $EXCAP_DATA_DIR first, then
// <executable>/../share/excap, and a miss lists every place looked.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include "common/error.h"
#include "common/resources.h"
#include "test_support.h"

using namespace excap;

TEST_CASE("resource_path prefers EXCAP_DATA_DIR and names where it looked") {
  test::ScratchDir tmp("resources");
  fs::create_directories(tmp / "peers");
  std::ofstream(tmp / "peers" / "x.py") << "print(1)\n";
  ::setenv("EXCAP_DATA_DIR", tmp.path().c_str(), 1);
  CHECK(resource_path("peers/x.py") == tmp / "peers" / "x.py");
  try {
    resource_path("peers/absent.py");
    FAIL("expected an Error");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find((tmp / "peers" / "absent.py").string()) != std::string::npos);
    CHECK(what.find("share/excap/peers/absent.py") != std::string::npos);
  }
  ::unsetenv("EXCAP_DATA_DIR");
}

TEST_CASE("the build tree holds the shipped scripts where build/bin/excap finds them") {
  // The test binary sits in build/bin too, so the same lookup finds the copies.
  ::unsetenv("EXCAP_DATA_DIR");
  CHECK(fs::is_regular_file(resource_path("peers/bench_train_reference.py")));
  CHECK(fs::is_regular_file(resource_path("peers/bench_triage_reference.py")));
  CHECK(fs::is_regular_file(resource_path("scripts/convert_pth.py")));
}
