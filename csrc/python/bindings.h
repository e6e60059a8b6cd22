// One binding function per area, each in its own file, and the conversions they share.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model.h"

namespace rrwkv::python {

void bind_format(pybind11::module_& m);
void bind_tokenizer(pybind11::module_& m);
void bind_model(pybind11::module_& m);
void bind_session(pybind11::module_& m);
void bind_batch(pybind11::module_& m);
void bind_sampler(pybind11::module_& m);
void bind_wkv(pybind11::module_& m);

// The header config as the dict Python sees everywhere (ModelFile.config, Model.info): the common
// fields, `arch` and the fields of that architecture.
pybind11::dict config_to_dict(const ModelConfig& c);

// A path argument (str, bytes or os.PathLike) as the bytes the OS sees (os.fsencode);
// ValueError for an embedded NUL, TypeError for other types. And back (os.fsdecode).
std::string path_arg(const pybind11::handle& path);
pybind11::object path_to_python(const std::string& path);

using ModelPtr = std::shared_ptr<Model>;

// A Model argument: a Model, or the path of a .rrwkv file to open.
ModelPtr model_arg(const pybind11::object& model_or_path);
ModelPtr open_model(const pybind11::object& path, bool verify_checksums);
// threads=None -> 0 (every CPU); ValueError for < 1.
int threads_arg(const std::optional<int>& threads);
// One token id: any Python or numpy integer; ids beyond int64 are out of range, not an overflow.
int64_t token_id(const pybind11::object& tok, int64_t vocab);
// Any 1-D sequence of integers as contiguous int64.
pybind11::array_t<int64_t> token_array(const pybind11::object& tokens, const char* what = "tokens");
// Bytes of a state blob argument (bytes, bytearray, memoryview, contiguous uint8 array).
std::string blob_arg(const pybind11::object& blob);

// `out` if given (checked: a writable, contiguous float32 array of `shape`), else a new array.
pybind11::array_t<float> float_output(const pybind11::object& out, std::vector<pybind11::ssize_t> shape);

}  // namespace rrwkv::python
