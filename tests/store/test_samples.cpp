// samples/ ships with the repository; these checks keep it equal to what the code writes.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "store/project.h"
#include "store/schema.h"

using namespace excap;

TEST_CASE("samples/schemas/cecd.json is the default schema excap init writes") {
  const fs::path path = fs::path(EXCAP_SOURCE_DIR) / "samples" / "schemas" / "cecd.json";
  REQUIRE(fs::exists(path));
  const nlohmann::json file = read_json_file(path);
  // Every field counts (hotkeys and colours too): compare the JSON, not only the parsed schema.
  CHECK(file == nlohmann::json(cecd_schema()));
  const LabelSchema parsed = file.get<LabelSchema>();
  CHECK_NOTHROW(parsed.validate(path.string()));
  CHECK(parsed.num_cd() == 3);
  CHECK(parsed.num_tissue() == 8);
  CHECK(parsed.ignore_index == 255);
}
