// Small projects with final labels for the trainer tests: a synthetic set
// whose CD and tissue follow simple visual rules (learnable by a tiny model in
// seconds), and the real WCE bleeding frames mapped to the CECD schema.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "common/fsutil.h"

namespace excap::test {

struct SyntheticSetOptions {
  int size = 48;
  int train = 96, val = 24, test = 48;
  unsigned seed = 1;
};

// Creates a CECD project at `dir` with frames/, final/ and splits/<split>.json.
// Every frame: black outside a circular field of view (background 0), pink
// textured tissue inside (clear tissue 1), sometimes a dark-red lesion (3).
// CD 0 clear: sharp; CD 1 blur: blurred, greyer, tissue labelled 2 (blurred
// tissue); CD 2 invisible: greenish-brown excreta (6) over most of the view.
void make_synthetic_project(const fs::path& dir, const std::string& split,
                            const SyntheticSetOptions& options = {});

// The real frames of ../shared/data/wce-bleeding (bleeding mask -> lesion 3,
// the rest of the field of view -> clear tissue 1, outside -> background 0;
// every frame CD clear, as the source has no clearness grades), `per_subset`
// frames per subset, half bleeding. Returns false when the data is absent.
bool make_wce_project(const fs::path& dir, const std::string& split,
                      const std::map<std::string, int>& per_subset);

// Writes splits/<name>.json in the format the trainer reads.
void write_split(const fs::path& project_dir, const std::string& name,
                 const std::map<std::string, std::vector<std::string>>& subsets);

}  // namespace excap::test
