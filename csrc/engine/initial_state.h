// Initial states other than the architecture's zeros: a "state-tuned" starting point (RWKV-PEFT
// state tuning, the official demos' time_state) baked into a model file, or given to one
// session or batch row. reset() returns to it. The state's layout is the architecture's schema.
//
// A file bakes one in as tensors named `initial_state.{layer}.{field}` (f32, shape (size,), one
// per schema field it sets; fields it omits keep the schema's value). docs/FORMAT.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "arch/architecture.h"

namespace rrwkv {

class ModelFile;

// A whole state (schema.floats() floats), shared by every row that starts from it. Immutable.
using InitialState = std::shared_ptr<const std::vector<float>>;

// The state a file bakes in, or nullptr if it has none; FormatError naming the tensor for one
// of the wrong dtype, shape or with a non-finite value.
InitialState read_baked_initial_state(const ModelFile& f, const StateSchema& schema);

// `floats` as an initial state of `schema`: InvalidArgument if the count is wrong or a value is
// not finite (naming the layer and field of the first).
InitialState make_initial_state(const StateSchema& schema, std::vector<float> floats);

}  // namespace rrwkv
