// RWKV-7 ("Goose", x070): a matrix state updated by a generalised delta rule, with a value
// residual from the first layer.
#pragma once

#include "arch/architecture.h"

namespace rrwkv {

const Architecture& rwkv7_architecture();

}  // namespace rrwkv
