// Data files shipped beside the programs (the benchmarks' Python peers, the
// weight converter): found at run time, so no binary remembers the folder it
// was built in. A build tree and an installed tree have the same shape:
// <prefix>/bin/excap and <prefix>/share/excap/<relative>.
#pragma once
#include <string>

#include "common/fsutil.h"

namespace excap {

// Looks for `relative` (e.g. "peers/bench_train_reference.py") first under
// $EXCAP_DATA_DIR, then under <folder of the running executable>/../share/excap.
// Throws Error naming the file and every place it looked.
fs::path resource_path(const std::string& relative);

}  // namespace excap
