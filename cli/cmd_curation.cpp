// excap assign | prelabels | agreement | adjudicate | split | export | import-masks
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "common/error.h"
#include "common/text.h"
#include "curation/adjudication.h"
#include "curation/agreement.h"
#include "curation/assign.h"
#include "curation/split.h"
#include "exchange/exchange.h"
#include "media/imageio.h"
#include "report/agreement_report.h"
#include "store/prelabel.h"
#include "store/project.h"

namespace excap::cli {

namespace {

void add_assign(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("assign",
                                 "Assign every frame to N distinct annotators "
                                 "(balanced, reproducible; only new frames on re-run)");
  auto dir = std::make_shared<std::string>();
  auto opt = std::make_shared<AssignOptions>();
  auto by = std::make_shared<std::string>("excap");
  auto order = std::make_shared<QueueOrder>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--annotators", opt->annotators, "Annotator ids, comma-separated")
      ->required()
      ->delimiter(',')
      ->check(safe_name());
  cmd->add_option("--per-frame", opt->per_frame, "Annotators per frame")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Seed of the tie-breaking order")->capture_default_str();
  cmd->add_option("--order", order->order,
                  "uncertainty: every queue starts with the frames the model of --run is least "
                  "sure of (its stored suggestions; queue.json)")
      ->check(CLI::IsMember({"uncertainty"}));
  cmd->add_option("--run", order->run, "The run whose suggestions order the queue")
      ->check(safe_name());
  auto* by_opt = cmd->add_option("--by", *by, "Who runs it (a project user; audit log)")
                     ->check(safe_name())
                     ->capture_default_str();
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    if (by_opt->count() > 0) require_project_user(p, *by, "--by");
    for (const auto& a : opt->annotators) require_project_user(p, a, "--annotators");
    if (order->order.empty() != order->run.empty())
      throw Error("assign", "--order uncertainty and --run NAME go together");
    AssignResult r = assign_project(p, *opt, *by, *order);
    std::cout << "frames " << r.frames_total << ": newly assigned " << r.newly_assigned
              << ", topped up " << r.topped_up << ", unchanged " << r.unchanged << "\nload:";
    for (const auto& [a, n] : r.load) std::cout << " " << printable(a) << "=" << n;
    std::cout << "\n";
    if (!order->order.empty())
      std::cout << "queue ordered by uncertainty of run '" << printable(order->run)
                << "': " << r.scored << " frames scored, " << r.unscored
                << " without a suggestion last (queue.json)\n";
    return 0;
  });
}

void add_prelabels(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("prelabels",
                                 "Allow or forbid model suggestions (pre-labels) in this project; "
                                 "off by default: they weaken double-blind labeling");
  auto dir = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>();
  auto enable = std::make_shared<bool>(false);
  auto disable = std::make_shared<bool>(false);
  cmd->add_option("DIR", *dir, "Project folder")->required();
  auto* on = cmd->add_flag("--enable", *enable, "Allow pre-labels");
  auto* off = cmd->add_flag("--disable", *disable, "Forbid pre-labels (the default)");
  on->excludes(off);
  cmd->add_option("--user", *user, "An expert or admin of the project (audit log)")
      ->required()
      ->check(safe_name());
  reg.add(cmd, [=] {
    if (*enable == *disable) throw Error("prelabels", "give --enable or --disable");
    const bool changed = set_prelabels(*dir, *enable, *user);
    std::cout << "pre-labels " << (*enable ? "enabled" : "disabled")
              << (changed ? "" : " (already)") << "\n";
    if (*enable) std::cout << "note: " << kPrelabelsWarning << "\n";
    return 0;
  });
}

void add_agreement(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("agreement",
                                 "Annotator agreement: CD kappa and confusion, "
                                 "per-class IoU/Dice, frames needing an expert, "
                                 "CD/mask consistency (JSON + Markdown + PNG)");
  auto dir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto opt = std::make_shared<AgreementOptions>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--out", *out, "Report folder (default DIR/reports/agreement)");
  cmd->add_option("--auto-accept", opt->auto_accept_iou,
                  "Mean-IoU threshold used to mark frames auto-acceptable")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--worst", opt->worst_frames, "Frames in the disagreement heatmap (>= 0)")
      ->capture_default_str();
  reg.add(cmd, [=] {
    if (opt->worst_frames < 0)
      throw Error("--worst",
                  "must be a number of frames >= 0, got " + std::to_string(opt->worst_frames));
    Project p = Project::open(*dir);
    AgreementReport r = compute_agreement(p, *opt);
    const fs::path o = out->empty() ? p.root() / "reports" / "agreement" : fs::path(*out);
    write_agreement_report(p, r, o, opt->worst_frames);
    std::cout << agreement_summary(r) << "report: " << printable((o / "agreement.md").string())
              << "\n";
    return 0;
  });
}

void add_adjudicate(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand(
      "adjudicate", "Settle frames: auto-accept agreeing labels; list the expert's queue");
  auto dir = std::make_shared<std::string>();
  auto opt = std::make_shared<AutoAcceptOptions>();
  auto threshold = std::make_shared<double>(-1);
  auto list = std::make_shared<bool>(false);
  auto truth = std::make_shared<std::string>();
  auto expert = std::make_shared<std::string>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--auto-accept", *threshold,
                  "Accept frames whose annotators gave the same CD and whose masks reach this "
                  "mean IoU (rule in curation/adjudication.h); never touches decided frames")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--dry-run", opt->dry_run, "Count what auto-accept would do, write nothing");
  cmd->add_flag("--list", *list, "List the undecided frames");
  cmd->add_option("--simulated-expert", *truth,
                  "Demo only: settle the remaining frames region by region from ground truth "
                  "in this folder (<frame>.png + truth.json)");
  auto* expert_opt = cmd->add_option("--expert", *expert, "Expert user id for --simulated-expert")
                         ->check(safe_name());
  auto* by_opt = cmd->add_option("--by", opt->by, "Who runs it (a project user; audit log)")
                     ->check(safe_name())
                     ->capture_default_str();
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    if (by_opt->count() > 0) require_project_user(p, opt->by, "--by");
    if (expert_opt->count() > 0) require_project_user(p, *expert, "--expert");
    if (*threshold < 0 && !*list && truth->empty())
      throw Error("adjudicate",
                  "nothing to do: give --auto-accept IOU, --list or --simulated-expert");
    if (*threshold >= 0) {
      opt->iou_threshold = *threshold;
      AutoAcceptResult r = auto_accept(p, *opt);
      std::cout << (opt->dry_run ? "would auto-accept " : "auto-accepted ") << r.accepted
                << " (mean IoU >= " << *threshold << ", same CD); left for the expert: CD differs "
                << r.cd_differs << ", below threshold " << r.below_threshold << ", incomplete "
                << r.incomplete << ", waiting for labels " << r.waiting_for_labels
                << ", blocked (class outside the schema) " << r.blocked
                << "; already decided (untouched) " << r.already_decided << "\n";
      for (const auto& why : r.blocked_reasons) std::cout << "  " << why << "\n";
    }
    if (!truth->empty()) {
      if (expert->empty()) throw Error("--simulated-expert", "give --expert NAME");
      SimulatedExpertResult r = simulated_expert(p, *expert, truth_from_folder(*truth));
      std::cout << "simulated expert '" << printable(*expert) << "' decided " << r.decided
                << " frames (";
      bool first = true;
      for (const auto& [s, n] : r.by_source)
        std::cout << (first ? "" : ", ") << s << " " << n, first = false;
      std::cout << "); not ready " << r.not_ready << ", without truth " << r.no_truth << "\n";
    }
    if (*list) {
      const double t = *threshold >= 0 ? *threshold : 0.9;
      auto frames = undecided_frames(p, t);
      std::cout << frames.size() << " undecided frame(s)\n";
      for (const auto& u : frames) {
        std::cout << "  " << printable(u.frame) << "  labels " << u.labeled << "/"
                  << u.annotators.size()
                  << (!u.blocked.empty() ? "  blocked"
                      : u.ready          ? "  ready"
                                         : "  waiting")
                  << (u.auto_acceptable ? "  auto-acceptable" : "") << "\n";
        for (const auto& why : u.blocked) std::cout << "    " << printable(why) << "\n";
      }
    }
    return 0;
  });
}

void add_split(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("split",
                                 "Stratified train/val/test split of the adjudicated "
                                 "frames, grouped by patient or clip");
  auto dir = std::make_shared<std::string>();
  auto opt = std::make_shared<SplitOptions>();
  cmd->add_option("DIR", *dir, "Project folder")->required();
  cmd->add_option("--name", opt->name, "Split name (splits/NAME.json)")
      ->required()
      ->check(safe_name());
  cmd->add_option("--ratios", opt->ratios, "train,val[,test]")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--stratify", opt->stratify, "cd | none")->capture_default_str();
  cmd->add_option("--group", opt->group, "patient | clip | none")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Seed")->capture_default_str();
  cmd->add_flag("--overwrite", opt->overwrite, "Replace an existing split of that name");
  reg.add(cmd, [=] {
    Project p = Project::open(*dir);
    Split s = make_split(p, *opt, final_mask_histogram(p));
    save_split(p, s, opt->overwrite);
    std::cout << split_table(s) << "written: " << printable(p.split_path(s.name).string()) << "\n";
    return 0;
  });
}

void add_exchange(CLI::App& app, Registry& reg) {
  {
    auto* cmd = app.add_subcommand("export",
                                   "Export a split's final labels (mmseg or CVAT "
                                   "'Segmentation mask 1.1'), CD labels in a CSV");
    auto dir = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto opt = std::make_shared<ExportOptions>();
    auto no_images = std::make_shared<bool>(false);
    cmd->add_option("DIR", *dir, "Project folder")->required();
    cmd->add_option("OUT", *out, "New or empty output folder")->required();
    cmd->add_option("--split", opt->split, "Split name")->required()->check(safe_name());
    cmd->add_option("--format", opt->format, "mmseg | cvat-mask")
        ->check(CLI::IsMember({"mmseg", "cvat-mask"}))
        ->capture_default_str();
    cmd->add_flag("--no-images", *no_images, "cvat-mask: masks only, no JPEGImages/");
    reg.add(cmd, [=] {
      Project p = Project::open(*dir);
      opt->with_images = !*no_images;
      ExportResult r = export_dataset(p, *opt, *out);
      std::cout << "exported " << r.frames << " frames (" << opt->format << ") to "
                << printable(*out) << ":";
      for (const auto& [s, n] : r.per_subset) std::cout << " " << s << " " << n;
      std::cout << (r.unlabeled_label ? "; unlabeled pixels carry the label 'unlabeled'" : "")
                << "\n";
      return 0;
    });
  }
  {
    auto* cmd = app.add_subcommand("import-masks",
                                   "Import CVAT 'Segmentation mask 1.1' masks "
                                   "(folder or .zip) as one user's labels");
    auto dir = std::make_shared<std::string>();
    auto src = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>("cvat-mask");
    auto opt = std::make_shared<ImportOptions>();
    cmd->add_option("DIR", *dir, "Project folder")->required();
    cmd->add_option("ZIP_OR_DIR", *src, "CVAT export (folder, or .zip)")->required();
    cmd->add_option("--format", *format, "cvat-mask")
        ->check(CLI::IsMember({"cvat-mask"}))
        ->capture_default_str();
    cmd->add_option("--user", opt->user, "Whose labels the masks become (a project user)")
        ->required()
        ->check(safe_name());
    cmd->add_flag("--overwrite", opt->overwrite, "Replace that user's existing labels");
    reg.add(cmd, [=] {
      Project p = Project::open(*dir);
      require_project_user(p, opt->user, "--user");
      ImportResult r = import_cvat_masks(p, *src, *opt);
      std::cout << "imported " << r.imported << " masks as '" << printable(opt->user)
                << "'; skipped " << r.skipped_existing << " existing; without CD " << r.without_cd
                << "\n";
      return 0;
    });
  }
}

}  // namespace

void register_curation_commands(CLI::App& app, Registry& reg) {
  add_assign(app, reg);
  add_prelabels(app, reg);
  add_agreement(app, reg);
  add_adjudicate(app, reg);
  add_split(app, reg);
  add_exchange(app, reg);
}

}  // namespace excap::cli
