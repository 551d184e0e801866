// Force-included first in the suites that use LibTorch. Debian's LibTorch
// brings glog, whose CHECK/CHECK_EQ/... would replace doctest's macros in any
// file that includes a torch header after doctest (a failed check would then
// abort the process instead of being reported). Torch comes first, its
// macros are dropped, and doctest's are the ones defined afterwards.
#pragma once
#include <torch/torch.h>
#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LE
#undef CHECK_LT
#undef CHECK_GE
#undef CHECK_GT
