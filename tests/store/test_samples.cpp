// samples/ ships with the repository; these checks keep it equal to what the code writes.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
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

TEST_CASE("every schema in samples/schemas loads and passes the schema rules") {
  const fs::path folder = fs::path(EXCAP_SOURCE_DIR) / "samples" / "schemas";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    const LabelSchema s = load_schema_file(entry.path());
    CHECK_MESSAGE(s.name == entry.path().stem().string(), entry.path());
    // What init writes into project.json is the file, field for field.
    CHECK(nlohmann::json(s) == read_json_file(entry.path()));
  }
  CHECK(files >= 2);
}

TEST_CASE("samples/schemas/bleeding.json is the two-class bleeding schema") {
  const LabelSchema s =
      load_schema_file(fs::path(EXCAP_SOURCE_DIR) / "samples" / "schemas" / "bleeding.json");
  REQUIRE(s.num_cd() == 2);
  REQUIRE(s.num_tissue() == 2);
  CHECK(s.cd_id("normal") == 0);
  CHECK(s.cd_id("bleeding") == 1);
  CHECK(s.tissue_id("background") == 0);
  CHECK(s.tissue_id("bleeding") == 1);
  CHECK(s.ignore_index == 255);
  CHECK(schema_from_option("cecd").num_tissue() == 8);
  CHECK(schema_from_option(
            (fs::path(EXCAP_SOURCE_DIR) / "samples" / "schemas" / "bleeding.json").string())
            .name == "bleeding");
}

TEST_CASE("schema rules: two classes of each kind, one class per hotkey, colours in 0-255") {
  LabelSchema s = cecd_schema();
  s.cd.resize(1);
  CHECK_THROWS_WITH_AS(s.validate("x"), doctest::Contains("at least 2 clearness degrees, has 1"),
                       Error);
  s = cecd_schema();
  s.tissue.resize(1);
  CHECK_THROWS_WITH_AS(s.validate("x"), doctest::Contains("at least 2 tissue classes, has 1"),
                       Error);
  s = cecd_schema();
  s.tissue[7].hotkey = "w";  // the studio reads w and W as one key
  CHECK_THROWS_WITH_AS(s.validate("x"), doctest::Contains("hotkey 'w' is used twice"), Error);
  s = cecd_schema();
  for (auto& t : s.tissue) t.hotkey.clear();  // no hotkeys at all is fine
  CHECK_NOTHROW(s.validate("x"));
  s = cecd_schema();
  s.tissue[3].id = 2;
  CHECK_THROWS_WITH_AS(s.validate("x"), doctest::Contains("id 2 appears twice"), Error);
  nlohmann::json j = cecd_schema();
  j["tissue"][1]["color"] = {0, 300, 0};
  CHECK_THROWS_WITH_AS(j.get<LabelSchema>(), doctest::Contains("each 0-255"),
                       nlohmann::json::exception);
}
