// Options shared by `excap triage` and `excap bench triage`.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "triage/triage.h"

namespace excap::cli {

struct TriageCli {
  std::string video, run, out, checkpoint = "best", device = "auto", channels_last = "auto",
                               precision = "auto";
  int every = 0, batch = 0, threads = 0;
  double fps = 0, keep = 0.1, min_gap = 1.0, min_visible = 0.25, lesion_weight = 1.0;
  bool no_fold = false, quiet = false;
  // triage only: many videos
  std::vector<std::string> inputs;  // videos, folders, list files
  std::string shard;                // I/N
  bool merge = false;
  // bench only
  long long frames = 64;
  bool no_variants = false, no_peak = false;
  std::string python = "/usr/bin/python3", python_script, json_out;
};

// The video (`many`: videos, folders and list files), run and inference options both
// commands take.
void add_triage_options(CLI::App* sub, TriageCli& o, bool many = false);

trainer::TriageOptions triage_options(const TriageCli& o);

}  // namespace excap::cli
