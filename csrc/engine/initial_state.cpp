#include "engine/initial_state.h"

#include <cmath>
#include <cstring>

#include "core/errors.h"
#include "core/text.h"
#include "format/model_file.h"

namespace rrwkv {
namespace {

// "layer L, field F" of float index i of a state, for messages.
std::string locate(const StateSchema& schema, int64_t i) {
  const int64_t per_layer = schema.layer_floats();
  int64_t at = i % per_layer;
  for (const StateField& f : schema.fields) {
    if (at < f.size) return "layer " + std::to_string(i / per_layer) + ", field " + f.name;
    at -= f.size;
  }
  return "float " + std::to_string(i);
}

std::string shape_text(const std::vector<uint64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

InitialState read_baked_initial_state(const ModelFile& f, const StateSchema& schema) {
  std::vector<float> state;
  for (int64_t l = 0; l < schema.n_layer; ++l) {
    for (const StateField& field : schema.fields) {
      const std::string name = "initial_state." + std::to_string(l) + "." + field.name;
      const TensorInfo* t = f.find(name);
      if (!t) continue;
      if (state.empty()) {
        state.resize(static_cast<size_t>(schema.floats()));
        schema.init(state.data());
      }
      if (t->dtype != DType::F32 || t->shape != std::vector<uint64_t>{static_cast<uint64_t>(field.size)})
        throw FormatError("model file " + quoted(f.path()) + ": tensor " + quoted(name) + " should be f32 of shape (" +
                          std::to_string(field.size) + ",), the " + field.name + " field of layer " +
                          std::to_string(l) + "'s initial state, found " + dtype_name(t->dtype) + " of shape " +
                          shape_text(t->shape) + "; re-export the model");
      float* dst = state.data() + schema.offset(field.name, l);
      std::memcpy(dst, t->data, static_cast<size_t>(field.size) * sizeof(float));
      for (int64_t i = 0; i < field.size; ++i)
        if (!std::isfinite(dst[i]))
          throw FormatError("model file " + quoted(f.path()) + ": tensor " + quoted(name) + " (an initial state) holds a value that is " +
                            "not finite at element " + std::to_string(i) + "; re-export the model");
    }
  }
  if (state.empty()) return nullptr;
  return std::make_shared<const std::vector<float>>(std::move(state));
}

InitialState make_initial_state(const StateSchema& schema, std::vector<float> floats) {
  if (static_cast<int64_t>(floats.size()) != schema.floats())
    throw InvalidArgument("an initial state of this model has " + std::to_string(schema.floats()) + " floats (" +
                          std::to_string(schema.n_layer) + " layers of " + std::to_string(schema.layer_floats()) +
                          "), got " + std::to_string(floats.size()));
  for (size_t i = 0; i < floats.size(); ++i)
    if (!std::isfinite(floats[i]))
      throw InvalidArgument("an initial state holds a value that is not finite (" +
                            locate(schema, static_cast<int64_t>(i)) + ")");
  return std::make_shared<const std::vector<float>>(std::move(floats));
}

}  // namespace rrwkv
