// The stage III agreement report (needs OpenCV): agreement.json, agreement.md
// and its plots, from what curation/agreement.h computed.
#pragma once
#include "common/fsutil.h"
#include "curation/agreement.h"

namespace excap {

class Project;

// Writes agreement.json, agreement.md and PNGs (per pair: CD confusion
// matrix, per-class IoU/Dice bars; a heatmap montage of the worst frames).
void write_agreement_report(const Project& project, const AgreementReport& r,
                            const fs::path& out_dir, int worst_frames = 12);

}  // namespace excap
