// RWKV-5.2 ("Eagle"): matrix-valued state per head, static token shift and decay, a gated output.
#pragma once

#include "arch/architecture.h"

namespace rrwkv {

const Architecture& rwkv5_architecture();

}  // namespace rrwkv
