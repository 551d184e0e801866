// excap init | info | validate
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/error.h"
#include "common/ids.h"
#include "common/text.h"
#include "store/project.h"
#ifdef EXCAP_HAVE_OPENCV
#include "store/validate.h"
#endif

namespace excap::cli {

namespace {

std::vector<User> parse_users(const std::vector<std::string>& specs) {
  // "name" or "name:role"
  std::vector<User> users;
  for (const auto& s : specs) {
    User u;
    const auto colon = s.find(':');
    u.id = s.substr(0, colon);
    require_safe_id(u.id, "user");
    u.role = colon == std::string::npos ? Role::Annotator
                                        : role_from_name(s.substr(colon + 1), "--user " + s);
    for (const auto& other : users)
      if (other.id == u.id) throw Error("--user " + s, "user given twice");
    users.push_back(u);
  }
  return users;
}

void add_init_command(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("init", "Create an empty project folder (format version 1)");
  auto dir = std::make_shared<std::string>();
  auto schema = std::make_shared<std::string>("cecd");
  auto users = std::make_shared<std::vector<std::string>>();
  cmd->add_option("DIR", *dir, "New or empty folder")->required();
  cmd->add_option("--schema", *schema,
                  "Label schema: cecd (the paper's CD and 8 tissue classes) or a schema file "
                  "(FILE.json shaped like project.json's \"schema\", e.g. samples/schemas/)")
      ->capture_default_str();
  cmd->add_option("--user", *users,
                  "User as NAME or NAME:ROLE (annotator, expert, engineer, admin); repeatable");
  reg.add(cmd, [=] {
    // The schema file is read and checked before anything is created.
    const LabelSchema s = schema_from_option(*schema);
    Project p = Project::create(*dir, s, parse_users(*users));
    nlohmann::json detail{{"schema", s.name}};
    if (*schema != "cecd") detail["schema_file"] = *schema;
    p.audit("system", "init", detail);
    std::cout << "created project " << printable(p.root().string()) << " (schema "
              << printable(s.name) << ": " << s.num_cd() << " CD, " << s.num_tissue()
              << " tissue classes, " << p.meta().users.size() << " users)\n";
    return 0;
  });
}

// Counts per pipeline stage, as `excap info --json` prints them.
nlohmann::json project_counts(const Project& p) {
  nlohmann::json j;
  j["project"] = p.root().string();
  j["schema"] = p.meta().schema.name;
  j["videos"] = p.load_videos().size();
  j["clips"] = p.load_clips().size();
  j["frames"] = p.load_frames().size();
  j["assigned"] = p.load_assignments().size();
  nlohmann::json per_user = nlohmann::json::object();
  for (const auto& u : p.meta().users) {
    int with_cd = 0;
    const auto ids = p.labeled_frames(u.id);
    for (const auto& id : ids) {
      auto r = p.load_label(u.id, id);
      if (r && r->cd) ++with_cd;
    }
    per_user[u.id] = {{"role", role_name(u.role)}, {"labels", ids.size()}, {"with_cd", with_cd}};
  }
  j["users"] = per_user;
  j["adjudicated"] = p.final_frames().size();
  j["splits"] = p.split_names();
  j["runs"] = p.run_names();
  return j;
}

void print_counts_table(const nlohmann::json& j) {
  const nlohmann::json& per_user = j["users"];
  std::cout << "project   " << printable(j["project"].get<std::string>()) << " (schema "
            << j["schema"].get<std::string>() << ")\n"
            << "videos    " << j["videos"] << "\n"
            << "clips     " << j["clips"] << "\n"
            << "frames    " << j["frames"] << " (" << j["assigned"] << " assigned)\n";
  for (auto it = per_user.begin(); it != per_user.end(); ++it)
    std::cout << "  " << std::left << std::setw(12) << printable(it.key()) << std::setw(10)
              << it.value()["role"].get<std::string>() << it.value()["labels"] << " labeled, "
              << it.value()["with_cd"] << " with a clearness degree\n";
  std::cout << "adjudicated " << j["adjudicated"] << "\n"
            << "splits    " << (j["splits"].empty() ? "-" : j["splits"].dump()) << "\n"
            << "runs      " << (j["runs"].empty() ? "-" : j["runs"].dump()) << "\n";
}

void add_info_command(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("info", "Counts per pipeline stage");
  auto dir = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_flag("--json", *as_json, "Print JSON instead of a table");
  reg.add(cmd, [=] {
    const nlohmann::json j = project_counts(Project::open(*dir));
    if (*as_json)
      std::cout << j.dump(2) << "\n";
    else
      print_counts_table(j);
    return 0;
  });
}

#ifdef EXCAP_HAVE_OPENCV
void add_validate_command(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "validate", "Check the whole project and list every problem (exit 0 only when clean)");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  reg.add(cmd, [=] {
    const auto problems = validate_project(*dir);
    for (const auto& pr : problems)
      std::cout << printable(pr.file) << ": " << printable(pr.reason) << "\n";
    if (problems.empty()) {
      std::cout << "project " << printable(*dir) << " is valid\n";
      return 0;
    }
    std::cerr << problems.size() << " problem" << (problems.size() == 1 ? "" : "s") << " found in "
              << printable(*dir) << "\n";
    return 1;
  });
}
#endif

}  // namespace

void require_project_user(const Project& p, const std::string& user, const std::string& option) {
  if (p.meta().find_user(user)) return;
  std::string known;
  for (const auto& u : p.meta().users) known += (known.empty() ? "" : ", ") + u.id;
  throw Error(option + " " + printable(user),
              "not a user of this project (" + (p.root() / "project.json").string() +
                  " lists: " + (known.empty() ? std::string("nobody") : known) + ")");
}

void register_project_commands(CLI::App& app, Registry& reg) {
  add_init_command(app, reg);
  add_info_command(app, reg);
#ifdef EXCAP_HAVE_OPENCV
  add_validate_command(app, reg);
#endif
}

}  // namespace excap::cli
