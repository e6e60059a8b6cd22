// RWKV-6 ("Finch"): RWKV-5.2 with a data-dependent token shift and a data-dependent decay.
#pragma once

#include "arch/architecture.h"

namespace rrwkv {

const Architecture& rwkv6_architecture();

}  // namespace rrwkv
