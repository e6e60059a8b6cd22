// RWKV-4 and RRWKV (RWKV-4 with mediums, docs/RRWKV.md): one architecture folder, two
// registered names. RWKV-4 is RRWKV's limit without mediums, so one model code serves both.
#pragma once

#include "arch/architecture.h"

namespace rrwkv {

const Architecture& rwkv4_architecture();
const Architecture& rrwkv_architecture();

}  // namespace rrwkv
