// The versioned blob of one sequence's state (Session.get_state, state files, the C API): the
// model's identity, the position and the architecture's state floats, with checksums over the
// header and the data. Layout in state_blob.cpp and docs/FORMAT.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/model.h"

namespace rrwkv {

constexpr uint32_t kStateBlobVersion = 2;
// Where a blob's header keeps what a reader of state files needs (python/rrwkv_rt/runtime/
// state_file.py reads these through the bindings): its size, the u64 count of state floats and
// the u32 CRC-32 of the header bytes before it.
constexpr size_t kStateHeaderBytes = 96, kStateFloatsAt = 56, kStateHeaderCrcAt = 92;
// Positions stay below this so that pos + tokens never overflows.
constexpr int64_t kMaxPosition = int64_t{1} << 62;

// The blob of `state` (model.state_schema().floats() floats) at position `pos`.
std::string serialize_state(const Model& model, const float* state, int64_t pos);
// The bytes a blob of this model has.
size_t state_blob_size(const Model& model);

// Checks a blob and, only if every check passes, copies its floats to `state` and returns its
// position. Throws FormatError for a blob that is not one, is of another version, truncated or
// corrupt, and StateMismatch for an intact blob saved from another model; `state` is then
// untouched.
int64_t deserialize_state(const Model& model, const void* data, size_t size, float* state);

}  // namespace rrwkv
